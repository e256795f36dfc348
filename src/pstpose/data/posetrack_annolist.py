"""PoseTrack17 "annolist" files → records.

Layout: ``{"annolist": [frame, ...]}``; a frame has ``image: [{name}]``, optional
``ignore_regions: [{point: [{x: [..], y: [..]}, ...]}]`` and ``annorect: [person, ...]``. A
person's ``x1, y1, x2, y2`` is its head box; joints are
``annopoints: [{point: [{id: [j], x: [..], y: [..], score: [s], is_visible: [v]}]}]``.
Values are wrapped in one-element lists (bare values are accepted too). Joint ids are the
15 PoseTrack17 ids, mapped into the 17 slots with ``PT17_TO_SLOT``. Frames are named
``%08d.jpg`` counting from 1, so ``Frame.frame_index`` is the number minus one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pstpose.data.posetrack_common import PoseTrackFormatError, flag_field, frame_index_from_name, unwrap
from pstpose.data.records import Frame, Person
from pstpose.keypoints import NUM_JOINTS, NUM_PT17_JOINTS, PT17_TO_SLOT


def _number(value: Any, where: str, field: str) -> float:
    v = unwrap(value)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PoseTrackFormatError(
            f"{where}: {field} must be a number (optionally in a one-element list), got {value!r}"
        )
    return float(v)


def parse_annolist(data: dict, where: str) -> list[Frame]:
    annolist = data.get("annolist")
    if not isinstance(annolist, list):
        raise PoseTrackFormatError(f"{where}: 'annolist' must be a list of frames")
    if not annolist:
        raise PoseTrackFormatError(f"{where}: 'annolist' is empty; a sequence file lists every frame of its video")
    frames = []
    for i, entry in enumerate(annolist):
        field = f"annolist[{i}]"
        if not isinstance(entry, dict):
            raise PoseTrackFormatError(f"{where}: {field} is not an object")
        frames.append(_parse_frame(entry, i, where, field))
    return frames


def _parse_frame(entry: dict, position: int, where: str, field: str) -> Frame:
    if "image" not in entry:
        raise PoseTrackFormatError(f'{where}: {field}.image is missing (expected [{{"name": ...}}])')
    image = unwrap(entry.get("image"))
    name = image.get("name") if isinstance(image, dict) else None
    if not isinstance(unwrap(name), str):
        raise PoseTrackFormatError(f"{where}: {field}.image[0].name must be a string")
    name = unwrap(name)
    rects = entry.get("annorect") or []
    if not isinstance(rects, list):
        raise PoseTrackFormatError(f"{where}: {field}.annorect must be a list of persons")
    persons = [_parse_rect(r, where, f"{field}.annorect[{k}]") for k, r in enumerate(rects)]
    index = frame_index_from_name(name, first=1)
    if "is_labeled" in entry:
        labeled = flag_field(unwrap(entry["is_labeled"]), where, f"{field}.is_labeled")
    else:
        labeled = bool(persons)
    image_id = unwrap(entry.get("imgnum")) if "imgnum" in entry else None
    return Frame(
        file_name=name,
        frame_index=position if index is None else index,
        persons=persons,
        is_labeled=bool(labeled),
        image_id=image_id,
        ignore_regions=_parse_ignore_regions(entry.get("ignore_regions"), where, field),
    )


def _parse_ignore_regions(regions: Any, where: str, field: str) -> list[np.ndarray]:
    if not regions:
        return []
    if not isinstance(regions, list):
        raise PoseTrackFormatError(f"{where}: {field}.ignore_regions must be a list of regions")
    polygons = []
    for r, region in enumerate(regions):
        points = region.get("point") if isinstance(region, dict) else None
        if not isinstance(points, list):
            raise PoseTrackFormatError(f"{where}: {field}.ignore_regions[{r}].point must be a list of points")
        poly = [
            (
                _number(p.get("x"), where, f"{field}.ignore_regions[{r}].point[{k}].x"),
                _number(p.get("y"), where, f"{field}.ignore_regions[{r}].point[{k}].y"),
            )
            if isinstance(p, dict)
            else _bad_point(where, f"{field}.ignore_regions[{r}].point[{k}]")
            for k, p in enumerate(points)
        ]
        polygons.append(np.asarray(poly, dtype=np.float64).reshape(-1, 2))
    return polygons


def _bad_point(where: str, field: str) -> tuple[float, float]:
    raise PoseTrackFormatError(f"{where}: {field} is not an object with x and y")


def _parse_rect(rect: Any, where: str, field: str) -> Person:
    if not isinstance(rect, dict):
        raise PoseTrackFormatError(f"{where}: {field} is not an object")
    keypoints = np.zeros((NUM_JOINTS, 3), dtype=np.float64)
    present = np.zeros(NUM_JOINTS, dtype=bool)
    scores = np.full(NUM_JOINTS, np.nan)
    n_scored = 0
    annopoints = rect.get("annopoints")
    points = []
    if isinstance(annopoints, list) and annopoints:
        first = annopoints[0]
        points = first.get("point", []) if isinstance(first, dict) else None
    elif isinstance(annopoints, dict):
        points = annopoints.get("point", [])
    elif annopoints not in (None, []):
        raise PoseTrackFormatError(f"{where}: {field}.annopoints must be a list holding one object with 'point'")
    if not isinstance(points, list):
        raise PoseTrackFormatError(f"{where}: {field}.annopoints[0].point must be a list of joints")
    for k, p in enumerate(points):
        pf = f"{field}.annopoints[0].point[{k}]"
        if not isinstance(p, dict):
            raise PoseTrackFormatError(f"{where}: {pf} is not an object")
        jid = _number(p.get("id"), where, f"{pf}.id")
        if not jid.is_integer() or not 0 <= jid < NUM_PT17_JOINTS:
            raise PoseTrackFormatError(f"{where}: {pf}.id is {jid:g}, expected a PoseTrack17 joint id 0..14")
        slot = PT17_TO_SLOT[int(jid)]
        if present[slot]:
            raise PoseTrackFormatError(f"{where}: {pf}.id {int(jid)} lists the same joint twice in one person")
        x = _number(p.get("x"), where, f"{pf}.x")
        y = _number(p.get("y"), where, f"{pf}.y")
        vis = 1.0
        if "is_visible" in p and unwrap(p["is_visible"]) is not None:
            vis = _number(p["is_visible"], where, f"{pf}.is_visible")
        keypoints[slot] = (x, y, vis)
        present[slot] = True
        if "score" in p and unwrap(p["score"]) is not None:
            scores[slot] = _number(p["score"], where, f"{pf}.score")
            n_scored += 1
    head = None
    corners = [rect.get(k) for k in ("x1", "y1", "x2", "y2")]
    if all(c is not None for c in corners):
        head = np.array([_number(c, where, f"{field}.{k}") for c, k in zip(corners, ("x1", "y1", "x2", "y2"))])
    person_score = None
    if "score" in rect and unwrap(rect["score"]) is not None:
        person_score = _number(rect["score"], where, f"{field}.score")
    person = Person(
        keypoints=keypoints,
        present=present,
        scores=scores if n_scored else None,
        head_box=head,
        score=person_score,
    )
    if n_scored:
        # Scores given for some joints only: the rest count as missing (-9999 at evaluation).
        person.scores[~present] = 0.0
    if "track_id" in rect:
        tid = unwrap(rect["track_id"])
        if isinstance(tid, int) and not isinstance(tid, bool):
            person.track_id = tid
        else:
            person.extra["invalid_track_id"] = tid
    person.extra["where"] = f"{where}: {field}"
    if head is not None and not all(math.isfinite(v) for v in head):
        raise PoseTrackFormatError(f"{where}: {field} head box x1..y2 is not finite")
    return person
