"""Training and evaluation of every agent on the batched envs, one package for all papers.

* :mod:`~vtwin.training.registry`: the algorithms by name (:data:`ALGORITHMS`,
  :func:`make_agent`) and the env kinds they serve;
* :mod:`~vtwin.training.single_agent` / :mod:`~vtwin.training.multi_agent`: the two loops
  and their policy evaluation, reached through :func:`train_agent` and
  :func:`evaluate_policy` (which pick the loop of the env's kind);
* :mod:`~vtwin.training.checkpoint`: run folders, atomic checkpoints, exact resume;
* :mod:`~vtwin.training.metrics`: episode summaries of the env's ``info``;
* :mod:`~vtwin.training.runs`: :func:`train` / :func:`evaluate` from a config (the CLI's).
"""

from vtwin.training.registry import (
    ALGORITHMS,
    Algorithm,
    agent_sizes,
    algorithm_names,
    env_kind,
    make_agent,
)
from vtwin.training.runs import (
    TrainSettings,
    check_settings,
    evaluate,
    evaluate_policy,
    load_agent,
    load_run,
    make_env,
    train,
    train_agent,
)

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "TrainSettings",
    "agent_sizes",
    "algorithm_names",
    "check_settings",
    "env_kind",
    "evaluate",
    "evaluate_policy",
    "load_agent",
    "load_run",
    "make_agent",
    "make_env",
    "train",
    "train_agent",
]
