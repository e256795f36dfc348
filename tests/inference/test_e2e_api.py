"""The user-facing Python API: ``pstpose.PosePredictor(model, detector=...).predict(source, stream=True)``."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest
import torch

import pstpose
from pstpose.data.synthetic import render_sequence
from pstpose.inference.demo import gt_boxes
from pstpose.inference.predictor import estimate_poses
from pstpose.inference.results import PoseResult

# An untrained stand-in, smaller than ``tiny`` so that CPU tests stay fast (same code paths), at
# a small 128x96 input (the shipped model reads 192x144; other tests cover the default 256x192).
STANDIN = dict(
    backbone={"depth": 1, "embed_dim": 64, "num_heads": 2}, head={"deconv_channels": 32}, image_size=[128, 96]
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return pstpose.build_model("tiny", **STANDIN).save_pretrained(tmp_path_factory.mktemp("w") / "tiny")


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory):
    """4 lossless frames (PNG) of a synthetic clip and its GT boxes."""
    clip = render_sequence(seed=11, frames=4, height=128, width=160, preset="easy", people=1)
    folder = tmp_path_factory.mktemp("clip") / "frames"
    folder.mkdir()
    for t, image in enumerate(clip.frames):
        cv2.imwrite(str(folder / f"{t:06d}.png"), image)
    return folder, clip.frames, gt_boxes(clip.persons)


def test_predict_streams_results_equal_to_the_low_level_call(checkpoint, frame_folder):
    folder, frames, boxes = frame_folder
    model = pstpose.PSTPose.from_pretrained(checkpoint)
    stream = pstpose.PosePredictor(model, detector=boxes).predict(folder, stream=True)
    assert isinstance(stream, types.GeneratorType)  # lazy: nothing decoded until iterated
    results = []
    for result in stream:
        assert isinstance(result, PoseResult)
        results.append(result)
    assert [r.frame_index for r in results] == [0, 1, 2, 3]
    for r in results:
        t = r.frame_index
        assert r.keypoints.shape == (len(boxes[t]), 17, 2) and r.keypoint_scores.shape == (len(boxes[t]), 17)
        np.testing.assert_allclose(r.boxes, boxes[t][:, :4])  # inside the image: used as given
        # the same clip through the research call: frames t-1..t+1, edges repeated
        clip = [frames[min(max(i, 0), len(frames) - 1)] for i in (t - 1, t, t + 1)]
        kpts, scores = estimate_poses(model, clip, boxes[t])
        np.testing.assert_allclose(r.keypoints, kpts, atol=1e-4)
        np.testing.assert_allclose(r.keypoint_scores, scores, atol=1e-5)
        assert r.plot().shape == frames[t].shape
    assert len({int(r.track_ids[0]) for r in results}) == 1  # one person, one track


def test_predict_without_stream_returns_a_list(checkpoint, frame_folder):
    """A list, here with options passed through (batching 3 keyframes per call, no images kept)."""
    folder, frames, boxes = frame_folder
    model = pstpose.PSTPose.from_pretrained(checkpoint)
    listed = pstpose.PosePredictor(model, detector=boxes, keep_images=False, batch_size=3).predict(folder)
    assert isinstance(listed, list) and [r.frame_index for r in listed] == [0, 1, 2, 3]
    assert all(r.image is None for r in listed)
    kpts, _ = estimate_poses(model, frames[2:4] + frames[3:4], boxes[3])  # last frame: edge repeated
    np.testing.assert_allclose(listed[3].keypoints, kpts, atol=1e-4)


def test_predict_rejects_unknown_options(checkpoint, frame_folder):
    _folder, _, boxes = frame_folder
    model = pstpose.PSTPose.from_pretrained(checkpoint)
    with pytest.raises(TypeError, match="no_such_option"):
        pstpose.PosePredictor(model, detector=boxes, no_such_option=1)
