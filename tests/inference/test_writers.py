"""Output files: native JSON, COCO results, PoseTrack18 records (the overlay video: tests/test_media.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pstpose.inference.results import PoseResult
from pstpose.inference.writers import (
    CocoKeypointWriter,
    NativeJsonWriter,
    PoseTrack18Writer,
    result_to_frame,
)
from pstpose.io import OutputError
from pstpose.keypoints import DRAW_SKELETON, JOINT_NAMES


def _result(frame_index, n, rng, file_name=None):
    kpts = rng.uniform(0, 100, (n, 17, 2))
    boxes = np.column_stack([kpts.min(1), kpts.max(1)]) if n else np.zeros((0, 4))
    return PoseResult(
        frame_index=frame_index,
        boxes=boxes,
        box_scores=rng.uniform(0.5, 1, n),
        track_ids=np.arange(n) + 7,
        keypoints=kpts,
        keypoint_scores=rng.uniform(0, 1, (n, 17)),
        image_size=(120, 100),
        file_name=file_name,
    )


def test_native_json_schema_and_values(tmp_path, rng):
    results = [_result(0, 2, rng), _result(1, 0, rng), _result(2, 1, rng)]
    path = tmp_path / "out" / "v.json"
    with NativeJsonWriter(path, source="v.mp4", fps=12.5, width=120, height=100) as writer:
        for r in results:
            writer.write(r)
    data = json.loads(path.read_text())
    assert data["format"] == "pstpose-video-poses" and data["version"] == 1
    assert data["fps"] == 12.5 and (data["width"], data["height"]) == (120, 100)
    assert data["keypoint_names"] == list(JOINT_NAMES)
    assert data["skeleton"] == [list(p) for p in DRAW_SKELETON]
    assert data["num_frames"] == 3 and [f["frame_index"] for f in data["frames"]] == [0, 1, 2]
    assert data["frames"][1]["instances"] == []
    inst = data["frames"][0]["instances"][1]
    r = results[0]
    assert inst["track_id"] == 8
    x1, y1, x2, y2 = r.boxes[1]
    np.testing.assert_allclose(inst["bbox"], [x1, y1, x2 - x1, y2 - y1], atol=0.005)
    np.testing.assert_allclose(inst["keypoints"], r.keypoints[1], atol=0.005)
    np.testing.assert_allclose(inst["keypoint_scores"], r.keypoint_scores[1], atol=5e-5)
    assert inst["bbox_score"] == pytest.approx(r.box_scores[1], abs=5e-5)


def test_json_writer_leaves_nothing_on_error(tmp_path, rng):
    path = tmp_path / "v.json"
    with pytest.raises(RuntimeError):
        with NativeJsonWriter(path, source="x", fps=25, width=1, height=1) as writer:
            writer.write(_result(0, 1, rng))
            raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_json_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write here"):
        with NativeJsonWriter(blocker / "v.json", source="x", fps=25, width=1, height=1):
            pass


def test_coco_results(tmp_path, rng):
    r = _result(4, 2, rng)
    r.keypoint_scores[0] = 0.1
    r.keypoint_scores[0, [0, 5, 6]] = 0.9
    path = tmp_path / "v.coco.json"
    with CocoKeypointWriter(path, kpt_thr=0.3, image_ids={4: 1004}) as writer:
        writer.write(r)
        writer.write(_result(5, 0, rng))
    data = json.loads(path.read_text())
    assert len(data) == 2 and data[0]["image_id"] == 1004 and data[0]["category_id"] == 1
    kp = np.array(data[0]["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(kp[[1, 2]], 0)  # COCO's eye slots: the model has no eyes
    np.testing.assert_allclose(kp[5, :2], r.keypoints[0, 5], atol=0.005)
    assert kp[5, 2] == pytest.approx(0.9)
    assert data[0]["score"] == pytest.approx(0.9)  # mean of the joints above threshold
    assert data[1]["track_id"] == 8


def test_result_to_posetrack_frame(rng, tmp_path):
    r = _result(3, 2, rng, file_name=tmp_path / "009473_mpii_test" / "000003.jpg")
    frame = result_to_frame(r, "009473_mpii_test")
    assert frame.image_id == 10094730003 and frame.file_name == "009473_mpii_test/000003.jpg"
    assert [p.track_id for p in frame.persons] == [7, 8]
    np.testing.assert_allclose(frame.persons[1].keypoints[:, :2], r.keypoints[1])
    np.testing.assert_allclose(frame.persons[1].scores, r.keypoint_scores[1])
    video_frame = result_to_frame(_result(12, 0, rng), "myclip")
    assert video_frame.image_id == 12 and video_frame.file_name == "myclip/000012.jpg"


def test_untracked_results_get_per_frame_ids(rng, tmp_path):
    """track_id -1 means no tracker ran: the PoseTrack18 file gets per-frame ids, not a duplicate -1."""
    r = _result(0, 2, rng)
    r.track_ids = np.full(2, -1)
    assert [p.track_id for p in result_to_frame(r, "clip").persons] == [None, None]
    path = tmp_path / "clip.json"
    with PoseTrack18Writer(path, "clip") as writer:
        writer.write(r)
    assert sorted(a["track_id"] for a in json.loads(path.read_text())["annotations"]) == [0, 1]
