"""End to end on synthetic videos with exact ground truth: mp4 in, poses and track ids out.

The accuracy test needs the trained default weights (``pstpose/weights/tiny_synthetic``) and is
skipped only while they are absent. The tracking test runs with them when present, else with an
untrained small stand-in model (its joint scores are then near zero, so the tracker works from the box
geometry alone: the harder case).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pstpose.data.synthetic import render_sequence
from pstpose.inference.demo import gt_boxes
from pstpose.inference.predictor import PosePredictor
from pstpose.media import write_video
from pstpose.models.pstpose import PSTPose, build_model
from pstpose.weights import DEFAULT_WEIGHTS

# An untrained stand-in, smaller than ``tiny`` so that CPU tests stay fast (same code paths).
STANDIN = dict(backbone={"depth": 1, "embed_dim": 64, "num_heads": 2}, head={"deconv_channels": 32})

SHIPPED = (DEFAULT_WEIGHTS / "model.safetensors").is_file()
needs_weights = pytest.mark.skipif(not SHIPPED, reason=f"trained default weights not shipped yet ({DEFAULT_WEIGHTS})")

# Accuracy bounds for the shipped tiny model with ground-truth boxes, over the visible joints of
# an unseen clip of the training preset (people a median 168 px tall). Median, so a few confused
# joints (left/right swaps, occlusions) do not decide the test. Measured for the shipped weights:
# 4.0 px, 0.031 of the person's size (an untrained model: ~56 px, 0.48). The bounds sit just
# above that, so a regression in the pipeline or the weights fails the test.
MAX_MEDIAN_ERROR_PX = 5.0
MAX_MEDIAN_ERROR_FRACTION = 0.04  # of the person's size (the longer side of its joints' extent)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes (N, 4) x (M, 4)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def _clipped_gt_boxes(persons, width: int, height: int) -> np.ndarray:
    boxes = gt_boxes([persons])[0][:, :4]
    return np.clip(boxes, 0, [width, height, width, height])


@pytest.fixture(scope="module")
def shipped_model():
    return PSTPose.from_pretrained(DEFAULT_WEIGHTS)


@needs_weights
def test_keypoints_close_to_ground_truth_with_gt_boxes(tmp_path, shipped_model):
    clip = render_sequence(seed=2024, frames=8, height=288, width=384, preset="standard")
    video = write_video(tmp_path / "clip.mp4", clip.frames, fps=clip.fps)
    results = PosePredictor(shipped_model, gt_boxes(clip.persons), batch_size=4).predict(video)
    assert [r.frame_index for r in results] == list(range(8))
    errors_px, errors_rel = [], []
    for r, persons in zip(results, clip.persons):
        gt = _clipped_gt_boxes(persons, clip.width, clip.height)
        assert len(r) == len(persons)
        match = _box_iou(r.boxes, gt).argmax(1)  # the predictor's boxes are the GT boxes, clipped
        for i, j in enumerate(match):
            kp = persons[j].keypoints
            visible = kp[:, 2] > 0
            extent = kp[visible, :2].max(0) - kp[visible, :2].min(0)
            err = np.linalg.norm(r.keypoints[i, visible] - kp[visible, :2], axis=1)
            errors_px += err.tolist()
            errors_rel += (err / max(extent.max(), 1.0)).tolist()
    median_px, median_rel = float(np.median(errors_px)), float(np.median(errors_rel))
    print(
        f"median error {median_px:.2f} px, {median_rel:.3f} of person size, over {len(errors_px)} joints; "
        f"90th percentile {np.percentile(errors_px, 90):.2f} px"
    )
    assert median_px < MAX_MEDIAN_ERROR_PX, median_px
    assert median_rel < MAX_MEDIAN_ERROR_FRACTION, median_rel


# Two people walking past each other: their box centres swap order over the 16 frames and both
# are annotated in every frame (checked below, so a change of the generator cannot hollow it out).
CROSSING = dict(seed=42, frames=16, height=192, width=256, preset="standard", people=2)


def test_track_ids_follow_people_who_cross(tmp_path):
    if SHIPPED:
        model = PSTPose.from_pretrained(DEFAULT_WEIGHTS)  # OKS on real poses joins the box cues
    else:
        torch.manual_seed(0)
        model = build_model("tiny", **STANDIN)
    clip = render_sequence(**CROSSING)
    centres = [{p.track_id: p.bbox[0] + p.bbox[2] / 2 for p in ps} for ps in clip.persons]
    assert all(len(c) == 2 for c in centres)
    first, last = centres[0], centres[-1]
    assert np.sign(first[0] - first[1]) != np.sign(last[0] - last[1]), "the two people must cross"
    video = write_video(tmp_path / "cross.mp4", clip.frames, fps=clip.fps)

    # GT boxes go in without their ids; the ids come out of the predictor's tracker.
    results = PosePredictor(model, gt_boxes(clip.persons), batch_size=4).predict(video)
    pred_to_gt: dict[int, set[int]] = {}
    for r, persons in zip(results, clip.persons):
        gt = _clipped_gt_boxes(persons, clip.width, clip.height)
        iou = _box_iou(r.boxes, gt)
        assert len(r) == 2 and len(set(r.track_ids.tolist())) == 2
        for i, tid in enumerate(r.track_ids):
            assert iou[i].max() > 0.9
            pred_to_gt.setdefault(int(tid), set()).add(persons[int(iou[i].argmax())].track_id)
    # exactly two predicted tracks over the whole clip, each always the same person
    assert sorted(pred_to_gt) == sorted(set(results[0].track_ids.tolist()))
    assert sorted(pred_to_gt.values(), key=min) == [{0}, {1}], pred_to_gt
