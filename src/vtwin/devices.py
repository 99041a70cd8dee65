"""Where torch work runs: one rule for agents and forecasters alike (CUDA when present)."""

from __future__ import annotations

import os

import torch

__all__ = ["DEVICES", "available_memory_bytes", "keep_freed_memory", "pick_device"]


DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
"""What ``--device`` accepts."""


def pick_device(requested: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; otherwise the named device.

    ValueError (one line, naming the value and what is allowed) for a name torch does not
    know as one of :data:`DEVICES`, or a device this machine does not have.
    """
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device = {requested!r}: unknown; allowed: {', '.join(DEVICES)}"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device = {requested!r}: CUDA is not available on this machine (no GPU, or a "
                "CPU-only build of torch); use cpu or auto"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device = {requested!r}: this machine has {count} CUDA device(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device = {requested!r}: MPS is not available on this machine")
    elif device.type != "cpu":
        raise ValueError(f"device = {requested!r}: unsupported; allowed: {', '.join(DEVICES)}")
    return device


def available_memory_bytes() -> int | None:
    """Memory the system can give this process now (Linux ``MemAvailable``; else free
    physical pages), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


_MALLOC_OPTIONS = ((-3, 32 * 2**20), (-1, 2**31 - 1), (-2, 256 * 2**20))
"""glibc ``mallopt`` settings of :func:`keep_freed_memory`: M_MMAP_THRESHOLD 32 MiB (its
maximum on 64-bit), M_TRIM_THRESHOLD 2 GiB, M_TOP_PAD 256 MiB."""
_malloc_tuned = False


def keep_freed_memory() -> bool:
    """Let this process's allocator keep and reuse freed blocks of up to 32 MiB instead of
    handing them back to the system (Linux with glibc; elsewhere nothing happens).

    Torch frees and allocates the same large activations at every minibatch. By default
    glibc returns such blocks to the system and gets fresh pages for the next one, and the
    first touch of every 4 KiB page then costs a page fault: a 16 MiB activation (one step of
    an entity network over a ``paper-c`` minibatch) cost 10–12 ms to fill where 1–2 ms is
    the arithmetic. Measured on HDPPO, ``paper-c``, one core: 147 → 165 joint transitions/s.
    The price is a process that keeps up to the largest freed amount resident. Returns
    whether the settings were applied (idempotent)."""
    global _malloc_tuned
    if _malloc_tuned:
        return True
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    _malloc_tuned = all(mallopt(option, value) == 1 for option, value in _MALLOC_OPTIONS)
    return _malloc_tuned
