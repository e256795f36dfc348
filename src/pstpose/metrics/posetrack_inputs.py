"""Ground truth + predictions (``SequenceTable``s or records) → pooled ``PoseArrays``, with the protocol's input rules.

Steps 1-3 of the protocol live here: sequences paired by name and frames by position, the
rule for which frames count (per mode), joints strictly inside GT ignore polygons deleted,
persons left without joints dropped. Validation happens on the way, as the official tools
treat each problem: errors for what they refuse or what would make the numbers silently wrong,
warnings for what they accept.

Everything runs on whole columns pooled over all counted frames (no loop over persons). Where
a per-frame, per-person pass would report problems in a particular order (the first error, the
order of warning kinds and their first three examples), events carry the position that pass
would meet them at, and are reported in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pstpose.data.records import (
    TRACK_ID_INVALID,
    TRACK_ID_MISSING,
    TRACK_ID_OK,
    PersonTable,
    Sequence,
    SequenceTable,
)
from pstpose.keypoints import PT17_JOINT_NAMES, PT17_TO_SLOT
from pstpose.metrics.diagnostics import Diagnostics, EvaluationInputError
from pstpose.metrics.polygons import inside_by_group
from pstpose.metrics.posetrack_ap import NUM_EVAL_JOINTS, PoseArrays

MODES: tuple[str, ...] = ("posetrack", "posetrack21")
MISSING_SCORE = -9999.0  # what the official tool gives joints of a prediction without scores
_SLOTS = np.asarray(PT17_TO_SLOT)
_TRACK_ID_FIX = "write an integer track_id, unique within the frame, for every predicted person (they do not change AP)"


@dataclass
class InputStats:
    sequences: int
    frames: int
    counted_frames: int
    gt_persons: int
    pred_persons: int
    ignored_pred_persons: int  # in frames that do not count


@dataclass
class TrackInputs:
    """What tracking evaluation needs beyond ``PoseArrays``, aligned with its persons and frames.

    ``gt_listed`` / ``pr_listed`` say whether the official tool still sees any person on that side
    of a counted frame: every listed person, except that in frames with ignore polygons persons
    left without joints are gone. A frame where either side sees nobody is scored by the tool's
    fallback rule (``pstpose.metrics.posetrack_tracking``).
    """

    sequence_names: list[str]
    frame_sequence: np.ndarray  # (n_frames,) index into sequence_names of each counted frame
    gt_listed: np.ndarray  # (n_frames,) bool
    pr_listed: np.ndarray  # (n_frames,) bool
    gt_track: np.ndarray  # (NG,) int64, aligned with PoseArrays.gt_*
    pr_track: np.ndarray  # (NP,) int64, aligned with PoseArrays.pr_*


def _where(seq: Sequence | SequenceTable) -> str:
    return str(seq.source) if seq.source is not None else seq.name


def as_table(seq: Sequence | SequenceTable) -> SequenceTable:
    return seq if isinstance(seq, SequenceTable) else SequenceTable.from_sequence(seq)


def counted_frames(gt: Sequence | SequenceTable, mode: str) -> np.ndarray:
    """(n_frames,) bool: the GT frames a mode scores. PoseTrack21 kit: frames flagged labeled;
    official PoseTrack17/18 tool: frames whose GT lists at least one person."""
    table = as_table(gt)
    return table.is_labeled.copy() if mode == "posetrack21" else table.n_listed > 0


def pair_sequences(
    gt: list[SequenceTable], pred: list[SequenceTable], diag: Diagnostics
) -> list[tuple[SequenceTable, SequenceTable]]:
    """Pair by sequence name; a GT sequence without predictions is an error."""
    by_name = {}
    for seq in pred:
        if seq.name in by_name:
            raise EvaluationInputError(f"{_where(seq)}: two prediction sequences are named {seq.name!r}")
        by_name[seq.name] = seq
    pairs = []
    for g in gt:
        p = by_name.pop(g.name, None)
        if p is None:
            raise EvaluationInputError(
                f"{_where(g)}: no prediction file for this GT sequence (expected {g.name}.json beside the other "
                "predictions); write one file per GT sequence listing every GT frame, with no annotations "
                "where nothing was detected"
            )
        if p.n_frames != g.n_frames:
            raise EvaluationInputError(
                f"{_where(p)}: lists {p.n_frames} frames but the GT file {_where(g)} lists {g.n_frames}; "
                "frames are paired by position, so write every GT frame in the GT order (empty frames included)"
            )
        pairs.append((g, p))
    for _name, p in sorted(by_name.items()):
        diag.warn("prediction without GT", _where(p), "it is ignored; remove it or add its GT file")
    return pairs


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _frame_order_example(g: SequenceTable, p: SequenceTable) -> str | None:
    """The first prediction frame whose file name differs from the GT's at the same position."""
    if g.file_names == p.file_names:
        return None
    for gname, pname in zip(g.file_names, p.file_names):
        if gname and pname and _base(gname) != _base(pname):
            return f"{_where(p)}: frame {pname} sits where the GT has {gname}"
    return None


