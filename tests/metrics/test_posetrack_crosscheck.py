"""The vectorised evaluator against the brute-force transcription, on random data and on the
real PoseTrack18 fixture."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from pstpose.data.posetrack import load_sequences
from pstpose.keypoints import PT17_JOINT_NAMES
from pstpose.metrics import evaluate


def _assert_same(res, ref):
    for metric in ("ap", "precision", "recall"):
        got = getattr(res.joints, metric)
        want = getattr(ref, metric)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=metric)
        np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=0, atol=1e-9, err_msg=metric)
    np.testing.assert_array_equal(res.joints.n_gt, ref.n_gt)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["posetrack", "posetrack21"])
def test_matches_brute_force_on_random_data(pt, seed, mode):
    rng = np.random.default_rng(seed)
    gt, pred = pt.random_dataset(rng, overlap=seed % 2 == 1)
    if mode == "posetrack21":  # some labeled frames without persons, some persons in unlabeled frames
        for seq in gt:
            for f in seq.frames:
                f.is_labeled = rng.random() < 0.8
    res = evaluate(gt, pred, mode=mode)
    _assert_same(res, pt.brute_force(gt, pred, mode))


def test_matches_brute_force_with_contention_and_ties(pt):
    """Crowded frames (persons overlapping) make pck ties and stolen matches common."""
    rng = np.random.default_rng(123)
    gt, pred = pt.random_dataset(
        rng,
        n_seq=2,
        n_frames=15,
        max_gt=5,
        max_pred=8,
        overlap=True,
        joint_prob=0.2,
        head_range=(40, 90),
        spread=15.0,
        duplicates=0.5,
    )
    ref, ties = pt.brute_force(gt, pred, "posetrack", report_ties=True)
    assert ties, "the data should exercise the tie rules"
    _assert_same(evaluate(gt, pred), ref)


def test_real_fixture_against_itself_is_100(shared_data):
    gt = load_sequences(shared_data / "posetrack18_sample" / "annotations" / "val")
    pred = copy.deepcopy(gt)
    for seq in pred:
        for frame in seq.frames:
            for p in frame.persons:
                p.scores = np.linspace(0.5, 0.9, 17)
    res = evaluate(gt, pred)
    assert res.warnings == []
    n_gt = dict(zip(PT17_JOINT_NAMES, res.joints.n_gt))
    assert all(n > 0 for n in n_gt.values())  # both persons: 15 joints annotated, one lacks left_elbow
    assert n_gt["left_elbow"] == 1 and n_gt["nose"] == 2
    for metric in ("ap", "precision", "recall"):
        assert all(v == 100.0 for v in res.per_joint(metric).values()), metric
        assert res.summary(metric) == dict.fromkeys(res.summary(metric), 100.0)


def _jittered_fixture(shared_data):
    """GT of the real file with every joint moved by N(0, 35 px) and distinct random scores."""
    gt = load_sequences(shared_data / "posetrack18_sample" / "annotations" / "val")
    pred = copy.deepcopy(gt)
    rng = np.random.default_rng(2024)
    for seq in pred:
        for frame in seq.frames:
            for p in frame.persons:
                p.keypoints[:, :2] += rng.normal(0, 35, size=(17, 2))
                p.scores = rng.permutation(np.linspace(0.05, 0.95, 17)) + rng.uniform(0, 0.01)
    return gt, pred


# Pinned after checking against the brute force (below) and by hand for two joints (see test).
JITTER_AP = {
    "Head": 100 / 3,
    "Shoulder": 62.5,
    "Elbow": 75.0,
    "Wrist": 37.5,
    "Hip": 75.0,
    "Knee": 100.0,
    "Ankle": 75.0,
    "Mean": 950 / 15,
}
JITTER_JOINT_AP = {
    "nose": 50,
    "head_bottom": 25,
    "head_top": 25,
    "left_shoulder": 100,
    "right_shoulder": 25,
    "left_elbow": 100,
    "right_elbow": 50,
    "left_wrist": 50,
    "right_wrist": 25,
    "left_hip": 50,
    "right_hip": 100,
    "left_knee": 100,
    "right_knee": 100,
    "left_ankle": 100,
    "right_ankle": 50,
}


def test_real_fixture_jittered_pinned_table(shared_data, pt):
    gt, pred = _jittered_fixture(shared_data)
    res = evaluate(gt, pred)
    _assert_same(res, pt.brute_force(gt, pred))
    assert res.summary("ap") == pytest.approx(JITTER_AP, abs=1e-9)
    assert res.per_joint("ap") == pytest.approx(JITTER_JOINT_AP, abs=1e-9)
    assert res.per_joint("ap")["left_elbow"] == 100.0 and res.joints.n_gt[PT17_JOINT_NAMES.index("left_elbow")] == 1
    # By hand: head sizes are 0.6*|(138,103)| = 103.3 px and 0.6*|(90,125)| = 92.4 px, so a
    # joint matches when moved at most ~51.7 / ~46.2 px. The persons are far apart, so ...
    for frame_gt, frame_pr in zip(gt[0].frames, pred[0].frames):
        heads = [0.6 * np.hypot(*(g.head_box[2:] - g.head_box[:2])) for g in frame_gt.persons]
        assert heads == pytest.approx([103.3, 92.4], abs=0.05)
        moved = [
            np.hypot(*(p.keypoints[:, :2] - g.keypoints[:, :2]).T) / h
            for p, g, h in zip(frame_pr.persons, frame_gt.persons, heads)
        ]
    # ... every prediction stays assigned to its own GT (most joints within threshold), so a
    # joint's AP is 100 when both copies match, and when one copy misses, the AP depends only on
    # whether the miss is ranked above or below the hit.
    for j, name in enumerate(PT17_JOINT_NAMES):
        slot = pt.SLOTS[j]
        present = [g.present[slot] for g in gt[0].frames[0].persons]
        hits = [bool(present[k] and moved[k][slot] <= 0.5) for k in range(2)]
        scores = [p.scores[slot] for p in pred[0].frames[0].persons]
        n = sum(present)
        if all(h for h, pr in zip(hits, present) if pr):
            expected = 100.0
        elif not any(hits):
            expected = 0.0
        else:
            hit = next(k for k in range(2) if hits[k])
            miss = 1 - hit
            expected = 50.0 if scores[hit] > scores[miss] else 25.0
            assert n == 2
        assert res.per_joint("ap")[name] == pytest.approx(expected), name


def test_chunked_matching_gives_the_same_labels(pt, monkeypatch):
    """Tiny pair budgets force many chunks (and frames larger than a chunk) through the same code."""
    from pstpose.metrics import posetrack_ap

    rng = np.random.default_rng(9)
    gt, pred = pt.random_dataset(rng, n_seq=3, n_frames=8, max_gt=4, max_pred=6, overlap=True, duplicates=0.3)
    whole = evaluate(gt, pred)
    for budget in (1, 5, 37):
        monkeypatch.setattr(posetrack_ap, "MAX_PAIRS_PER_CHUNK", budget)
        _assert_same(evaluate(gt, pred), whole.joints)
