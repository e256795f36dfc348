"""PoseTrack18/21 (COCO-like) files → ``SequenceTable``, parsed a whole file at a time.

A val set holds ~100k annotations, so per-annotation Python work would dominate reading:
each field of all annotations is gathered with one list comprehension and converted with one
``np.array`` call; types are checked over whole columns (``set(map(type, ...))``), and only when
a check fails does a per-record pass run to name the offending record with the message the
per-record rules give. Joints are mapped into the 17 slots by name through
``categories[0].keypoints``. Persons of frames the caller will not score can be left out
(``keep``): only the structure of their fields is checked then, not each value.
"""

from __future__ import annotations

import itertools
import operator
from pathlib import Path
from typing import Any

import numpy as np

from pstpose.data.posetrack_common import (
    PoseTrackFormatError,
    flag_field,
    integer_field,
    number_list,
    parse_polygons_xy,
    string_field,
)
from pstpose.data.records import (
    TRACK_ID_INVALID,
    TRACK_ID_MISSING,
    TRACK_ID_OK,
    PersonTable,
    SequenceTable,
    integer_column,
)
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


_MISSING = object()  # a field the record does not have (JSON null is None)


def _take(values: list, rows: np.ndarray) -> list:
    """``[values[k] for k in rows]`` in one C-level call."""
    if len(rows) == 0:
        return []
    taken = operator.itemgetter(*rows.tolist())(values)
    return [taken] if len(rows) == 1 else list(taken)


def _field(records: list[dict], key: str, default: Any = None) -> list:
    """``[r.get(key, default) for r in records]`` in one C-level call (``records`` are dicts)."""
    return list(map(dict.get, records, itertools.repeat(key), itertools.repeat(default)))


def _first_index(values: list, bad) -> int:
    return next(k for k, v in enumerate(values) if bad(v))


