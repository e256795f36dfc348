"""Tracker: IoU + pose similarity with Hungarian assignment."""

from __future__ import annotations

import numpy as np

from pstpose.inference.tracker import Tracker, TrackerConfig, box_iou, pose_oks


def test_box_iou_hand_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 5, 15, 15], [20, 20, 30, 30], [0, 0, 10, 10]])
    np.testing.assert_allclose(box_iou(a, b), [[25 / 175, 0.0, 1.0]])


def test_pose_oks_identical_and_far():
    k = np.random.default_rng(0).uniform(0, 100, (1, 17, 2))
    vis = np.ones((1, 17), bool)
    assert pose_oks(k, vis, k, vis, np.array([1e4]))[0, 0] == 1.0
    assert pose_oks(k, vis, k + 500, vis, np.array([1e4]))[0, 0] < 1e-6
    none = np.zeros((1, 17), bool)
    assert np.isnan(pose_oks(k, vis, k, none, np.array([1e4]))[0, 0])


def _person(cx, cy, arms_up: bool, synth):
    kpts = synth.person_keypoints(cx, cy)
    if arms_up:
        kpts[[7, 8, 9, 10], 1] -= 60  # elbows and wrists raised
    return kpts, synth.person_box(kpts)


def _crossing(tracker: Tracker, synth, use_pose: bool, steps: int = 30):
    """Two people walk towards each other, overlap completely mid-way and separate."""
    ids_a, ids_b = [], []
    for t in range(steps):
        ka, ba = _person(60 + 10 * t, 50, True, synth)
        kb, bb = _person(350 - 10 * t, 50, False, synth)
        order = [1, 0] if t % 2 else [0, 1]  # detections in varying order
        boxes = np.stack([ba, bb])[order]
        kpts = np.stack([ka, kb])[order] if use_pose else None
        ids = tracker.update(boxes, kpts, np.ones((2, 17)) if use_pose else None)
        ids = ids[np.argsort(order)]
        ids_a.append(ids[0])
        ids_b.append(ids[1])
    return ids_a, ids_b


def test_crossing_people_keep_their_ids(synth):
    ids_a, ids_b = _crossing(Tracker(), synth, use_pose=True)
    assert set(ids_a) == {ids_a[0]} and set(ids_b) == {ids_b[0]} and ids_a[0] != ids_b[0]


def test_crossing_with_boxes_only_keeps_ids_by_motion(synth):
    ids_a, ids_b = _crossing(Tracker(), synth, use_pose=False)
    assert set(ids_a) == {ids_a[0]} and set(ids_b) == {ids_b[0]}


def test_crossing_without_motion_model_or_pose_swaps(synth):
    """The motion model is what keeps boxes-only tracks apart: without it ids get confused."""
    cfg = TrackerConfig(velocity_smoothing=0.0, pose_weight=0.0)
    ids_a, ids_b = _crossing(Tracker(cfg), synth, use_pose=False)
    assert len(set(ids_a)) > 1 or len(set(ids_b)) > 1


def test_track_survives_short_gap_and_ends_after_max_missed():
    tracker = Tracker(TrackerConfig(max_missed=2))
    box = np.array([[10, 10, 50, 100]])
    (first,) = tracker.update(box)
    tracker.update(np.zeros((0, 4)))
    tracker.update(np.zeros((0, 4)))
    (again,) = tracker.update(box)  # missed 2 frames: still alive
    assert again == first
    for _ in range(3):
        tracker.update(np.zeros((0, 4)))
    (new,) = tracker.update(box)  # missed 3 > 2: a new track
    assert new != first
    assert tracker.active_ids == [new]


def test_new_person_gets_new_id_and_far_detection_does_not_steal():
    tracker = Tracker()
    ids0 = tracker.update(np.array([[0, 0, 40, 100]]))
    ids1 = tracker.update(np.array([[2, 0, 42, 100], [300, 0, 340, 100]]))
    assert ids1[0] == ids0[0] and ids1[1] not in ids0
    assert len(tracker.update(np.zeros((0, 4)))) == 0
