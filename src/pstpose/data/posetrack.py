"""Read PoseTrack17/18/21 annotation and prediction files into ``pstpose.data.records``.

Every reader returns keypoints in the 17-slot PoseTrack18 order, head boxes as
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

from collections import defaultdict
from pathlib import Path
from typing import Any

from pstpose.data.posetrack_annolist import parse_annolist
from pstpose.data.posetrack_coco import parse_coco_frames
from pstpose.data.posetrack_common import FORMATS, PoseTrackFormatError
from pstpose.data.records import Sequence

__all__ = [
    "FORMATS",
    "PoseTrackFormatError",
    "detect_format",
    "load_merged",
    "load_sequence",
    "load_sequences",
    "parse_sequence",
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
    if any(isinstance(a, dict) and "person_id" in a for a in annotations) or any(
        isinstance(i, dict) and "has_labeled_person" in i for i in images
    ):
        return "pt21"
    return "pt18"


def _read_json(path: Path) -> Any:
    """A PoseTrack file's JSON, read with the package's input limits (``pstpose.inputs``)."""
    from pstpose.inputs import InputFileError, read_json

    try:
        return read_json(path, "PoseTrack file")
    except InputFileError as exc:
        raise PoseTrackFormatError(str(exc)) from None


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
    path = Path(path)
    data = _read_json(path)
    return parse_sequence(data, name=path.stem, source=path, format=format)


def parse_sequence(data: Any, name: str, source: str | Path | None = None, format: str = "auto") -> Sequence:
    """Turn already-parsed JSON into a Sequence (``source`` is only used in messages)."""
    where = str(source) if source is not None else name
    fmt = _resolve_format(data, format, where)
    if fmt == "pt17":
        frames = parse_annolist(data, where)
        return Sequence(name=name, frames=frames, format="pt17", source=Path(source) if source else None)
    images = _image_list(data, where)
    frames, nframes, vid_id = parse_coco_frames(data, images, fmt, where)
    return Sequence(
        name=name, frames=frames, format=fmt, source=Path(source) if source else None, nframes=nframes, vid_id=vid_id
    )


def load_sequences(directory: str | Path, format: str = "auto") -> list[Sequence]:
    """Read every ``*.json`` in ``directory`` (one file per sequence), sorted by file name.

    With ``format="auto"`` all files must resolve to the same format; a mix is an error
    (the evaluation rules differ per format), so the message says which files differ.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    files = sorted(directory.glob("*.json"))  # a FIFO or folder named *.json is reported, not skipped
    if not files:
        raise PoseTrackFormatError(f"{directory}: no .json files; expected one PoseTrack file per sequence")
    sequences = [load_sequence(p, format=format) for p in files]
    first = sequences[0]
    for seq in sequences[1:]:
        if seq.format != first.format:
            raise PoseTrackFormatError(
                f"{directory}: mixed annotation formats: {first.source.name} is {first.format} but "
                f"{seq.source.name} is {seq.format}; convert the files to one version or set the "
                "format explicitly (pt17, pt18 or pt21)"
            )
    return sequences


def load_merged(path: str | Path, format: str = "auto") -> list[Sequence]:
    """Read one COCO-style file holding many videos; one Sequence per video.

    Videos are grouped by ``vid_id`` when every image has one, else by the folder of
    ``file_name``; images keep their file order within a video. Sequences are sorted by name
    (the ``file_name`` folder, e.g. ``000342_mpii_test``, or the vid_id).
    """
    path = Path(path)
    data = _read_json(path)
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
