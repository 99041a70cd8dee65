"""Workload forecasting (paper B Sec. V): models, training, metrics, the Predictor interface
and the on-disk cache of trained forecasters (``cache``).

Import the submodules directly (``vtwin.forecast.train`` imports torch).
"""
