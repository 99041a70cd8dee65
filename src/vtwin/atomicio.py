"""Kill-safe file writes: a temporary name and a rename, and clearing what dead writers left.

Every file a long job rewrites (checkpoints, metrics, summaries, reports) goes through
:func:`write_atomic`: the writer fills ``.<name>.tmp-<pid>`` beside the target, which is then
renamed over it, so a reader sees the old or the new version, never half of one. A writer
that fails (a full disk) removes its temporary file and leaves the target as it was; a writer
killed outright (SIGKILL, power loss) leaves the temporary file, which the next run removes
with :func:`remove_stale_temps` (only files of processes no longer alive, so a concurrent
writer is not disturbed). A leaf module: it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "DISK_FULL_ERRNOS",
    "is_disk_full",
    "pid_alive",
    "remove_stale_temps",
    "temp_path",
    "write_atomic",
]

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""Errors that mean the device (or the user's quota, or the file size limit) is full."""

_TEMP = re.compile(r"^\.(?:.+\.tmp|tmp-.+)-(\d+)$")
"""A temporary name: ``.<name>.tmp-<pid>`` (:func:`temp_path`) or ``.tmp-<name>-<pid>`` (the
results store's run folders in the making)."""


def temp_path(path: Path) -> Path:
    """The temporary name this process writes ``path`` under."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it wraps) says that no space is left."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


def write_atomic(path: Path, writer: Callable[[Path], object]) -> None:
    """Write ``path`` through ``writer(tmp)`` and an atomic rename.

    On any failure the temporary file is removed and ``path`` keeps its previous content; an
    ``OSError`` is raised again naming ``path`` (its ``errno`` kept), e.g. ``could not write
    run/checkpoint.pt: No space left on device``.
    """
    tmp = temp_path(path)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            code, reason = exc.errno, exc.strerror or str(exc)
        elif is_disk_full(exc):  # e.g. torch's writer wraps the OSError in a RuntimeError
            code, reason = errno.ENOSPC, os.strerror(errno.ENOSPC)
        else:
            raise
        error = OSError(f"could not write {path}: {reason}")
        error.errno = code
        raise error from exc


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (this process counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def remove_stale_temps(folder: Path | str) -> list[Path]:
    """Remove the temporary files (or folders) in ``folder`` whose writing process is dead;
    returns what was removed (nothing when ``folder`` is missing)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed: list[Path] = []
    for entry in folder.iterdir():
        match = _TEMP.match(entry.name)
        if match is None or pid_alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
