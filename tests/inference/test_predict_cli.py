"""`pstpose predict` end to end with an oracle stand-in model; real videos with HOG."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import pstpose.commands.predict as predict_cmd
from pstpose.cli import main


@pytest.fixture
def frames_folder(tmp_path, synth):
    frames, truth = synth.moving_scene(5)
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, image in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:06d}.png"), image)
    boxes = [
        {
            "image_id": t,
            "category_id": 1,
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
            "score": 0.9,
        }
        for t in range(5)
        for b in (synth.person_box(k) for k in truth[t])
    ]
    box_file = tmp_path / "boxes.json"
    box_file.write_text(json.dumps(boxes))
    return folder, truth, box_file


@pytest.fixture
def oracle(monkeypatch, synth):
    model = synth.ColourOracle()
    monkeypatch.setattr(predict_cmd, "load_model_from_args", lambda args, device: model)
    return model


def test_predict_writes_json_and_video(tmp_path, frames_folder, oracle, synth, capsys):
    folder, truth, box_file = frames_folder
    out = tmp_path / "out"
    code = main(
        [
            "predict",
            str(folder),
            "--detector",
            f"boxes:{box_file}",
            "--out",
            str(out),
            "--save-json",
            "--save-video",
            "--batch-size",
            "2",
            "--fps",
            "10",
            "--no-progress",
        ]
    )
    assert code == 0
    data = json.loads((out / "clip.json").read_text())
    assert data["fps"] == 10 and data["num_frames"] == 5 and (data["width"], data["height"]) == (480, 320)
    for frame in data["frames"]:
        kpts = np.array([inst["keypoints"] for inst in frame["instances"]])
        order = np.argsort(kpts[:, 0, 0])
        assert np.abs(kpts[order] - truth[frame["frame_index"]]).max() < 0.3
        assert sorted(inst["track_id"] for inst in frame["instances"]) == [0, 1]
    assert synth.count_video_frames(out / "clip.overlay.mp4") == 5
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.overlay.mp4"]
    printed = capsys.readouterr().out
    assert "5 frames, 10 persons" in printed


def test_predict_coco_format(tmp_path, frames_folder, oracle):
    folder, _, box_file = frames_folder
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                str(folder),
                "--detector",
                f"boxes:{box_file}",
                "--out",
                str(out),
                "--format",
                "coco",
                "--no-progress",
            ]
        )
        == 0
    )
    data = json.loads((out / "clip.coco.json").read_text())
    assert len(data) == 10 and {d["image_id"] for d in data} == set(range(5))


def test_unwritable_output_is_a_clear_error(tmp_path, frames_folder, oracle, capsys):
    folder, _, box_file = frames_folder
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code = main(
        ["predict", str(folder), "--detector", f"boxes:{box_file}", "--out", str(blocker / "out"), "--no-progress"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "a_file/out" in err and "is a file, not a folder" in err
    assert oracle.calls == 0  # refused before any work


def test_failure_mid_run_leaves_no_files(tmp_path, frames_folder, monkeypatch, synth):
    folder, _, box_file = frames_folder
    model = synth.ColourOracle()
    original = model.forward

    def crash_later(clip):
        if model.calls >= 1:
            raise RuntimeError("out of memory")
        return original(clip)

    monkeypatch.setattr(model, "forward", crash_later)
    monkeypatch.setattr(predict_cmd, "load_model_from_args", lambda args, device: model)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="out of memory"):
        main(
            [
                "predict",
                str(folder),
                "--detector",
                f"boxes:{box_file}",
                "--out",
                str(out),
                "--save-json",
                "--save-video",
                "--no-progress",
            ]
        )
    assert not out.exists()  # no files, and no empty folder either


@pytest.mark.parametrize(
    "argv,message",
    [
        (["predict", "missing_dir_xyz"], "missing_dir_xyz: no such file"),
        (["predict", "{folder}", "--batch-size", "0"], "--batch-size: must be at least 1 and at most 4096, got 0"),
        (["predict", "{folder}", "--detector", "yolo"], "unknown detector 'yolo'"),
        (["predict", "{folder}", "--detector", "boxes:{tmp}/none.json"], "none.json: box file not found"),
        (["predict", "{folder}", "--device", "tpu"], "--device tpu"),
        (["predict", "{folder}", "--frames-per-side", "2"], "the model was built for ξ=1"),
    ],
)
def test_user_errors(tmp_path, frames_folder, oracle, capsys, argv, message):
    folder, _, _ = frames_folder
    argv = [a.format(folder=folder, tmp=tmp_path) for a in argv] + ["--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_weights_message(tmp_path, frames_folder, capsys):
    folder, _, _ = frames_folder
    assert (
        main(["predict", str(folder), "--weights", str(tmp_path / "w.safetensors"), "--out", str(tmp_path / "o")]) == 2
    )
    assert "w.safetensors: weights not found" in capsys.readouterr().err
    # an empty --weights (an unset shell variable) is an error, not the default model
    assert main(["predict", str(folder), "--weights", "", "--out", str(tmp_path / "o")]) == 2
    assert "the weights path is empty" in capsys.readouterr().err


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["people_5frames_960x540.mp4", "posetrack18_test_000001"])
def test_real_videos_with_hog(shared_data, tmp_path, monkeypatch, synth, name):
    """Real footage, HOG boxes, a stand-in pose model: valid JSON and a playable overlay video."""
    positions = synth.TEMPLATE * [40, 56] + [23.5, 4]  # a plausible upright pose in heatmap px
    monkeypatch.setattr(predict_cmd, "load_model_from_args", lambda args, device: synth.FixedHeatmaps(positions))
    source = shared_data / "videos" / name
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                str(source),
                "--detector",
                "hog",
                "--out",
                str(out),
                "--save-json",
                "--save-video",
                "--no-progress",
            ]
        )
        == 0
    )
    stem = source.stem
    data = json.loads((out / f"{stem}.json").read_text())
    assert data["num_frames"] == 5 and len(data["frames"]) == 5
    persons = sum(len(f["instances"]) for f in data["frames"])
    assert persons > 0, "HOG found nobody in real footage of people"
    for frame in data["frames"]:
        for inst in frame["instances"]:
            x, y, w, h = inst["bbox"]
            assert 0 <= x and 0 <= y and x + w <= data["width"] + 1e-6 and y + h <= data["height"] + 1e-6
            assert np.isfinite(inst["keypoints"]).all() and len(inst["keypoints"]) == 17
    assert synth.count_video_frames(out / f"{stem}.overlay.mp4") == 5


def test_predict_with_real_model_weights(tmp_path, frames_folder):
    """--weights loads through pstpose.models.load_model, as the Python API does."""
    import torch

    from pstpose.models import pstpose as models

    torch.manual_seed(0)
    model = models.build_model("tiny")
    model.save_pretrained(tmp_path / "w")
    folder, _, box_file = frames_folder
    single = tmp_path / "two"
    single.mkdir()
    for name in sorted(p.name for p in folder.iterdir())[:2]:
        (single / name).write_bytes((folder / name).read_bytes())
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                str(single),
                "--weights",
                str(tmp_path / "w"),
                "--detector",
                f"boxes:{box_file}",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    data = json.loads((out / "two.json").read_text())
    assert data["num_frames"] == 2 and all(len(f["instances"]) == 2 for f in data["frames"])
    # the CLI's numbers are the Python API's numbers
    from pstpose.inference.predictor import PosePredictor

    model = models.PSTPose.from_pretrained(tmp_path / "w")
    results = PosePredictor(model, f"boxes:{box_file}").predict(single)
    np.testing.assert_allclose(data["frames"][1]["instances"][0]["keypoints"], results[1].keypoints[0], atol=0.01)
