"""Heatmap decoding: sub-pixel accuracy, flip-back, and the mapping to image coordinates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pstpose.inference.decode import decode_heatmaps, flip_back, heatmap_stride, to_image_coords
from pstpose.keypoints import JOINT_INDEX, flip_permutation
from pstpose.preprocess import CropBox, apply_affine, crop_matrix, crop_to_heatmap


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
