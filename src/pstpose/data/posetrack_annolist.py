"""PoseTrack17 "annolist" files → ``SequenceTable``.

Layout: ``{"annolist": [frame, ...]}``; a frame has ``image: [{name}]``, optional
``ignore_regions: [{point: [{x: [..], y: [..]}, ...]}]`` and ``annorect: [person, ...]``. A
person's ``x1, y1, x2, y2`` is its head box; joints are
``annopoints: [{point: [{id: [j], x: [..], y: [..], score: [s], is_visible: [v]}]}]``.
Values are wrapped in one-element lists (bare values are accepted too). Joint ids are the
15 PoseTrack17 ids, mapped into the 17 slots with ``PT17_TO_SLOT``. Frames are named
``%08d.jpg`` counting from 1, so ``Frame.frame_index`` is the number minus one. Persons of
frames the caller will not score can be left out (``keep``): their ``annorect`` must still be a
list, and they are counted, but not parsed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pstpose.data.posetrack_common import PoseTrackFormatError, flag_field, unwrap
from pstpose.data.records import (
    TRACK_ID_INVALID,
    TRACK_ID_MISSING,
    TRACK_ID_OK,
    PersonTable,
    SequenceTable,
    integer_column,
)
from pstpose.keypoints import NUM_JOINTS, NUM_PT17_JOINTS, PT17_TO_SLOT


def _number(value: Any, where: str, field: str) -> float:
    v = unwrap(value)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PoseTrackFormatError(
            f"{where}: {field} must be a number (optionally in a one-element list), got {value!r}"
        )
    return float(v)


def parse_annolist(
    data: dict, where: str, name: str, source: Path | None = None, keep: np.ndarray | None = None
) -> SequenceTable:
    """One PoseTrack17 sequence document as a ``SequenceTable``; ``keep`` as in ``parse_coco_table``."""
    annolist = data.get("annolist")
    if not isinstance(annolist, list):
        raise PoseTrackFormatError(f"{where}: 'annolist' must be a list of frames")
    if not annolist:
        raise PoseTrackFormatError(f"{where}: 'annolist' is empty; a sequence file lists every frame of its video")
    if keep is not None and len(keep) != len(annolist):
        keep = None
    names: list[str] = []
    labeled: list[bool] = []
    image_ids: list[Any] = []
    polygons: dict[int, list[np.ndarray]] = {}
    n_listed: list[int] = []
    rows: list[tuple] = []
    origin: list[tuple[int, int]] = []
    for i, entry in enumerate(annolist):
        field = f"annolist[{i}]"
        if not isinstance(entry, dict):
            raise PoseTrackFormatError(f"{where}: {field} is not an object")
        if "image" not in entry:
            raise PoseTrackFormatError(f'{where}: {field}.image is missing (expected [{{"name": ...}}])')
        image = unwrap(entry.get("image"))
        image_name = image.get("name") if isinstance(image, dict) else None
        if not isinstance(unwrap(image_name), str):
            raise PoseTrackFormatError(f"{where}: {field}.image[0].name must be a string")
        rects = entry.get("annorect") or []
        if not isinstance(rects, list):
            raise PoseTrackFormatError(f"{where}: {field}.annorect must be a list of persons")
        if keep is None or keep[i]:
            for k, rect in enumerate(rects):
                rows.append(_parse_rect(rect, where, f"{field}.annorect[{k}]"))
                origin.append((i, k))
        if "is_labeled" in entry:
            labeled.append(bool(flag_field(unwrap(entry["is_labeled"]), where, f"{field}.is_labeled")))
        else:
            labeled.append(bool(rects))
        names.append(unwrap(image_name))
        image_ids.append(unwrap(entry.get("imgnum")) if "imgnum" in entry else None)
        regions = _parse_ignore_regions(entry.get("ignore_regions"), where, field)
        if regions:
            polygons[i] = regions
        n_listed.append(len(rects))
    return SequenceTable(
        name=name,
        format="pt17",
        file_names=names,
        is_labeled=np.asarray(labeled, dtype=bool),
        image_ids=image_ids,
        ignore_regions=polygons,
        n_listed=np.asarray(n_listed, dtype=np.int64),
        persons=_person_table(rows, origin, where),
        source=source,
        first_frame_number=1,
    )


def _person_table(rows: list[tuple], origin: list[tuple[int, int]], where: str) -> PersonTable:
    """Stack the rows ``_parse_rect`` returned into a ``PersonTable``."""
    if not rows:
        table = PersonTable.empty()
        table.labels, table.where, table.origin_format = None, where, "annolist[{0}].annorect[{1}]"
        table.origin = np.zeros((0, 2), dtype=np.int64)
        return table
    keypoints, present, scores, head, score, state, track = zip(*rows)
    invalid = {r: t for r, (s, t) in enumerate(zip(state, track)) if s == TRACK_ID_INVALID}
    nan4 = np.full(4, np.nan)
    return PersonTable(
        frame=np.asarray([i for i, _ in origin], dtype=np.int64),
        keypoints=np.stack(keypoints),
        present=np.stack(present),
        scores=np.stack([np.full(NUM_JOINTS, np.nan) if s is None else s for s in scores]),
        scores_given=np.asarray([s is not None for s in scores], dtype=bool),
        head_box=np.stack([nan4 if h is None else h for h in head]),
        head_given=np.asarray([h is not None for h in head], dtype=bool),
        bbox=np.full((len(rows), 4), np.nan),
        bbox_given=np.zeros(len(rows), dtype=bool),
        track_id=integer_column([t if s == TRACK_ID_OK else 0 for s, t in zip(state, track)]),
        track_state=np.asarray(state, dtype=np.int8),
        invalid_track_ids=invalid,
        where=where,
        origin=np.asarray(origin, dtype=np.int64),
        origin_format="annolist[{0}].annorect[{1}]",
        score=list(score),
        extras=[{} for _ in rows],
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


def _parse_rect(rect: Any, where: str, field: str) -> tuple:
    """(keypoints, present, scores or None, head box or None, person score, track state, track id)."""
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
    if head is not None and not all(math.isfinite(v) for v in head):
        raise PoseTrackFormatError(f"{where}: {field} head box x1..y2 is not finite")
    if n_scored:
        # Scores given for some joints only: the rest count as missing (-9999 at evaluation).
        scores[~present] = 0.0
    state, track = TRACK_ID_MISSING, None
    if "track_id" in rect:
        track = unwrap(rect["track_id"])
        state = TRACK_ID_OK if isinstance(track, int) and not isinstance(track, bool) else TRACK_ID_INVALID
    return keypoints, present, scores if n_scored else None, head, person_score, state, track