@dataclass
class _Side:
    """One side (GT or predictions) of the counted frames, pooled: which table row each pooled
    person came from, so messages can name it and track ids can be checked per frame."""

    tables: list[SequenceTable]
    picked: np.ndarray  # (N,) row in the tables' rows laid end to end
    row_offset: np.ndarray  # (len(tables) + 1,) where each table's rows start in that layout
    seq: np.ndarray  # (N,) index into tables
    bounds: np.ndarray  # (len(tables) + 1,) pooled persons of table s are bounds[s]:bounds[s + 1]
    frame: np.ndarray  # (N,) counted-frame index, non-decreasing
    start: np.ndarray  # (n_counted,) first pooled index of each counted frame
    frame_position: np.ndarray  # (n_counted,) each counted frame's position in its sequence

    def parts(self, attr: str) -> list[np.ndarray]:
        """Column ``attr`` of each table, restricted to its pooled persons, in pooled order."""
        return [
            getattr(t.persons, attr)[self.picked[self.bounds[s] : self.bounds[s + 1]] - self.row_offset[s]]
            for s, t in enumerate(self.tables)
        ]

    def gather(self, attr: str) -> np.ndarray:
        if not self.tables:
            return getattr(PersonTable.empty(), attr)
        return np.concatenate([getattr(t.persons, attr) for t in self.tables])[self.picked]

    def who(self, i: int, fallback: str) -> str:
        """How messages name pooled person ``i``: its label, else ``fallback``."""
        s = int(self.seq[i])
        label = self.tables[s].persons.label(int(self.picked[i] - self.row_offset[s]))
        return fallback if label is None else label

    def where(self, i: int) -> str:
        return _where(self.tables[self.seq[i]])

    def local(self, i: int) -> int:
        """Position of pooled person ``i`` in its frame's person list."""
        return int(i - self.start[self.frame[i]])

    def invalid_value(self, i: int) -> Any:
        s = int(self.seq[i])
        return self.tables[s].persons.invalid_track_ids[int(self.picked[i] - self.row_offset[s])]


@dataclass
class _Frames:
    """All frames of the paired sequences laid end to end, and which of them count."""

    offset: np.ndarray  # (n_pairs + 1,) where each sequence's frames start
    counted: np.ndarray  # (n_total,) bool
    counted_id: np.ndarray  # (n_total,) index among counted frames, -1 where not counted
    position: np.ndarray  # (n_counted,) each counted frame's position in its sequence
    seq: np.ndarray  # (n_counted,) each counted frame's sequence


