"""PoseTrack per-joint AP: matching, per-frame assignment and VOC all-point AP.

Works on flat arrays (``PoseArrays``) pooled over every counted frame of every sequence, in
the evaluator's 15-joint order (PoseTrack17 ids, ``pstpose.keypoints.PT17_JOINT_NAMES``).
The matching step handles all frames at once: it builds every (prediction, GT) pair of the
same frame with index arithmetic and computes distances, pck and the two-stage assignment as
numpy operations over pairs x joints — no Python loop over frames, persons or joints. Only
the final AP loops over the 15 joints, because each joint's list must be sorted on its own
exactly as the official tool sorts it (that fixes the order of tied scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_EVAL_JOINTS = 15
# Pairs handled per chunk: bounds memory when a file holds very many detections per frame.
MAX_PAIRS_PER_CHUNK = 400_000


def pckh_distance(gt_xy: np.ndarray, pr_xy: np.ndarray, gt_head: np.ndarray) -> np.ndarray:
    """Joint distance over the GT head size, ``sqrt(dx² + dy²) / head``, elementwise with
    broadcasting (xy in the last axis; ``gt_head`` shaped to broadcast against the rest). The one
    formula AP matching and tracking matching both threshold; missing joints (inf/nan) give
    inf/nan, which never pass ``<=``."""
    diff = pr_xy - gt_xy
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]) / gt_head


@dataclass
class PoseArrays:
    """Every counted frame's GT and predicted persons, pooled.

    ``*_frame`` is the counted-frame index of each person and must be non-decreasing; within a
    frame persons keep their file order (ties in the assignment go to the lowest index).
    """

    n_frames: int
    gt_xy: np.ndarray  # (NG, 15, 2)
    gt_has: np.ndarray  # (NG, 15) bool
    gt_head: np.ndarray  # (NG,) head size in pixels
    gt_frame: np.ndarray  # (NG,) int
    pr_xy: np.ndarray  # (NP, 15, 2)
    pr_has: np.ndarray  # (NP, 15) bool
    pr_score: np.ndarray  # (NP, 15) float64
    pr_frame: np.ndarray  # (NP,) int


@dataclass
class JointMetrics:
    """Per-joint results in the 15-joint order; AP, precision and recall in percent."""

    ap: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    n_gt: np.ndarray
    n_pred: np.ndarray


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def assign_predictions(arrays: PoseArrays, threshold: float = 0.5) -> np.ndarray:
    """(NP, 15) bool labels: prediction p is a true positive on joint j.

    A prediction's label is its joint match with the one GT it was assigned to (step 6 of the
    protocol), or False when it was assigned none.
    """
    n_pred = len(arrays.pr_frame)
    labels = np.zeros((n_pred, NUM_EVAL_JOINTS), dtype=bool)
    if n_pred == 0 or len(arrays.gt_frame) == 0:
        return labels
    n_gt = np.bincount(arrays.gt_frame, minlength=arrays.n_frames)
    n_pr = np.bincount(arrays.pr_frame, minlength=arrays.n_frames)
    gt_start, pr_start = _offsets(n_gt), _offsets(n_pr)
    pairs = n_gt * n_pr
    gt_joint_count = arrays.gt_has.sum(axis=1)
    # Chunks of whole frames, each under the pair budget (a single huge frame is its own chunk).
    cum = np.cumsum(pairs)
    begin = 0
    while begin < arrays.n_frames:
        base = cum[begin - 1] if begin else 0
        end = int(np.searchsorted(cum, base + MAX_PAIRS_PER_CHUNK, side="right"))
        end = max(end, begin + 1)
        frames = np.arange(begin, end)
        _assign_chunk(arrays, frames, n_gt, n_pr, gt_start, pr_start, gt_joint_count, threshold, labels)
        begin = end
    return labels


def _assign_chunk(
    a: PoseArrays,
    frames: np.ndarray,
    n_gt: np.ndarray,
    n_pr: np.ndarray,
    gt_start: np.ndarray,
    pr_start: np.ndarray,
    gt_joint_count: np.ndarray,
    threshold: float,
    labels: np.ndarray,
) -> None:
    pairs = n_gt[frames] * n_pr[frames]
    total = int(pairs.sum())
    if total == 0:
        return
    # Pair k of frame f is (prediction k // G_f, GT k % G_f): prediction-major, GT-minor.
    pair_frame = np.repeat(frames, pairs)
    local = np.arange(total) - np.repeat(_offsets(pairs), pairs)
    g_count = n_gt[pair_frame]
    p_local = local // g_count
    g_local = local - p_local * g_count
    pi = pr_start[pair_frame] + p_local
    gi = gt_start[pair_frame] + g_local

    # Joint matches: both have the joint and distance / head size <= threshold (inclusive).
    dist = pckh_distance(a.gt_xy[gi], a.pr_xy[pi], a.gt_head[gi][:, None])
    match = a.pr_has[pi] & a.gt_has[gi] & (dist <= threshold)

    # pck = matched joints / joints the GT has (a GT with no joint keeps the raw count, 0).
    matched = np.count_nonzero(match, axis=1).astype(np.float64)
    denom = gt_joint_count[gi]
    pck = np.where(denom > 0, matched / np.maximum(denom, 1), matched)

    # Stage 1: each prediction keeps its best GT (first index on ties).
    starts = np.flatnonzero(g_local == 0)  # one segment per prediction, G_f pairs long
    best = np.maximum.reduceat(pck, starts)
    seg_len = g_count[starts]
    is_best = pck == np.repeat(best, seg_len)
    best_g = np.minimum.reduceat(np.where(is_best, g_local, np.iinfo(np.int64).max), starts)

    # Stage 2: each GT takes, among predictions that kept it with pck > 0, the highest pck
    # (first prediction on ties).
    keep = best > 0
    cand_seg = np.flatnonzero(keep)
    if len(cand_seg) == 0:
        return
    cand_gt = gi[starts[cand_seg] + best_g[cand_seg]]
    cand_pred = pi[starts[cand_seg]]
    order = np.lexsort((cand_pred, -best[cand_seg], cand_gt))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cand_gt[order][1:] != cand_gt[order][:-1]
    winners = cand_seg[order[first]]
    win_pairs = starts[winners] + best_g[winners]
    labels[pi[win_pairs]] = match[win_pairs]


def voc_average_precision(
    scores: np.ndarray, labels: np.ndarray, n_gt: int, recall_floor_one: bool
) -> tuple[float, float, float]:
    """(AP, precision, recall) in percent for one joint's pooled score/label list.

    Sorted by ``np.argsort(scores)[::-1]`` as the official tool sorts; precision is made
    non-increasing from the right; AP sums Δrecall x precision where recall changes.
    ``recall_floor_one`` divides recall by max(n_gt, 1) (PoseTrack21 kit); otherwise a joint
    without GT gets NaN recall and AP. Precision and recall are the values at the last rank.
    """
    if len(scores) == 0:
        return 0.0, 0.0, 0.0
    order = np.argsort(scores)[::-1]
    tp = np.cumsum(labels[order].astype(np.int64)).astype(np.float64)
    rank = np.arange(1, len(order) + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / (max(n_gt, 1) if recall_floor_one else float(n_gt))
    precision = tp / rank
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    ap = float(np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx]))
    return ap * 100.0, float(precision[-1]) * 100.0, float(recall[-1]) * 100.0


def joint_metrics(arrays: PoseArrays, labels: np.ndarray, recall_floor_one: bool) -> JointMetrics:
    """Pool the per-joint score/label lists (frame order, then prediction order) and score them."""
    n_gt = arrays.gt_has.sum(axis=0).astype(np.int64)
    n_pred = arrays.pr_has.sum(axis=0).astype(np.int64)
    ap = np.zeros(NUM_EVAL_JOINTS)
    precision = np.zeros(NUM_EVAL_JOINTS)
    recall = np.zeros(NUM_EVAL_JOINTS)
    for j in range(NUM_EVAL_JOINTS):  # one sort per joint, as the tool does it
        has = arrays.pr_has[:, j]
        ap[j], precision[j], recall[j] = voc_average_precision(
            arrays.pr_score[has, j], labels[has, j], int(n_gt[j]), recall_floor_one
        )
    return JointMetrics(ap=ap, precision=precision, recall=recall, n_gt=n_gt, n_pred=n_pred)
