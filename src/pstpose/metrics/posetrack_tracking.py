"""PoseTrack multi-person pose tracking: per-joint CLEAR-MOT scores (MOTA, MOTP, precision, recall).

Reproduces the official PoseTrack17/18 tool's ``--evalPoseTracking`` on the counted frames that
``posetrack_inputs.prepare_tracking`` pools:

* every joint is tracked on its own: in each frame the GT persons that have the joint are the
  objects, the predicted persons that have it the hypotheses, identified by their track ids;
* a pair may be matched when both have the joint and distance / GT head size <= 0.5 (the AP's
  PCKh rule); its distance is that ratio;
* one accumulator per sequence and joint applies the CLEAR-MOT identity rules as motmetrics
  implements them: a pairing from an earlier frame is kept while it is still allowed; the other
  objects and hypotheses get a minimum-cost matching among the largest possible ones; a match
  whose object was last matched to another hypothesis is an identity switch;
* the tool leaves out the last counted frame of every sequence, and scores a frame in which the
  GT or the predictions list nobody as one miss and one false positive on each of the 15 joints;
* counts are summed over sequences, then per joint
  ``MOTA = 100 (1 - (misses + switches + false positives) / objects)``,
  ``MOTP = 100 (1 - distance sum / detections)``, ``precision = 100 detections / (detections +
  false positives)``, ``recall = 100 detections / objects`` (detections = matches + switches);
  the Total column is the nanmean over the 15 joints.

MOTP's distance sum is what the tool adds up: the ``D`` column of every motmetrics event. With
the motmetrics versions the tool requires (>= 1.2; 1.4.0 checked) that column holds, besides the
matched pairs, every allowed pair of the frame ("RAW" events) and the transfer, ascend and
migrate events of identity changes, so ``motp`` follows that sum. ``motp_matched`` is CLEAR-MOT's
own MOTP, over matched pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from pstpose.metrics.diagnostics import Diagnostics
from pstpose.metrics.posetrack_ap import NUM_EVAL_JOINTS, PoseArrays, pckh_distance
from pstpose.metrics.posetrack_inputs import TrackInputs

# The official tool asserts track ids below this (it offsets them by sequence).
OFFICIAL_MAX_TRACK_ID = 10_000


def pckh_distances(
    gt_xy: np.ndarray, gt_has: np.ndarray, gt_head: np.ndarray, pr_xy: np.ndarray, pr_has: np.ndarray
) -> np.ndarray:
    """(G, P, 15) joint distance / GT head size; inf where either person lacks the joint.

    ``posetrack_ap.pckh_distance``, the formula AP matching thresholds too.
    """
    dist = pckh_distance(gt_xy[:, None], pr_xy[None, :], gt_head[:, None, None])
    both = gt_has[:, None, :] & pr_has[None, :, :]
    return np.where(both, dist, np.inf)


def _assignable_pairs(n_obj: int, n_hyp: int, pairs: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Minimum-cost matching among the maximum-cardinality matchings over the allowed ``pairs``.

    When no object or hypothesis is in two pairs the matching is forced. Otherwise it is solved
    as motmetrics solves it with SciPy, on the full objects x hypotheses matrix with disallowed
    pairs priced so high that taking one always costs more than any set of allowed ones, so
    ties resolve the same way.
    """
    rows = {i for i, _, _ in pairs}
    cols = {j for _, j, _ in pairs}
    if len(rows) == len(pairs) and len(cols) == len(pairs):
        return pairs
    cost = np.full((n_obj, n_hyp), np.nan)
    for i, j, d in pairs:
        cost[i, j] = d
    allowed = np.isfinite(cost)
    if allowed.all():
        priced = cost
    else:
        worst = np.abs(cost[allowed]).max() + 1.0
        priced = np.where(allowed, cost, 2.0 * min(cost.shape) * worst + 1.0)
    sel_rows, sel_cols = linear_sum_assignment(priced)
    return [(int(i), int(j), float(cost[i, j])) for i, j in zip(sel_rows, sel_cols) if allowed[i, j]]