def _frames(pairs: list[tuple[SequenceTable, SequenceTable]], mode: str) -> _Frames:
    offset = np.zeros(len(pairs) + 1, dtype=np.int64)
    np.cumsum([g.n_frames for g, _ in pairs], out=offset[1:])
    counted = np.concatenate([counted_frames(g, mode) for g, _ in pairs] or [np.zeros(0, dtype=bool)])
    where = np.flatnonzero(counted)
    counted_id = np.full(len(counted), -1, dtype=np.int64)
    counted_id[where] = np.arange(len(where))
    seq = np.searchsorted(offset, where, side="right") - 1
    return _Frames(offset=offset, counted=counted, counted_id=counted_id, position=where - offset[seq], seq=seq)


def _pool(tables: list[SequenceTable], frames: _Frames) -> _Side:
    """The persons of counted frames, frame by frame, each frame's persons in file order."""
    sizes = [len(t.persons) for t in tables]
    row_offset = np.zeros(len(tables) + 1, dtype=np.int64)
    np.cumsum(sizes, out=row_offset[1:])
    frame = np.concatenate([t.persons.frame for t in tables] or [np.zeros(0, dtype=np.int64)])
    frame = frame + np.repeat(frames.offset[:-1], sizes)
    picked = np.flatnonzero(frames.counted[frame])
    if len(picked) > 1 and (np.diff(frame[picked]) < 0).any():  # files may list persons out of frame order
        picked = picked[np.argsort(frame[picked], kind="stable")]
    seq = np.searchsorted(row_offset, picked, side="right") - 1
    counted_frame = frames.counted_id[frame[picked]]
    n_counted = len(frames.position)
    start = np.zeros(n_counted, dtype=np.int64)
    if n_counted > 1:
        np.cumsum(np.bincount(counted_frame, minlength=n_counted)[:-1], out=start[1:])
    return _Side(
        tables=tables,
        picked=picked,
        row_offset=row_offset,
        seq=seq,
        bounds=np.searchsorted(seq, np.arange(len(tables) + 1)),
        frame=counted_frame,
        start=start,
        frame_position=frames.position,
    )


def _duplicates(frame: np.ndarray, ids: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, list]:
    """Counted frames (ascending) in which a valid id appears twice, and for each the id a
    per-frame pass reports: the first id, in person order, that appears more than once."""
    rows = np.flatnonzero(valid)
    if len(rows) < 2:
        return np.zeros(0, dtype=np.int64), []
    if ids.dtype == object:  # ids that are not plain integers: compared as Python compares them
        by_frame: dict[int, list] = {}
        for i in rows.tolist():
            by_frame.setdefault(int(frame[i]), []).append(ids[i])
        found = [(f, next(x for x in v if v.count(x) > 1)) for f, v in sorted(by_frame.items()) if _repeats(v)]
        return np.asarray([f for f, _ in found], dtype=np.int64), [x for _, x in found]
    f, v = frame[rows], ids[rows]
    order = np.lexsort((rows, v, f))
    fs, vs = f[order], v[order]
    same = (fs[1:] == fs[:-1]) & (vs[1:] == vs[:-1])
    if not same.any():
        return np.zeros(0, dtype=np.int64), []
    group_start = np.ones(len(rows), dtype=bool)
    group_start[1:] = ~same
    firsts = np.flatnonzero(group_start[:-1] & same)  # first member of each repeated (frame, id)
    first_rows, dup_frames = rows[order[firsts]], fs[firsts]
    pick = np.lexsort((first_rows, dup_frames))
    dup_frames, first_rows = dup_frames[pick], first_rows[pick]
    one = np.ones(len(dup_frames), dtype=bool)
    one[1:] = dup_frames[1:] != dup_frames[:-1]
    return dup_frames[one], ids[first_rows[one]].tolist()


def _repeats(values: list) -> bool:
    return any(values.count(x) > 1 for x in values)


def _emit(diag: Diagnostics, kind: str, examples: list[str], count: int, fix: str) -> None:
    """One warning kind with its first examples (as many as ``Diagnostics`` keeps) and its count."""
    for k, example in enumerate(examples):
        last = k == len(examples) - 1
        diag.warn(kind, example, fix, count=count - k if last else 1)


