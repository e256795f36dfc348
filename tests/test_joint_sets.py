"""Joint sets: flip pairs derived from names equal the datasets' published flip indices, name
mappings between sets, and the flip test of a COCO head on hand-made heatmaps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pstpose.codec import decode_heatmaps
from pstpose.inference.predictor import run_model
from pstpose.keypoints import AIC, COCO, JOINT_SETS, MPII, POSETRACK, WHOLEBODY, generic_joint_set, joint_set_for

# The datasets' own flip index tables (mmpose's dataset metadata and the COCO/MPII/AIC
# conventions), written out by hand: perm[i] = the joint that lands on i after a mirror.
PUBLISHED_FLIP = {
    "coco": [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
    "posetrack": [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
    "mpii": [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10],
    "aic": [3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 12, 13],
    "animal": [1, 0, 2, 3, 4, 8, 9, 10, 5, 6, 7, 14, 15, 16, 11, 12, 13],
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_FLIP))
def test_flip_permutations_equal_the_published_tables(name):
    assert JOINT_SETS[name].flip_permutation() == PUBLISHED_FLIP[name]


def test_wholebody_flip_is_a_mirror_involution():
    perm = WHOLEBODY.flip_permutation()
    assert len(perm) == 133 and sorted(perm) == list(range(133))
    assert all(perm[perm[i]] == i for i in range(133))
    face = WHOLEBODY.joints.index("face_0")
    assert perm[face] == face + 16 and perm[face + 8] == face + 8  # jaw ends swap, chin stays
    assert perm[face + 36] == face + 45 and perm[face + 30] == face + 30  # eye corners; nose tip
    hand = WHOLEBODY.joints.index("left_hand_root")
    assert WHOLEBODY.joints[perm[hand + 4]] == "right_hand_thumb4"
    # every pair joins a left and a right joint, or two face points mirrored about the midline
    for a, b in WHOLEBODY.flip_pairs:
        na, nb = WHOLEBODY.joints[a], WHOLEBODY.joints[b]
        assert (na.startswith("face_") and nb.startswith("face_")) or na.replace("left", "right") == nb


def test_every_skeleton_links_existing_joints():
    for js in JOINT_SETS.values():
        assert all(0 <= a < len(js) and 0 <= b < len(js) and a != b for a, b in js.skeleton), js.name


def test_conversion_by_name():
    pts = np.arange(17 * 2, dtype=float).reshape(1, 17, 2)
    scores = np.linspace(0.1, 0.9, 17)[None]
    out, sc, present = COCO.convert(pts, scores, POSETRACK)
    assert present[0].tolist() == [True, False, False] + [True] * 14  # head_bottom, head_top: none in COCO
    assert np.array_equal(out[0, 3:], pts[0, 3:]) and np.array_equal(sc[0, 3:], scores[0, 3:])
    assert (out[0, 1:3] == 0).all() and (sc[0, 1:3] == 0).all()
    _, _, present_back = MPII.convert(np.ones((16, 2)), np.ones(16), AIC)
    assert present_back.tolist() == [True] * 13 + [False]  # AIC's neck: MPII has upper_neck
    note = COCO.conversion_note(POSETRACK)
    assert "head_bottom, head_top have no coco joint" in note and "left_eye, right_eye not in posetrack" in note
    assert POSETRACK.conversion_note(POSETRACK) is None


def test_joint_set_for_falls_back_to_unnamed_channels():
    assert joint_set_for("coco", 17) is COCO
    generic = joint_set_for("coco", 5)
    assert generic.joints == tuple(f"keypoint_{i}" for i in range(5)) and generic.flip_pairs == ()
    assert generic_joint_set(3).flip_permutation() == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown joint set 'cocoa'"):
        joint_set_for("cocoa", 17)


def _gauss(x, y, shape=(64, 48), sigma=2.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))


class MirrorAwareHeatmaps(torch.nn.Module):
    """Hand-made heatmaps of a person facing the camera: left eye at x = 30 (image right), right
    eye at x = 16, nose at 23. On a mirrored crop (found by a marker pixel) it answers as a
    perfect model would: every point mirrored, and the eye on the image right is again the
    left one."""

    def __init__(self, joints):
        super().__init__()
        self.joint_set = joints
        self.config = SimpleNamespace(frames_per_side=0, num_frames=1, image_size=(256, 192))

    def forward(self, clip):
        out = np.zeros((clip.shape[0], 17, 64, 48), np.float32)
        for i in range(clip.shape[0]):
            mirrored = bool(clip[i, 0, 0, 0, -1] > clip[i, 0, 0, 0, 0])
            points = {0: (23, 20), 1: (30, 18), 2: (16, 18), 9: (40, 50), 10: (6, 50)}
            for joint, (x, y) in points.items():
                if mirrored:
                    x = 47 - x
                    joint = {1: 2, 2: 1, 9: 10, 10: 9}.get(joint, joint)  # anatomy, seen mirrored
                out[i, joint] = _gauss(x, y)
        return torch.from_numpy(out)


def test_coco_flip_test_keeps_both_eyes_in_place():
    crops = np.zeros((1, 1, 3, 256, 192), np.float32)
    crops[0, 0, :, 0, 0] = 1.0  # the marker: mirrored crops have it at the right edge
    coco = MirrorAwareHeatmaps(COCO)
    coords, _ = decode_heatmaps(run_model(coco, crops, flip=True), "argmax")
    assert coords[0, 1].tolist() == [30, 18] and coords[0, 2].tolist() == [16, 18]
    assert coords[0, 9].tolist() == [40, 50] and coords[0, 10].tolist() == [6, 50]
    # PoseTrack's flip pairs (no (1, 2)) on the same heatmaps merge the eyes: the guard can fail
    wrong = MirrorAwareHeatmaps(POSETRACK)
    heat = run_model(wrong, crops, flip=True)
    assert heat[0, 1, 18, 16] > 0.4 and heat[0, 1, 18, 30] > 0.4  # one channel, both eyes