@dataclass
class ClearMotAccumulator:
    """CLEAR-MOT events of one joint over the frames of one sequence, as motmetrics counts them.

    Only the counts and distance sums the PoseTrack scores need are kept; ``update`` mirrors
    ``motmetrics.MOTAccumulator.update`` (1.4.0) for unique ids and NaN-for-forbidden distances.
    """

    objects: int = 0
    misses: int = 0
    false_positives: int = 0
    matches: int = 0
    switches: int = 0
    matched_distance: float = 0.0  # over MATCH and SWITCH events (CLEAR-MOT)
    event_distance: float = 0.0  # over every event with a distance (what the tool sums)
    _hyp_of: dict[int, int] = field(default_factory=dict)  # object -> hypothesis it was last matched to
    _obj_of: dict[int, int] = field(default_factory=dict)  # hypothesis -> object of its last assignment-step match
    _objects_matched: set[int] = field(default_factory=set)
    _hyps_matched: set[int] = field(default_factory=set)

    def update(self, object_ids: list[int], hyp_ids: list[int], pairs: list[tuple[int, int, float]]) -> None:
        """One frame: ``pairs`` lists (object index, hypothesis index, distance) for every pair
        allowed to match (motmetrics' finite entries of the distance matrix)."""
        n_obj, n_hyp = len(object_ids), len(hyp_ids)
        self.objects += n_obj
        n_matched = 0
        if pairs:
            self.event_distance += sum(d for _, _, d in pairs)  # one event per allowed pair
            obj_done = [False] * n_obj
            hyp_done = [False] * n_hyp
            allowed = {(i, j): d for i, j, d in pairs}
            hyp_index = {h: j for j, h in enumerate(hyp_ids)}
            # 1. Keep the pairings of earlier frames that are still allowed.
            for i, o in enumerate(object_ids):
                previous = self._hyp_of.get(o)
                j = None if previous is None else hyp_index.get(previous)
                if j is None or hyp_done[j] or (i, j) not in allowed:
                    continue
                obj_done[i] = hyp_done[j] = True
                self._record(o, hyp_ids[j], allowed[i, j], switch=False)
                n_matched += 1
            # 2. Match the rest; an object matched before to another hypothesis switches identity.
            rest = [(i, j, d) for i, j, d in pairs if not obj_done[i] and not hyp_done[j]]
            for i, j, d in _assignable_pairs(n_obj, n_hyp, rest) if rest else []:
                o, h = object_ids[i], hyp_ids[j]
                switch = o in self._hyp_of and self._hyp_of[o] != h
                if switch and h not in self._hyps_matched:
                    self.event_distance += d  # "ascend": the hypothesis is new
                if h in self._obj_of and self._obj_of[h] != o:
                    if o not in self._objects_matched:
                        self.event_distance += d  # "migrate": the object is new
                    self.event_distance += d  # "transfer": the hypothesis changed object
                self._record(o, h, d, switch)
                self._obj_of[h] = o
                n_matched += 1
        self.misses += n_obj - n_matched
        self.false_positives += n_hyp - n_matched

    def update_matrix(self, object_ids: list[int], hyp_ids: list[int], dist: np.ndarray) -> None:
        """``update`` from a dense (objects x hypotheses) matrix, NaN where a pair may not match."""
        rows, cols = np.nonzero(np.isfinite(dist))
        self.update(object_ids, hyp_ids, [(int(i), int(j), float(dist[i, j])) for i, j in zip(rows, cols)])

    def _record(self, obj: int, hyp: int, d: float, switch: bool) -> None:
        if switch:
            self.switches += 1
        else:
            self.matches += 1
        self.matched_distance += d
        self.event_distance += d
        self._hyp_of[obj] = hyp
        self._objects_matched.add(obj)
        self._hyps_matched.add(hyp)

    def add_unmatchable_pair(self) -> None:
        """The tool's rule for a frame where GT or predictions list nobody: one object and one
        hypothesis that may not match (a miss and a false positive; no identity state changes)."""
        self.objects += 1
        self.misses += 1
        self.false_positives += 1


@dataclass
class TrackingMetrics:
    """Per-joint tracking results in the 15-joint order; scores in percent, counts summed over sequences."""

    mota: np.ndarray
    motp: np.ndarray  # the official tool's MOTP (distance sum over all motmetrics events)
    precision: np.ndarray
    recall: np.ndarray
    motp_matched: np.ndarray  # CLEAR-MOT MOTP over matched pairs only
    num_objects: np.ndarray
    num_misses: np.ndarray
    num_false_positives: np.ndarray
    num_switches: np.ndarray
    num_detections: np.ndarray
    sequences: int  # sequences that were scored
    scored_frames: int

    def counts(self, joint: int) -> dict[str, int]:
        return {
            "num_objects": int(self.num_objects[joint]),
            "num_misses": int(self.num_misses[joint]),
            "num_false_positives": int(self.num_false_positives[joint]),
            "num_switches": int(self.num_switches[joint]),
            "num_detections": int(self.num_detections[joint]),
        }


