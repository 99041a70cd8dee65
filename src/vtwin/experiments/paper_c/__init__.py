"""Paper C experiments (cross-reality location privacy).

- :mod:`~vtwin.experiments.paper_c.privacy`: Figs. 5 (reference policies), 6–7 (the privacy
  metric) and 8 (trajectory map); the learners' figures come with their issue.
"""
