"""Paper A experiments (UAV-assisted twin pre-migration).

- :mod:`~vtwin.experiments.paper_a.rl`: Figs. 3–4, the learning agents (diffusion SAC, PPO);
- :mod:`~vtwin.experiments.paper_a.uav`: Figs. 5–7, the UAV route planners.
"""
