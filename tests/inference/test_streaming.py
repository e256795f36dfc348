"""Streaming clips (each frame embedded once) against exact clips (the keyframe box crops all)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from pstpose.inference.predictor import PosePredictor
from pstpose.inference.streaming import clip_frame_indices, link_boxes
from pstpose.models.pstpose import build_model

FRAMES = 7


@pytest.fixture(scope="module")
def model():
    """A tiny PSTPose whose refinement modules actually mix frames (not the identity they start as)."""
    torch.manual_seed(0)
    m = build_model("tiny").eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith(("refine", "temporal_embed")):
                p.add_(0.05 * torch.randn_like(p))
    return m


@pytest.fixture
def video(tmp_path, synth):
    frames, truth = synth.moving_scene(FRAMES)
    folder = tmp_path / "seq"
    folder.mkdir()
    for i, image in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:06d}.png"), image)
    moving = {t: np.stack([synth.person_box(k) for k in truth[t]]) for t in range(FRAMES)}
    return folder, moving


class _CountingEmbed:
    """Counts the crops that go through the backbone."""

    def __init__(self, model):
        self.rows = 0
        self.handle = model.backbone.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        self.rows += args[0].shape[0]


def _run(model, folder, boxes, mode, **kw):
    return PosePredictor(model, boxes, clip_mode=mode, tracker=False, **kw)(folder)


def _assert_same(a, b, atol=1e-3):
    assert [r.frame_index for r in a] == [r.frame_index for r in b]
    for ra, rb in zip(a, b):
        np.testing.assert_allclose(ra.keypoints, rb.keypoints, atol=atol)
        np.testing.assert_allclose(ra.keypoint_scores, rb.keypoint_scores, atol=1e-4)


@pytest.mark.parametrize("flip", [False, True])
def test_still_boxes_give_exactly_the_exact_mode(model, video, flip):
    folder, moving = video
    still = dict.fromkeys(range(FRAMES), moving[0])  # the boxes of frame 0 on every frame
    counter = _CountingEmbed(model)
    exact = _run(model, folder, still, "exact", flip=flip, batch_size=3)
    exact_rows, counter.rows = counter.rows, 0
    streaming = _run(model, folder, still, "streaming", flip=flip, batch_size=3)
    counter.handle.remove()
    _assert_same(exact, streaming)
    persons = 2 * FRAMES * (2 if flip else 1)
    assert exact_rows == 3 * persons  # every frame embedded once per clip it is in
    assert counter.rows == persons  # ... and once in all here


def test_unlinked_neighbours_fall_back_to_exact_crops(model, video):
    """Boxes that jump so far between frames that none overlaps the next (IoU < 0.5): every
    neighbour is cut with the keyframe's box, as in exact mode, and the answers agree."""
    folder, moving = video
    jumping = {t: moving[t] + np.array([37.0 * (t % 2), 0, 37.0 * (t % 2), 0]) for t in range(FRAMES)}
    for t in range(FRAMES - 1):
        assert link_boxes(jumping[t][:, :4], jumping[t + 1][:, :4]).max() == -1
    _assert_same(_run(model, folder, jumping, "exact"), _run(model, folder, jumping, "streaming", batch_size=2))


def test_moving_boxes_reuse_neighbours_and_stay_close(model, video):
    folder, moving = video
    counter = _CountingEmbed(model)
    exact = _run(model, folder, moving, "exact")
    counter.rows = 0
    streaming = _run(model, folder, moving, "streaming", batch_size=2)
    counter.handle.remove()
    assert counter.rows == 2 * FRAMES  # boxes moving 3 px/frame all link: nothing re-embedded
    diffs = [np.abs(a.keypoints - b.keypoints).max() for a, b in zip(exact, streaming)]
    assert max(diffs) > 1e-3  # the neighbours are cut differently: not the same computation


def test_link_boxes_is_one_to_one_by_iou():
    key = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [100, 100, 110, 110]], float)
    other = np.array([[21, 0, 31, 10], [1, 0, 11, 10], [0, 0, 10, 10.5]], float)
    # key 0 overlaps others 1 and 2; the assignment gives it the best total, key 1 takes other 0
    links = link_boxes(key, other)
    assert links[1] == 0 and links[0] == 2 and links[2] == -1
    assert list(link_boxes(key, np.zeros((0, 4)))) == [-1, -1, -1]


def test_clip_frames_repeat_at_the_ends():
    assert clip_frame_indices(0, 2, 10) == [0, 0, 0, 1, 2]
    assert clip_frame_indices(9, 1, 9) == [8, 9, 9]
    assert clip_frame_indices(5, 1, 9) == [4, 5, 6]


def test_streaming_refuses_what_it_cannot_do(model):
    with pytest.raises(ValueError, match="detect_every"):
        PosePredictor(model, {}, clip_mode="streaming", detect_every=2)
    with pytest.raises(ValueError, match="clip_mode"):
        PosePredictor(model, {}, clip_mode="fast")
