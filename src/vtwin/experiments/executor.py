"""Executors: where runs execute. Local (inline or a process pool) or Ray (a cluster).

An executor gets the run function's import path (``'module:function'``), the specs and a
callback; it calls ``on_done(spec, result_or_error)`` in the calling process as each run
finishes, so the caller can save results immediately. Experiments never see the executor:
a new backend only has to implement :class:`Executor` and be named in
:func:`make_executor`. The Ray backend lives in :mod:`vtwin.experiments.ray_executor`, which
is imported only when it is chosen.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from vtwin.experiments.spec import RunResult, RunSpec, import_callable

__all__ = [
    "BACKENDS",
    "RUN_THREADS_ENV",
    "BackendUnavailableError",
    "DoneCallback",
    "Executor",
    "LocalExecutor",
    "StartCallback",
    "execute_run",
    "make_executor",
    "max_local_workers",
    "run_threads",
    "usable_cpus",
]

BACKENDS: tuple[str, ...] = ("local", "ray")

DoneCallback = Callable[[RunSpec, RunResult | BaseException], None]
StartCallback = Callable[[RunSpec], None]

RUN_THREADS_ENV = "VTWIN_RUN_THREADS"
"""Environment variable: torch threads of one run (default 1)."""


class BackendUnavailableError(ValueError):
    """The requested executor backend is unknown or not installed."""


class Executor(Protocol):
    """Runs ``fn_path`` on every spec, reporting each outcome through ``on_done``."""

    def run(
        self,
        fn_path: str,
        specs: Sequence[RunSpec],
        on_done: DoneCallback,
        on_start: StartCallback | None = None,
    ) -> None:
        """Run all specs; ``on_done`` gets a RunResult or the exception the run raised."""
        ...


def run_threads() -> int:
    """Torch threads one run uses: ``$VTWIN_RUN_THREADS``, default 1.

    Torch splits its reductions (gradient sums, means over a batch) among its threads, so
    the thread count changes a trained network in its last bits and, over a long run, its
    results. A fixed count makes a run's numbers the same inline or in a pool, with any
    ``--workers``, on any machine; one thread also suits the small networks of the papers,
    and the runner parallelises across runs instead.
    """
    raw = os.environ.get(RUN_THREADS_ENV, "1")
    try:
        threads = int(raw)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"{RUN_THREADS_ENV} = {raw!r}: must be an integer ≥ 1")
    return threads


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, then restore the caller's count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute_run(fn_path: str, spec: RunSpec, threads: int | None = None) -> RunResult:
    """Import the run function from ``fn_path`` and run one spec (what a worker does), with
    ``threads`` torch threads (default :func:`run_threads`) so that the result does not
    depend on where it runs."""
    fn = import_callable(fn_path)
    with _torch_threads(run_threads() if threads is None else threads):
        result = fn(spec)
    if not isinstance(result, RunResult):
        raise TypeError(
            f"run function {fn_path} returned {type(result).__name__} for {spec.run_id}; "
            "it must return a vtwin.experiments.RunResult"
        )
    return result


def _limit_threads(threads: int, parent: int | None = None) -> None:
    """Pool-worker start-up: share the cores among the workers for BLAS and OpenMP (read when
    first imported; without them every worker would use every core), and die with the
    parent (:func:`_die_with_parent`). Torch's own thread count is set per run by
    :func:`execute_run`."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    if parent is not None:
        _die_with_parent(parent)


def _die_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """Make this pool worker exit when the process that started the sweep dies, even by
    SIGKILL (which runs no clean-up): otherwise its workers live on as orphans, finishing
    runs nobody will save. Linux: the kernel's parent-death signal (``PR_SET_PDEATHSIG``);
    everywhere: a daemon thread that exits once the parent process id changes."""
    import signal
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the guard was set
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="vtwin-parent-watch", daemon=True).start()


