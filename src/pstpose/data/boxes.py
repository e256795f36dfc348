"""Person-box files: precomputed detections used instead of running a detector.

Two formats:

* COCO-style detection JSON, as distributed for PoseTrack evaluation: a list of
  ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` (a dict with such a list under
  ``"annotations"`` is accepted too). Entries may also carry ``"image_name"`` / ``"file_name"``,
  which lets frames be matched by file name.
* MOT-style text: one line per box, ``frame,id,x,y,w,h,score,...`` with 1-based frames.

Boxes are returned as float64 arrays of shape (N, 5): ``[x1, y1, x2, y2, score]`` (corners, the
form detectors return), sorted by descending score. ``xyxy_to_xywh`` converts for the crop code.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pstpose.inputs import InputFileError, decode_text, read_bytes, read_json

DEFAULT_SCORE_THRESHOLD = 0.2
PERSON_CATEGORY_ID = 1


class BoxFileError(ValueError):
    """A box file is missing or malformed; the message names the file and the entry."""


def empty_boxes() -> np.ndarray:
    return np.zeros((0, 5), dtype=np.float64)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    out = b[..., :4].copy()
    out[..., 2:] = b[..., 2:4] - b[..., :2]
    return out


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    out = b[..., :4].copy()
    out[..., 2:] = b[..., :2] + b[..., 2:4]
    return out


@dataclass
class PersonBoxes:
    """Boxes of one file, keyed by image id (COCO JSON) or 0-based frame index (MOT).

    ``names`` maps a frame file name (as written in the file) to its key when the file has them.
    """

    path: Path
    by_key: dict[int, np.ndarray]
    names: dict[str, int] = field(default_factory=dict)
    kind: str = "coco"  # "coco" | "mot"

    def get(self, key: int) -> np.ndarray:
        return self.by_key.get(key, empty_boxes())

    def key_for_name(self, file_name: str | Path) -> int | None:
        """Key of a frame whose path ends with one of the file's names (longest match wins)."""
        text = Path(file_name).as_posix()
        best, best_len = None, -1
        for name, key in self.names.items():
            if (text == name or text.endswith("/" + name) or name.endswith("/" + text)) and len(name) > best_len:
                best, best_len = key, len(name)
        return best

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_key.values())


def _finalise(path: Path, rows: dict[int, list], kind: str, names: dict[str, int]) -> PersonBoxes:
    by_key = {}
    for key, boxes in rows.items():
        arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
        by_key[key] = arr[np.argsort(-arr[:, 4], kind="stable")]
    return PersonBoxes(path=path, by_key=by_key, names=names, kind=kind)


def _image_names(images, path: Path) -> dict[str, int]:
    """``file_name`` → ``id`` of a COCO dataset file's ``images`` list (absent: no names)."""
    if images is None:
        return {}
    if not isinstance(images, list):
        raise BoxFileError(f"{path}: 'images' must be a list of {{id, file_name}}, got {type(images).__name__}")
    names = {}
    for i, image in enumerate(images):
        if not isinstance(image, dict):
            raise BoxFileError(f"{path} images[{i}]: expected an object, got {type(image).__name__}")
        image_id, name = image.get("id"), image.get("file_name")
        if name is None:
            continue
        if not isinstance(name, str) or isinstance(image_id, bool) or not isinstance(image_id, int):
            raise BoxFileError(f"{path} images[{i}]: needs an integer 'id' and a string 'file_name'")
        names[Path(name).as_posix()] = image_id
    return names


