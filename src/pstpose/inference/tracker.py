"""Track ids across frames: IoU + pose similarity (OKS), Hungarian assignment.

Each track remembers its last box and pose and a constant-velocity estimate of its motion, so
that two people who cross are matched against where each is *going*, not where both were when
they overlapped. A detection and a track are matched when their similarity
``w_iou * IoU + w_pose * OKS`` (weights renormalised when a pose is missing) reaches
``min_similarity``; tracks unmatched for more than ``max_missed`` frames end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from pstpose.keypoints import POSETRACK, JointSet

# Per-joint OKS falloff (COCO's constants for shared names; head_bottom as a shoulder, head_top
# as the nose: both are small, precisely located head points, and head_bottom is neck-like).
_SIGMA_BY_NAME = {
    "nose": 0.026,
    "head_bottom": 0.079,
    "head_top": 0.026,
    "left_ear": 0.035,
    "right_ear": 0.035,
    "left_shoulder": 0.079,
    "right_shoulder": 0.079,
    "left_elbow": 0.072,
    "right_elbow": 0.072,
    "left_wrist": 0.062,
    "right_wrist": 0.062,
    "left_hip": 0.107,
    "right_hip": 0.107,
    "left_knee": 0.087,
    "right_knee": 0.087,
    "left_ankle": 0.089,
    "right_ankle": 0.089,
    "left_eye": 0.025,
    "right_eye": 0.025,
}
_DEFAULT_SIGMA = 0.05  # joints of other sets (hands, face, animals): a middling falloff


def oks_sigmas(joints: JointSet) -> np.ndarray:
    """The per-joint OKS falloff of a joint set, by name."""
    return np.array([_SIGMA_BY_NAME.get(n, _DEFAULT_SIGMA) for n in joints.joints])


OKS_SIGMAS = oks_sigmas(POSETRACK)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes a (M, 4) and b (N, 4), both [x1, y1, x2, y2]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def pose_oks(
    kpts_a: np.ndarray,
    vis_a: np.ndarray,
    kpts_b: np.ndarray,
    vis_b: np.ndarray,
    areas_b: np.ndarray,
    sigmas: np.ndarray = OKS_SIGMAS,
) -> np.ndarray:
    """OKS-like similarity matrix (M, N) between poses a (M, K, 2) and b (N, K, 2).

    Only joints visible in both count; pairs without a common joint get NaN. ``areas_b`` is the
    scale (box area) of each b pose.
    """
    d2 = ((kpts_a[:, None] - kpts_b[None]) ** 2).sum(-1)  # (M, N, K)
    var = (2 * np.asarray(sigmas)) ** 2
    e = d2 / (2 * var * np.maximum(areas_b, 1.0)[None, :, None])
    both = vis_a[:, None] & vis_b[None]
    count = both.sum(-1)
    total = (np.exp(-e) * both).sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass
class TrackerConfig:
    iou_weight: float = 0.5
    pose_weight: float = 0.5
    min_similarity: float = 0.2  # below this a detection starts a new track
    max_missed: int = 10  # frames a track survives without a match
    kpt_thr: float = 0.3  # joints under this score are ignored by the pose similarity
    velocity_smoothing: float = 0.5  # weight of the newest displacement in the velocity estimate


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    keypoints: np.ndarray | None
    visible: np.ndarray | None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    missed: int = 0


class Tracker:
    """Online tracker: call ``update`` once per frame, in order, with that frame's persons."""

    def __init__(self, config: TrackerConfig | None = None, joints: JointSet = POSETRACK):
        self.config = config or TrackerConfig()
        self.joints = joints  # the predictor sets its model's joint set
        self._tracks: list[_Track] = []
        self._next_id = 0

    def reset(self) -> None:
        self._tracks = []
        self._next_id = 0

    @property
    def active_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks]

    def _similarity(self, boxes: np.ndarray, kpts: np.ndarray | None, vis: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        gaps = np.array([t.missed + 1 for t in self._tracks], dtype=np.float64)
        shift = np.stack([t.velocity for t in self._tracks]) * gaps[:, None]
        pred_boxes = np.stack([t.box for t in self._tracks]) + np.tile(shift, 2)
        iou = box_iou(pred_boxes, boxes)
        if kpts is None or cfg.pose_weight <= 0:
            return iou
        has_pose = np.array([t.keypoints is not None for t in self._tracks])
        oks = np.full_like(iou, np.nan)
        if has_pose.any():
            idx = np.flatnonzero(has_pose)
            pred_kpts = np.stack([self._tracks[i].keypoints for i in idx]) + shift[idx, None, :]
            pred_vis = np.stack([self._tracks[i].visible for i in idx])
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            oks[idx] = pose_oks(pred_kpts, pred_vis, kpts, vis, areas, oks_sigmas(self.joints))
        total = cfg.iou_weight + cfg.pose_weight
        mixed = (cfg.iou_weight * iou + cfg.pose_weight * np.nan_to_num(oks)) / total
        return np.where(np.isnan(oks), iou, mixed)

    def update(
        self,
        boxes: np.ndarray,
        keypoints: np.ndarray | None = None,
        keypoint_scores: np.ndarray | None = None,
    ) -> np.ndarray:
        """Assign track ids to this frame's persons: boxes (N, 4) xyxy, keypoints (N, K, 2) in
        ``self.joints``' order."""
        cfg = self.config
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        kpts = vis = None
        if keypoints is not None:
            k = len(self.joints)
            kpts = np.asarray(keypoints, dtype=np.float64).reshape(n, k, 2)
            if keypoint_scores is None:
                vis = np.isfinite(kpts).all(-1)
            else:
                vis = np.asarray(keypoint_scores).reshape(n, k) >= cfg.kpt_thr
            vis[:, list(self.joints.unannotated)] = False
            kpts = np.nan_to_num(kpts)
        ids = np.full(n, -1, dtype=np.int64)
        matched_tracks: set[int] = set()
        if self._tracks and n:
            sim = self._similarity(boxes, kpts, vis)
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] >= cfg.min_similarity:
                    self._refresh(self._tracks[r], boxes[c], kpts, vis, c)
                    ids[c] = self._tracks[r].track_id
                    matched_tracks.add(r)
        for r, track in enumerate(self._tracks):
            if r not in matched_tracks:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= cfg.max_missed]
        for c in np.flatnonzero(ids < 0):
            track = _Track(
                track_id=self._next_id,
                box=boxes[c].copy(),
                keypoints=None if kpts is None else kpts[c].copy(),
                visible=None if vis is None else vis[c].copy(),
            )
            self._tracks.append(track)
            ids[c] = self._next_id
            self._next_id += 1
        return ids

    def _refresh(self, track: _Track, box: np.ndarray, kpts, vis, c: int) -> None:
        a = self.config.velocity_smoothing
        gap = track.missed + 1
        old_center = (track.box[:2] + track.box[2:]) / 2
        new_center = (box[:2] + box[2:]) / 2
        step = (new_center - old_center) / gap
        track.velocity = a * step + (1 - a) * track.velocity
        track.box = box.copy()
        if kpts is not None:
            track.keypoints = kpts[c].copy()
            track.visible = vis[c].copy()
        track.missed = 0
