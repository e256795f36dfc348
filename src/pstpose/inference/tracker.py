"""Track ids across frames: motion-predicted boxes, pose similarity (OKS), Hungarian assignment.

Each track remembers its last box and pose and a velocity fitted to its recent box centres, so
that two people who cross are matched against where each is *going*, not where both were when
they overlapped. Every frame is associated in stages:

1. confident detections (box score >= ``high_score``) against the tracks seen in the previous
   frame, on ``w_iou * IoU + w_pose * OKS`` between the detection and the track's predicted box
   and pose (weights renormalised when a pose is missing), accepted from ``min_similarity``;
2. the confident detections left against *lost* tracks (unseen for up to ``max_missed`` frames),
   on a buffered IoU with the predicted box (both boxes enlarged in proportion to the time lost,
   since the prediction grows less certain) plus the similarity of the pose *shapes*, with the
   box sizes required to agree within ``max_size_ratio``; the predicted speed of a lost track
   decays by ``velocity_damping`` per frame so a long gap does not fling the box away;
3. the less confident detections (``low_score`` <= score < ``high_score``) against any track
   still unmatched, stricter (``low_min_similarity``): they extend tracks, never start them.

Confident detections left over (score >= ``new_track_score``) start tracks; a new track counts
as confirmed after ``confirm_hits`` matches (or when it starts on the first frame) and is dropped
after ``tentative_max_missed`` missed frames until then, so a one-frame false positive does not
linger to capture someone later. The default confirms at birth (``confirm_hits = 1``): on the
tracking benchmark (benchmarks/tracking.py) dropping unconfirmed tracks cost more identities,
through real people missed twice early on, than the false positives it removed once box scores
are used. Detections that neither match nor start a track get id -1. Without box scores every
detection counts as confident; ``PosePredictor`` passes its detector's scores (all in [0, 1]).
"""

from __future__ import annotations