def _number(value, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BoxFileError(f"{where}: {what} must be a finite number, got {value!r}")
    return float(value)


def load_coco_detections(
    path: str | Path,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    category_id: int | None = PERSON_CATEGORY_ID,
) -> PersonBoxes:
    """Read a COCO-style detection JSON; keep boxes with score >= ``score_threshold``.

    Boxes of other categories are dropped (``category_id=None`` keeps all; entries without a
    category count as persons). Zero-size boxes are kept here: the predictor decides about them.
    """
    path = Path(path)
    try:
        data = read_json(path, "box file")
    except FileNotFoundError:
        raise BoxFileError(f"{path}: box file not found") from None
    except InputFileError as exc:
        raise BoxFileError(str(exc)) from None
    names: dict[str, int] = {}
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        names = _image_names(data.get("images"), path)  # a COCO dataset file: ids named in "images"
        data = data["annotations"]
    if not isinstance(data, list):
        raise BoxFileError(f"{path}: expected a list of detections [{{image_id, bbox, score}}, ...]")
    rows: dict[int, list] = defaultdict(list)
    for i, det in enumerate(data):
        where = f"{path} entry {i}"
        if not isinstance(det, dict):
            raise BoxFileError(f"{where}: expected an object, got {type(det).__name__}")
        for key in ("image_id", "bbox"):
            if key not in det:
                raise BoxFileError(f"{where}: missing {key!r}")
        image_id = det["image_id"]
        if isinstance(image_id, str) and image_id.isdigit():
            image_id = int(image_id)
        if isinstance(image_id, bool) or not isinstance(image_id, int):
            raise BoxFileError(f"{where}: image_id must be an integer, got {image_id!r}")
        bbox = det["bbox"]
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise BoxFileError(f"{where}: bbox must be [x, y, w, h], got {bbox!r}")
        x, y, w, h = (_number(v, "bbox value", where) for v in bbox)
        if w < 0 or h < 0:
            raise BoxFileError(f"{where}: bbox width and height must not be negative, got {bbox!r}")
        score = _number(det.get("score", 1.0), "score", where)
        name = det.get("image_name", det.get("file_name"))
        if isinstance(name, str):
            names[Path(name).as_posix()] = image_id
        if category_id is not None and det.get("category_id", category_id) != category_id:
            continue
        if score < score_threshold:
            continue
        rows[image_id].append((x, y, x + w, y + h, score))
    return _finalise(path, rows, "coco", names)


def load_mot_boxes(path: str | Path, score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> PersonBoxes:
    """Read MOT-style text ``frame,id,x,y,w,h,score,...`` (1-based frames) keyed by 0-based index.

    A score of -1 (MOT ground truth writes it for "unknown") counts as 1; blank and '#' lines are
    skipped.
    """
    path = Path(path)
    rows: dict[int, list] = defaultdict(list)
    try:
        lines = decode_text(read_bytes(path, "box file"), path).splitlines()
    except FileNotFoundError:
        raise BoxFileError(f"{path}: box file not found") from None
    except InputFileError as exc:
        raise BoxFileError(str(exc)) from None
    for lineno, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path} line {lineno}"
        parts = list(line.replace(",", " ").split())
        if len(parts) < 6:
            raise BoxFileError(f"{where}: expected 'frame,id,x,y,w,h,score,...', got {line!r}")
        try:
            values = [float(p) for p in parts[:7]]
        except ValueError:
            raise BoxFileError(f"{where}: non-numeric value in {line!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise BoxFileError(f"{where}: non-finite value in {line!r}")
        frame = values[0]
        if frame != int(frame) or frame < 1:
            raise BoxFileError(f"{where}: frame must be an integer >= 1 (MOT frames are 1-based), got {parts[0]}")
        x, y, w, h = values[2:6]
        if w < 0 or h < 0:
            raise BoxFileError(f"{where}: box width and height must not be negative, got {line!r}")
        score = values[6] if len(values) > 6 else 1.0
        if score == -1:
            score = 1.0
        if score < score_threshold:
            continue
        rows[int(frame) - 1].append((x, y, x + w, y + h, score))
    return _finalise(path, rows, "mot", {})


def load_person_boxes(path: str | Path, score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> PersonBoxes:
    """Read a box file, choosing the format by extension (.json → COCO, otherwise MOT text)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return load_coco_detections(path, score_threshold)
    return load_mot_boxes(path, score_threshold)
