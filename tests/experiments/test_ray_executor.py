"""Ray executor on a real local Ray instance (2 CPUs, started once for this module).

A sweep run through Ray stores the same bytes as through the local pool; a worker killed
mid-run leaves the store consistent and a rerun completes it; run errors arrive with the
worker's traceback; at most ``workers`` runs are in flight; Ctrl-C cancels the tasks.
"""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'vtwin[ray]')")

import ray_toys  # noqa: E402  (after the skip: it is only needed with Ray)
import toy_experiments as toys  # noqa: E402
from typer import Typer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from vtwin.experiments import (  # noqa: E402
    BackendUnavailableError,
    Experiment,
    Figure,
    LocalExecutor,
    RunResult,
    RunSpec,
    Sweep,
    make_executor,
    register,
    reproduce,
)
from vtwin.experiments.cli import register_cli  # noqa: E402
from vtwin.experiments.executor import RUN_THREADS_ENV  # noqa: E402
from vtwin.experiments.ray_executor import RayExecutor  # noqa: E402
from vtwin.experiments.registry import unregister  # noqa: E402
from vtwin.experiments.spec import expand  # noqa: E402
from vtwin.experiments.store import RunStore  # noqa: E402

# One xdist worker runs this whole module (`make test` passes --dist loadgroup), so one Ray
# instance starts, not one per worker.
pytestmark = pytest.mark.xdist_group("ray")

HERE = Path(__file__).resolve().parent
RUN_FILES = ("summary.json", "metrics.csv", "artifacts.json")

TORCH_TOY = Experiment(
    name="ray-torch",
    paper="T",
    title="Tiny torch fits (thread-sensitive numbers)",
    preset="paper-a",
    methods=("adam",),
    run="ray_toys:run_torch",
    seeds=2,
    sweep=Sweep(key="budget.steps", values=(10, 20), label="Steps"),
    budgets={"quick": {"steps": 10}, "full": {"steps": 10}},
    figures=(Figure("loss_bar", "bar", "loss", "Final loss", "loss"),),
)

DIE_ONCE = Experiment(
    name="ray-die-once",
    paper="T",
    title="A run whose worker is killed the first time",
    preset="paper-a",
    methods=("good", "broken"),
    run="ray_toys:run_die_once",
    seeds=1,
    sweep=Sweep(key="budget.steps", values=(2, 3, 4), label="Steps"),
    budgets={"quick": {"steps": 3}, "full": {"steps": 3}},
    figures=(Figure("cost_bar", "bar", "cost", "Cost per method", "cost"),),
)


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A local Ray instance whose workers import the test helpers (this folder on their
    PYTHONPATH) and find the kill markers; experiments registered for the module."""
    markers = tmp_path_factory.mktemp("ray-markers")
    saved = {key: os.environ.get(key) for key in ("PYTHONPATH", ray_toys.MARKERS_ENV)}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), saved["PYTHONPATH"]) if p)
    os.environ[ray_toys.MARKERS_ENV] = str(markers)
    try:  # the workers inherit the environment of the Ray instance this starts
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            logging_level="warning",
            object_store_memory=128 * 1024**2,
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for experiment in (TORCH_TOY, DIE_ONCE):
        register(experiment)
    try:
        yield
    finally:
        for experiment in (TORCH_TOY, DIE_ONCE):
            unregister(experiment.name)
        ray.shutdown()


def _stored(root: Path, experiment: str) -> dict[str, dict[str, Any]]:
    """Every complete run's files as bytes (config.yaml without its save time)."""
    runs: dict[str, dict[str, Any]] = {}
    for folder in sorted((root / experiment).iterdir()):
        if not (folder / "summary.json").is_file():
            continue
        files: dict[str, Any] = {name: (folder / name).read_bytes() for name in RUN_FILES}
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        config.pop("saved_at")
        files["config.yaml"] = config
        runs[folder.name] = files
    return runs


@pytest.mark.usefixtures("ray_session")
def test_a_sweep_on_ray_stores_the_local_pools_results_bit_for_bit(tmp_path: Path) -> None:
    name = "ray-torch"  # trained weights: the bits depend on the torch thread count
    local = reproduce(name, quick=True, out=tmp_path / "local", progress=False,
                      executor=LocalExecutor(2))  # fmt: skip
    remote = reproduce(name, quick=True, out=tmp_path / "ray", progress=False,
                       executor=RayExecutor(2))  # fmt: skip
    assert local.ok and remote.ok and remote.new == local.new == local.total > 1
    stored_local = _stored(tmp_path / "local", name)
    assert len(stored_local) == local.total
    assert _stored(tmp_path / "ray", name) == stored_local
    assert [c.ours for c in remote.claims] == [c.ours for c in local.claims]


