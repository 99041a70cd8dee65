"""Bridges from vtwin's envs to other learning libraries.

* :mod:`~vtwin.interop.sb3`: single-agent Gymnasium views (with ``action_masks()`` where
  actions are masked) that Stable-Baselines3 and sb3-contrib train on. They need only
  Gymnasium; nothing here imports Stable-Baselines3.
"""