WORKERS_PER_CPU = 4
"""Local pool processes allowed per usable CPU (:func:`max_local_workers`)."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def max_local_workers() -> int:
    """The most ``--workers`` a local pool accepts: :data:`WORKERS_PER_CPU` × usable CPUs.
    Runs are CPU-bound (one torch thread each), so beyond one per core they only queue, and
    each worker process costs a few hundred MB (its own torch)."""
    return WORKERS_PER_CPU * usable_cpus()


class LocalExecutor:
    """Runs on this machine: inline when ``workers == 1``, else a pool of fresh processes.

    Pool workers are started with ``mp_context`` ("spawn" by default, safe with torch and
    threads); at most ``workers`` runs are in flight, so ``on_start`` marks real starts and
    an interrupt loses only the runs in flight.
    """

    def __init__(self, workers: int = 1, mp_context: str = "spawn") -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers = {workers!r} must be an int ≥ 1")
        if workers > max_local_workers():
            raise ValueError(
                f"workers = {workers}: at most {max_local_workers()} on this machine "
                f"({WORKERS_PER_CPU} per CPU, {usable_cpus()} CPUs); more processes only "
                "contend for the cores, and each holds its own torch in memory"
            )
        if mp_context not in multiprocessing.get_all_start_methods():
            raise ValueError(
                f"mp_context = {mp_context!r}; allowed here: "
                f"{', '.join(multiprocessing.get_all_start_methods())}"
            )
        self.workers = workers
        self.mp_context = mp_context

    def run(
        self,
        fn_path: str,
        specs: Sequence[RunSpec],
        on_done: DoneCallback,
        on_start: StartCallback | None = None,
    ) -> None:
        """Run every spec, calling ``on_done`` in this process as each finishes."""
        if self.workers == 1 or len(specs) <= 1:
            self._run_inline(fn_path, specs, on_done, on_start)
        else:
            self._run_pool(fn_path, specs, on_done, on_start)

    @staticmethod
    def _run_inline(
        fn_path: str,
        specs: Sequence[RunSpec],
        on_done: DoneCallback,
        on_start: StartCallback | None,
    ) -> None:
        for spec in specs:
            if on_start is not None:
                on_start(spec)
            try:
                result = execute_run(fn_path, spec)
            except Exception as exc:
                on_done(spec, exc)
            else:
                on_done(spec, result)

    def _run_pool(
        self,
        fn_path: str,
        specs: Sequence[RunSpec],
        on_done: DoneCallback,
        on_start: StartCallback | None,
    ) -> None:
        context = multiprocessing.get_context(self.mp_context)
        max_workers = min(self.workers, len(specs))
        pending = list(reversed(specs))
        in_flight: dict[cf.Future[RunResult], RunSpec] = {}
        threads = max(1, (os.cpu_count() or 1) // max_workers)
        pool_args: dict[str, Any] = {
            "max_workers": max_workers,
            "mp_context": context,
            "initializer": _limit_threads,
            "initargs": (threads, os.getpid()),
        }
        pool = cf.ProcessPoolExecutor(**pool_args)
        try:
            while pending or in_flight:
                while pending and len(in_flight) < self.workers:
                    spec = pending.pop()
                    if on_start is not None:
                        on_start(spec)
                    in_flight[pool.submit(execute_run, fn_path, spec)] = spec
                done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                broken = False
                for future in done:
                    spec = in_flight.pop(future)
                    error = future.exception()
                    if error is None:
                        on_done(spec, future.result())
                    else:
                        broken = broken or isinstance(error, BrokenProcessPool)
                        on_done(spec, error)
                if broken:
                    # A worker died (killed, out of memory): every run in flight is lost with
                    # it; report them and go on with a fresh pool for the rest.
                    for future, spec in list(in_flight.items()):
                        on_done(spec, future.exception() or BrokenProcessPool("worker died"))
                    in_flight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = cf.ProcessPoolExecutor(**pool_args)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def make_executor(
    backend: str = "local", workers: int | None = 1, address: str | None = None
) -> Executor:
    """The executor for a backend name: ``local`` (default) or ``ray``.

    ``workers``: runs in parallel (local: processes, None means 1; ray: runs in flight,
    None means as many as the cluster has CPUs). ``address`` (ray only): the Ray cluster to
    join (``auto``, ``HOST:6379``); None starts a private Ray instance on this machine.
    Ray is imported only here, when ``ray`` is chosen; without it the error says how to
    install it.
    """
    if backend == "local":
        if address is not None:
            raise BackendUnavailableError(
                f"--address {address}: only the ray backend joins a cluster; "
                "add --backend ray or drop --address"
            )
        return LocalExecutor(1 if workers is None else workers)
    if backend == "ray":
        from vtwin.experiments.ray_executor import RayExecutor

        return RayExecutor(workers, address)
    raise BackendUnavailableError(
        f"unknown backend '{backend}'. Valid backends: {', '.join(BACKENDS)}"
    )
