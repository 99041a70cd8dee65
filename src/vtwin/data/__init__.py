"""Readers for real data formats (GPS traces, traffic counts, base stations)."""
