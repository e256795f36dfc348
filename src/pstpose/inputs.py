"""Reading users' files: one mapping of OS errors, and limits on what JSON and YAML may decode to.

Every reader of a user's file (PoseTrack files, box files, configs, weights' config files) opens it
through here, so that "the file is a folder", "the file is a FIFO", "the name is too long" or "the
text is not UTF-8" give the same one-line message everywhere, naming the path, and so that no
decoder can be driven into a stack overflow, an endless read or an exponential expansion.

Hand-written rather than a schema library: the checks sit on the hot path of reading 20,000
persons (where a generic validator costs more than the evaluation) and the messages must name the
file, the record and the field in the words of the format's own documentation.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 2 * 1024**3  # a PoseTrack split's largest file is ~30 MB; refuse reading GiBs blindly
MAX_TEXT_BYTES = 16 * 1024**2  # configs and small side files
MAX_DEPTH = 64  # PoseTrack files nest 6 deep; anything far deeper is not data this package reads
MAX_YAML_NODES = 1_000_000  # nodes after expanding aliases (a "billion laughs" file expands to 10^9)


class InputFileError(ValueError):
    """A file cannot be read as what it should be; the message names the path and the problem."""


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_regular_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a Path, known to be an existing regular file (symlinks followed).

    FIFOs, devices and sockets are refused here, before anything blocks on them or reads forever.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputFileError(f"{path}: {what} is a broken symbolic link") from None
        raise FileNotFoundError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read {what} ({_describe(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{path}: is a folder, expected a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{path}: not a regular file (a FIFO, device or socket), expected a {what}")
    return path


def read_bytes(path: str | Path, what: str = "file", max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; errors name the path."""
    path = check_regular_file(path, what)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputFileError(
                f"{path}: {what} is {size / 1024**2:.0f} MiB, over the limit of {max_bytes / 1024**2:.0f} MiB"
            )
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read {what} ({_describe(exc)})") from None
    if len(data) > max_bytes:
        raise InputFileError(f"{path}: {what} is over the limit of {max_bytes / 1024**2:.0f} MiB")
    return data


def decode_text(raw: bytes, where: str | Path) -> str:
    """UTF-8 text (a leading byte-order mark is dropped), or an error giving the first bad byte."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise InputFileError(
            f"{where}: not UTF-8 text{hint}: byte 0x{raw[exc.start]:02x} at position {exc.start}"
        ) from None


def _too_deep(data: Any, limit: int) -> bool:
    """Whether ``data`` nests containers deeper than ``limit`` (iterative: no recursion to overflow)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def decode_json(raw: bytes, where: str | Path, max_depth: int = MAX_DEPTH) -> Any:
    """JSON from bytes: UTF-8 (BOM tolerated), nesting at most ``max_depth``.

    orjson is used when installed (2-3x faster on large splits); what it refuses (NaN literals,
    which validation must see and report by field) is parsed again by the standard library.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    data: Any
    try:
        import orjson

        data = orjson.loads(raw)
    except ImportError:
        data = _decode_json_stdlib(raw, where)
    except orjson.JSONDecodeError:
        data = _decode_json_stdlib(raw, where)
    if _too_deep(data, max_depth):
        raise InputFileError(f"{where}: JSON nested more than {max_depth} levels deep; not a file this package reads")
    return data


def _decode_json_stdlib(raw: bytes, where: str | Path) -> Any:
    text = decode_text(raw, where)
    try:
        return json.loads(text)
    except RecursionError:
        raise InputFileError(f"{where}: JSON nested too deeply to read; not a file this package reads") from None
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise InputFileError(f"{where}: empty file, expected JSON") from None
        raise InputFileError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None


def read_json(path: str | Path, what: str = "JSON file", max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Decode a JSON file with the limits above; every error names ``path``."""
    return decode_json(read_bytes(path, what, max_bytes), path)


def load_yaml_text(text: str, where: str | Path) -> Any:
    """``yaml.safe_load`` with limits: no stack overflow on deep nesting, no alias expansion bomb."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise InputFileError(f"{where}: YAML nested too deeply to read") from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"{where}: invalid YAML: {_one_line(str(exc))}") from None
    if _expanded_size(data, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise InputFileError(
            f"{where}: YAML expands to more than {MAX_YAML_NODES} values through aliases (&/*); refusing to read it"
        )
    if _too_deep(data, MAX_DEPTH):
        raise InputFileError(f"{where}: YAML nested more than {MAX_DEPTH} levels deep")
    return data


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _expanded_size(data: Any, cap: int) -> int:
    """How many values ``data`` holds once shared (aliased) containers are counted at every use.

    Computed over the object graph with each container's size memoised, so a file that expands to
    10^9 values is measured in time proportional to its own size; stops counting past ``cap``. A
    container that holds itself (``&a [*a]``) is infinite: ``cap + 1``.
    """
    sizes: dict[int, int] = {}
    open_ids: set[int] = set()
    keep: list[Any] = []  # keeps the objects alive while their ids are keys
    stack = [(data, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list):
            continue
        key = id(node)
        children = list(node.values()) if isinstance(node, dict) else node
        if done:
            total = 1 + sum(sizes[id(c)] if isinstance(c, dict | list) else 1 for c in children)
            sizes[key] = min(total, cap + 1)
            open_ids.discard(key)
            continue
        if key in sizes:
            continue
        if key in open_ids:
            return cap + 1
        open_ids.add(key)
        keep.append(node)
        stack.append((node, True))
        for child in children:
            if isinstance(child, dict | list):
                if id(child) in open_ids:
                    return cap + 1
                if id(child) not in sizes:
                    stack.append((child, False))
    return sizes.get(id(data), 1)


def describe_os_error(path: str | Path, exc: OSError, action: str = "read") -> str:
    """The one wording of an OS error on a path: ``cannot read PATH: reason``."""
    return f"cannot {action} {path}: {_describe(exc)}"


def is_regular_file(path: str | Path) -> bool:
    """Like ``Path.is_file`` but never raises (a name too long, a permission problem: False)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
