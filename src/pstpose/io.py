"""Atomic file output: write to a temporary file in the same folder, then rename.

A crash or an error while writing never leaves a partial file under the final name. This module
is the one owner of that rule: whole files (``write_json``, ``write_bytes``), files written
through a handle (``atomic_open``) or a path (``atomic_path``), and JSON documents streamed piece
by piece (``JsonStream``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO


class OutputError(OSError):
    """An output path cannot be written; the message names it."""


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    For libraries that want a filename (torch.save, safetensors, PyAV, cv2.imwrite).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 (and some writers replace the file): give the final file the
        # permissions a plain open() would, just before it takes the final name.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for writing; renamed onto ``path`` on success."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open writes only ('w' or 'wb')")
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def ensure_writable_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and prove a file can be written there, or raise OutputError.

    Called before long work starts, so an unwritable output fails in the first second."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{path}: output folder cannot be written ({exc.strerror or exc})") from None
    return path


def write_json(path: str | Path, data: Any, indent: int | None = None) -> None:
    """Atomically write JSON (NaN/inf refused: they are not valid JSON)."""
    text = json.dumps(data, indent=indent, allow_nan=False)
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Atomically write ``data`` (an encoded image, say) to ``path``."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


class JsonStream:
    """A JSON document written piece by piece into an atomic temporary file.

    Memory stays flat however many items are written, and the file appears under its name
    only when the ``with`` block ends without an error. Subclasses write the opening and the
    closing text (``_begin``/``_end``) and call ``_item`` once per element of the one list the
    document streams; items are separated by commas.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stack = contextlib.ExitStack()
        self._fh: IO[str] | None = None
        self._first_item = True

    def __enter__(self) -> JsonStream:
        self._fh = self._stack.enter_context(atomic_open(self.path, "w"))
        self._begin()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._end()
        finally:
            self._stack.__exit__(exc_type, exc, tb)

    def _write(self, text: str) -> None:
        if self._fh is None:
            raise RuntimeError(f"{self.path}: use {type(self).__name__} as a context manager")
        self._fh.write(text)

    def _item(self, obj: Any) -> None:
        """One list element, serialised now (NaN/inf refused, as in ``write_json``)."""
        self._write(("\n" if self._first_item else ",\n") + json.dumps(obj, allow_nan=False))
        self._first_item = False

    def _begin(self) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        raise NotImplementedError
