"""Ground truth + predictions (records) → pooled ``PoseArrays``, with the protocol's input rules.

Steps 1-3 of the protocol live here: sequences paired by name and frames by position, the
rule for which frames count (per mode), joints strictly inside GT ignore polygons deleted,
persons left without joints dropped. Validation happens on the way, as the official tools
treat each problem: errors for what they refuse or what would make the numbers silently wrong,
warnings for what they accept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pstpose.data.records import Person, Sequence
from pstpose.keypoints import PT17_JOINT_NAMES, PT17_TO_SLOT
from pstpose.metrics.diagnostics import Diagnostics, EvaluationInputError
from pstpose.metrics.polygons import inside_by_group
from pstpose.metrics.posetrack_ap import NUM_EVAL_JOINTS, PoseArrays

MODES: tuple[str, ...] = ("posetrack", "posetrack21")
MISSING_SCORE = -9999.0  # what the official tool gives joints of a prediction without scores
_SLOTS = np.asarray(PT17_TO_SLOT)


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


def _where(seq: Sequence) -> str:
    return str(seq.source) if seq.source is not None else seq.name


def pair_sequences(gt: list[Sequence], pred: list[Sequence], diag: Diagnostics) -> list[tuple[Sequence, Sequence]]:
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
        if len(p.frames) != len(g.frames):
            raise EvaluationInputError(
                f"{_where(p)}: lists {len(p.frames)} frames but the GT file {_where(g)} lists {len(g.frames)}; "
                "frames are paired by position, so write every GT frame in the GT order (empty frames included)"
            )
        pairs.append((g, p))
    for _name, p in sorted(by_name.items()):
        diag.warn("prediction without GT", _where(p), "it is ignored; remove it or add its GT file")
    return pairs


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _check_frame_names(g: Sequence, p: Sequence, diag: Diagnostics) -> None:
    for gf, pf in zip(g.frames, p.frames):
        if gf.file_name and pf.file_name and _base(gf.file_name) != _base(pf.file_name):
            diag.warn(
                "frame order differs from GT",
                f"{_where(p)}: frame {pf.file_name} sits where the GT has {gf.file_name}",
                "frames are paired by position (as the official tool does); list them in the GT order",
            )
            return


def _check_track_ids(persons: list[Person], where: str, frame_name: str, strict: bool, diag: Diagnostics) -> None:
    """Track ids do not change AP. The PoseTrack21 kit refuses non-integer and duplicate ids
    (errors in that mode); the PoseTrack17/18 tool's AP mode ignores them (warnings). A missing
    id is only a warning in both modes, so untracked in-memory predictions can be scored."""
    fix = "write an integer track_id, unique within the frame, for every predicted person (they do not change AP)"
    ids = []
    for p in persons:
        if "invalid_track_id" in p.extra:
            msg = f"{p.extra.get('where', where)}: track_id is {p.extra['invalid_track_id']!r}, not an integer"
            if strict:
                raise EvaluationInputError(f"{msg}; the PoseTrack21 kit needs integer track ids; {fix}")
            diag.warn("track_id not an integer", msg, fix)
        elif p.track_id is None:
            diag.warn("track_id missing", f"{p.extra.get('where', where)}: frame {frame_name}", fix)
        else:
            ids.append(p.track_id)
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        msg = f"{where}: frame {frame_name} has track_id {dup} twice"
        if strict:
            raise EvaluationInputError(f"{msg}; the PoseTrack21 kit refuses duplicates; {fix}")
        diag.warn("duplicate track_id in a frame", msg, fix)


def _stack(persons: list[Person], attr: str, shape: tuple[int, ...]) -> np.ndarray:
    if not persons:
        return np.zeros((0, *shape))
    empty = np.full(shape, np.nan)
    return np.stack([getattr(p, attr) if getattr(p, attr) is not None else empty for p in persons])


def _first_bad(mask: np.ndarray, persons: list[Person]) -> str:
    first = np.argwhere(mask)[0]
    joint = f" ({PT17_JOINT_NAMES[first[1]]})" if mask.ndim > 1 else ""
    return f"{persons[first[0]].extra.get('where', 'a person')}{joint}"


def _require_track_ids(persons: list[Person], what: str, where: str, frame_name: str) -> list[int]:
    """Tracking is scored per track id: every person of a counted frame needs an integer id,
    unique within the frame (the official tool refuses duplicates and misaligns missing ids)."""
    fix = (
        f"write an integer track_id on every {what} person, the same id for the same person in every frame "
        "and unique within a frame"
    )
    ids = []
    for k, p in enumerate(persons):
        who = p.extra.get("where", f"{where}: frame {frame_name}, person {k}")
        if "invalid_track_id" in p.extra:
            raise EvaluationInputError(
                f"{who}: {what} track_id is {p.extra['invalid_track_id']!r}, not an integer; tracking evaluation "
                f"needs integer ids; {fix}"
            )
        if p.track_id is None:
            raise EvaluationInputError(
                f"{who}: {what} person has no track_id (frame {frame_name}); tracking evaluation needs one; {fix}"
            )
        ids.append(int(p.track_id))
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        why = (
            "the official tool refuses them"
            if what == "predicted"
            else "motmetrics, which the official tool uses, cannot score repeated GT ids"
        )
        raise EvaluationInputError(
            f"{where}: frame {frame_name} has {what} track_id {dup} twice; tracking evaluation refuses duplicates "
            f"({why}); {fix}"
        )
    return ids


def prepare(gt: list[Sequence], pred: list[Sequence], mode: str, diag: Diagnostics) -> tuple[PoseArrays, InputStats]:
    """Apply steps 1-3 of the protocol and return the pooled arrays plus counts."""
    arrays, stats, _ = _prepare(gt, pred, mode, diag, tracking=False)
    return arrays, stats


def prepare_tracking(
    gt: list[Sequence], pred: list[Sequence], diag: Diagnostics
) -> tuple[PoseArrays, InputStats, TrackInputs]:
    """``prepare`` in ``posetrack`` mode plus the track ids and per-frame facts tracking needs.

    Missing, non-integer or duplicate track ids (GT or predictions) in counted frames are errors.
    """
    arrays, stats, tracks = _prepare(gt, pred, "posetrack", diag, tracking=True)
    assert tracks is not None
    return arrays, stats, tracks


def _prepare(
    gt: list[Sequence], pred: list[Sequence], mode: str, diag: Diagnostics, tracking: bool
) -> tuple[PoseArrays, InputStats, TrackInputs | None]:
    if mode not in MODES:
        raise EvaluationInputError(f"unknown evaluation mode {mode!r}; use one of {', '.join(MODES)}")
    strict = mode == "posetrack21"
    pairs = pair_sequences(gt, pred, diag)
    gt_persons: list[Person] = []
    pr_persons: list[Person] = []
    gt_frame: list[int] = []
    pr_frame: list[int] = []
    polygons: list[tuple[int, list[np.ndarray]]] = []
    n_frames = counted = ignored = 0
    gt_track: list[int] = []
    pr_track: list[int] = []
    frame_seq: list[int] = []
    gt_listed: list[int] = []
    pr_listed: list[int] = []
    has_polygons: list[bool] = []
    for seq_index, (g, p) in enumerate(pairs):
        _check_frame_names(g, p, diag)
        for gf, pf in zip(g.frames, p.frames):
            n_frames += 1
            counts = gf.is_labeled if strict else len(gf.persons) > 0
            if not counts:
                ignored += len(pf.persons)
                continue
            if tracking:
                gt_track.extend(_require_track_ids(gf.persons, "GT", _where(g), gf.file_name))
                pr_track.extend(_require_track_ids(pf.persons, "predicted", _where(p), pf.file_name))
                frame_seq.append(seq_index)
                gt_listed.append(len(gf.persons))
                pr_listed.append(len(pf.persons))
                has_polygons.append(bool(gf.ignore_regions))
            _check_track_ids(pf.persons, _where(p), pf.file_name, strict, diag)
            gt_persons.extend(gf.persons)
            gt_frame.extend([counted] * len(gf.persons))
            pr_persons.extend(pf.persons)
            pr_frame.extend([counted] * len(pf.persons))
            if gf.ignore_regions:
                polygons.append((counted, gf.ignore_regions))
            counted += 1

    gt_kp = _stack(gt_persons, "keypoints", (17, 3))[:, _SLOTS]
    pr_kp = _stack(pr_persons, "keypoints", (17, 3))[:, _SLOTS]
    gt_has = _has(gt_persons, gt_kp, strict)
    pr_has = _has(pr_persons, pr_kp, strict)
    _check_finite(gt_kp, gt_has, gt_persons, "GT")
    _check_finite(pr_kp, pr_has, pr_persons, "prediction")
    head = _head_sizes(gt_persons, gt_has, diag)
    scores = _scores(pr_persons, pr_has, diag)

    gt_frame_a = np.asarray(gt_frame, dtype=np.int64)
    pr_frame_a = np.asarray(pr_frame, dtype=np.int64)
    _apply_ignore_regions(polygons, counted, gt_kp, gt_has, gt_frame_a, pr_kp, pr_has, pr_frame_a)

    keep_gt = gt_has.any(axis=1)
    keep_pr = pr_has.any(axis=1)
    arrays = PoseArrays(
        n_frames=counted,
        gt_xy=np.ascontiguousarray(gt_kp[keep_gt, :, :2]),
        gt_has=gt_has[keep_gt],
        gt_head=head[keep_gt],
        gt_frame=gt_frame_a[keep_gt],
        pr_xy=np.ascontiguousarray(pr_kp[keep_pr, :, :2]),
        pr_has=pr_has[keep_pr],
        pr_score=scores[keep_pr],
        pr_frame=pr_frame_a[keep_pr],
    )
    stats = InputStats(
        sequences=len(pairs),
        frames=n_frames,
        counted_frames=counted,
        gt_persons=int(keep_gt.sum()),
        pred_persons=int(keep_pr.sum()),
        ignored_pred_persons=ignored,
    )
    if not tracking:
        return arrays, stats, None
    polygons_in = np.asarray(has_polygons, dtype=bool)
    kept_gt = np.bincount(arrays.gt_frame, minlength=counted) > 0
    kept_pr = np.bincount(arrays.pr_frame, minlength=counted) > 0
    tracks = TrackInputs(
        sequence_names=[g.name for g, _ in pairs],
        frame_sequence=np.asarray(frame_seq, dtype=np.int64),
        gt_listed=np.where(polygons_in, kept_gt, np.asarray(gt_listed) > 0),
        pr_listed=np.where(polygons_in, kept_pr, np.asarray(pr_listed) > 0),
        gt_track=np.asarray(gt_track, dtype=np.int64)[keep_gt],
        pr_track=np.asarray(pr_track, dtype=np.int64)[keep_pr],
    )
    return arrays, stats, tracks


def _has(persons: list[Person], kp: np.ndarray, strict: bool) -> np.ndarray:
    if not persons:
        return np.zeros((0, NUM_EVAL_JOINTS), dtype=bool)
    has = np.stack([p.present for p in persons])[:, _SLOTS].astype(bool)
    if strict:  # PoseTrack21 kit: a joint exists only with x > 0 and y > 0
        has &= (kp[..., 0] > 0) & (kp[..., 1] > 0)
    return has


def _check_finite(kp: np.ndarray, has: np.ndarray, persons: list[Person], what: str) -> None:
    bad = has & ~np.isfinite(kp[..., :2]).all(axis=-1)
    if bad.any():
        raise EvaluationInputError(
            f"{_first_bad(bad, persons)}: {what} joint coordinate is NaN or infinite ({int(bad.sum())} such joints); "
            "write finite coordinates, or mark the joint absent with 0, 0, 0"
        )


def _head_sizes(persons: list[Person], has: np.ndarray, diag: Diagnostics) -> np.ndarray:
    boxes = _stack(persons, "head_box", (4,))
    missing = has.any(axis=1) & ~np.isfinite(boxes).all(axis=1)
    if missing.any():
        raise EvaluationInputError(
            f"{_first_bad(missing, persons)}: GT person with joints has no head box ({int(missing.sum())} such persons); "
            "the head size normalises every distance, so add bbox_head [x, y, w, h] (PoseTrack18/21) or "
            "x1, y1, x2, y2 (PoseTrack17), or remove the person's keypoints"
        )
    d = boxes[:, 2:] - boxes[:, :2]
    size = 0.6 * np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])
    zero = has.any(axis=1) & (size == 0)
    if zero.any():
        diag.warn(
            "GT head box of zero size",
            _first_bad(zero, persons),
            "its joints can never be matched (as in the official tool); check the bbox_head",
            count=int(zero.sum()),
        )
    return size


def _scores(persons: list[Person], has: np.ndarray, diag: Diagnostics) -> np.ndarray:
    scores = _stack(persons, "scores", (17,))[:, _SLOTS] if persons else np.zeros((0, NUM_EVAL_JOINTS))
    missing = has & np.isnan(scores)
    if missing.any():
        rows = missing.any(axis=1)
        diag.warn(
            "prediction without joint scores",
            _first_bad(missing, persons),
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
