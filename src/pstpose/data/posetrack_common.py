"""Small pieces shared by the PoseTrack readers: the error type and value checks.

Every check names the file and the field, because a format error deep inside a 100-file
val set is otherwise impossible to find.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

FORMATS: tuple[str, ...] = ("pt17", "pt18", "pt21")


class PoseTrackFormatError(ValueError):
    """A PoseTrack file that cannot be read as claimed; the message names file and field."""


def number_list(value: Any, where: str, field: str) -> np.ndarray:
    """A flat list of JSON numbers as float64; anything else is an error naming ``field``."""
    if not isinstance(value, list):
        raise PoseTrackFormatError(f"{where}: {field} must be a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except ValueError:
        raise PoseTrackFormatError(f"{where}: {field} must be a flat list of numbers") from None
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iuf"):
        raise PoseTrackFormatError(f"{where}: {field} must be a flat list of numbers (found {_first_bad(value)!r})")
    return arr.astype(np.float64, copy=False)


def integer_field(value: Any, where: str, field: str) -> int:
    """A JSON integer (not a boolean, not a float, not a string); else an error naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PoseTrackFormatError(f"{where}: {field} must be an integer, got {_short(value)}")
    return value


def flag_field(value: Any, where: str, field: str) -> bool:
    """A JSON boolean, or 0/1 as some converters write it; the string "false" is not read as true."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise PoseTrackFormatError(f"{where}: {field} must be true or false (or 0/1), got {_short(value)}")


def string_field(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise PoseTrackFormatError(f"{where}: {field} must be a string, got {_short(value)}")
    return value


def _short(value: Any, limit: int = 60) -> str:
    import reprlib

    text = reprlib.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_bad(values: list) -> Any:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v
    return None


_DIGITS = re.compile(r"(\d+)$")


def frame_index_from_name(name: str, first: int) -> int | None:
    """0-based frame index from an image name like ``000012.jpg`` (``first``: the number of
    the video's first frame, 0 for PoseTrack18/21 and 1 for PoseTrack17 ``%08d.jpg``)."""
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0] if name else ""
    if stem.isdecimal():  # the usual 000012: what the pattern below would find, without it
        return int(stem) - first
    match = _DIGITS.search(stem)
    if match is None:
        return None
    return int(match.group(1)) - first


def parse_polygons_xy(xs: Any, ys: Any, where: str) -> list[np.ndarray]:
    """PoseTrack18/21 ``ignore_regions_x`` / ``_y`` (lists of per-polygon lists) → (n, 2) arrays."""
    if xs is None and ys is None:
        return []
    xs = xs or []
    ys = ys or []
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise PoseTrackFormatError(
            f"{where}: ignore_regions_x and ignore_regions_y must be lists with one entry per polygon "
            f"(got {len(xs) if isinstance(xs, list) else type(xs).__name__} and "
            f"{len(ys) if isinstance(ys, list) else type(ys).__name__})"
        )
    polygons = []
    for k, (px, py) in enumerate(zip(xs, ys)):
        if type(px) is list and type(py) is list and len(px) == len(py) and set(map(type, px + py)) <= {int, float}:
            polygons.append(np.array((px, py), dtype=np.float64).T.copy())  # the usual case, checked at once
            continue
        ax = number_list(px, where, f"ignore_regions_x[{k}]")
        ay = number_list(py, where, f"ignore_regions_y[{k}]")
        if len(ax) != len(ay):
            raise PoseTrackFormatError(f"{where}: ignore region {k} has {len(ax)} x values but {len(ay)} y values")
        polygons.append(np.stack([ax, ay], axis=1))
    return polygons


def unwrap(value: Any) -> Any:
    """PoseTrack17 wraps every value in a one-element list; accept the bare value too."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else (None if not value else value)
    return value
