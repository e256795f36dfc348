"""Generic typed-config machinery: dataclasses from plain data, overrides, YAML files.

``from_dict`` builds a dataclass tree from plain data and refuses unknown keys and wrongly typed
values with the dotted key in the message; ``apply_overrides`` takes command-line style
``a.b.c=value`` strings (values parsed as YAML scalars).
"""

from __future__ import annotations

import dataclasses
import math
import re
import reprlib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pstpose.inputs import MAX_TEXT_BYTES, InputFileError, decode_text, load_yaml_text, read_bytes

T = TypeVar("T")

# YAML 1.1 reads ``1e-4`` (no dot) as a string; a float field takes it as the number it means.
_SCI_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names the key and the source."""


_MAX_INT = 2**53  # config integers are counts and sizes; beyond this they are typos or attacks


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a huge value never floods a message."""
    text = reprlib.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert a plain value to the annotated type; raise ConfigError naming the key."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {_short(value)} matches none of {[_type_name(a) for a in args]}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {_short(value)}")
        return from_dict(tp, value, prefix=key)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {_short(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {_short(value)}")
        return dict(value)
    if tp is float:
        if isinstance(value, str) and _SCI_FLOAT.match(value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {_short(value)}")
        if isinstance(value, int) and abs(value) > _MAX_INT:
            raise ConfigError(f"{key}: {value} is too large")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {_short(value)}")
        if abs(value) > _MAX_INT:
            raise ConfigError(f"{key}: {value} is too large (at most {_MAX_INT})")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {_short(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_short(value)}")
        return value
    if tp is Path:
        return Path(value)
    return value


def from_dict(cls: type[T], data: dict, prefix: str = "") -> T:
    """Build dataclass ``cls`` from nested plain data, refusing unknown keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f" in {prefix}" if prefix else ""
        raise ConfigError(f"unknown key(s) {unknown}{where}; known: {sorted(names)}")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(value, hints[name], key)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    """Plain nested data (tuples become lists) suitable for JSON/YAML."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(cfg)


def merge_dict(base: dict, update: dict) -> dict:
    """Recursive dict merge: values of ``update`` win; nested mappings merge."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_dict(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """'a.b.c=value' -> (['a', 'b', 'c'], parsed value). Values are YAML scalars/lists."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = load_yaml_text(raw, f"override {text!r}") if raw.strip() else ""
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    return key.split("."), value


def apply_overrides(cfg: T, overrides: list[str]) -> T:
    """Return a new config with ``key=value`` overrides applied (validated like from_dict)."""
    data = to_dict(cfg)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override {text!r}: {'.'.join(path[: i + 1])} is not a section")
            node = node[part]
        if path[-1] not in node:
            raise ConfigError(f"override {text!r}: unknown key {'.'.join(path)}")
        node[path[-1]] = value
    return from_dict(type(cfg), data)


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with errors that name the file (read through ``pstpose.inputs``)."""
    path = Path(path)
    try:
        text = decode_text(read_bytes(path, "config file", MAX_TEXT_BYTES), path)
        data = load_yaml_text(text, path)
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data
