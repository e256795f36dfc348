"""``PoseResult``: the poses of one frame, as the predictor yields them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pstpose.keypoints import POSETRACK, JointSet


def _round(values: np.ndarray, digits: int) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


@dataclass
class PoseResult:
    """Persons found in one frame.

    boxes: (N, 4) [x1, y1, x2, y2] image coordinates of the boxes the crops were made from.
    box_scores: (N,) detector (or box-file) scores.
    track_ids: (N,) int, stable across frames; -1 when no tracker ran or a weak detection
        (box score under the tracker's ``new_track_score``) neither joined nor started a track.
    keypoints: (N, K, 2) float image coordinates (pixel-index convention, see preprocess), in the
        order of ``joint_set`` (the model's: PoseTrack's 17 slots, or COCO's for a COCO head).
    keypoint_scores: (N, K) heatmap peak values (times the box score if asked for).
    image: the BGR frame (kept for ``plot``; None when the predictor was told not to keep it).
    """

    frame_index: int
    boxes: np.ndarray
    box_scores: np.ndarray
    track_ids: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    image_size: tuple[int, int]  # (width, height)
    image: np.ndarray | None = field(default=None, repr=False)
    file_name: Path | None = None
    joint_set: JointSet = POSETRACK

    @classmethod
    def empty(
        cls, frame_index: int, image_size: tuple[int, int], image=None, file_name=None, joint_set: JointSet = POSETRACK
    ) -> PoseResult:
        k = len(joint_set)
        return cls(
            frame_index=frame_index,
            boxes=np.zeros((0, 4)),
            box_scores=np.zeros(0),
            track_ids=np.zeros(0, dtype=np.int64),
            keypoints=np.zeros((0, k, 2)),
            keypoint_scores=np.zeros((0, k)),
            image_size=image_size,
            image=image,
            file_name=file_name,
            joint_set=joint_set,
        )

    def __len__(self) -> int:
        return len(self.boxes)

    def plot(self, image: np.ndarray | None = None, kpt_thr: float = 0.3, boxes: bool = True) -> np.ndarray:
        """The frame (or ``image``) with skeletons, per-track boxes and ids drawn (BGR)."""
        from pstpose.visualize import draw_poses

        base = self.image if image is None else image
        if base is None:
            raise ValueError("this result holds no image; pass one to plot(image=...)")
        return draw_poses(
            base,
            self.keypoints,
            self.keypoint_scores,
            boxes=self.boxes if boxes else None,
            track_ids=self.track_ids if boxes else None,
            kpt_thr=kpt_thr,
            joints=self.joint_set,
        )

    def to_dict(self, digits: int = 2) -> dict:
        """The frame entry of the native JSON (see docs/inference.md): bbox as [x, y, w, h]."""
        instances = []
        for i in range(len(self)):
            x1, y1, x2, y2 = self.boxes[i]
            instances.append(
                {
                    "track_id": int(self.track_ids[i]),
                    "bbox": _round([x1, y1, x2 - x1, y2 - y1], digits),
                    "bbox_score": round(float(self.box_scores[i]), 4),
                    "keypoints": _round(self.keypoints[i], digits),
                    "keypoint_scores": _round(self.keypoint_scores[i], 4),
                }
            )
        entry: dict = {"frame_index": int(self.frame_index)}
        if self.file_name is not None:
            entry["file_name"] = Path(self.file_name).name
        entry["instances"] = instances
        return entry
