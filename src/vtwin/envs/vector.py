"""Spread the copies of a batched env over worker processes (use every core of a laptop).

:class:`SubprocBatchedEnv` wraps any batched env class with the vtwin batched API
(``reset(seed) -> (obs, info)``, ``step(actions) -> (obs, reward, terminated, truncated,
info)``, arrays with the copy axis first). Copies ``0..B−1`` are split into contiguous blocks,
one per worker, and each block keeps its own per-copy seeds, so the result is identical to
one in-process batched env with the same seeds (a test checks this).

Large arrays (observations, states, masks: megabytes per slot at B = 1024) do not travel
through the pipe: each worker writes them into shared-memory blocks it owns, sends only their
names, shapes and dtypes, and the parent copies them out while joining the blocks. The copy
means every returned array is the caller's own (it stays valid after the next step); the
worker overwrites its blocks only when the next command arrives, after that copy.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BatchedEnv", "SubprocBatchedEnv"]

SHM_MIN_BYTES = 1 << 16
"""Arrays of at least this many bytes go through shared memory; smaller ones are pickled."""


class BatchedEnv(Protocol):
    """What :class:`SubprocBatchedEnv` needs from a batched env."""

    B: int

    def reset(self, seed: int | Sequence[int] | None = None) -> tuple[Any, dict[str, Any]]: ...

    def step(self, actions: ArrayLike) -> tuple[Any, Any, Any, Any, dict[str, Any]]: ...


@dataclass(frozen=True)
class _ShmRef:
    """Stands for an array a worker left in its shared-memory block ``name``."""

    name: str
    shape: tuple[int, ...]
    dtype: str


class _ShmWriter:
    """Worker side: one shared block per position in the result tree (re-made on a new shape)."""

    def __init__(self, min_bytes: int) -> None:
        self.min_bytes = min_bytes
        self._blocks: dict[tuple[Any, ...], tuple[SharedMemory, np.ndarray]] = {}

    def pack(self, value: Any, path: tuple[Any, ...] = ()) -> Any:
        """``value`` with every large array written to shared memory and replaced by a ref."""
        if isinstance(value, tuple):
            return tuple(self.pack(v, (*path, i)) for i, v in enumerate(value))
        if isinstance(value, dict):
            return {k: self.pack(v, (*path, k)) for k, v in value.items()}
        if (
            not isinstance(value, np.ndarray)
            or value.nbytes < self.min_bytes
            or value.dtype.hasobject
        ):
            return value
        held = self._blocks.get(path)
        if held is None or held[1].shape != value.shape or held[1].dtype != value.dtype:
            if held is not None:
                self._release(held[0])
            shm = SharedMemory(create=True, size=value.nbytes)
            held = (shm, np.ndarray(value.shape, dtype=value.dtype, buffer=shm.buf))
            self._blocks[path] = held
        np.copyto(held[1], value)
        return _ShmRef(held[0].name, value.shape, value.dtype.str)

    @staticmethod
    def _release(shm: SharedMemory) -> None:
        shm.close()
        with contextlib.suppress(FileNotFoundError):
            shm.unlink()

    def close(self) -> None:
        """Unlink every block (the parent's mappings stay valid until it closes them)."""
        for shm, _ in self._blocks.values():
            self._release(shm)
        self._blocks.clear()


def _worker(
    conn: Connection,
    env_fn: Callable[[int], BatchedEnv],
    size: int,
    shm_min_bytes: int | None = SHM_MIN_BYTES,
) -> None:
    """Serve one block of copies: build the env, then answer commands until 'close'."""
    try:
        env = env_fn(size)
    except BaseException:  # report construction errors to the parent
        conn.send(("error", traceback.format_exc()))
        conn.close()
        return
    writer = _ShmWriter(shm_min_bytes) if shm_min_bytes is not None else None
    conn.send(("ok", None))
    try:
        _serve(conn, env, writer)
    finally:
        if writer is not None:
            writer.close()
        conn.close()


def _serve(conn: Connection, env: BatchedEnv, writer: _ShmWriter | None) -> None:
    """Answer commands on ``conn`` until 'close' or a closed pipe."""
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
            if writer is not None and cmd in ("reset", "step", "call"):
                out = writer.pack(out)
            conn.send(("ok", out))
        except BaseException:
            conn.send(("error", traceback.format_exc()))


def _concat(parts: list[Any]) -> Any:
    """Join per-worker results along the copy axis (tuples, dicts and arrays, recursively)."""
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_concat([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, np.ndarray) and first.ndim >= 1:
        return np.concatenate(parts, axis=0)  # a copy: views of shared blocks never escape
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
        shared_memory: bool = True,
        shm_min_bytes: int = SHM_MIN_BYTES,
    ) -> None:
        """Start ``workers`` processes holding contiguous blocks of the ``batch_size`` copies.

        Result arrays of at least ``shm_min_bytes`` bytes per worker come back through shared
        memory; ``shared_memory=False`` sends everything through the pipe (pickled) instead.
        """
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
        self._attached: dict[str, SharedMemory] = {}  # the workers' blocks, by name
        if shm_min_bytes < 1:
            raise ValueError(f"shm_min_bytes = {shm_min_bytes}: must be ≥ 1")
        min_bytes = int(shm_min_bytes) if shared_memory else None
        for lo, hi in self._bounds:
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker, args=(child, env_fn, hi - lo, min_bytes), daemon=True
            )
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
        for shm in self._attached.values():
            shm.close()
        self._attached.clear()

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
        return self._unpack(value)

    def _unpack(self, value: Any) -> Any:
        """``value`` with each shared-memory ref replaced by a view of the worker's block."""
        if isinstance(value, tuple):
            return tuple(self._unpack(v) for v in value)
        if isinstance(value, dict):
            return {k: self._unpack(v) for k, v in value.items()}
        if not isinstance(value, _ShmRef):
            return value
        shm = self._attached.get(value.name)
        if shm is None:
            shm = SharedMemory(name=value.name)
            self._attached[value.name] = shm
        return np.ndarray(value.shape, dtype=np.dtype(value.dtype), buffer=shm.buf)

    def _gather(self) -> list[Any]:
        return [self._receive(conn) for conn in self._conns]
