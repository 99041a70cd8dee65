"""Paper B experiments (multi-vehicle VT migration routing).

- :mod:`~vtwin.experiments.paper_b.forecast`: Table II and Fig. 5, the traffic forecasters;
- :mod:`~vtwin.experiments.paper_b.routing`: Figs. 6–11, the routing methods (variants, run
  functions, registration), with :mod:`~vtwin.experiments.paper_b.figures` (what they draw)
  and :mod:`~vtwin.experiments.paper_b.claims` (the paper's claims and their checks).
"""