def _percent_scores(
    objects: np.ndarray, misses: np.ndarray, fps: np.ndarray, switches: np.ndarray, dets: np.ndarray, dsum: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tool's formulas: MOTA and recall NaN without objects, precision NaN without
    detections or false positives, MOTP 0 without detections."""
    obj = np.where(objects > 0, objects, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        mota = 100.0 * (1.0 - (misses + switches + fps) / obj)
        motp = np.where(dets > 0, 100.0 * (1.0 - dsum / np.maximum(dets, 1)), 0.0)
        claimed = np.where(fps + dets > 0, fps + dets, np.nan)
        precision = 100.0 * dets / claimed
        recall = 100.0 * dets / obj
    return mota, motp, precision, recall


def _update_frame(
    accs: list[ClearMotAccumulator], arrays: PoseArrays, tracks: TrackInputs, gs: slice, ps: slice, threshold: float
) -> None:
    """Feed one frame to the 15 joint accumulators: per joint, the GT persons having the joint
    (in file order) are the objects, the predicted ones the hypotheses."""
    gt_has, pr_has = arrays.gt_has[gs], arrays.pr_has[ps]
    dist = pckh_distances(arrays.gt_xy[gs], gt_has, arrays.gt_head[gs], arrays.pr_xy[ps], pr_has)
    # Allowed pairs, joint-major, as (row among the GT persons having the joint, column among
    # the predictions having it, distance).
    joint, g, p = np.nonzero((dist <= threshold).transpose(2, 0, 1))
    rows = (np.cumsum(gt_has, axis=0) - 1)[g, joint].tolist()
    cols = (np.cumsum(pr_has, axis=0) - 1)[p, joint].tolist()
    d = dist[g, p, joint].tolist()
    bounds = np.searchsorted(joint, np.arange(NUM_EVAL_JOINTS + 1)).tolist()
    gt_ids, pr_ids = tracks.gt_track[gs].tolist(), tracks.pr_track[ps].tolist()
    gt_joint, pr_joint = gt_has.T.tolist(), pr_has.T.tolist()
    for j, acc in enumerate(accs):
        b0, b1 = bounds[j], bounds[j + 1]
        acc.update(
            [t for t, has in zip(gt_ids, gt_joint[j]) if has],
            [t for t, has in zip(pr_ids, pr_joint[j]) if has],
            list(zip(rows[b0:b1], cols[b0:b1], d[b0:b1])),
        )


def tracking_metrics(
    arrays: PoseArrays, tracks: TrackInputs, threshold: float = 0.5, diag: Diagnostics | None = None
) -> TrackingMetrics:
    """Score the tracks of ``arrays`` (from ``prepare_tracking``) as the official tool does."""
    objects, misses, fps, switches, dets = (np.zeros(NUM_EVAL_JOINTS, dtype=np.int64) for _ in range(5))
    dsum_events = np.zeros(NUM_EVAL_JOINTS)
    dsum_matched = np.zeros(NUM_EVAL_JOINTS)
    gt_start = np.searchsorted(arrays.gt_frame, np.arange(arrays.n_frames + 1))
    pr_start = np.searchsorted(arrays.pr_frame, np.arange(arrays.n_frames + 1))
    big_ids = int((tracks.gt_track >= OFFICIAL_MAX_TRACK_ID).sum() + (tracks.pr_track >= OFFICIAL_MAX_TRACK_ID).sum())
    if big_ids and diag is not None:
        diag.warn(
            "track_id of 10000 or more",
            f"{big_ids} persons",
            "the official tool refuses such ids (it adds 10000 x the sequence index); use smaller ids",
        )
    n_sequences = n_scored = 0
    for s, name in enumerate(tracks.sequence_names):
        frames = np.flatnonzero(tracks.frame_sequence == s)
        if len(frames) == 0:
            continue
        if len(frames) == 1:
            if diag is not None:
                diag.warn(
                    "sequence with one counted frame",
                    name,
                    "the official tool leaves out the last counted frame of every sequence (and fails on a "
                    "sequence with only one), so it adds nothing to the tracking scores; label more frames",
                )
            continue
        n_sequences += 1
        accs = [ClearMotAccumulator() for _ in range(NUM_EVAL_JOINTS)]
        for f in frames[:-1]:  # the tool leaves out each sequence's last counted frame
            n_scored += 1
            if not (tracks.gt_listed[f] and tracks.pr_listed[f]):
                for acc in accs:
                    acc.add_unmatchable_pair()
                continue
            gs, ps = slice(gt_start[f], gt_start[f + 1]), slice(pr_start[f], pr_start[f + 1])
            _update_frame(accs, arrays, tracks, gs, ps, threshold)
        for j, acc in enumerate(accs):
            objects[j] += acc.objects
            misses[j] += acc.misses
            fps[j] += acc.false_positives
            switches[j] += acc.switches
            dets[j] += acc.matches + acc.switches
            dsum_events[j] += acc.event_distance
            dsum_matched[j] += acc.matched_distance
    mota, motp, precision, recall = _percent_scores(objects, misses, fps, switches, dets, dsum_events)
    motp_matched = _percent_scores(objects, misses, fps, switches, dets, dsum_matched)[1]
    return TrackingMetrics(
        mota=mota,
        motp=motp,
        precision=precision,
        recall=recall,
        motp_matched=motp_matched,
        num_objects=objects,
        num_misses=misses,
        num_false_positives=fps,
        num_switches=switches,
        num_detections=dets,
        sequences=n_sequences,
        scored_frames=n_scored,
    )
