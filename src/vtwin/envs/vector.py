"""Spread the copies of a batched env over worker processes (use every core of a laptop).

:class:`SubprocBatchedEnv` wraps any batched env class with the vtwin batched API
(``reset(seed) -> (obs, info)``, ``step(actions) -> (obs, reward, terminated, truncated,
info)``, arrays with the copy axis first). Copies ``0..B−1`` are split into contiguous blocks,
one per worker, and each block keeps its own per-copy seeds, so the result is identical to
one in-process batched env with the same seeds (a test checks this).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BatchedEnv", "SubprocBatchedEnv"]


class BatchedEnv(Protocol):
    """What :class:`SubprocBatchedEnv` needs from a batched env."""

    B: int

    def reset(self, seed: int | Sequence[int] | None = None) -> tuple[Any, dict[str, Any]]: ...

    def step(self, actions: ArrayLike) -> tuple[Any, Any, Any, Any, dict[str, Any]]: ...


def _worker(conn: Connection, env_fn: Callable[[int], BatchedEnv], size: int) -> None:
    """Serve one block of copies: build the env, then answer commands until 'close'."""
    try:
        env = env_fn(size)
    except BaseException:  # report construction errors to the parent
        conn.send(("error", traceback.format_exc()))
        conn.close()
        return
    conn.send(("ok", None))
    while True:
        try:
            cmd, payload = conn.recv()
        except EOFError:
            break
        if cmd == "close":
            break
        out: Any
        try:
            if cmd == "reset":
                out = env.reset(payload)
            elif cmd == "step":
                out = env.step(payload)
            elif cmd == "call":
                name, args = payload
                out = getattr(env, name)(*args)
            elif cmd == "get":
                out = getattr(env, payload)
            else:
                raise ValueError(f"unknown command {cmd!r}")
            conn.send(("ok", out))
        except BaseException:
            conn.send(("error", traceback.format_exc()))
    conn.close()


def _concat(parts: list[Any]) -> Any:
    """Join per-worker results along the copy axis (tuples, dicts and arrays, recursively)."""
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_concat([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, np.ndarray) and first.ndim >= 1:
        return np.concatenate(parts, axis=0)
    return first  # scalars and other values are the same in every block


class SubprocBatchedEnv:
    """``B`` env copies split over ``workers`` processes, stepped in parallel.

    ``env_fn(n)`` builds a batched env of ``n`` copies in a worker; it must be picklable (a
    module-level function or a ``functools.partial`` of a class). Seeds follow the wrapped
    env's rule: an int ``s`` gives copy ``b`` the seed ``s + b``; a list gives one per copy.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        env_fn: Callable[[int], BatchedEnv],
        batch_size: int,
        *,
        workers: int = 2,
        start_method: str = "spawn",
    ) -> None:
        """Start ``workers`` processes holding contiguous blocks of the ``batch_size`` copies."""
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size}: must be ≥ 1")
        if not 1 <= workers <= batch_size:
            raise ValueError(f"workers = {workers}: must be in [1, batch_size = {batch_size}]")
        self._closed = True  # until the workers exist
        self._conns: list[Connection] = []
        self.B = int(batch_size)
        blocks = np.array_split(np.arange(self.B), workers)
        self._bounds = [(int(b[0]), int(b[-1]) + 1) for b in blocks]
        ctx: Any = mp.get_context(start_method)
        self._procs = []
        for lo, hi in self._bounds:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, env_fn, hi - lo), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        self._closed = False
        self._gather()  # construction acknowledgements (or errors)

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | Sequence[int] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset every copy; int ``s`` → copy b gets ``s + b``; a list gives one per copy."""
        if seed is None:
            seeds = [int(s) for s in np.random.SeedSequence().generate_state(self.B)]
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + b for b in range(self.B)]
        else:
            seeds = [int(s) for s in seed]
            if len(seeds) != self.B:
                raise ValueError(f"seed list has {len(seeds)} entries; need {self.B}")
        for conn, (lo, hi) in zip(self._conns, self._bounds, strict=True):
            conn.send(("reset", seeds[lo:hi]))
        out: tuple[Any, dict[str, Any]] = _concat(self._gather())
        return out

    def step(self, actions: ArrayLike) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step every copy; ``actions`` has the copy axis first."""
        act = np.asarray(actions)
        if act.shape[0] != self.B:
            raise ValueError(f"actions have {act.shape[0]} rows; expected {self.B} (one per copy)")
        for conn, (lo, hi) in zip(self._conns, self._bounds, strict=True):
            conn.send(("step", act[lo:hi]))
        out: tuple[Any, Any, Any, Any, dict[str, Any]] = _concat(self._gather())
        return out

    def call(self, name: str, *args: Any) -> Any:
        """Call a method of every block's env and join the results along the copy axis."""
        for conn in self._conns:
            conn.send(("call", (name, args)))
        return _concat(self._gather())

    def get_attr(self, name: str) -> Any:
        """An attribute of the first block's env (attributes that do not depend on B)."""
        self._conns[0].send(("get", name))
        return self._receive(self._conns[0])

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(("close", None))
            conn.close()
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()

    def __enter__(self) -> SubprocBatchedEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_conns", None):
            self.close()

    # ------------------------------------------------------------------ internals
    def _receive(self, conn: Connection) -> Any:
        try:
            status, value = conn.recv()
        except (EOFError, ConnectionResetError):
            codes = [p.exitcode for p in self._procs]
            self.close()
            raise RuntimeError(f"an env worker exited unexpectedly (exit codes {codes})") from None
        if status == "error":
            self.close()
            raise RuntimeError(f"env worker failed:\n{value}")
        return value

    def _gather(self) -> list[Any]:
        return [self._receive(conn) for conn in self._conns]
