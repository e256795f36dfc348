"""The heatmap codec: targets (encode), sub-pixel decoding, flip-back, the mapping to image
coordinates, and the round trip encode -> decode with one HeatmapCodec."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pstpose import preprocess
from pstpose.codec import (
    HeatmapCodec,
    decode_heatmaps,
    flip_back,
    gaussian_heatmaps,
    heatmap_stride,
    joint_weights,
    make_targets,
    to_image_coords,
)
from pstpose.keypoints import JOINT_INDEX, UNANNOTATED_JOINTS, flip_permutation
from pstpose.preprocess import CropBox, apply_affine, crop_matrix, crop_to_heatmap

HM = (64, 48)

# ---- encoding ----


def test_gaussian_matches_the_formula_pixel_by_pixel():
    centre = (17.3, 40.8)
    (hm,) = gaussian_heatmaps(np.array([centre]), np.ones(1), HM, sigma=2.0)
    for y, x in [(40, 17), (41, 18), (0, 0), (45, 20), (63, 47)]:
        expected = math.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / 8.0)
        assert hm[y, x] == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert hm.dtype == np.float32


@pytest.mark.parametrize(
    "centre", [(23.5, 31.5), (16.26, 20.71), (30.9, 44.05), (24.0, 32.0)]
)  # >= 5 sigma from borders
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


# ---- decoding ----


def _gaussians(centers, shape=(64, 48), sigma=2.0):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    c = np.asarray(centers, dtype=np.float64)
    return np.exp(-((xx - c[:, 0, None, None]) ** 2 + (yy - c[:, 1, None, None]) ** 2) / (2 * sigma**2))


@pytest.fixture
def random_centers(rng):
    return np.column_stack([rng.uniform(3, 44, 400), rng.uniform(3, 60, 400)])


def test_dark_is_sub_pixel_accurate_on_gaussians(random_centers):
    hm = _gaussians(random_centers).astype(np.float32).reshape(20, 20, 64, 48)
    coords, scores = decode_heatmaps(hm, "dark")
    err = np.linalg.norm(coords.reshape(-1, 2) - random_centers, axis=1)
    assert err.mean() < 0.01 and err.max() < 0.05
    argmax, _ = decode_heatmaps(hm, "argmax")
    err_argmax = np.linalg.norm(argmax.reshape(-1, 2) - random_centers, axis=1)
    assert err_argmax.mean() > 0.3  # the integer peak alone is far off
    # scores: the value at the integer peak = exp(-d^2 / 2 sigma^2) of the rounding distance
    d2 = ((argmax.reshape(-1, 2) - random_centers) ** 2).sum(1)
    np.testing.assert_allclose(scores.reshape(-1), np.exp(-d2 / 8), rtol=1e-5)


def test_dark_with_noise_beats_argmax_and_quarter(random_centers, rng):
    hm = _gaussians(random_centers) + rng.normal(0, 0.02, (400, 64, 48))
    hm = hm[:, None].astype(np.float32)
    errors = {}
    for method in ("argmax", "quarter", "dark"):
        coords, _ = decode_heatmaps(hm, method)
        errors[method] = np.linalg.norm(coords[:, 0] - random_centers, axis=1).mean()
    assert errors["dark"] < 0.05
    assert errors["dark"] < errors["quarter"] < errors["argmax"]


def test_peak_at_border_and_flat_maps_do_not_break():
    hm = np.zeros((3, 1, 8, 6), dtype=np.float32)
    hm[0, 0, 0, 0] = 1.0  # corner
    hm[1, 0, 7, 5] = 0.5  # opposite corner
    # map 2 is all zero
    coords, scores = decode_heatmaps(hm, "dark")
    assert np.isfinite(coords).all()
    np.testing.assert_allclose(coords[0, 0], [0, 0], atol=1.0)
    np.testing.assert_allclose(coords[1, 0], [5, 7], atol=1.0)
    np.testing.assert_allclose(scores[:, 0], [1.0, 0.5, 0.0])


def test_torch_input_and_empty_batch():
    hm = torch.from_numpy(_gaussians([[10.25, 20.5]]).astype(np.float32))[None]
    coords, _ = decode_heatmaps(hm)
    np.testing.assert_allclose(coords[0, 0], [10.25, 20.5], atol=1e-3)
    coords, scores = decode_heatmaps(np.zeros((0, 17, 64, 48)))
    assert coords.shape == (0, 17, 2) and scores.shape == (0, 17)
    with pytest.raises(ValueError, match="unknown decoding method"):
        decode_heatmaps(hm, "median")


def test_flip_back_swaps_sides_and_mirrors():
    """A joint at crop x in the original is at W-1-x in the mirrored crop, in its partner slot."""
    w_crop = 192
    x_crop, y_crop = 50.0, 100.0
    ls, rs = JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]
    centers = np.tile([[5.0, 5.0]], (17, 1))
    # what a model sees on the mirrored crop: the person's left shoulder now looks like a right one
    centers[rs] = crop_to_heatmap(np.array([w_crop - 1 - x_crop, y_crop]))
    flipped_maps = _gaussians(centers)[None]
    back = flip_back(flipped_maps)
    coords, _ = decode_heatmaps(back.astype(np.float32))
    np.testing.assert_allclose(coords[0, ls], crop_to_heatmap(np.array([x_crop, y_crop])), atol=1e-3)
    # numpy and torch agree
    np.testing.assert_allclose(flip_back(torch.from_numpy(flipped_maps)).numpy(), back)
    assert flip_permutation()[ls] == rs


def test_to_image_coords_inverts_the_crop():
    rng = np.random.default_rng(3)
    crops = [CropBox((320.5, 200.25), (150.0, 200.0)), CropBox((40.0, 60.0), (75.0, 100.0), rotation=30.0)]
    mats = np.stack([crop_matrix(c) for c in crops])
    image_pts = rng.uniform(0, 300, (2, 17, 2))
    hm_pts = np.stack([crop_to_heatmap(apply_affine(p, m)) for p, m in zip(image_pts, mats)])
    np.testing.assert_allclose(to_image_coords(hm_pts, mats), image_pts, atol=1e-9)
    with pytest.raises(ValueError, match="crop matrices"):
        to_image_coords(hm_pts, mats[:1])


def test_heatmap_stride():
    assert heatmap_stride((64, 48), (256, 192)) == 4
    with pytest.raises(ValueError):
        heatmap_stride((64, 64), (256, 192))


# ---- round trip: encode with a codec, decode with the same codec ----

# A standing person as fractions of the crop (x / W, y / H), PoseTrack slot order; the odd
# digits put every joint between heatmap pixels so the round trip has sub-pixel work to do. The
# person keeps 2.5 heatmap pixels from the border even in the 16x12 map: DARK smooths a
# zero-padded map, which pulls peaks right at the border inwards (measured: 0.19 crop px at 1 px).
POSE_FRACTIONS = np.array(
    [
        [0.5010, 0.2320],
        [0.5046, 0.1920],
        [0.4979, 0.2089],
        [0.5290, 0.2173],
        [0.4708, 0.2184],
        [0.5925, 0.3171],
        [0.4038, 0.3120],
        [0.6366, 0.4353],
        [0.3642, 0.4296],
        [0.6532, 0.5428],
        [0.3435, 0.5373],
        [0.5652, 0.5610],
        [0.4345, 0.5665],
        [0.5758, 0.6825],
        [0.4233, 0.6889],
        [0.5857, 0.7797],
        [0.4138, 0.7863],
    ]
)
GEOMETRIES = [
    {"input_size": (256, 192), "heatmap_size": (64, 48), "sigma": 2.0},
    {"input_size": (192, 144), "heatmap_size": (48, 36), "sigma": 1.5},
    {"input_size": (64, 48), "heatmap_size": (16, 12), "sigma": 1.0},
]
SUPERVISED = np.array([j not in UNANNOTATED_JOINTS for j in range(17)])


def _known_crop_joints(input_size: tuple[int, int]) -> np.ndarray:
    h, w = input_size
    return POSE_FRACTIONS * np.array([w, h])


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_codec_round_trip_recovers_known_joints_sub_pixel(geometry):
    codec = HeatmapCodec(**geometry)
    joints = _known_crop_joints(codec.input_size)
    target, weight = codec.encode(joints, np.ones(17, bool))
    np.testing.assert_array_equal(weight > 0, SUPERVISED)

    decoded, scores = codec.decode(target[None])
    err = np.linalg.norm(decoded[0] - joints, axis=1)[SUPERVISED]  # crop pixels
    assert err.max() < 0.01, err

    # The integer peak alone is off by up to half a heatmap pixel: DARK's accuracy is not luck.
    argmax = HeatmapCodec(**geometry, method="argmax")
    peaks, argmax_scores = argmax.decode(target[None])
    err_argmax = np.linalg.norm(peaks[0] - joints, axis=1)[SUPERVISED]
    assert err_argmax.mean() > 0.2 * codec.stride
    assert err_argmax.max() <= 0.5 * math.sqrt(2) * codec.stride + 1e-9
    # Score = the target at the integer peak = exp(-d^2 / 2 sigma^2), d in heatmap pixels.
    d2 = ((peaks[0] - joints) ** 2).sum(1) / codec.stride**2
    np.testing.assert_allclose(scores[0, SUPERVISED], np.exp(-d2 / (2 * codec.sigma**2))[SUPERVISED], rtol=1e-5)
    np.testing.assert_array_equal(scores, argmax_scores)
    assert (scores[0, ~SUPERVISED] == 0).all()  # unsupervised joints have empty targets


def test_codec_round_trip_through_a_rotated_mirrored_crop_to_image_coordinates():
    """Image joints -> mirrored crop (left/right slots swapped, as in training with flip) ->
    targets -> flip_back -> decode_to_image with the unmirrored matrix: the same image joints."""
    codec = HeatmapCodec(input_size=(192, 144), heatmap_size=(48, 36), sigma=1.5)
    crop = CropBox(center=(412.3, 287.6), size=(216.0, 288.0), rotation=17.0)  # 1.5 image px per crop px
    image_joints = apply_affine(
        _known_crop_joints(codec.input_size), preprocess.invert_affine(crop_matrix(crop, codec.input_size))
    )
    mirrored = crop_matrix(crop, codec.input_size, flip=True)
    perm = flip_permutation()
    target, weight = codec.encode(apply_affine(image_joints, mirrored)[perm], np.ones(17, bool))

    unmirrored_maps = flip_back(target[None])
    decoded, _ = codec.decode_to_image(unmirrored_maps, crop_matrix(crop, codec.input_size)[None])
    err = np.linalg.norm(decoded[0] - image_joints, axis=1)[SUPERVISED]  # image pixels
    assert err.max() < 0.015, err
    np.testing.assert_array_equal(weight[perm] > 0, SUPERVISED)


def test_codec_encode_agrees_with_make_targets_and_honours_visibility():
    codec = HeatmapCodec(use_visibility=True)
    joints = _known_crop_joints(codec.input_size)
    vis = np.ones(17)
    vis[JOINT_INDEX["left_knee"]] = 0.0
    target, weight = codec.encode(joints, np.ones(17, bool), vis)
    expected_target, expected_weight = make_targets(joints, np.ones(17, bool), vis, HM, 2.0, use_visibility=True)
    np.testing.assert_array_equal(target, expected_target)
    np.testing.assert_array_equal(weight, expected_weight)
    assert weight[JOINT_INDEX["left_knee"]] == 0.0


def test_codec_refuses_maps_of_another_size_and_bad_settings():
    codec = HeatmapCodec()
    with pytest.raises(ValueError, match=r"heatmaps are 48x36 but this codec decodes 64x48"):
        codec.decode(np.zeros((1, 17, 48, 36), np.float32))
    with pytest.raises(ValueError, match="different x/y strides"):
        HeatmapCodec(input_size=(256, 192), heatmap_size=(64, 64))
    with pytest.raises(ValueError, match="unknown decoding method 'median'"):
        HeatmapCodec(method="median")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        HeatmapCodec(sigma=0.0)
    assert HeatmapCodec(input_size=[192, 144], heatmap_size=[48, 36]).stride == 4
