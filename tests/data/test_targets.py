import math

import numpy as np
import pytest

from pstpose import preprocess
from pstpose.data.targets import gaussian_heatmaps, joint_weights, make_targets
from pstpose.keypoints import JOINT_INDEX

HM = (64, 48)


def test_gaussian_matches_the_formula_pixel_by_pixel():
    centre = (17.3, 40.8)
    (hm,) = gaussian_heatmaps(np.array([centre]), np.ones(1), HM, sigma=2.0)
    for y, x in [(40, 17), (41, 18), (0, 0), (45, 20), (63, 47)]:
        expected = math.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / 8.0)
        assert hm[y, x] == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert hm.dtype == np.float32


@pytest.mark.parametrize("centre", [(23.5, 31.5), (16.26, 20.71), (30.9, 44.05), (24.0, 32.0)])  # >= 5 sigma from borders
@pytest.mark.parametrize("sigma", [1.5, 2.0, 3.0])
def test_target_peaks_at_the_subpixel_keypoint(centre, sigma):
    (hm,) = gaussian_heatmaps(np.array([centre]), np.ones(1), HM, sigma)
    y, x = np.unravel_index(np.argmax(hm), hm.shape)
    assert abs(x - centre[0]) <= 0.5 and abs(y - centre[1]) <= 0.5
    ys, xs = np.mgrid[0 : HM[0], 0 : HM[1]]
    total = hm.astype(np.float64).sum()
    centroid = ((hm * xs).sum() / total, (hm * ys).sum() / total)
    assert centroid == pytest.approx(centre, abs=1e-3)
    # The Gaussian's mass is 2 pi sigma^2 when it is far from the borders.
    assert total == pytest.approx(2 * math.pi * sigma**2, rel=1e-4)


def test_crop_keypoint_lands_at_its_heatmap_coordinate():
    crop_xy = np.array([[101.3, 57.9]])
    target, weight = make_targets(crop_xy, np.array([True]), None, HM, 2.0)
    ys, xs = np.mgrid[0 : HM[0], 0 : HM[1]]
    hm = target[0].astype(np.float64)
    centroid = np.array([(hm * xs).sum(), (hm * ys).sum()]) / hm.sum()
    np.testing.assert_allclose(centroid, preprocess.crop_to_heatmap(crop_xy)[0], atol=1e-3)
    assert weight.tolist() == [1.0]


def test_weights_absent_outside_and_ears_are_zero():
    pts_hm = np.full((17, 2), 20.0)
    present = np.ones(17, bool)
    present[JOINT_INDEX["nose"]] = False
    pts_hm[JOINT_INDEX["left_wrist"]] = (-0.6, 10.0)  # just left of the heatmap's area
    pts_hm[JOINT_INDEX["right_wrist"]] = (-0.5, 10.0)  # on its left edge: inside
    pts_hm[JOINT_INDEX["left_ankle"]] = (10.0, 63.5)  # on the bottom edge: outside ([i-.5, i+.5))
    pts_hm[JOINT_INDEX["right_ankle"]] = (10.0, 63.49)
    pts_hm[JOINT_INDEX["left_knee"]] = (np.nan, 3.0)
    w = joint_weights(present, np.ones(17), pts_hm, HM)
    zero = {"nose", "left_ear", "right_ear", "left_wrist", "left_ankle", "left_knee"}
    for name, i in JOINT_INDEX.items():
        assert w[i] == (0.0 if name in zero else 1.0), name
    assert w.dtype == np.float32


def test_occluded_but_annotated_joints_count_unless_visibility_is_used():
    vis = np.ones(17)
    vis[JOINT_INDEX["left_knee"]] = 0.0
    pts = np.full((17, 2), 20.0)
    assert joint_weights(np.ones(17, bool), vis, pts, HM)[JOINT_INDEX["left_knee"]] == 1.0
    assert joint_weights(np.ones(17, bool), vis, pts, HM, use_visibility=True)[JOINT_INDEX["left_knee"]] == 0.0


def test_unsupervised_joints_have_all_zero_targets():
    pts_crop = np.full((17, 2), 90.0)
    pts_crop[JOINT_INDEX["left_hip"]] = (500.0, 90.0)  # outside the crop
    target, weight = make_targets(pts_crop, np.ones(17, bool), np.ones(17), HM, 2.0)
    assert target.shape == (17, 64, 48)
    assert weight[JOINT_INDEX["left_hip"]] == 0 and not target[JOINT_INDEX["left_hip"]].any()
    assert not target[JOINT_INDEX["left_ear"]].any()
    assert target[JOINT_INDEX["right_hip"]].max() > 0.9