def _column(
    raw: list,
    key: str,
    width: int,
    where: str,
    what: str,
    rows: np.ndarray | None,
    bools_possible: bool,
    required: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(values (m, width) float64, given (m,) bool) of one list-valued field, ``raw`` holding it
    for every annotation (None where absent) and ``rows`` selecting the m annotations to convert
    (None: all).

    Missing, null and empty lists count as not given (zeros), unless ``required`` (then missing
    and null are errors). Anything else that is not a list of numbers is an error naming the
    record: an object, a string, booleans (which numpy would silently read as 1 and 0). Rows
    left out get the type and length checks only."""
    types = set(map(type, raw))
    if (required and type(None) in types) or types - {list, type(None)}:
        for k, r in enumerate(raw):
            if r is None and required:
                raise PoseTrackFormatError(
                    f"{where}: annotations[{k}].{key} is missing; expected a list of {width} numbers{what}"
                )
            if r is not None and not isinstance(r, list):
                raise PoseTrackFormatError(
                    f"{where}: annotations[{k}].{key} must be a list of {width} numbers{what}, got {type(r).__name__}"
                )
    picked = raw if rows is None else _take(raw, rows)
    given = np.fromiter(map(bool, picked), dtype=bool, count=len(picked))  # None and [] are not given
    ok = set(map(len, filter(None, raw))) <= {width}
    if ok and not given.any():
        return np.zeros((len(picked), width)), given
    if ok:
        values = picked if given.all() else [r if g else [0.0] * width for r, g in zip(picked, given)]
        try:
            arr = np.array(values) if values else np.zeros((0, width))
            ok = arr.ndim == 2 and arr.shape[1] == width and arr.dtype.kind in "iuf"
        except ValueError:
            ok = False
        if ok and bools_possible and bool in set(map(type, itertools.chain.from_iterable(values))):
            ok = False
    if not ok:  # slow pass: find and name the first bad record (every value of converted rows)
        kept = None if rows is None else set(rows.tolist())
        for k, r in enumerate(raw):
            if not r:  # None or [] (anything but a list was refused above)
                continue
            field = f"annotations[{k}].{key}"
            n_values = len(number_list(r, where, field)) if kept is None or k in kept else len(r)
            if n_values != width:
                raise PoseTrackFormatError(f"{where}: {field} has {n_values} values, expected {width}{what}")
        raise PoseTrackFormatError(f"{where}: annotations[].{key} cannot be read as numbers")
    return arr.astype(np.float64, copy=False), given


def _image_columns(images: list[dict], where: str) -> tuple[list[str], list[int], list, dict[int, list[np.ndarray]]]:
    """File names, ids, ``is_labeled`` values (``_MISSING`` where absent) and ignore polygons of
    every image, with the per-image rules checked column by column (``_check_image`` names the
    first bad image exactly as a per-image pass would)."""
    n = len(images)
    names = [img.get("file_name", _MISSING) for img in images]
    ids = [img["id"] if "id" in img else img.get("frame_id", _MISSING) for img in images]
    flags = [img.get("is_labeled", _MISSING) for img in images]
    first_bad = n
    if set(map(type, names)) - {str}:
        first_bad = _first_index(names, lambda v: type(v) is not str)
    if set(map(type, ids)) - {int}:
        first_bad = min(first_bad, _first_index(ids, lambda v: type(v) is not int))
    if set(map(type, flags)) - {bool, type(_MISSING)}:
        first_bad = min(first_bad, _first_index(flags, _bad_flag))
    checked = ids[:first_bad]  # all integers
    if len(set(checked)) != len(checked):
        seen: set[int] = set()
        first_bad = _first_index(checked, lambda v: v in seen or seen.add(v))
    polygons: dict[int, list[np.ndarray]] = {}
    for i, img in enumerate(images[:first_bad]):
        xs, ys = img.get("ignore_regions_x"), img.get("ignore_regions_y")
        if xs is not None or ys is not None:
            polys = parse_polygons_xy(xs, ys, f"{where}: images[{i}]")
            if polys:
                polygons[i] = polys
    if first_bad < n:
        _check_image(images[first_bad], first_bad, set(ids[:first_bad]), where)
        raise AssertionError(f"{where}: images[{first_bad}] failed a column check but not the per-image one")
    return names, ids, flags, polygons


def _bad_flag(value: Any) -> bool:
    """Whether an ``is_labeled`` value breaks ``flag_field``'s rule (booleans, or 0 and 1)."""
    if value is _MISSING or type(value) is bool:
        return False
    return not (type(value) is int and value in (0, 1))


def _check_image(img: dict, i: int, earlier_ids: set, where: str) -> None:
    """The per-image rules in their order; raises at the first that fails."""
    field = f"images[{i}]"
    if "file_name" not in img:
        raise PoseTrackFormatError(f"{where}: {field}.file_name is missing")
    string_field(img["file_name"], where, f"{field}.file_name")
    id_key = "id" if "id" in img else "frame_id"
    if id_key not in img:
        raise PoseTrackFormatError(f"{where}: {field}.id is missing")
    image_id = integer_field(img[id_key], where, f"{field}.{id_key}")
    if image_id in earlier_ids:
        raise PoseTrackFormatError(f"{where}: {field}.id {image_id} repeats an earlier image")
    parse_polygons_xy(img.get("ignore_regions_x"), img.get("ignore_regions_y"), f"{where}: images[{i}]")
    if "is_labeled" in img:
        flag_field(img["is_labeled"], where, f"{field}.is_labeled")


def _frame_of_annotations(anns: list[dict], ids: list[int], where: str) -> tuple[np.ndarray, int | None]:
    """Each annotation's frame position, and the index of the first annotation whose image_id
    is missing, not an integer or names no image (None when all are fine)."""
    position = {image_id: i for i, image_id in enumerate(ids)}
    image_ids = _field(anns, "image_id", _MISSING)
    if not set(map(type, image_ids)) - {int}:
        frame = list(map(position.get, image_ids, itertools.repeat(-1)))
        if -1 not in frame:
            return np.array(frame, dtype=np.int64), None
    bad = _first_index(image_ids, lambda v: type(v) is not int or v not in position)
    return np.zeros(len(anns), dtype=np.int64), bad


def _raise_image_id_error(ann: dict, k: int, known: set, where: str) -> None:
    if "image_id" not in ann:
        raise PoseTrackFormatError(f"{where}: annotations[{k}].image_id is missing")
    if integer_field(ann["image_id"], where, f"annotations[{k}].image_id") not in known:
        raise PoseTrackFormatError(
            f"{where}: annotations[{k}].image_id {ann.get('image_id')!r} does not name an image in 'images'"
        )


def _track_columns(anns: list[dict]) -> tuple[np.ndarray, np.ndarray, dict[int, Any]]:
    """(track_id, track_state, invalid values by row) of ``anns``."""
    values = _field(anns, "track_id", _MISSING)
    if not set(map(type, values)) - {int}:
        return integer_column(values), np.full(len(values), TRACK_ID_OK, dtype=np.int8), {}
    state = np.full(len(values), TRACK_ID_OK, dtype=np.int8)
    invalid: dict[int, Any] = {}
    ids = []
    for row, v in enumerate(values):
        if type(v) is int:
            ids.append(v)
            continue
        ids.append(0)
        if v is _MISSING:
            state[row] = TRACK_ID_MISSING
        else:
            state[row] = TRACK_ID_INVALID
            invalid[row] = v
    return integer_column(ids), state, invalid


def parse_coco_table(
    data: dict,
    images: list[dict],
    fmt: str,
    where: str,
    name: str,
    source: Path | None = None,
    keep: np.ndarray | None = None,
    bool_literals: int | None = None,
    for_records: bool = True,
) -> SequenceTable:
    """One PoseTrack18/21 sequence document as a ``SequenceTable``.

    ``keep``: (n_images,) bool, frames whose persons to convert (the rest are counted in
    ``n_listed`` and checked for structure only); ignored when its length differs from the
    file's. ``bool_literals``: how many ``true``/``false`` tokens the file's bytes hold, if known;
    when the ``is_labeled`` flags account for all of them no number list can hold a boolean and
    that per-value check is skipped. ``for_records``: also keep what only ``Person`` records
    carry (person score, ``id`` / ``person_id``, image sizes).
    """
    slots = slot_map(data, where)
    names, ids, flags, polygons = _image_columns(images, where)
    if "annotations" not in data:
        raise PoseTrackFormatError(
            f"{where}: no 'annotations' list; a frame without persons is an image with no annotation, "
            'and a file with none at all still needs "annotations": []'
        )
    anns = data.get("annotations") or []
    if set(map(type, anns)) - {dict}:
        k = _first_index(anns, lambda a: not isinstance(a, dict))
        raise PoseTrackFormatError(f"{where}: annotations[{k}] is not an object")
    n_images = len(images)
    frame, bad_image_id = _frame_of_annotations(anns, ids, where)
    n_listed = np.bincount(frame, minlength=n_images) if bad_image_id is None else np.zeros(n_images, dtype=np.int64)
    rows = None
    if keep is not None and bad_image_id is None and len(keep) == n_images and not keep.all():
        rows = np.flatnonzero(np.asarray(keep, dtype=bool)[frame])
    bools_possible = bool_literals is None or bool_literals > sum(type(v) is bool for v in flags)

    n_file = len(slots)
    kp_file, kp_given = _column(
        _field(anns, "keypoints"),
        "keypoints",
        3 * n_file,
        where,
        f" ({n_file} joints x [x, y, v])",
        rows,
        bools_possible,
        required=True,
    )
    sc_file, sc_given = _column(_field(anns, "scores"), "scores", n_file, where, "", rows, bools_possible)
    head, head_given = _column(
        _field(anns, "bbox_head"), "bbox_head", 4, where, " ([x, y, w, h])", rows, bools_possible
    )
    bbox, bbox_given = _column(_field(anns, "bbox"), "bbox", 4, where, " ([x, y, w, h])", rows, bools_possible)
    if bad_image_id is not None:
        _raise_image_id_error(anns[bad_image_id], bad_image_id, set(ids), where)

    m = len(kp_given)
    identity = n_file == NUM_JOINTS and bool((slots == np.arange(NUM_JOINTS)).all())
    if identity:
        keypoints = kp_file.reshape(m, NUM_JOINTS, 3)
        scores = sc_file
    else:
        keypoints = np.zeros((m, NUM_JOINTS, 3))
        keypoints[:, slots] = kp_file.reshape(m, n_file, 3)
        scores = np.zeros((m, NUM_JOINTS))
        scores[:, slots] = sc_file
    present = present_rule(keypoints, fmt) & kp_given[:, None]
    scores[~sc_given] = np.nan
    # Corners as the official tool derives them (x2 = x + w), so head sizes match bit for bit.
    head = np.concatenate([head[:, :2], head[:, :2] + head[:, 2:]], axis=1)
    head[~head_given] = np.nan
    bbox[~bbox_given] = np.nan
    picked = list(range(len(anns))) if rows is None else rows.tolist()
    track_id, track_state, invalid = _track_columns(anns if rows is None else _take(anns, rows))
    score = extras = None
    if for_records:
        score = []
        for k in picked:
            s = anns[k].get("score")
            score.append(float(s) if type(s) in (int, float) else None)
        extras = [{key: anns[k][key] for key in ("id", "person_id") if key in anns[k]} for k in picked]
    persons = PersonTable(
        frame=frame if rows is None else frame[rows],
        keypoints=keypoints,
        present=present,
        scores=scores,
        scores_given=sc_given,
        head_box=head,
        head_given=head_given,
        bbox=bbox,
        bbox_given=bbox_given,
        track_id=track_id,
        track_state=track_state,
        invalid_track_ids=invalid,
        where=where,
        origin=np.asarray(picked, dtype=np.int64).reshape(-1, 1),
        origin_format="annotations[{0}]",
        score=score,
        extras=extras,
    )
    labeled = np.fromiter((v is not _MISSING and bool(v) for v in flags), dtype=bool, count=n_images)
    unflagged = np.fromiter((v is _MISSING for v in flags), dtype=bool, count=n_images)
    labeled[unflagged] = n_listed[unflagged] > 0  # without is_labeled, frames that list persons are labeled
    nframes = images[0].get("nframes") if images else None
    if nframes is not None and integer_field(nframes, where, "images[0].nframes") < 0:
        raise PoseTrackFormatError(f"{where}: images[0].nframes must not be negative, got {nframes}")
    vid_id = images[0].get("vid_id") if images else None
    if vid_id is not None and (isinstance(vid_id, bool) or not isinstance(vid_id, (str, int))):
        raise PoseTrackFormatError(f"{where}: images[0].vid_id must be a string, got {type(vid_id).__name__}")
    return SequenceTable(
        name=name,
        format=fmt,
        file_names=names,
        is_labeled=labeled,
        image_ids=ids,
        ignore_regions=polygons,
        n_listed=n_listed,
        persons=persons,
        source=source,
        nframes=nframes,
        vid_id=str(vid_id) if vid_id is not None else None,
        first_frame_number=0,
        widths=[img.get("width") for img in images] if for_records else None,
        heights=[img.get("height") for img in images] if for_records else None,
    )