def _check_track_ids(
    side: _Side,
    state: np.ndarray,
    ids: np.ndarray,
    order_events: list[tuple[int, str]],
    strict: bool,
    diag: Diagnostics,
) -> None:
    """Track ids do not change AP. The PoseTrack21 kit refuses non-integer and duplicate ids
    (errors in that mode); the PoseTrack17/18 tool's AP mode ignores them (warnings). A missing
    id is only a warning in both modes, so untracked in-memory predictions can be scored.

    Events are keyed by where a pass over frames and persons meets them: person ``i`` at
    3 i + 1, a frame's duplicate after its last person (3 last + 2), a sequence's frame-order
    warning before its first person (``order_events`` hold those keys)."""
    invalid = np.flatnonzero(state == TRACK_ID_INVALID)
    missing = np.flatnonzero(state == TRACK_ID_MISSING)
    dup_frames, dup_ids = _duplicates(side.frame, ids, state == TRACK_ID_OK)
    dup_last = np.zeros(0, dtype=np.int64)
    if len(dup_frames):
        dup_last = side.start[dup_frames] + np.bincount(side.frame, minlength=len(side.start))[dup_frames] - 1

    def invalid_msg(i: int) -> str:
        return f"{side.who(i, side.where(i))}: track_id is {side.invalid_value(i)!r}, not an integer"

    def dup_msg(k: int) -> str:
        i = int(dup_last[k])
        return f"{side.where(i)}: frame {_frame_name(side, i)} has track_id {dup_ids[k]} twice"

    if strict and (len(invalid) or len(dup_frames)):
        inv_key = 3 * invalid[0] + 1 if len(invalid) else np.inf
        dup_key = 3 * dup_last[0] + 2 if len(dup_frames) else np.inf
        if inv_key < dup_key:
            raise EvaluationInputError(
                f"{invalid_msg(int(invalid[0]))}; the PoseTrack21 kit needs integer track ids; {_TRACK_ID_FIX}"
            )
        raise EvaluationInputError(f"{dup_msg(0)}; the PoseTrack21 kit refuses duplicates; {_TRACK_ID_FIX}")
    kinds = []  # (first key, kind, examples, count)
    if order_events:
        kinds.append(
            (order_events[0][0], "frame order differs from GT", [e for _, e in order_events[:3]], len(order_events))
        )
    if len(invalid):
        kinds.append(
            (3 * invalid[0] + 1, "track_id not an integer", [invalid_msg(int(i)) for i in invalid[:3]], len(invalid))
        )
    if len(missing):
        examples = [f"{side.who(int(i), side.where(int(i)))}: frame {_frame_name(side, int(i))}" for i in missing[:3]]
        kinds.append((3 * missing[0] + 1, "track_id missing", examples, len(missing)))
    if len(dup_frames):
        kinds.append(
            (
                3 * dup_last[0] + 2,
                "duplicate track_id in a frame",
                [dup_msg(k) for k in range(min(3, len(dup_frames)))],
                len(dup_frames),
            )
        )
    fixes = {
        "frame order differs from GT": "frames are paired by position (as the official tool does); list them in the GT order"
    }
    for _, kind, examples, count in sorted(kinds, key=lambda k: k[0]):
        _emit(diag, kind, examples, count, fixes.get(kind, _TRACK_ID_FIX))


def _frame_name(side: _Side, i: int) -> str:
    """File name of pooled person ``i``'s frame, on that person's side."""
    return side.tables[side.seq[i]].file_names[side.frame_position[side.frame[i]]]


