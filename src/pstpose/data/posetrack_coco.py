"""PoseTrack18/21 (COCO-like) files → records, parsed a whole file at a time.

A val set holds ~100k annotations, so per-annotation numpy calls would dominate reading:
keypoints, scores and boxes of all annotations are converted with one ``np.array`` call each,
and only when that fails does a per-annotation pass run to name the offending record.
Joints are mapped into the 17 slots by name through ``categories[0].keypoints``.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from pstpose.data.posetrack_common import (
    PoseTrackFormatError,
    flag_field,
    frame_index_from_name,
    integer_field,
    number_list,
    parse_polygons_xy,
    string_field,
)
from pstpose.data.records import Frame, Person
from pstpose.keypoints import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS


def slot_map(data: dict, where: str) -> np.ndarray:
    """File keypoint index -> 17-slot index, from ``categories[0].keypoints`` (by name)."""
    cats = data.get("categories")
    if not cats:
        return np.arange(NUM_JOINTS)
    if not isinstance(cats, list) or not isinstance(cats[0], dict):
        raise PoseTrackFormatError(f"{where}: 'categories' must be a list of objects")
    names = cats[0].get("keypoints")
    if names is None:
        return np.arange(NUM_JOINTS)
    if not isinstance(names, list):
        raise PoseTrackFormatError(f"{where}: categories[0].keypoints must be a list of joint names")
    slots = []
    for i, n in enumerate(names):
        if n not in JOINT_INDEX:
            raise PoseTrackFormatError(
                f"{where}: categories[0].keypoints[{i}] is {n!r}, not a PoseTrack joint (known: {', '.join(JOINT_NAMES)})"
            )
        slots.append(JOINT_INDEX[n])
    if len(set(slots)) != len(slots):
        raise PoseTrackFormatError(f"{where}: categories[0].keypoints names a joint twice")
    return np.asarray(slots, dtype=np.int64)


def present_rule(kp: np.ndarray, fmt: str) -> np.ndarray:
    """pt21: x > 0 and y > 0; pt18: absent only when x == y == v == 0."""
    x, y, v = kp[..., 0], kp[..., 1], kp[..., 2]
    if fmt == "pt21":
        return (x > 0) & (y > 0)
    return ~((x == 0) & (y == 0) & (v == 0))


def _column(
    anns: list[dict], key: str, width: int, where: str, what: str, required: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(values (n, width) float64, given (n,) bool) for one list-valued field of every annotation.

    Missing, null and empty lists count as not given (zeros), unless ``required`` (then missing
    and null are errors). Anything else that is not a list of numbers is an error naming the
    record: an object, a string, booleans (which numpy would silently read as 1 and 0)."""
    raw = [a.get(key) for a in anns]
    for k, r in enumerate(raw):
        if r is None and required:
            raise PoseTrackFormatError(
                f"{where}: annotations[{k}].{key} is missing; expected a list of {width} numbers{what}"
            )
        if r is not None and not isinstance(r, list):
            raise PoseTrackFormatError(
                f"{where}: annotations[{k}].{key} must be a list of {width} numbers{what}, got {type(r).__name__}"
            )
    given = np.fromiter((isinstance(r, list) and len(r) > 0 for r in raw), dtype=bool, count=len(raw))
    zeros = [0.0] * width
    rows = [r if g else zeros for r, g in zip(raw, given)]
    try:
        arr = np.array(rows) if rows else np.zeros((0, width))
        ok = arr.ndim == 2 and arr.shape[1] == width and arr.dtype.kind in "iuf"
    except ValueError:
        ok = False
    if ok and bool in set(map(type, itertools.chain.from_iterable(rows))):  # one C-level pass
        ok = False
    if not ok:  # slow pass: find and name the first bad record
        for k, (r, _g) in enumerate(zip(raw, given)):
            if r is None or (isinstance(r, list) and not r):
                continue
            vals = number_list(r, where, f"annotations[{k}].{key}")
            if len(vals) != width:
                raise PoseTrackFormatError(
                    f"{where}: annotations[{k}].{key} has {len(vals)} values, expected {width}{what}"
                )
        raise PoseTrackFormatError(f"{where}: annotations[].{key} cannot be read as numbers")
    return arr.astype(np.float64, copy=False), given


