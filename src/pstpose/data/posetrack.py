"""Read PoseTrack17/18/21 annotation and prediction files into ``pstpose.data.records``.

Each file is parsed once into a ``SequenceTable`` (persons as arrays; what the evaluator reads,
``load_sequence_tables``); ``Sequence`` records (``load_sequence``, ``load_sequences``) are built
from it. Every reader returns keypoints in the 17-slot PoseTrack18 order, head boxes as
``[x1, y1, x2, y2]`` and ignore regions as ``(n, 2)`` polygons, so the evaluator, the
training dataset and the writers never see file-format differences. ``Person.present``
follows the rule of the file's own format:

* ``pt17`` (annolist): a joint exists when it is listed in ``annopoints``;
* ``pt18``: a joint is absent only when x == y == v == 0 (negative coordinates are present);
* ``pt21``: a joint exists only when x > 0 and y > 0.

Format detection (``detect_format``): ``annolist`` → pt17; ``images``/``annotations`` →
pt21 when any annotation has ``person_id`` or any image has ``has_labeled_person`` (fields
PoseTrack21 added), else pt18. A PoseTrack21 file stripped of both reads as pt18; force the
format to change that.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pstpose.data.posetrack_annolist import parse_annolist
from pstpose.data.posetrack_coco import parse_coco_table
from pstpose.data.posetrack_common import FORMATS, PoseTrackFormatError
from pstpose.data.records import Sequence, SequenceTable

__all__ = [
    "FORMATS",
    "PoseTrackFormatError",
    "detect_format",
    "load_merged",
    "load_sequence",
    "load_sequence_table",
    "load_sequence_tables",
    "load_sequences",
    "parse_sequence",
    "parse_sequence_table",
]


def detect_format(data: Any, source: str | Path | None = None) -> str:
    """Return ``"pt17"``, ``"pt18"`` or ``"pt21"`` for parsed JSON ``data``.

    Raises PoseTrackFormatError naming ``source`` when the layout is unknown or ambiguous.
    """
    where = str(source) if source is not None else "<data>"
    if not isinstance(data, dict):
        raise PoseTrackFormatError(
            f"{where}: not a PoseTrack file (top level is a {type(data).__name__}, expected an object "
            "with 'annolist' (PoseTrack17) or 'images' and 'annotations' (PoseTrack18/21))"
        )
    has_annolist = "annolist" in data
    has_coco = "images" in data
    if has_annolist and has_coco:
        raise PoseTrackFormatError(
            f"{where}: ambiguous format: the file has both 'annolist' (PoseTrack17) and 'images' "
            "(PoseTrack18/21); remove one or set the format explicitly (pt17, pt18 or pt21)"
        )
    if has_annolist:
        return "pt17"
    if not has_coco:
        keys = ", ".join(sorted(map(str, data))[:8]) or "none"
        raise PoseTrackFormatError(
            f"{where}: unknown format: expected 'annolist' (PoseTrack17) or 'images' and 'annotations' "
            f"(PoseTrack18/21); top-level keys: {keys}"
        )
    annotations = data.get("annotations") or []
    images = data.get("images") or []
    if _any_has_key(annotations, "person_id") or _any_has_key(images, "has_labeled_person"):
        return "pt21"
    return "pt18"


def _any_has_key(records: Any, key: str) -> bool:
    """Whether any dict in ``records`` has ``key`` (a C-level pass when all of them are dicts)."""
    if isinstance(records, list) and not set(map(type, records)) - {dict}:
        return any(map(dict.__contains__, records, itertools.repeat(key)))
    return any(isinstance(r, dict) and key in r for r in records)


def _read_json(path: Path, fast: bool = False) -> tuple[Any, int]:
    """A PoseTrack file's JSON and the number of ``true``/``false`` tokens in its bytes.

    Read with the package's input limits (``pstpose.inputs``). ``fast``: decode with orjson
    directly, leaving out ``decode_json``'s walk over every value that refuses nesting deeper
    than ``pstpose.inputs.MAX_DEPTH`` (on a val set, about four times the decoding itself); orjson itself
    refuses nesting beyond 1024 levels, and the table readers only take values they type-check,
    never recursing into others. Whatever orjson refuses (NaN literals, bad UTF-8, deep nesting)
    goes through ``decode_json`` for its messages.
    """
    from pstpose.inputs import InputFileError, decode_json, read_bytes

    try:
        raw = read_bytes(path, "PoseTrack file")
        data = _decode_fast(raw) if fast else None
        if data is None:
            data = decode_json(raw, path)
    except InputFileError as exc:
        raise PoseTrackFormatError(str(exc)) from None
    return data, raw.count(b"true") + raw.count(b"false")


def _decode_fast(raw: bytes) -> Any:
    """orjson's reading of ``raw``, or None when orjson is absent or refuses it."""
    try:
        import orjson
    except ImportError:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _resolve_format(data: Any, fmt: str, where: str) -> str:
    if fmt == "auto":
        return detect_format(data, where)
    if fmt not in FORMATS:
        raise PoseTrackFormatError(f"{where}: unknown format {fmt!r}; use auto, pt17, pt18 or pt21")
    family_ok = ("annolist" in data) if fmt == "pt17" else ("images" in data)
    if not isinstance(data, dict) or not family_ok:
        expected = "'annolist'" if fmt == "pt17" else "'images' and 'annotations'"
        raise PoseTrackFormatError(f"{where}: format forced to {fmt} but the file has no {expected}")
    return fmt