def _require_track_ids(side: _Side, state: np.ndarray, ids: np.ndarray, what: str) -> tuple[tuple, str] | None:
    """Tracking is scored per track id: every person of a counted frame needs an integer id,
    unique within the frame (the official tool refuses duplicates and misaligns missing ids).

    Returns the first problem as (position a pass over frames would meet it at, message), or None."""
    fix = (
        f"write an integer track_id on every {what} person, the same id for the same person in every frame "
        "and unique within a frame"
    )
    phase = 0 if what == "GT" else 2  # per frame: GT persons, GT duplicates, predicted persons, their duplicates
    found = []
    bad = np.flatnonzero(state != TRACK_ID_OK)
    if len(bad):
        i = int(bad[0])
        name = _frame_name(side, i)
        who = side.who(i, f"{side.where(i)}: frame {name}, person {side.local(i)}")
        if state[i] == TRACK_ID_INVALID:
            msg = (
                f"{who}: {what} track_id is {side.invalid_value(i)!r}, not an integer; tracking evaluation "
                f"needs integer ids; {fix}"
            )
        else:
            msg = f"{who}: {what} person has no track_id (frame {name}); tracking evaluation needs one; {fix}"
        found.append(((int(side.frame[i]), phase, side.local(i)), msg))
    if ids.dtype == object:
        ids = np.asarray([int(v) if ok else 0 for v, ok in zip(ids.tolist(), state == TRACK_ID_OK)], dtype=object)
    dup_frames, dup_ids = _duplicates(side.frame, ids, state == TRACK_ID_OK)
    if len(dup_frames):
        c = int(dup_frames[0])
        i = int(side.start[c])
        why = (
            "the official tool refuses them"
            if what == "predicted"
            else "motmetrics, which the official tool uses, cannot score repeated GT ids"
        )
        msg = (
            f"{side.where(i)}: frame {_frame_name(side, i)} has {what} track_id {dup_ids[0]} twice; tracking "
            f"evaluation refuses duplicates ({why}); {fix}"
        )
        found.append(((c, phase + 1, 0), msg))
    return min(found) if found else None


def prepare(
    gt: list[Sequence | SequenceTable], pred: list[Sequence | SequenceTable], mode: str, diag: Diagnostics
) -> tuple[PoseArrays, InputStats]:
    """Apply steps 1-3 of the protocol and return the pooled arrays plus counts.

    Prediction tables read with ``keep`` (persons of frames that do not count left out) must have
    been read for the same ``mode``."""
    arrays, stats, _ = _prepare(gt, pred, mode, diag, tracking=False)
    return arrays, stats


def prepare_tracking(
    gt: list[Sequence | SequenceTable], pred: list[Sequence | SequenceTable], diag: Diagnostics
) -> tuple[PoseArrays, InputStats, TrackInputs]:
    """``prepare`` in ``posetrack`` mode plus the track ids and per-frame facts tracking needs.

    Missing, non-integer or duplicate track ids (GT or predictions) in counted frames are errors.
    """
    arrays, stats, tracks = _prepare(gt, pred, "posetrack", diag, tracking=True)
    assert tracks is not None
    return arrays, stats, tracks


