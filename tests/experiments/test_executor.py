"""Executors: inline and process pool report every run once; failures do not stop the rest."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool

import pytest
import toy_experiments as toys

from vtwin.experiments import (
    BackendUnavailableError,
    LocalExecutor,
    RunResult,
    RunSpec,
    make_executor,
)
from vtwin.experiments.spec import expand


def _collect(executor: LocalExecutor, fn: str, specs: list[RunSpec]) -> dict[str, object]:
    outcomes: dict[str, object] = {}

    def on_done(spec: RunSpec, outcome: RunResult | BaseException) -> None:
        assert spec.run_id not in outcomes, "on_done called twice for one run"
        outcomes[spec.run_id] = outcome

    executor.run(fn, specs, on_done)
    return outcomes


def test_inline_runs_in_order_and_reports_exceptions() -> None:
    specs = expand(toys.TOY_FAIL, quick=True)
    started: list[str] = []
    done: list[str] = []
    outcomes: dict[str, object] = {}

    def on_done(spec: RunSpec, outcome: RunResult | BaseException) -> None:
        done.append(spec.run_id)
        outcomes[spec.run_id] = outcome

    LocalExecutor(1).run(
        "toy_experiments:run_fail", specs, on_done, lambda s: started.append(s.run_id)
    )
    assert started == done == [s.run_id for s in specs]
    failed = {k for k, v in outcomes.items() if isinstance(v, BaseException)}
    assert failed == {"quick__method=broken__seed=1"}
    assert isinstance(outcomes["quick__method=broken__seed=1"], RuntimeError)


def test_wrong_return_type_is_a_clear_error() -> None:
    spec = expand(toys.TOY_FLAT, quick=True)[0]
    out = _collect(LocalExecutor(1), "toy_experiments:run_not_a_result", [spec])
    error = out[spec.run_id]
    assert isinstance(error, TypeError) and "must return a vtwin.experiments.RunResult" in str(
        error
    )


def test_a_dead_worker_fails_its_runs_and_the_rest_go_on() -> None:
    crash = expand(toys.TOY_FAIL, quick=True, seeds=1, methods=("broken",))[0]
    slow = expand(toys.TOY_SLOW, quick=True)[:4]  # 0.3 s each
    order = [crash, *slow]
    out = _collect(LocalExecutor(2), "toy_experiments:run_die", order)
    assert set(out) == {s.run_id for s in order}
    assert isinstance(out[crash.run_id], BrokenProcessPool)
    # With 2 workers, at most one other run is in flight with the crash and is lost (which
    # one depends on how fast the crashing worker starts on a loaded machine: slow[2] was seen
    # too); every other run goes to a fresh pool and completes.
    lost = [s for s in slow if not isinstance(out[s.run_id], RunResult)]
    assert len(lost) <= 1 and all(isinstance(out[s.run_id], BrokenProcessPool) for s in lost)


def test_make_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_executor("local", 3), LocalExecutor)
    assert make_executor("local", None).workers == 1  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(BackendUnavailableError, match=r"pip install 'vtwin\[ray\]'"):
        make_executor("ray")
    with pytest.raises(BackendUnavailableError, match="--address HOST:6379: only the ray"):
        make_executor("local", 2, "HOST:6379")
    with pytest.raises(BackendUnavailableError, match="Valid backends: local, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="workers = 0"):
        LocalExecutor(0)


def test_runs_get_a_fixed_torch_thread_count_inline_and_in_a_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Torch's thread count changes trained weights in their last bits, so every run gets
    VTWIN_RUN_THREADS (default 1) threads wherever it runs; the caller's count is restored."""
    import torch

    specs = expand(toys.TOY_FLAT, quick=True)[:2]
    before = torch.get_num_threads()
    for workers in (1, 2):
        out = _collect(LocalExecutor(workers), "toy_experiments:run_threads_seen", specs)
        assert all(isinstance(r, RunResult) and r.summary["threads"] == 1 for r in out.values())
    assert torch.get_num_threads() == before
    monkeypatch.setenv("VTWIN_RUN_THREADS", "2")
    out = _collect(LocalExecutor(1), "toy_experiments:run_threads_seen", specs[:1])
    result = out[specs[0].run_id]
    assert isinstance(result, RunResult) and result.summary["threads"] == 2
    monkeypatch.setenv("VTWIN_RUN_THREADS", "zero")
    out = _collect(LocalExecutor(1), "toy_experiments:run_threads_seen", specs[:1])
    error = next(iter(out.values()))
    assert isinstance(error, ValueError) and "VTWIN_RUN_THREADS = 'zero'" in str(error)


def test_nothing_imports_ray_unless_the_ray_backend_is_chosen() -> None:
    code = (
        "import sys, vtwin, vtwin.cli, vtwin.experiments, vtwin.reward_design.cli\n"
        "from vtwin.experiments import make_executor\n"
        "make_executor('local', 2)\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
