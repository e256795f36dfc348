"""Ground truth of one frame from the label map: per-joint visibility, absent joints, person box
and head box.

Rules (documented in docs/synthetic.md):
* A joint is visible (v = 1) when the label-map pixel at its rounded position belongs to one of
  the parts that meet at that joint, of the same person. Two extra self-occlusion rules: the nose
  is visible only when the face is turned towards the camera, and a shoulder or hip seen only
  through the torso is visible only when its side of the body is not turned away.
* Otherwise, inside the frame, the joint is occluded: it keeps its true position with v = 0.
* Joints outside the frame but within ``OUTSIDE_MARGIN`` x max(width, height) of it keep their
  (possibly negative) coordinates with v = 0; further out they are absent: (0, 0, 0).
* Ears exist in the skeleton but are always written as (0, 0, 0), like the real data.
* A person is annotated in a frame only when at least ``MIN_VISIBLE_JOINTS`` joints are visible.
* ``bbox`` is the box around all present joints, enlarged 1.3x about its centre (this is how the
  real PoseTrack18 boxes relate to their joints); ``bbox_head`` is the drawn head ellipse's box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pstpose.data.synthetic import parts as P
from pstpose.data.synthetic.scene import PersonPlan, ScenePlan
from pstpose.data.synthetic.skeleton import HEAD_CENTER, PELVIS
from pstpose.keypoints import JOINT_INDEX as J
from pstpose.keypoints import NUM_JOINTS, UNANNOTATED_JOINTS

OUTSIDE_MARGIN = 0.1
MIN_VISIBLE_JOINTS = 3
BBOX_ENLARGE = 1.3
HEAD_ASPECT = 1.15  # drawn head height / width

_SIDE_JOINTS = {
    J["left_shoulder"]: 1.0,
    J["left_hip"]: 1.0,
    J["right_shoulder"]: -1.0,
    J["right_hip"]: -1.0,
}


@dataclass
class PersonGT:
    """One person's ground truth in one frame (pixel-index coordinates)."""

    track_id: int
    keypoints: np.ndarray  # (17, 3) x, y, v; absent joints (0, 0, 0)
    bbox: np.ndarray  # (4,) x, y, w, h
    head_box: np.ndarray  # (4,) x, y, w, h
    depth: float  # pelvis distance from the camera, metres
    joint_depth: np.ndarray  # (17,) metres

    @property
    def present(self) -> np.ndarray:
        return ~np.all(self.keypoints == 0, axis=1)

    @property
    def num_visible(self) -> int:
        return int((self.keypoints[:, 2] > 0).sum())


def _to_camera(plan: ScenePlan, point: np.ndarray) -> np.ndarray:
    d = np.array([0.0, plan.camera.cam_height, 0.0]) - point
    return d / max(float(np.linalg.norm(d)), 1e-9)


def person_ground_truth(plan: ScenePlan, t: int, idx: int, person: PersonPlan, labels: np.ndarray) -> PersonGT | None:
    h, w = labels.shape
    margin = OUTSIDE_MARGIN * max(h, w)
    uv = person.uv[t][:NUM_JOINTS]
    pts3 = person.body.points[t]
    kps = np.zeros((NUM_JOINTS, 3))
    for j in range(NUM_JOINTS):
        if j in UNANNOTATED_JOINTS:
            continue
        x, y = float(uv[j, 0]), float(uv[j, 1])
        if not (-margin <= x <= w - 1 + margin and -margin <= y <= h - 1 + margin):
            continue
        if x == 0.0 and y == 0.0:  # would read as "absent"
            x = 0.01
        visible = 0.0
        xi, yi = int(round(x)), int(round(y))
        if 0 <= xi < w and 0 <= yi < h:
            kind, owner, part = P.decode_label(int(labels[yi, xi]))
            if kind == "person" and owner == idx and part in P.JOINT_PARTS[j]:
                visible = 1.0
                if j == J["nose"] and np.dot(person.body.head_forward[t], _to_camera(plan, pts3[j])) <= 0.0:
                    visible = 0.0
                if j in _SIDE_JOINTS and part == P.TORSO:
                    side = person.body.left[t] * _SIDE_JOINTS[j]
                    if np.dot(side, _to_camera(plan, pts3[j])) < -0.35:
                        visible = 0.0
        kps[j] = (x, y, visible)
    if int((kps[:, 2] > 0).sum()) < MIN_VISIBLE_JOINTS:
        return None
    present = ~np.all(kps == 0, axis=1)
    lo, hi = kps[present, :2].min(axis=0), kps[present, :2].max(axis=0)
    center, size = (lo + hi) / 2, (hi - lo) * BBOX_ENLARGE
    bbox = np.array([center[0] - size[0] / 2, center[1] - size[1] / 2, size[0], size[1]])
    r = person.shape.head_r * plan.camera.focal / float(person.depth[t][HEAD_CENTER])
    hc = person.uv[t][HEAD_CENTER]
    head_box = np.array([hc[0] - r, hc[1] - HEAD_ASPECT * r, 2 * r, 2 * HEAD_ASPECT * r])
    return PersonGT(
        track_id=person.track_id,
        keypoints=kps,
        bbox=bbox,
        head_box=head_box,
        depth=float(person.depth[t][PELVIS]),
        joint_depth=person.depth[t][:NUM_JOINTS].copy(),
    )


def frame_ground_truth(plan: ScenePlan, t: int, labels: np.ndarray) -> list[PersonGT]:
    out = []
    for idx, person in enumerate(plan.people):
        gt = person_ground_truth(plan, t, idx, person, labels)
        if gt is not None:
            out.append(gt)
    return out
