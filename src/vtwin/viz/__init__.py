"""Figures and pages: scenario maps (and, in later layers, replay pages)."""