def parse_annotations(anns: list, slots: np.ndarray, fmt: str, where: str) -> list[Person]:
    for k, ann in enumerate(anns):
        if not isinstance(ann, dict):
            raise PoseTrackFormatError(f"{where}: annotations[{k}] is not an object")
    n, n_file = len(anns), len(slots)
    kp_file, kp_given = _column(anns, "keypoints", 3 * n_file, where, f" ({n_file} joints x [x, y, v])", required=True)
    keypoints = np.zeros((n, NUM_JOINTS, 3))
    keypoints[:, slots] = kp_file.reshape(n, n_file, 3)
    present = present_rule(keypoints, fmt) & kp_given[:, None]
    sc_file, sc_given = _column(anns, "scores", n_file, where, "")
    scores = np.zeros((n, NUM_JOINTS))
    scores[:, slots] = sc_file
    head, head_given = _column(anns, "bbox_head", 4, where, " ([x, y, w, h])")
    # Corners as the official tool derives them (x2 = x + w), so head sizes match bit for bit.
    head = np.concatenate([head[:, :2], head[:, :2] + head[:, 2:]], axis=1)
    bbox, bbox_given = _column(anns, "bbox", 4, where, " ([x, y, w, h])")
    persons = []
    for k, ann in enumerate(anns):
        score = ann.get("score")
        person = Person(
            keypoints=keypoints[k],
            present=present[k],
            scores=scores[k] if sc_given[k] else None,
            bbox=bbox[k] if bbox_given[k] else None,
            head_box=head[k] if head_given[k] else None,
            score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
        )
        tid = ann.get("track_id")
        if isinstance(tid, int) and not isinstance(tid, bool):
            person.track_id = tid
        elif "track_id" in ann:
            person.extra["invalid_track_id"] = tid  # validation names it
        for key in ("id", "person_id"):
            if key in ann:
                person.extra[key] = ann[key]
        person.extra["where"] = f"{where}: annotations[{k}]"
        persons.append(person)
    return persons


def parse_coco_frames(
    data: dict, images: list[dict], fmt: str, where: str
) -> tuple[list[Frame], int | None, str | None]:
    slots = slot_map(data, where)
    frames: list[Frame] = []
    labeled_given: list[bool] = []
    by_id: dict[Any, Frame] = {}
    for i, img in enumerate(images):
        field = f"images[{i}]"
        if "file_name" not in img:
            raise PoseTrackFormatError(f"{where}: {field}.file_name is missing")
        name = string_field(img["file_name"], where, f"{field}.file_name")
        id_key = "id" if "id" in img else "frame_id"
        if id_key not in img:
            raise PoseTrackFormatError(f"{where}: {field}.id is missing")
        image_id = integer_field(img[id_key], where, f"{field}.{id_key}")
        if image_id in by_id:
            raise PoseTrackFormatError(f"{where}: {field}.id {image_id} repeats an earlier image")
        frame_index = frame_index_from_name(name, first=0)
        polys = parse_polygons_xy(img.get("ignore_regions_x"), img.get("ignore_regions_y"), f"{where}: images[{i}]")
        frame = Frame(
            file_name=name,
            frame_index=i if frame_index is None else frame_index,
            persons=[],
            is_labeled=flag_field(img["is_labeled"], where, f"{field}.is_labeled") if "is_labeled" in img else True,
            image_id=image_id,
            ignore_regions=polys,
            width=img.get("width"),
            height=img.get("height"),
        )
        labeled_given.append("is_labeled" in img)
        frames.append(frame)
        by_id[image_id] = frame
    if "annotations" not in data:
        raise PoseTrackFormatError(
            f"{where}: no 'annotations' list; a frame without persons is an image with no annotation, "
            'and a file with none at all still needs "annotations": []'
        )
    annotations = data.get("annotations") or []
    persons = parse_annotations(annotations, slots, fmt, where)
    for k, (ann, person) in enumerate(zip(annotations, persons)):
        if "image_id" not in ann:
            raise PoseTrackFormatError(f"{where}: annotations[{k}].image_id is missing")
        frame = by_id.get(integer_field(ann["image_id"], where, f"annotations[{k}].image_id"))
        if frame is None:
            raise PoseTrackFormatError(
                f"{where}: annotations[{k}].image_id {ann.get('image_id')!r} does not name an image in 'images'"
            )
        frame.persons.append(person)
    for frame, given in zip(frames, labeled_given):
        if not given:  # without is_labeled, the frames that list persons are the labeled ones
            frame.is_labeled = bool(frame.persons)
    nframes = images[0].get("nframes") if images else None
    if nframes is not None and integer_field(nframes, where, "images[0].nframes") < 0:
        raise PoseTrackFormatError(f"{where}: images[0].nframes must not be negative, got {nframes}")
    vid_id = images[0].get("vid_id") if images else None
    if vid_id is not None and (isinstance(vid_id, bool) or not isinstance(vid_id, (str, int))):
        raise PoseTrackFormatError(f"{where}: images[0].vid_id must be a string, got {type(vid_id).__name__}")
    return frames, nframes, (str(vid_id) if vid_id is not None else None)
