"""`pstpose demo` end to end with a stand-in (untrained) checkpoint as the default weights.

The numbers of an untrained model mean nothing; what is checked is that every file is written,
consistent with the others and with the clip's ground truth, and that the printed table is the
evaluator's table of those files.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

import pstpose.weights
from pstpose.cli import main
from pstpose.data.synthetic import render_sequence
from pstpose.inference.demo import SEQUENCE_NAME, DemoFiles, gt_boxes
from pstpose.metrics import evaluate
from pstpose.models.pstpose import build_model

# An untrained stand-in, smaller than ``tiny`` so that CPU tests stay fast (same code paths), at
# a small 128x96 input (the shipped model reads 192x144; other tests cover the default 256x192).
STANDIN = dict(
    backbone={"depth": 1, "embed_dim": 64, "num_heads": 2}, head={"deconv_channels": 32}, image_size=[128, 96]
)

DEMO = dict(frames=5, seed=7, height=128, width=160)


@pytest.fixture(scope="module")
def standin_weights(tmp_path_factory):
    torch.manual_seed(0)
    return build_model("tiny", **STANDIN).save_pretrained(tmp_path_factory.mktemp("weights") / "tiny_synthetic")


def _count_frames(path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_demo_with_default_weights(tmp_path, monkeypatch, capsys, standin_weights):
    monkeypatch.setattr(pstpose.weights, "DEFAULT_WEIGHTS", standin_weights)
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--no-progress"] + [f"--{k}={v}" for k, v in DEMO.items()]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    files = DemoFiles.inside(out)

    # videos: the rendered clip and the overlay, every frame
    assert _count_frames(files.video) == DEMO["frames"] and _count_frames(files.overlay) == DEMO["frames"]

    # ground truth file = the generator's ground truth for this seed
    clip = render_sequence(
        seed=DEMO["seed"], frames=DEMO["frames"], height=DEMO["height"], width=DEMO["width"], preset="standard"
    )
    gt = json.loads((files.gt_dir / f"{SEQUENCE_NAME}.json").read_text())
    assert all(im["is_labeled"] for im in gt["images"])  # every frame scored
    assert len(gt["annotations"]) == sum(len(p) for p in clip.persons)
    np.testing.assert_allclose(
        np.reshape(gt["annotations"][0]["keypoints"], (17, 3))[:, :2], clip.persons[0][0].keypoints[:, :2], atol=0.006
    )

    # native JSON: one entry per frame; with --detector gt its boxes are the GT boxes (clipped)
    native = json.loads(files.json.read_text())
    assert native["num_frames"] == DEMO["frames"] and (native["width"], native["height"]) == (160, 128)
    boxes = gt_boxes(clip.persons)
    for frame in native["frames"]:
        got = sorted(tuple(i["bbox"]) for i in frame["instances"])
        x1y1x2y2 = np.clip(boxes[frame["frame_index"]][:, :4], 0, [160, 128, 160, 128])
        want = sorted((a, b, c - a, d - b) for a, b, c, d in x1y1x2y2)
        np.testing.assert_allclose(got, want, atol=0.011)  # the JSON has 2 decimals

    # PoseTrack18 predictions hold the same keypoints as the native JSON, frame by frame
    pred = json.loads((files.pred_dir / f"{SEQUENCE_NAME}.json").read_text())
    assert [im["id"] for im in pred["images"]] == [im["id"] for im in gt["images"]]
    native_kp = [i["keypoints"] for f in native["frames"] for i in f["instances"]]
    pred_kp = [np.reshape(a["keypoints"], (17, 3))[:, :2] for a in pred["annotations"]]
    np.testing.assert_allclose(pred_kp, native_kp, atol=0.006)

    # the printed table is `pstpose eval` of those files
    assert evaluate(files.gt_dir, files.pred_dir).table() in printed
    assert "ground-truth person boxes" in printed and f"pstpose eval --gt {files.gt_dir}" in printed


def test_demo_without_shipped_weights_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pstpose.weights, "DEFAULT_WEIGHTS", tmp_path / "absent")
    assert main(["demo", "--out", str(tmp_path / "o"), "--frames", "2"]) == 2
    err = capsys.readouterr().err
    assert "no default weights shipped in this installation" in err and "pass --weights" in err
    assert not (tmp_path / "o" / "demo.mp4").exists()  # failed before any work


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--frames", "0"], "--frames: must be >= 1"),
        (["--height", "101"], "--height: must be an even number"),
    ],
)
def test_demo_bad_arguments(tmp_path, capsys, argv, message, standin_weights):
    assert main(["demo", "--out", str(tmp_path / "o"), "--weights", str(standin_weights)] + argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_predict_uses_the_default_weights_or_says_what_to_do(tmp_path, monkeypatch, capsys, standin_weights):
    from pstpose.weights import default_weights

    monkeypatch.setattr(pstpose.weights, "DEFAULT_WEIGHTS", standin_weights)
    assert default_weights() == standin_weights
    monkeypatch.setattr(pstpose.weights, "DEFAULT_WEIGHTS", tmp_path / "absent")
    image = tmp_path / "one.png"
    cv2.imwrite(str(image), np.zeros((64, 48, 3), np.uint8))
    assert main(["predict", str(image), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no default weights shipped in this installation" in err and err.rstrip().endswith("pass --weights")
