"""`--format posetrack18`: the predictor's PoseTrack18 file is one sequence, lists every frame and
evaluates with ``pstpose.metrics.evaluate`` against the synthetic ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pstpose.data.synthetic import render_sequence
from pstpose.inference.results import PoseResult
from pstpose.inference.writers import PoseTrack18Writer
from pstpose.keypoints import JOINT_NAMES
from pstpose.metrics import evaluate
from pstpose.metrics.report import DISPLAY_JOINTS

NAME = "000003_mpii_test"
FRAMES = 8
LABEL_EVERY = 4  # frames 0 and 4 scored, as PoseTrack val


@pytest.fixture(scope="module")
def clip():
    return render_sequence(seed=3, frames=FRAMES, height=144, width=192, preset="easy")


def _results_from_truth(clip, offset_in_frame: dict[int, float] | None = None) -> list[PoseResult]:
    """Predictions equal to the ground truth (optionally displaced in some frames), scored 0.9."""
    offset_in_frame = offset_in_frame or {}
    results = []
    for t, persons in enumerate(clip.persons):
        kpts = np.array([p.keypoints[:, :2] for p in persons]).reshape(-1, 17, 2) + offset_in_frame.get(t, 0.0)
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (p.bbox for p in persons)]).reshape(-1, 4)
        results.append(
            PoseResult(
                frame_index=t,
                boxes=boxes,
                box_scores=np.ones(len(persons)),
                track_ids=np.array([p.track_id for p in persons], dtype=np.int64),
                keypoints=kpts,
                keypoint_scores=np.full((len(persons), 17), 0.9),
                image_size=(clip.width, clip.height),
            )
        )
    return results


def _write(path, results):
    with PoseTrack18Writer(path, NAME) as writer:
        for r in results:
            writer.write(r)
    return path


def test_file_is_one_sequence_listing_every_frame(tmp_path, clip):
    results = _results_from_truth(clip)
    results[5] = PoseResult.empty(5, (clip.width, clip.height))  # a frame with nobody is still listed
    data = json.loads(_write(tmp_path / f"{NAME}.json", results).read_text())
    assert [im["file_name"] for im in data["images"]] == [f"{NAME}/{t:06d}.jpg" for t in range(FRAMES)]
    assert [im["id"] for im in data["images"]] == [int(f"1000003{t:04d}") for t in range(FRAMES)]  # PoseTrack ids
    assert {im["vid_id"] for im in data["images"]} == {"000003"}
    per_frame = [sum(a["image_id"] == im["id"] for a in data["annotations"]) for im in data["images"]]
    assert per_frame == [0 if t == 5 else len(clip.persons[t]) for t in range(FRAMES)]
    first = data["annotations"][0]
    np.testing.assert_allclose(np.reshape(first["keypoints"], (17, 3))[:, :2], clip.persons[0][0].keypoints[:, :2])
    assert first["scores"] == [0.9] * 17 and first["track_id"] == clip.persons[0][0].track_id


def test_exact_predictions_score_100(tmp_path, clip):
    path = _write(tmp_path / f"{NAME}.json", _results_from_truth(clip))
    result = evaluate([clip.to_records(NAME, label_every=LABEL_EVERY)], path)
    ap = result.per_joint("ap")
    scored = [j for j in DISPLAY_JOINTS if not np.isnan(ap[j])]  # joints the clip has GT for
    assert len(scored) >= 10
    assert all(ap[j] == pytest.approx(100.0) for j in scored), ap
    assert result.stats.counted_frames == len(range(0, FRAMES, LABEL_EVERY))


def test_a_displaced_frame_loses_exactly_its_joints(tmp_path, clip):
    """All persons of labeled frame 4 moved 60 px: their joints become misses. Recall per joint
    is then (GT joints outside frame 4) / (all GT joints), counted here from the records."""
    gt = clip.to_records(NAME, label_every=LABEL_EVERY)
    path = _write(tmp_path / f"{NAME}.json", _results_from_truth(clip, {4: 60.0}))
    result = evaluate([gt], path)
    recall = result.per_joint("recall")
    for name in ("head_top", "left_shoulder", "right_hip"):
        k = JOINT_NAMES.index(name)
        counts = [sum(bool(p.present[k]) for p in f.persons) for f in gt.frames]
        expected = 100.0 * (sum(counts) - counts[4]) / sum(counts)
        assert counts[4] > 0 and recall[name] == pytest.approx(expected), (name, counts)


def test_nothing_written_when_the_run_fails(tmp_path, clip):
    with pytest.raises(RuntimeError):
        with PoseTrack18Writer(tmp_path / f"{NAME}.json", NAME) as writer:
            writer.write(_results_from_truth(clip)[0])
            raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []
