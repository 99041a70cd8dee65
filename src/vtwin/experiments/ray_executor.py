"""The Ray executor: runs of a sweep as Ray tasks, on this machine or on a Ray cluster.

Only :func:`vtwin.experiments.executor.make_executor` imports this module, and only when the
``ray`` backend is chosen; Ray itself is imported when a :class:`RayExecutor` is built, so
``import vtwin`` and the local backend never load it.

Each run is one task calling :func:`~vtwin.experiments.executor.execute_run` with the torch
thread count the driver reads from ``$VTWIN_RUN_THREADS`` (passed explicitly, so a worker's
own environment cannot change it): a run gives the same numbers, bit for bit, here and in the
local pool. Results travel back to the driver, which calls ``on_done`` and so writes the
run store itself: runs land in the driver's ``--out`` folder whichever node ran them.

Failures are reported, never retried by Ray (``max_retries=0``): an exception in the run
function arrives as that exception (the worker's traceback attached as its cause), and a
worker or node that dies (``WorkerCrashedError``, ``NodeDiedError``, Ray's out-of-memory
killer) arrives as Ray's error. The run store records the run as failed and the next
``vtwin reproduce`` with the same arguments runs it again.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Sequence
from typing import Any

from vtwin.experiments.executor import (
    BackendUnavailableError,
    DoneCallback,
    StartCallback,
    execute_run,
    run_threads,
)
from vtwin.experiments.spec import RunResult, RunSpec

__all__ = ["INSTALL_HINT", "RayExecutor", "RemoteTracebackError", "import_ray"]

_CONNECT_S = 5.0
"""Seconds to wait for the head node's port to answer before giving up on an address."""

_WAIT_S = 1.0
"""Longest single wait for a finished task (s); an interrupt is handled between waits."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

INSTALL_HINT = "the ray backend needs Ray: pip install 'vtwin[ray]'"


def import_ray() -> Any:
    """Import Ray, or raise :class:`BackendUnavailableError` with the install hint."""
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError(
            f"{INSTALL_HINT} (or use --backend local, with --workers N for parallel runs)"
        ) from None
    return ray


class RemoteTracebackError(Exception):
    """The traceback of a run that raised in a Ray worker (set as the exception's cause)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``[ray://]HOST:PORT`` address, None for ``auto``; else a
    one-line :class:`BackendUnavailableError` naming the allowed forms."""
    text = address.strip() if isinstance(address, str) else ""
    if text == "auto":
        return None
    host, _, port = text.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BackendUnavailableError(
            f"--address {address!r}: give auto (the cluster this machine belongs to) or "
            "HOST:PORT of its head node (e.g. 10.0.0.5:6379, or ray://HOST:10001)"
        )
    return host.strip("[]"), int(port)


def _ray_task(fn_path: str, spec: RunSpec, threads: int) -> RunResult:
    """What one Ray task does: :func:`execute_run` with the driver's torch thread count."""
    return execute_run(fn_path, spec, threads=threads)


class RayExecutor:
    """Runs every spec as a Ray task and reports each outcome in the calling process.

    ``address`` is passed to ``ray.init``: None starts a private Ray instance on this
    machine (with ``workers`` CPUs when given, else all of them) and stops it when this
    process exits; ``"auto"`` or ``"HOST:6379"`` joins a running cluster (this process then
    must run on one of its nodes). When Ray is already initialised in this process (say, by
    a notebook or a test), that session is used as it is and ``address`` is ignored.

    At most ``workers`` runs are in flight; ``workers=None`` means as many as the cluster
    has CPUs for (its CPU count, read when :meth:`run` starts, divided by the CPUs one run
    asks for), so ``on_start`` marks runs that really start rather than queue inside Ray.
    Each task asks for as many CPUs as it uses torch threads (:func:`run_threads`).
    ``runtime_env`` is given to ``ray.init`` when this executor starts or joins Ray (for
    example ``{"env_vars": {...}}`` or a ``py_modules`` list for code the workers lack).
    """

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        *,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValueError(f"workers = {workers!r} must be an int ≥ 1 (or None: every CPU)")
        if address is not None:
            _host_port(address)  # checks the form
        self.workers = workers
        self.address = address.strip() if address is not None else None
        self.runtime_env = dict(runtime_env) if runtime_env is not None else None
        self._ray = import_ray()
        self._started = False

    # ------------------------------------------------------------------ Ray session
    def _connect(self) -> None:
        """Start or join Ray unless this process is already connected."""
        ray = self._ray
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"address": self.address, "include_dashboard": False}
        if self.address is None and self.workers is not None:
            options["num_cpus"] = self.workers * run_threads()
        if self.runtime_env is not None:
            options["runtime_env"] = self.runtime_env
        where = f"--address {self.address}" if self.address else "a local Ray instance"
        target = _host_port(self.address) if self.address else None
        if target is not None:  # fail in seconds, not after Ray's minutes of retries
            try:
                socket.create_connection(target, timeout=_CONNECT_S).close()
            except OSError as exc:
                raise BackendUnavailableError(
                    f"{where}: nothing answers there ({exc.strerror or exc}); start the cluster "
                    "with `ray start --head`, or drop --address for a local Ray instance"
                ) from None
        try:
            ray.init(**options)
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            raise BackendUnavailableError(
                f"{where}: Ray did not start or connect ({type(exc).__name__}: "
                f"{lines[0] if lines else ''}); a cluster using token authentication also "
                "needs RAY_AUTH_MODE=token and its token here (`ray get-auth-token`)"
            ) from None
        self._started = True

    def close(self) -> None:
        """Disconnect from Ray (and stop the private instance) if this executor started it."""
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False

    def _slots(self, cpus_per_run: int) -> int:
        """How many runs may be in flight at once."""
        if self.workers is not None:
            return self.workers
        cpus = float(self._ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // cpus_per_run))

    # ------------------------------------------------------------------ runs
    def run(
        self,
        fn_path: str,
        specs: Sequence[RunSpec],
        on_done: DoneCallback,
        on_start: StartCallback | None = None,
    ) -> None:
        """Run every spec as a Ray task, calling ``on_done`` here as each one finishes.

        An interrupt (Ctrl-C) cancels the tasks in flight (their workers are killed) and
        propagates; runs already reported are kept by the caller.
        """
        if not specs:
            return
        ray = self._ray
        threads = run_threads()
        self._connect()
        task = ray.remote(_ray_task).options(
            num_cpus=threads, max_retries=0, retry_exceptions=False
        )
        slots = self._slots(threads)
        pending = list(reversed(specs))
        in_flight: dict[Any, RunSpec] = {}
        try:
            while pending or in_flight:
                while pending and len(in_flight) < slots:
                    spec = pending.pop()
                    if on_start is not None:
                        on_start(spec)
                    in_flight[task.remote(fn_path, spec, threads)] = spec
                # A bounded wait, so that Ctrl-C is seen within a second.
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=_WAIT_S)
                for ref in ready:
                    spec = in_flight.pop(ref)
                    on_done(spec, self._outcome(ref))
        except BaseException:
            for ref in in_flight:
                with contextlib.suppress(Exception):  # finished, or its worker is gone
                    ray.cancel(ref, force=True)
            raise

    def _outcome(self, ref: Any) -> RunResult | BaseException:
        """The result of a finished task, or the exception that describes its failure."""
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, BaseException):
                text = _ANSI.sub("", str(exc))
                cause.__cause__ = RemoteTracebackError(text.rstrip())
                return cause
            return exc
        except Exception as exc:  # WorkerCrashedError, NodeDiedError, OutOfMemoryError, ...
            return exc
