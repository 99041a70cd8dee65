"""Workload forecasting (paper B Sec. V): models, training, metrics and the Predictor interface.

Import the submodules directly (``vtwin.forecast.train`` imports torch).
"""
