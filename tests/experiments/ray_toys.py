"""Run functions for the Ray executor tests (importable by name in Ray workers and pool
workers: the tests put this folder on ``PYTHONPATH``).

``run_torch`` trains a tiny torch network, so that the local pool and Ray are compared on
numbers that depend on the torch thread count; ``run_die_once`` kills its own worker the
first time it runs a chosen spec, as an out-of-memory kill or a segfault would.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import toy_experiments as toys

from vtwin.experiments import RunResult, RunSpec


def run_torch(spec: RunSpec) -> RunResult:
    """Fit a small MLP to seeded noise with Adam; report the loss curve and final weights."""
    import torch

    gen = torch.Generator().manual_seed(spec.seed)
    x = torch.randn(256, 16, generator=gen)
    y = torch.randn(256, 1, generator=gen)
    torch.manual_seed(spec.seed)
    net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(int(spec.budget.get("steps", 20))):
        loss = torch.nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    weights = torch.cat([p.detach().flatten() for p in net.parameters()]).double().numpy()
    return RunResult(
        metrics=pd.DataFrame({"step": np.arange(len(losses)), "loss": losses, "phase": "train"}),
        summary={"loss": losses[-1], "threads": float(torch.get_num_threads())},
        artifacts={"weights": weights},
    )


MARKERS_ENV = "VTWIN_RAY_TEST_MARKERS"
"""Folder where :func:`run_die_once` remembers the runs whose worker it killed."""


def run_die_once(spec: RunSpec) -> RunResult:
    """For method 'broken' at sweep value 3: SIGKILL this worker the first time (a marker
    file in ``$VTWIN_RAY_TEST_MARKERS`` remembers it); other runs are :func:`toys.run_toy`."""
    if spec.method == "broken" and spec.sweep_value == 3:
        marker = Path(os.environ[MARKERS_ENV]) / f"{spec.experiment}-{spec.run_id}.died"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGKILL)
    return toys.run_toy(spec)