def _prepare(
    gt: list[Sequence | SequenceTable],
    pred: list[Sequence | SequenceTable],
    mode: str,
    diag: Diagnostics,
    tracking: bool,
) -> tuple[PoseArrays, InputStats, TrackInputs | None]:
    if mode not in MODES:
        raise EvaluationInputError(f"unknown evaluation mode {mode!r}; use one of {', '.join(MODES)}")
    strict = mode == "posetrack21"
    pairs = pair_sequences([as_table(g) for g in gt], [as_table(p) for p in pred], diag)
    frames = _frames(pairs, mode)
    counted = len(frames.position)
    counted_list = frames.counted.tolist()
    polygons = [
        (int(frames.counted_id[at]), regions)
        for s, (g, _) in enumerate(pairs)
        for f, regions in sorted(g.ignore_regions.items())
        if counted_list[at := int(frames.offset[s]) + f]
    ]
    pred_listed = np.concatenate([p.n_listed for _, p in pairs] or [np.zeros(0, dtype=np.int64)])
    ignored = int(pred_listed[~frames.counted].sum())
    gts = _pool([g for g, _ in pairs], frames)
    prs = _pool([p for _, p in pairs], frames)
    pr_state, pr_ids = prs.gather("track_state"), _gather_ids(prs)

    gt_ids = np.zeros(len(gts.frame), dtype=np.int64)
    if tracking:
        gt_state, gt_ids = gts.gather("track_state"), _gather_ids(gts)
        problems = [
            _require_track_ids(gts, gt_state, gt_ids, "GT"),
            _require_track_ids(prs, pr_state, pr_ids, "predicted"),
        ]
        problems = [x for x in problems if x is not None]
        if problems:
            raise EvaluationInputError(min(problems)[1])
    order_events = [
        (3 * int(prs.bounds[s]), example)
        for s, (g, p) in enumerate(pairs)
        if (example := _frame_order_example(g, p)) is not None
    ]
    _check_track_ids(prs, pr_state, pr_ids, order_events, strict, diag)

    gt_kp = gts.gather("keypoints")[:, _SLOTS]
    pr_kp = prs.gather("keypoints")[:, _SLOTS]
    gt_has = _has(gts.gather("present"), gt_kp, strict)
    pr_has = _has(prs.gather("present"), pr_kp, strict)
    _check_finite(gt_kp, gt_has, gts, "GT")
    _check_finite(pr_kp, pr_has, prs, "prediction")
    head = _head_sizes(gts.gather("head_box"), gt_has, gts, diag)
    scores = _scores(prs.gather("scores")[:, _SLOTS], pr_has, prs, diag)

    _apply_ignore_regions(polygons, counted, gt_kp, gt_has, gts.frame, pr_kp, pr_has, prs.frame)

    keep_gt = gt_has.any(axis=1)
    keep_pr = pr_has.any(axis=1)
    arrays = PoseArrays(
        n_frames=counted,
        gt_xy=np.ascontiguousarray(gt_kp[keep_gt, :, :2]),
        gt_has=gt_has[keep_gt],
        gt_head=head[keep_gt],
        gt_frame=gts.frame[keep_gt],
        pr_xy=np.ascontiguousarray(pr_kp[keep_pr, :, :2]),
        pr_has=pr_has[keep_pr],
        pr_score=scores[keep_pr],
        pr_frame=prs.frame[keep_pr],
    )
    stats = InputStats(
        sequences=len(pairs),
        frames=len(frames.counted),
        counted_frames=counted,
        gt_persons=int(keep_gt.sum()),
        pred_persons=int(keep_pr.sum()),
        ignored_pred_persons=ignored,
    )
    if not tracking:
        return arrays, stats, None
    gt_listed = np.concatenate([g.n_listed for g, _ in pairs] or [np.zeros(0, dtype=np.int64)])[frames.counted]
    pr_listed = pred_listed[frames.counted]
    polygons_in = np.zeros(counted, dtype=bool)
    polygons_in[[f for f, _ in polygons]] = True
    kept_gt = np.bincount(arrays.gt_frame, minlength=counted) > 0
    kept_pr = np.bincount(arrays.pr_frame, minlength=counted) > 0
    tracks = TrackInputs(
        sequence_names=[g.name for g, _ in pairs],
        frame_sequence=frames.seq,
        gt_listed=np.where(polygons_in, kept_gt, gt_listed > 0),
        pr_listed=np.where(polygons_in, kept_pr, pr_listed > 0),
        gt_track=_as_int64(gt_ids)[keep_gt],
        pr_track=_as_int64(pr_ids)[keep_pr],
    )
    return arrays, stats, tracks


def _as_int64(ids: np.ndarray) -> np.ndarray:
    return np.asarray([int(v) for v in ids.tolist()], dtype=np.int64) if ids.dtype == object else ids


def _gather_ids(side: _Side) -> np.ndarray:
    """Pooled track ids: int64, or objects when a table holds ids that are not plain integers."""
    parts = side.parts("track_id")
    if any(p.dtype == object for p in parts):
        out = np.empty(sum(len(p) for p in parts), dtype=object)
        out[:] = [v for p in parts for v in p.tolist()]
        return out
    return np.concatenate(parts)