from collections import deque
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
    """Tracker settings. Scores are box scores in [0, 1]; frame counts are in updates."""

    iou_weight: float = 0.5
    pose_weight: float = 0.5
    min_similarity: float = 0.2  # below this a confident detection does not join a track
    max_missed: int = 60  # frames a lost track waits to be re-associated before it ends
    kpt_thr: float = 0.3  # joints under this score are ignored by the pose similarity
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement (0: no motion model)
    velocity_window: int = 8  # recent observations the velocity is fitted to (2: the last step)
    velocity_damping: float = 0.9  # per-frame decay of a lost track's predicted speed (1: none)
    high_score: float = 0.5  # detections from here are matched first and may start tracks
    low_score: float = 0.1  # detections under this are ignored
    new_track_score: float = 0.6  # the least score that starts a track
    low_min_similarity: float = 0.4  # acceptance of a low-score detection
    lost_buffer: float = 0.1  # enlargement of both boxes per missed frame (fraction of w, h per side)
    max_lost_buffer: float = 1.0
    max_size_ratio: float = 1.6  # largest sqrt(area) ratio between a lost track and its detection
    confirm_hits: int = 1  # matches that confirm a new track (1: confirmed at birth)
    tentative_max_missed: int = 1  # frames an unconfirmed track survives unmatched

    def __post_init__(self) -> None:
        for name in ("iou_weight", "pose_weight", "lost_buffer", "max_lost_buffer"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"TrackerConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.iou_weight + self.pose_weight <= 0:
            raise ValueError("TrackerConfig: iou_weight + pose_weight must be > 0")
        for name in ("velocity_smoothing", "velocity_damping"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"TrackerConfig.{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("max_missed", "tentative_max_missed"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrackerConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.velocity_window < 2:
            raise ValueError(f"TrackerConfig.velocity_window must be >= 2, got {self.velocity_window!r}")
        if self.confirm_hits < 1:
            raise ValueError(f"TrackerConfig.confirm_hits must be >= 1, got {self.confirm_hits!r}")
        if self.max_size_ratio < 1:
            raise ValueError(f"TrackerConfig.max_size_ratio must be >= 1, got {self.max_size_ratio!r}")
        if not self.low_score <= self.high_score:
            raise ValueError(
                f"TrackerConfig: low_score ({self.low_score}) must not exceed high_score ({self.high_score})"
            )


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    keypoints: np.ndarray | None
    visible: np.ndarray | None
    history: deque  # (frame, cx, cy, w, h) of the recent observations
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    missed: int = 0
    hits: int = 1
    confirmed: bool = False


def _center(box: np.ndarray) -> np.ndarray:
    return (box[..., :2] + box[..., 2:]) / 2


def _fitted_velocity(history: deque) -> np.ndarray:
    """Least-squares slope of the centres against the frame number: a velocity that box jitter
    moves far less than the last displacement alone would."""
    h = np.asarray(history, dtype=np.float64)
    t = h[:, 0] - h[:, 0].mean()
    c = h[:, 1:3] - h[:, 1:3].mean(0)
    return (t[:, None] * c).sum(0) / max((t**2).sum(), 1e-12)


def _enlarged(boxes: np.ndarray, fraction: float) -> np.ndarray:
    """Boxes grown by ``fraction`` of their width and height on every side."""
    size = boxes[..., 2:] - boxes[..., :2]
    return np.concatenate([boxes[..., :2] - fraction * size, boxes[..., 2:] + fraction * size], axis=-1)


class Tracker:
    """Online tracker: call ``update`` once per frame, in order, with that frame's persons."""

    def __init__(self, config: TrackerConfig | None = None, joints: JointSet = POSETRACK):
        self.config = config or TrackerConfig()
        self.joints = joints  # the predictor sets its model's joint set
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frame = 0

    def reset(self) -> None:
        self._tracks = []
        self._next_id = 0
        self._frame = 0

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks still alive: seen in the last frame or lost within ``max_missed``."""
        return [t.track_id for t in self._tracks]

    # --- prediction and similarities ---------------------------------------------------------
    def _predicted(self, tracks: list[_Track]) -> tuple[np.ndarray, np.ndarray]:
        """Each track's predicted box for this frame and the shift from its last observation."""
        d = self.config.velocity_damping
        gaps = np.array([t.missed + 1 for t in tracks], dtype=np.float64)
        # the first frame ahead at the full speed, each further lost frame at d times the previous
        steps = gaps if d >= 1 else (1 - d**gaps) / (1 - d)
        shift = np.stack([t.velocity for t in tracks]) * steps[:, None]
        sizes = np.stack([np.asarray(t.history, dtype=np.float64)[:, 3:5].mean(0) for t in tracks])
        centers = np.stack([_center(t.box) for t in tracks]) + shift
        return np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1), shift

    def _mix(self, iou: np.ndarray, oks: np.ndarray) -> np.ndarray:
        cfg = self.config
        total = cfg.iou_weight + cfg.pose_weight
        mixed = (cfg.iou_weight * iou + cfg.pose_weight * np.nan_to_num(oks)) / total
        return np.where(np.isnan(oks), iou, mixed)

    def _motion_similarity(self, tracks: list[_Track], boxes: np.ndarray, kpts, vis) -> np.ndarray:
        """IoU with the predicted box mixed with OKS against the predicted pose."""
        pred_boxes, shift = self._predicted(tracks)
        iou = box_iou(pred_boxes, boxes)
        if kpts is None or self.config.pose_weight <= 0:
            return iou
        oks = np.full_like(iou, np.nan)
        idx = np.array([i for i, t in enumerate(tracks) if t.keypoints is not None], dtype=np.int64)
        if len(idx):
            pred_kpts = np.stack([tracks[i].keypoints for i in idx]) + shift[idx, None, :]
            pred_vis = np.stack([tracks[i].visible for i in idx])
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            oks[idx] = pose_oks(pred_kpts, pred_vis, kpts, vis, areas, oks_sigmas(self.joints))
        return self._mix(iou, oks)

    def _recovery_similarity(self, tracks: list[_Track], boxes: np.ndarray, kpts, vis) -> np.ndarray:
        """Buffered IoU with the predicted box mixed with pose-shape OKS; -1 where the boxes do
        not touch even enlarged or their sizes disagree."""
        cfg = self.config
        pred_boxes, _ = self._predicted(tracks)
        biou = np.zeros((len(tracks), len(boxes)))
        for i, t in enumerate(tracks):
            buffer = min(cfg.lost_buffer * t.missed, cfg.max_lost_buffer)
            biou[i] = box_iou(_enlarged(pred_boxes[i], buffer), _enlarged(boxes, buffer))[0]
        size_t = np.sqrt(np.prod(pred_boxes[:, 2:] - pred_boxes[:, :2], axis=1))
        size_d = np.sqrt(np.clip(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1), 1e-12, None))
        ratio = np.maximum(size_t[:, None] / size_d[None], size_d[None] / size_t[:, None])
        sim = biou
        if kpts is not None and cfg.pose_weight > 0:
            oks = np.full_like(biou, np.nan)
            idx = np.array([i for i, t in enumerate(tracks) if t.keypoints is not None], dtype=np.int64)
            if len(idx):
                # poses relative to their box centres: the shape, not the place, of the pose
                own = np.stack([tracks[i].keypoints - _center(tracks[i].box) for i in idx])
                own_vis = np.stack([tracks[i].visible for i in idx])
                areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                rel = kpts - _center(boxes)[:, None, :]
                oks[idx] = pose_oks(own, own_vis, rel, vis, areas, oks_sigmas(self.joints))
            sim = self._mix(biou, oks)
        return np.where((biou > 0) & (ratio <= cfg.max_size_ratio), sim, -1.0)

    def _match(self, rows: list[int], cols: np.ndarray, similarity, threshold: float, boxes, kpts, vis):
        """Hungarian matching of tracks ``rows`` to detections ``cols``; pairs reaching ``threshold``."""
        if not rows or not len(cols):
            return []
        tracks = [self._tracks[r] for r in rows]
        sub_k = None if kpts is None else kpts[cols]
        sub_v = None if vis is None else vis[cols]
        sim = similarity(tracks, boxes[cols], sub_k, sub_v)
        r_idx, c_idx = linear_sum_assignment(-sim)
        return [(rows[i], int(cols[j])) for i, j in zip(r_idx, c_idx) if sim[i, j] >= threshold and sim[i, j] >= 0]

    # --- per frame ---------------------------------------------------------------------------
    def update(
        self,
        boxes: np.ndarray,
        keypoints: np.ndarray | None = None,
        keypoint_scores: np.ndarray | None = None,
        box_scores: np.ndarray | None = None,
    ) -> np.ndarray:
        """Assign track ids to this frame's persons: boxes (N, 4) xyxy (or (N, 5) with the score
        last), keypoints (N, K, 2) in ``self.joints``' order, box scores (N,) in [0, 1]. Returns
        (N,) ids; -1 for a detection that neither joins nor starts a track."""
        cfg = self.config
        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.ndim == 2 and boxes.shape[1] == 5:
            if box_scores is None:
                box_scores = boxes[:, 4]
            boxes = boxes[:, :4]
        if boxes.size % 4:
            raise ValueError(f"Tracker.update: boxes must be (N, 4) or (N, 5), got shape {boxes.shape}")
        boxes = boxes.reshape(-1, 4)
        n = len(boxes)
        if box_scores is None:
            scores = np.ones(n)
        else:
            scores = np.asarray(box_scores, dtype=np.float64).reshape(-1)
            if len(scores) != n:
                raise ValueError(f"Tracker.update: {len(scores)} box scores for {n} boxes")
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
        high = np.flatnonzero(scores >= cfg.high_score)
        low = np.flatnonzero((scores >= cfg.low_score) & (scores < cfg.high_score))
        matched: dict[int, int] = {}  # track row -> detection
        args = (boxes, kpts, vis)

        def remaining(dets: np.ndarray) -> np.ndarray:
            taken = set(matched.values())
            return np.array([c for c in dets if c not in taken], dtype=np.int64)

        recent = [r for r, t in enumerate(self._tracks) if t.missed == 0]
        matched.update(self._match(recent, high, self._motion_similarity, cfg.min_similarity, *args))
        lost = [r for r, t in enumerate(self._tracks) if t.missed > 0 and r not in matched]
        matched.update(self._match(lost, remaining(high), self._recovery_similarity, cfg.min_similarity, *args))
        rest = [r for r in range(len(self._tracks)) if r not in matched]
        matched.update(self._match(rest, low, self._motion_similarity, cfg.low_min_similarity, *args))

        for r, c in matched.items():
            self._refresh(self._tracks[r], boxes[c], kpts, vis, c)
            ids[c] = self._tracks[r].track_id
        survivors = []
        for r, track in enumerate(self._tracks):
            if r not in matched:
                track.missed += 1
            limit = cfg.max_missed if track.confirmed else min(cfg.tentative_max_missed, cfg.max_missed)
            if track.missed <= limit:
                survivors.append(track)
        self._tracks = survivors

        first = self._frame == 0
        for c in remaining(high):
            if scores[c] < cfg.new_track_score:
                continue
            track = _Track(
                track_id=self._next_id,
                box=boxes[c].copy(),
                keypoints=None if kpts is None else kpts[c].copy(),
                visible=None if vis is None else vis[c].copy(),
                history=deque([self._observation(boxes[c])], maxlen=cfg.velocity_window),
                confirmed=first or cfg.confirm_hits <= 1,
            )
            self._tracks.append(track)
            ids[c] = self._next_id
            self._next_id += 1
        self._frame += 1
        return ids

    def _observation(self, box: np.ndarray) -> tuple[float, float, float, float, float]:
        cx, cy = _center(box)
        return (float(self._frame), float(cx), float(cy), float(box[2] - box[0]), float(box[3] - box[1]))

    def _refresh(self, track: _Track, box: np.ndarray, kpts, vis, c: int) -> None:
        a = self.config.velocity_smoothing
        track.history.append(self._observation(box))
        track.velocity = a * _fitted_velocity(track.history) + (1 - a) * track.velocity
        track.box = box.copy()
        if kpts is not None:
            track.keypoints = kpts[c].copy()
            track.visible = vis[c].copy()
        track.missed = 0
        track.hits += 1
        track.confirmed = track.confirmed or track.hits >= self.config.confirm_hits