@pytest.mark.usefixtures("ray_session")
def test_a_killed_worker_is_a_failed_run_and_a_rerun_completes_it(tmp_path: Path) -> None:
    killed = "quick__method=broken__steps=3__seed=0"
    first = reproduce("ray-die-once", quick=True, out=tmp_path, progress=False,
                      executor=RayExecutor(2))  # fmt: skip
    assert [f.spec.run_id for f in first.failed] == [killed]
    assert first.failed[0].error.startswith("WorkerCrashedError")
    exp_dir = tmp_path / "ray-die-once"
    assert "WorkerCrashedError" in (exp_dir / "failed" / f"{killed}.log").read_text()
    # the store is consistent: the five other runs complete, nothing half-written
    store = RunStore(tmp_path)
    specs = expand(DIE_ONCE, quick=True)
    assert {s.run_id for s in specs if store.is_complete(s)} == {
        s.run_id for s in specs if s.run_id != killed
    }
    assert not (exp_dir / killed).exists()
    assert not list(exp_dir.glob(".tmp-*"))

    again = reproduce("ray-die-once", quick=True, out=tmp_path, progress=False,
                      executor=RayExecutor(2))  # fmt: skip
    assert again.ok and again.new == 1 and len(again.reused) == 5
    assert all(store.is_complete(s) for s in specs)
    assert not (exp_dir / "failed").exists()


@pytest.mark.usefixtures("ray_session")
def test_run_errors_carry_the_workers_traceback(tmp_path: Path) -> None:
    report = reproduce("toy-fail", quick=True, out=tmp_path, progress=False,
                       executor=RayExecutor(2))  # fmt: skip
    assert [f.spec.run_id for f in report.failed] == ["quick__method=broken__seed=1"]
    failure = report.failed[0]
    assert failure.error == "RuntimeError: toy failure in quick__method=broken__seed=1"
    assert "RemoteTraceback" in failure.details and "in run_fail" in failure.details
    assert len(report.runs) == 3


@pytest.mark.usefixtures("ray_session")
@pytest.mark.parametrize("workers", [1, None])
def test_runs_in_flight_are_bounded_and_reported_once(workers: int | None) -> None:
    specs = expand(toys.TOY_SLOW, quick=True)[:5]  # 0.3 s each
    running: set[str] = set()
    most = 0
    done: dict[str, RunResult | BaseException] = {}

    def on_start(spec: RunSpec) -> None:
        nonlocal most
        running.add(spec.run_id)
        most = max(most, len(running))

    def on_done(spec: RunSpec, outcome: RunResult | BaseException) -> None:
        assert spec.run_id in running and spec.run_id not in done
        running.remove(spec.run_id)
        done[spec.run_id] = outcome

    RayExecutor(workers).run("toy_experiments:run_toy", specs, on_done, on_start)
    assert set(done) == {s.run_id for s in specs}
    assert all(isinstance(v, RunResult) for v in done.values())
    assert most == (workers or 2)  # None: the instance's 2 CPUs


@pytest.mark.usefixtures("ray_session")
def test_runs_get_the_drivers_torch_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_THREADS_ENV, "2")  # the workers' own environment does not have it
    spec = expand(toys.TOY_FLAT, quick=True, seeds=1)[0]
    out: dict[str, Any] = {}
    RayExecutor(1).run("toy_experiments:run_threads_seen", [spec], lambda s, o: out.update(o=o))
    assert out["o"].summary["threads"] == 2.0


@pytest.mark.usefixtures("ray_session")
def test_ctrl_c_cancels_the_runs_in_flight() -> None:
    specs = [
        RunSpec("toy-slow", "good", seed, budget={"sleep": 60.0}, preset="paper-a")
        for seed in range(2)
    ]
    done: list[str] = []
    # interrupt_main does nothing while SIGINT is ignored or at SIG_DFL, as an earlier test
    # in the same xdist worker may leave it: give it Python's own handler for this test
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(2.0, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            RayExecutor(2).run("toy_experiments:run_toy", specs, lambda s, o: done.append(s.run_id))
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, handler)
    assert time.monotonic() - start < 15 and done == []
    deadline = time.monotonic() + 20
    while ray.available_resources().get("CPU", 0.0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # the cancelled tasks give their CPUs back
    assert ray.available_resources().get("CPU", 0.0) == 2


@pytest.mark.usefixtures("ray_session")
def test_cli_reproduce_with_the_ray_backend(tmp_path: Path) -> None:
    app = Typer()
    register_cli(app)
    args = ["reproduce", "toy", "--quick", "--seeds", "1", "--backend", "ray"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "4 runs: 4 run now" in result.stdout
    assert (tmp_path / "toy" / "REPORT.md").exists()
    assert isinstance(make_executor("ray", None, "auto"), RayExecutor)


def test_addresses_are_checked_and_an_unreachable_one_fails_fast() -> None:
    with pytest.raises(BackendUnavailableError, match=r"--address 'nonsense': give auto"):
        make_executor("ray", 2, "nonsense")
    with pytest.raises(BackendUnavailableError, match=r"HOST:PORT of its head node"):
        RayExecutor(2, "ray://head:port")
    executor = RayExecutor(2, "127.0.0.1:1")  # nothing listens on port 1
    calls: list[dict[str, Any]] = []
    executor._ray = SimpleNamespace(  # a Ray not yet connected: the check runs first
        is_initialized=lambda: False, init=lambda **kw: calls.append(kw)
    )
    start = time.monotonic()
    spec = expand(toys.TOY_FLAT, quick=True, seeds=1)[0]
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1:1: nothing answers there"):
        executor.run("toy_experiments:run_toy", [spec], lambda s, o: None)
    assert calls == [] and time.monotonic() - start < 10