def load_sequence(path: str | Path, format: str = "auto") -> Sequence:
    """Read one per-sequence PoseTrack JSON file (GT or predictions) into a Sequence."""
    return _parse_file(Path(path), format, None, for_records=True).to_sequence()


def load_sequence_table(
    path: str | Path, format: str = "auto", keep: np.ndarray | None = None, for_records: bool = False
) -> SequenceTable:
    """Read one per-sequence PoseTrack JSON file into a ``SequenceTable`` (see ``parse_sequence_table``)."""
    return _parse_file(Path(path), format, keep, for_records)


def _parse_file(path: Path, format: str, keep: np.ndarray | None, for_records: bool) -> SequenceTable:
    data, literals = _read_json(path, fast=not for_records)
    return parse_sequence_table(
        data, name=path.stem, source=path, format=format, keep=keep, bool_literals=literals, for_records=for_records
    )


def parse_sequence(data: Any, name: str, source: str | Path | None = None, format: str = "auto") -> Sequence:
    """Turn already-parsed JSON into a Sequence (``source`` is only used in messages)."""
    return parse_sequence_table(data, name, source, format).to_sequence()


def parse_sequence_table(
    data: Any,
    name: str,
    source: str | Path | None = None,
    format: str = "auto",
    keep: np.ndarray | None = None,
    bool_literals: int | None = None,
    for_records: bool = True,
) -> SequenceTable:
    """Already-parsed JSON as a ``SequenceTable``.

    ``keep``: (n_frames,) bool, the frames whose persons to convert (others are only counted in
    ``n_listed``; used for predictions of frames the evaluation does not score), ignored when its
    length differs from the file's frame count. ``bool_literals``: ``true``/``false`` tokens in
    the file's bytes, when known (lets the reader skip a per-value boolean check).
    ``for_records``: keep what only ``Person`` records carry.
    """
    where = str(source) if source is not None else name
    src = Path(source) if source else None
    fmt = _resolve_format(data, format, where)
    if fmt == "pt17":
        return parse_annolist(data, where, name=name, source=src, keep=keep)
    images = _image_list(data, where)
    return parse_coco_table(
        data, images, fmt, where, name=name, source=src, keep=keep, bool_literals=bool_literals, for_records=for_records
    )


def load_sequences(directory: str | Path, format: str = "auto") -> list[Sequence]:
    """Read every ``*.json`` in ``directory`` (one file per sequence), sorted by file name.

    With ``format="auto"`` all files must resolve to the same format; a mix is an error
    (the evaluation rules differ per format), so the message says which files differ.
    """
    return [t.to_sequence() for t in load_sequence_tables(directory, format, for_records=True)]


