"""Prediction writers: file contents, round trip through the readers, and evaluation."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from pstpose.data.posetrack import load_sequence, load_sequences
from pstpose.data.records import Frame, Person, Sequence
from pstpose.keypoints import JOINT_NAMES
from pstpose.metrics import evaluate
from pstpose.metrics.writers import (
    PredictionWriteError,
    write_coco_results,
    write_posetrack17,
    write_posetrack18,
    write_posetrack21,
)


def _predictions(pt, seed=0):
    rng = np.random.default_rng(seed)
    gt, pred = pt.random_dataset(rng, n_seq=2, n_frames=5, polygons=True)
    for seq in pred:  # untracked persons: the writer must assign ids
        for frame in seq.frames[::2]:
            for p in frame.persons:
                p.track_id = None
    return gt, pred


@pytest.mark.parametrize(
    "writer, fmt", [(write_posetrack18, "pt18"), (write_posetrack21, "pt18"), (write_posetrack17, "pt17")]
)
def test_round_trip_evaluates_like_the_in_memory_predictions(tmp_path, pt, writer, fmt):
    gt, pred = _predictions(pt)
    for seq, g in zip(pred, gt):
        writer(tmp_path / f"{seq.name}.json", seq, gt=g)
    back = load_sequences(tmp_path)
    assert [s.format for s in back] == [fmt, fmt]
    for seq, b in zip(pred, back):
        assert len(b.frames) == len(seq.frames)  # every frame, empty ones included
        for f, fb in zip(seq.frames, b.frames):
            ids = [p.track_id for p in fb.persons]
            assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
            for p, pb in zip(f.persons, fb.persons):
                np.testing.assert_array_equal(p.present[pt.SLOTS], pb.present[pt.SLOTS])
                np.testing.assert_allclose(pb.keypoints[p.present, :2], p.keypoints[p.present, :2])
                np.testing.assert_allclose(pb.scores[p.present], p.scores[p.present])
    direct, via_files = evaluate(gt, pred), evaluate(gt, back)
    np.testing.assert_array_equal(direct.joints.ap, via_files.joints.ap)
    np.testing.assert_array_equal(direct.joints.recall, via_files.joints.recall)
    assert not any("score" in w for w in via_files.warnings)


def test_posetrack18_file_layout(tmp_path, pt):
    gt, pred = _predictions(pt)
    path = write_posetrack18(tmp_path / "p.json", pred[0], gt=gt[0])
    data = json.loads(path.read_text())
    assert [img["file_name"] for img in data["images"]] == [f.file_name for f in gt[0].frames]
    assert data["categories"][0]["keypoints"] == list(JOINT_NAMES)
    assert len(data["categories"][0]["skeleton"]) == 19
    for ann in data["annotations"]:
        assert len(ann["keypoints"]) == 51 and len(ann["scores"]) == 17 and isinstance(ann["track_id"], int)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary left behind


def test_writer_refuses_bad_predictions(tmp_path, pt):
    gt, pred = _predictions(pt)
    short = copy.deepcopy(pred[0])
    short.frames = short.frames[:-1]
    with pytest.raises(PredictionWriteError, match="have 4 frames but the GT sequence seq000 has 5"):
        write_posetrack18(tmp_path / "a.json", short, gt=gt[0])
    frame = next(f for f in pred[0].frames if len(f.persons) >= 2)
    frame.persons[0].track_id, frame.persons[1].track_id = 4, 4
    with pytest.raises(PredictionWriteError, match="track_id 4 appears twice"):
        write_posetrack18(tmp_path / "a.json", pred[0])
    frame.persons[1].track_id = 5
    frame.persons[0].scores = None
    with pytest.raises(PredictionWriteError, match="no joint scores"):
        write_posetrack17(tmp_path / "a.json", pred[0])
    assert not (tmp_path / "a.json").exists()


def test_coco_results(tmp_path, pt):
    _gt, pred = _predictions(pt)
    path = write_coco_results(tmp_path / "coco.json", pred)
    data = json.loads(path.read_text())
    persons = [(f, p) for s in pred for f in s.frames for p in f.persons]
    assert len(data) == len(persons)
    shared = [0] + list(range(3, 17))  # the slots whose joint COCO also has, at the same index
    for det, (frame, p) in zip(data, persons):
        kp = np.asarray(det["keypoints"]).reshape(17, 3)
        assert det["image_id"] == frame.image_id and det["category_id"] == 1
        written = [k for k in shared if p.present[k]]
        np.testing.assert_allclose(kp[written, :2], p.keypoints[written, :2])
        np.testing.assert_allclose(kp[written, 2], p.scores[written])
        np.testing.assert_array_equal(kp[[1, 2]], 0)  # COCO's eyes: PoseTrack has none
        assert det["score"] == pytest.approx(p.scores[written].mean())


def test_coco_results_are_in_coco_joint_order(tmp_path):
    """Bug fix: the file listed the 17 PoseTrack slots as they are, so a COCO reader took
    head_bottom and head_top for the eyes. Slot k of this person is at (100 + k, 200 + k) with
    score k / 100; the expectation is COCO's joint list written out by hand."""
    person = Person(
        keypoints=np.array([[100.0 + k, 200.0 + k, 1.0] for k in range(17)]),
        present=np.ones(17, dtype=bool),
        scores=np.arange(17) / 100,
        track_id=3,
    )
    frame = Frame(file_name="000001_test/000000.jpg", frame_index=0, persons=[person], image_id=7)
    path = write_coco_results(tmp_path / "coco.json", [Sequence(name="000001_test", frames=[frame], format="pt18")])
    (det,) = json.loads(path.read_text())
    expected = [
        [100, 200, 0.00],  # nose
        [0, 0, 0],  # left_eye: no PoseTrack joint (slot 1 is head_bottom)
        [0, 0, 0],  # right_eye: no PoseTrack joint (slot 2 is head_top)
        [103, 203, 0.03],  # left_ear
        [104, 204, 0.04],  # right_ear
        [105, 205, 0.05],  # left_shoulder
        [106, 206, 0.06],  # right_shoulder
        [107, 207, 0.07],  # left_elbow
        [108, 208, 0.08],  # right_elbow
        [109, 209, 0.09],  # left_wrist
        [110, 210, 0.10],  # right_wrist
        [111, 211, 0.11],  # left_hip
        [112, 212, 0.12],  # right_hip
        [113, 213, 0.13],  # left_knee
        [114, 214, 0.14],  # right_knee
        [115, 215, 0.15],  # left_ankle
        [116, 216, 0.16],  # right_ankle
    ]
    np.testing.assert_allclose(np.reshape(det["keypoints"], (17, 3)), expected)
    assert (det["image_id"], det["track_id"]) == (7, 3)
    assert det["score"] == pytest.approx(np.mean([0.0] + [k / 100 for k in range(3, 17)]))


def test_real_fixture_written_as_predictions_scores_100(tmp_path, shared_data):
    gt = load_sequence(shared_data / "posetrack18_sample" / "annotations" / "val" / "009473_mpii_test.json")
    pred = copy.deepcopy(gt)
    for f in pred.frames:
        for p in f.persons:
            p.scores = np.full(17, 0.7)
    write_posetrack18(tmp_path / "pred" / f"{gt.name}.json", pred, gt=gt)
    res = evaluate([gt], tmp_path / "pred")
    assert res.summary("ap")["Mean"] == 100.0 and res.warnings == []
