"""Checks every text reader of :mod:`vtwin.data` shares: a binary or non-UTF-8 file is one
line naming the file, not a decoder traceback without it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["PROBE_BYTES", "check_text_file", "names_undecodable"]

PROBE_BYTES = 65_536
"""How much of a file :func:`check_text_file` looks at."""

F = TypeVar("F", bound=Callable[..., Any])


def check_text_file(path: Path, error: type[ValueError], what: str) -> None:
    """Raise ``error`` (one line) when ``path`` is a folder, missing, or starts with binary
    data (a NUL byte, or bytes that are not UTF-8) within its first :data:`PROBE_BYTES`.
    ``what`` names the expected file in the message (e.g. ``"trace file"``)."""
    if path.is_dir():
        raise error(f"{path}: a folder; expected a {what}")
    if not path.is_file():
        raise error(f"{path}: no such {what}")
    with path.open("rb") as handle:
        head = handle.read(PROBE_BYTES)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise error(f"{path}: binary data (a NUL byte at offset {nul}); expected a {what} (text)")
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not merely a character cut at the probe's end
            raise error(_undecodable(path, exc, what)) from None


def _undecodable(path: Path, exc: UnicodeDecodeError, what: str) -> str:
    byte = exc.object[exc.start] if exc.start < len(exc.object) else 0
    return f"{path}: not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); expected a {what}"


def names_undecodable(error: type[ValueError], what: str) -> Callable[[F], F]:
    """Decorate a reader whose first argument is a file path: a UnicodeDecodeError while it
    reads (binary data past :func:`check_text_file`'s probe) becomes ``error`` naming the
    file."""

    def wrap(reader: F) -> F:
        @functools.wraps(reader)
        def read(path: str | Path, *args: Any, **kwargs: Any) -> Any:
            try:
                return reader(path, *args, **kwargs)
            except UnicodeDecodeError as exc:
                raise error(_undecodable(Path(path), exc, what)) from None

        return read  # type: ignore[return-value]

    return wrap
