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


def _walker(t: int, x0: float = 0.0, vx: float = 6.0) -> np.ndarray:
    return np.array([[x0 + vx * t, 100, x0 + vx * t + 40, 200]], dtype=float)


def test_walker_hidden_for_a_while_keeps_its_id_where_motion_predicts_it():
    """Hidden for 15 frames, the person reappears 90 px further on, far from the last box (IoU 0):
    only the motion prediction of the lost track brings the same id back."""
    tracker = Tracker()
    ids = [int(tracker.update(_walker(t))[0]) for t in range(10)]
    for _ in range(15):
        tracker.update(np.zeros((0, 4)))
    assert box_iou(_walker(9), _walker(25))[0, 0] == 0.0
    again = [int(tracker.update(_walker(t))[0]) for t in range(25, 30)]
    assert set(ids) == set(again) == {ids[0]}
    # the same gap without a motion model loses the person: the last box is too far away
    still = Tracker(TrackerConfig(velocity_smoothing=0.0))
    first = [int(still.update(_walker(t))[0]) for t in range(10)][-1]
    for _ in range(15):
        still.update(np.zeros((0, 4)))
    assert int(still.update(_walker(25))[0]) != first


def test_lost_track_is_not_taken_by_a_detection_of_another_size():
    tracker = Tracker()
    (first,) = tracker.update(_walker(0, vx=0.0))
    tracker.update(np.zeros((0, 4)))
    tracker.update(np.zeros((0, 4)))
    big = np.array([[-40, 0, 80, 300]], dtype=float)  # same place, sqrt(area) 4.2x larger
    assert box_iou(_walker(0, vx=0.0), big)[0, 0] > 0
    (other,) = tracker.update(big)
    assert other != first


def test_weak_detections_extend_tracks_but_never_start_them():
    tracker = Tracker()
    (first,) = tracker.update(_walker(0), box_scores=np.array([0.9]))
    # a weak detection of the same person continues its track
    assert tracker.update(_walker(1), box_scores=np.array([0.3]))[0] == first
    # a weak detection far from every track gets no id and starts nothing
    far = np.array([[600, 100, 640, 200]], dtype=float)
    ids = tracker.update(np.concatenate([_walker(2), far]), box_scores=np.array([0.9, 0.3]))
    assert ids[0] == first and ids[1] == -1
    assert tracker.active_ids == [first]
    # detections under low_score are ignored even next to a track
    assert tracker.update(_walker(3), box_scores=np.array([0.05]))[0] == -1


def test_config_rejects_bad_values():
    import pytest

    for bad in ({"velocity_damping": 1.5}, {"max_missed": -1}, {"confirm_hits": 0}, {"iou_weight": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrackerConfig(**bad)
