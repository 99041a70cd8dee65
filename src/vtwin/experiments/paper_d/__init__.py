"""Paper D experiments (UAVs serving diffusion-model-inference tasks of roadside sensors).

- :mod:`~vtwin.experiments.paper_d.learners`: Figs. 3–6 — the four TD3-family learners and
  the three references (variants, the run function, the trajectory map, registration of
  ``paper-d-learners``, ``-lr``, ``-scale``, ``-uavs``, ``-sensors``, ``-compute`` and the
  ``paper-d`` group);
- :mod:`~vtwin.experiments.paper_d.claims`: the paper's claims and how each is checked.
"""
