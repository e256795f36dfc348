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


def _first_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def removing_new_folders_on_error(folders: list[str | Path]) -> Iterator[None]:
    """On an error inside the block, remove the ``folders`` (and parents) it created, if empty.

    Files are atomic already (an error removes their temporary files); this takes away the empty
    folders that would otherwise be left as the trace of a failed command. Folders that existed
    before, or that hold anything, are never touched.
    """
    new: set[Path] = set()
    for folder in folders:
        path = Path(folder)
        while not path.exists() and path != path.parent:
            new.add(path)
            path = path.parent
    try:
        yield
    except BaseException:
        for path in sorted(new, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


def check_output_dir(path: str | Path, label: str | None = None) -> Path:
    """Refuse, before any work and without creating anything, a folder that cannot be written.

    ``path`` may not exist yet (it is created when the first file is written); it must not be a
    file, and the nearest existing folder above it must be writable. ``label`` (a parameter or a
    flag) starts the message when given.
    """
    path = Path(path)
    prefix = f"{label}: " if label else ""
    try:
        if path.exists() and not path.is_dir():
            raise OutputError(f"{prefix}{path} is a file, expected a folder for the outputs")
        anchor = _first_existing(path)
        if not anchor.is_dir():
            raise OutputError(f"{prefix}cannot create folder {path}: {anchor} is a file, not a folder")
        if not os.access(anchor, os.W_OK | os.X_OK):
            raise OutputError(f"{prefix}cannot write into {anchor}: permission denied")
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{prefix}cannot write {path} ({exc.strerror or exc})") from None
    return path


def check_output_files(outputs: dict[str, str | Path | None], inputs: tuple[str | Path, ...] = ()) -> None:
    """Refuse, before any work, output files that cannot be written or would destroy something.

    ``outputs`` maps a label (what the caller calls the output: a parameter, or a flag on the
    command line) to a path (None: not requested). Each must not be a folder, must have a folder
    (existing, or creatable) above it, must not be one of the ``inputs`` (files, or files inside
    input folders) and must not be another output's path. Nothing is created.
    """
    seen: dict[Path, str] = {}
    input_paths = [Path(p) for p in inputs]
    for label, value in outputs.items():
        if value is None:
            continue
        path = Path(value)
        if str(value) == "":
            raise OutputError(f"{label}: the output path is empty")
        try:
            if path.is_dir():
                raise OutputError(f"{label}: {path} is a folder; give a file name")
            anchor = _first_existing(path.parent)
            if not anchor.is_dir():
                raise OutputError(f"{label}: cannot write {path}: {anchor} is a file, not a folder")
            if not os.access(anchor, os.W_OK | os.X_OK):
                raise OutputError(f"{label}: cannot write {path}: folder {anchor} is not writable")
        except OSError as exc:
            if isinstance(exc, OutputError):
                raise
            raise OutputError(f"{label}: cannot write {path} ({exc.strerror or exc})") from None
        for source in input_paths:
            if _same_file(path, source) or (source.is_dir() and _same_file(path.parent, source) and path.exists()):
                raise OutputError(f"{label}: {path} is one of the inputs; writing there would overwrite it")
        key = Path(os.path.abspath(path))
        if key in seen:
            raise OutputError(f"{label} and {seen[key]} name the same file {path}")
        seen[key] = label


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
