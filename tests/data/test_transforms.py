import numpy as np
import pytest

from pstpose import preprocess
from pstpose.codec import heatmap_points_to_image, make_targets
from pstpose.config import DataConfig
from pstpose.data.transforms import (
    LOWER_BODY,
    NO_AUGMENTATION,
    UPPER_BODY,
    Augmentation,
    draw_augmentation,
    keypoints_to_crop,
    sample_crop,
    sample_matrix,
    sample_rng,
)
from pstpose.keypoints import JOINT_INDEX, flip_permutation
from tests.data.clip_builders import make_person

CFG = DataConfig()
HM = CFG.heatmap_size


def _pipeline(person, aug, cfg=CFG):
    crop = sample_crop(person.bbox, aug, cfg, person.keypoints, person.present)
    m = sample_matrix(crop, aug, cfg)
    xy, vis, present = keypoints_to_crop(person.keypoints, person.present, m, aug.flip)
    target, weight = make_targets(xy, present, vis, cfg.heatmap_size, cfg.sigma)
    return crop, m, xy, present, target, weight


@pytest.mark.parametrize(
    "aug",
    [
        NO_AUGMENTATION,
        Augmentation(1.3, 30.0, True),
        Augmentation(0.7, -44.0, False),
        Augmentation(1.0, 0.0, True, "upper"),
    ],
)
def test_keypoints_map_into_the_crop_and_back(aug):
    person = make_person(center=(333.3, 222.2), height=180.0)
    _, m, xy, present, _, _ = _pipeline(person, aug)
    perm = flip_permutation() if aug.flip else list(range(17))
    back = heatmap_points_to_image(preprocess.crop_to_heatmap(xy), m)
    # Slot i of the crop holds joint perm[i] of the person.
    np.testing.assert_allclose(back, person.keypoints[perm, :2], atol=1e-9)
    np.testing.assert_array_equal(present, person.present[perm])


def test_flip_moves_the_left_wrist_target_to_the_right_wrist_channel_mirrored():
    person = make_person(center=(320.0, 240.0), height=200.0)
    aug = Augmentation(scale=1.1, rotation=20.0)
    *_, target, weight = _pipeline(person, aug)
    *_, target_f, weight_f = _pipeline(person, Augmentation(scale=1.1, rotation=20.0, flip=True))
    lw, rw = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]
    np.testing.assert_allclose(target_f[rw], target[lw][:, ::-1], atol=1e-6)
    np.testing.assert_allclose(target_f[lw], target[rw][:, ::-1], atol=1e-6)
    perm = flip_permutation()
    np.testing.assert_array_equal(weight_f, weight[perm])
    # The left wrist is on the image's right of a person facing the camera; flipped, its target
    # sits at the mirrored heatmap column.
    _ys, xs = np.mgrid[0 : HM[0], 0 : HM[1]]
    cx = (target[lw] * xs).sum() / target[lw].sum()
    cx_f = (target_f[rw] * xs).sum() / target_f[rw].sum()
    assert cx_f == pytest.approx(HM[1] - 1 - cx, abs=1e-4)


def test_scale_and_rotation_change_the_crop_as_drawn():
    person = make_person()
    base = sample_crop(person.bbox, NO_AUGMENTATION, CFG)
    crop = sample_crop(person.bbox, Augmentation(scale=1.3, rotation=-40.0), CFG)
    assert crop.center == base.center
    assert crop.size == pytest.approx((base.size[0] * 1.3, base.size[1] * 1.3))
    assert crop.rotation == -40.0


def test_half_body_crop_is_the_enlarged_extent_of_that_half():
    person = make_person(center=(320.0, 240.0), height=200.0)
    for half, joints in (("upper", UPPER_BODY), ("lower", LOWER_BODY)):
        crop = sample_crop(person.bbox, Augmentation(half_body=half), CFG, person.keypoints, person.present)
        sel = [j for j in joints if person.present[j]]
        lo, hi = person.keypoints[sel, :2].min(0), person.keypoints[sel, :2].max(0)
        w, h = hi - lo
        w, h = max(w, 0.75 * h), max(h, w / 0.75)
        assert crop.center == pytest.approx(tuple((lo + hi) / 2))
        assert crop.size == pytest.approx((w * 1.5, h * 1.5))
    # Upper-body truncation leaves the ankles outside the crop: their weights vanish.
    *_, weight = _pipeline(person, Augmentation(half_body="upper"))
    assert weight[JOINT_INDEX["left_ankle"]] == 0 and weight[JOINT_INDEX["left_shoulder"]] == 1


def test_draws_stay_in_their_ranges_with_the_configured_probabilities():
    cfg = DataConfig(rotation_prob=0.6, flip_prob=0.5, half_body_prob=0.3)
    present = np.ones(17, bool)
    draws = [draw_augmentation(sample_rng(0, 0, i), cfg, present) for i in range(3000)]
    scale = np.array([d.scale for d in draws])
    rot = np.array([d.rotation for d in draws])
    assert scale.min() >= 0.65 and scale.max() <= 1.35 and scale.min() < 0.67 and scale.max() > 1.33
    assert np.abs(rot).max() <= 45.0 and np.abs(rot).max() > 44.0
    assert np.mean(rot != 0) == pytest.approx(0.6, abs=0.04)
    assert np.mean([d.flip for d in draws]) == pytest.approx(0.5, abs=0.04)
    halves = [d.half_body for d in draws]
    assert np.mean([h is not None for h in halves]) == pytest.approx(0.3, abs=0.04)
    assert halves.count("upper") == pytest.approx(halves.count("lower"), rel=0.25)


def test_half_body_needs_enough_joints_and_two_in_the_chosen_half():
    cfg = DataConfig(half_body_prob=1.0, half_body_min_joints=8)
    few = np.zeros(17, bool)
    few[:7] = True
    assert all(draw_augmentation(sample_rng(1, 0, i), cfg, few).half_body is None for i in range(50))
    upper_only = np.zeros(17, bool)
    upper_only[list(UPPER_BODY)] = True
    upper_only[JOINT_INDEX["left_hip"]] = True  # one lower joint is not enough for a lower crop
    assert {draw_augmentation(sample_rng(1, 0, i), cfg, upper_only).half_body for i in range(50)} == {"upper"}


def test_zero_ranges_and_probabilities_draw_nothing():
    cfg = DataConfig(rotation_prob=0.0, flip_prob=0.0, half_body_prob=0.0, scale_range=(1.0, 1.0))
    for i in range(20):
        d = draw_augmentation(sample_rng(3, 1, i), cfg, np.ones(17, bool))
        assert d == Augmentation(1.0, 0.0, False, None)


def test_draw_is_a_function_of_seed_epoch_and_index():
    present = np.ones(17, bool)
    a = draw_augmentation(sample_rng(5, 2, 11), CFG, present)
    assert draw_augmentation(sample_rng(5, 2, 11), CFG, present) == a
    others = {draw_augmentation(sample_rng(*k), CFG, present) for k in [(5, 3, 11), (5, 2, 12), (6, 2, 11)]}
    assert a not in others
    with pytest.raises(ValueError):
        sample_rng(0, -1, 0)
