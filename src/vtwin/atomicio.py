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


def _os_error(exc: BaseException) -> OSError | None:
    """``exc`` itself when an OSError, else the first OSError it wraps (torch's writer
    reports a failed write as a RuntimeError raised while handling the OSError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            return current
        current = current.__cause__ or current.__context__
    return None


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it wraps) says that no space is left."""
    found = _os_error(exc)
    return found is not None and found.errno in DISK_FULL_ERRNOS


def write_atomic(path: Path, writer: Callable[[Path], object]) -> None:
    """Write ``path`` through ``writer(tmp)`` and an atomic rename.

    On any failure the temporary file is removed and ``path`` keeps its previous content; an
    ``OSError`` (or a full disk a writer reports as another error: torch's writes to an open
    file) is raised again as an OSError naming ``path``, its ``errno`` kept, e.g. ``could not
    write run/checkpoint.pt: No space left on device``.
    """
    tmp = temp_path(path)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        found = exc if isinstance(exc, OSError) else _os_error(exc)
        if found is None or (found is not exc and found.errno not in DISK_FULL_ERRNOS):
            raise
        error = OSError(f"could not write {path}: {found.strerror or found}")
        error.errno = found.errno
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