def load_sequence_tables(
    directory: str | Path,
    format: str = "auto",
    keep: Mapping[str, np.ndarray] | None = None,
    for_records: bool = False,
) -> list[SequenceTable]:
    """``load_sequences`` as ``SequenceTable``s; ``keep`` maps a sequence name (file stem) to the
    frames whose persons to convert (see ``parse_sequence_table``); other files are read whole."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    files = sorted(directory.glob("*.json"))  # a FIFO or folder named *.json is reported, not skipped
    if not files:
        raise PoseTrackFormatError(f"{directory}: no .json files; expected one PoseTrack file per sequence")
    keep = keep or {}
    tables = [_parse_file(p, format, keep.get(p.stem), for_records) for p in files]
    first = tables[0]
    for table in tables[1:]:
        if table.format != first.format:
            raise PoseTrackFormatError(
                f"{directory}: mixed annotation formats: {first.source.name} is {first.format} but "
                f"{table.source.name} is {table.format}; convert the files to one version or set the "
                "format explicitly (pt17, pt18 or pt21)"
            )
    return tables


def load_merged(path: str | Path, format: str = "auto") -> list[Sequence]:
    """Read one COCO-style file holding many videos; one Sequence per video.

    Videos are grouped by ``vid_id`` when every image has one, else by the folder of
    ``file_name``; images keep their file order within a video. Sequences are sorted by name
    (the ``file_name`` folder, e.g. ``000342_mpii_test``, or the vid_id).
    """
    path = Path(path)
    data, _ = _read_json(path)
    fmt = _resolve_format(data, format, str(path))
    if fmt == "pt17":
        raise PoseTrackFormatError(f"{path}: PoseTrack17 annolist files hold one sequence each; use load_sequence")
    images = _image_list(data, str(path))
    by_vid = all("vid_id" in img for img in images)
    groups: dict[str, list[int]] = defaultdict(list)
    names: dict[str, str] = {}
    for i, img in enumerate(images):
        folder = Path(str(img.get("file_name", ""))).parent.name
        key = str(img["vid_id"]) if by_vid else folder
        if not key:
            raise PoseTrackFormatError(
                f"{path}: images[{i}] has neither 'vid_id' nor a folder in 'file_name'; cannot tell its video"
            )
        groups[key].append(i)
        names.setdefault(key, folder or key)
    image_video: dict[Any, str] = {}
    for key, idxs in groups.items():
        for i in idxs:
            image_video[images[i].get("id")] = key
    ann_groups: dict[str, list[dict]] = defaultdict(list)
    for k, ann in enumerate(data.get("annotations") or []):
        if not isinstance(ann, dict) or ann.get("image_id") not in image_video:
            raise PoseTrackFormatError(f"{path}: annotations[{k}].image_id does not name an image in 'images'")
        ann_groups[image_video[ann["image_id"]]].append(ann)
    sequences = []
    for key, idxs in groups.items():
        sub = {k: v for k, v in data.items() if k not in ("images", "annotations")}
        sub["images"] = [images[i] for i in idxs]
        sub["annotations"] = ann_groups.get(key, [])
        seq = parse_sequence(sub, name=names[key], source=path, format=fmt)
        sequences.append(seq)
    sequences.sort(key=lambda s: s.name)
    return sequences


# --- helpers ---------------------------------------------------------------------------------


def _image_list(data: dict, where: str) -> list[dict]:
    images = data.get("images")
    if not isinstance(images, list):
        raise PoseTrackFormatError(f"{where}: 'images' must be a list of frames")
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            raise PoseTrackFormatError(f"{where}: images[{i}] is not an object")
    annotations = data.get("annotations", [])
    if annotations is not None and not isinstance(annotations, list):
        raise PoseTrackFormatError(f"{where}: 'annotations' must be a list")
    return images