def _first_bad(mask: np.ndarray, side: _Side) -> str:
    first = np.argwhere(mask)[0]
    joint = f" ({PT17_JOINT_NAMES[first[1]]})" if mask.ndim > 1 else ""
    return f"{side.who(int(first[0]), 'a person')}{joint}"


def _has(present: np.ndarray, kp: np.ndarray, strict: bool) -> np.ndarray:
    if len(present) == 0:
        return np.zeros((0, NUM_EVAL_JOINTS), dtype=bool)
    has = present[:, _SLOTS].astype(bool)
    if strict:  # PoseTrack21 kit: a joint exists only with x > 0 and y > 0
        has &= (kp[..., 0] > 0) & (kp[..., 1] > 0)
    return has


def _check_finite(kp: np.ndarray, has: np.ndarray, side: _Side, what: str) -> None:
    bad = has & ~np.isfinite(kp[..., :2]).all(axis=-1)
    if bad.any():
        raise EvaluationInputError(
            f"{_first_bad(bad, side)}: {what} joint coordinate is NaN or infinite ({int(bad.sum())} such joints); "
            "write finite coordinates, or mark the joint absent with 0, 0, 0"
        )


def _head_sizes(boxes: np.ndarray, has: np.ndarray, side: _Side, diag: Diagnostics) -> np.ndarray:
    boxes = boxes.reshape(-1, 4)
    missing = has.any(axis=1) & ~np.isfinite(boxes).all(axis=1)
    if missing.any():
        raise EvaluationInputError(
            f"{_first_bad(missing, side)}: GT person with joints has no head box ({int(missing.sum())} such persons); "
            "the head size normalises every distance, so add bbox_head [x, y, w, h] (PoseTrack18/21) or "
            "x1, y1, x2, y2 (PoseTrack17), or remove the person's keypoints"
        )
    d = boxes[:, 2:] - boxes[:, :2]
    size = 0.6 * np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])
    zero = has.any(axis=1) & (size == 0)
    if zero.any():
        diag.warn(
            "GT head box of zero size",
            _first_bad(zero, side),
            "its joints can never be matched (as in the official tool); check the bbox_head",
            count=int(zero.sum()),
        )
    return size


def _scores(scores: np.ndarray, has: np.ndarray, side: _Side, diag: Diagnostics) -> np.ndarray:
    scores = scores.reshape(-1, NUM_EVAL_JOINTS)
    missing = has & np.isnan(scores)
    if missing.any():
        rows = missing.any(axis=1)
        diag.warn(
            "prediction without joint scores",
            _first_bad(missing, side),
            "write 'scores' with one value per joint; joints without a score get -9999 (the official tool's rule)",
            count=int(rows.sum()),
        )
        scores = np.where(missing, MISSING_SCORE, scores)
    return scores


def _apply_ignore_regions(
    polygons: list[tuple[int, list[np.ndarray]]],
    n_frames: int,
    gt_kp: np.ndarray,
    gt_has: np.ndarray,
    gt_frame: np.ndarray,
    pr_kp: np.ndarray,
    pr_has: np.ndarray,
    pr_frame: np.ndarray,
) -> None:
    """Delete (in place) GT and predicted joints strictly inside the frame's GT ignore polygons."""
    if not polygons:
        return
    with_poly = np.zeros(n_frames, dtype=bool)
    with_poly[[f for f, _ in polygons]] = True
    flat = [(f, poly) for f, polys in polygons for poly in polys]
    for kp, has, frame in ((gt_kp, gt_has, gt_frame), (pr_kp, pr_has, pr_frame)):
        if len(frame) == 0:
            continue
        idx = np.argwhere(has & with_poly[frame][:, None])
        if len(idx) == 0:
            continue
        inside = inside_by_group(kp[idx[:, 0], idx[:, 1], :2], frame[idx[:, 0]], flat)
        has[idx[inside, 0], idx[inside, 1]] = False
