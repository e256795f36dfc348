"""In-memory videos: determinism, lazy = eager rendering, presets and their motion statistics,
and the records view (encoding them: tests/test_media.py)."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from pstpose.data.synthetic import (
    PRESETS,
    SynthPreset,
    get_preset,
    iter_frames,
    mean_joint_displacement,
    render_sequence,
)

SMALL = dict(frames=6, height=96, width=128)


def test_required_presets_exist_and_are_typed():
    for name in ("easy", "standard", "rapid-motion", "occlusion", "defocus", "clutter"):
        assert isinstance(PRESETS[name], SynthPreset)
    assert get_preset("easy") is PRESETS["easy"]
    with pytest.raises(ValueError, match="known: easy"):
        get_preset("hard")
    assert PRESETS["occlusion"].occluders[0] > PRESETS["standard"].occluders[0]
    assert PRESETS["defocus"].defocus_prob > PRESETS["standard"].defocus_prob


def test_render_is_deterministic_and_lazy_equals_eager():
    a = render_sequence(seed=7, preset="standard", **SMALL)
    b = render_sequence(seed=7, preset="standard", **SMALL)
    lazy = list(iter_frames(seed=7, preset="standard", **SMALL))
    assert len(a.frames) == 6 and a.frames[0].dtype == np.uint8 and a.frames[0].shape == (96, 128, 3)
    for t in range(6):
        assert np.array_equal(a.frames[t], b.frames[t]) and np.array_equal(a.frames[t], lazy[t].image)
        assert len(a.persons[t]) == len(lazy[t].persons)
        for p, q in zip(a.persons[t], lazy[t].persons):
            assert np.array_equal(p.keypoints, q.keypoints) and p.track_id == q.track_id
    other = render_sequence(seed=8, preset="standard", **SMALL)
    assert not np.array_equal(a.frames[0], other.frames[0])


def test_degradations_change_pixels_not_ground_truth():
    noisy = render_sequence(seed=2, preset="defocus", **SMALL)
    clean = render_sequence(seed=2, preset="defocus", degrade=False, **SMALL)
    assert any(not np.array_equal(x, y) for x, y in zip(noisy.frames, clean.frames))
    for p_list, q_list in zip(noisy.persons, clean.persons):
        assert [p.keypoints.tolist() for p in p_list] == [q.keypoints.tolist() for q in q_list]


def test_people_count_override_and_limits():
    seq = render_sequence(seed=1, people=0, **SMALL)
    assert all(not persons for persons in seq.persons) and not seq.actions
    assert len(render_sequence(seed=1, people=3, **SMALL).actions) == 3
    with pytest.raises(ValueError, match="people"):
        render_sequence(seed=1, people=1000, **SMALL)
    with pytest.raises(ValueError, match="frame size"):
        render_sequence(seed=1, frames=2, height=8, width=8)


def test_mean_joint_displacement_hand_worked():
    def person(track, pts):
        kp = np.zeros((17, 3))
        kp[: len(pts), :2] = pts
        kp[: len(pts), 2] = 1
        return types.SimpleNamespace(track_id=track, keypoints=kp, present=~np.all(kp == 0, axis=1))

    frames = [
        [person(0, [(1, 1), (5, 5)]), person(1, [(10, 10)])],
        [person(0, [(4, 5), (5, 5)]), person(2, [(0, 3)])],  # track 1 gone, track 2 new
        [person(0, [(4, 5)])],
    ]
    mean, n = mean_joint_displacement(frames)
    assert n == 3 and mean == pytest.approx((5 + 0 + 0) / 3)


def test_rapid_motion_moves_at_least_twice_as_fast_as_easy():
    """The documented contract: mean joint displacement per frame of `rapid-motion` is >= 2x that
    of `easy` (same sizes, several videos)."""

    def mean_disp(preset: str) -> float:
        values = []
        for seed in range(3):
            seq = render_sequence(seed=seed, preset=preset, frames=10, height=144, width=192, degrade=False)
            values.append(mean_joint_displacement(seq.persons)[0])
        return float(np.mean(values))

    easy, rapid = mean_disp("easy"), mean_disp("rapid-motion")
    assert easy > 0.2
    assert rapid >= 2 * easy, (easy, rapid)


def test_custom_preset_object_is_accepted():
    still = dataclasses.replace(
        PRESETS["easy"], speed=0.0, action_weights=(0, 0, 0, 0, 1.0), noise_sigma=0.0, lighting=0.0
    )
    seq = render_sequence(seed=3, preset=still, people=1, frames=4, height=96, width=128)
    assert seq.preset == "custom"
    mean, _ = mean_joint_displacement(seq.persons)
    assert mean < 0.05  # nothing moves: speed 0, no camera motion


def test_records_view_matches_ground_truth():
    seq = render_sequence(seed=6, **SMALL)
    rec = seq.to_records("000123_mpii_test", label_every=4)
    assert rec.vid_id == "000123" and rec.nframes == 6 and rec.format == "pt18"
    assert [f.is_labeled for f in rec.frames] == [True, False, False, False, True, False]
    for t in (0, 4):
        assert len(rec.frames[t].persons) == len(seq.persons[t])
        for r, p in zip(rec.frames[t].persons, seq.persons[t]):
            assert np.array_equal(r.keypoints, p.keypoints)
            x, y, w, h = p.head_box
            assert r.head_box.tolist() == [x, y, x + w, y + h]
    assert rec.frames[1].persons == []
