"""`pstpose predict --weights X` for ViTPose checkpoints in every layout and as a Hub id.

The reference is a random transformers ViTPose-S: every layout must give the same JSON as its
transformers folder, and that JSON must hold the joints decoded from the reference's own heatmaps
on the same crops. With a COCO head the JSON names COCO joints, the PoseTrack18 file leaves
head_bottom/head_top absent, and the run says in one line what it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pstpose.cli import main
from pstpose.keypoints import COCO_JOINT_NAMES

from ..models.test_vitpose_layouts import _writers, make_reference

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def reference():
    return make_reference("s", simple=False, seed=4)


@pytest.fixture
def video(tmp_path, synth):
    frames, truth = synth.moving_scene(4)
    path = synth.write_video(tmp_path / "walk.mp4", frames, fps=10)
    boxes = [
        {
            "image_id": t,
            "category_id": 1,
            "bbox": [float(v) for v in (b[0], b[1], b[2] - b[0], b[3] - b[1])],
            "score": 0.9,
        }
        for t in range(len(frames))
        for b in (synth.person_box(k) for k in truth[t])
    ]
    box_file = tmp_path / "boxes.json"
    box_file.write_text(json.dumps(boxes))
    return path, box_file


def _predict(video, box_file, weights, out: Path, capsys, *extra) -> tuple[dict, str]:
    code = main(
        [
            "predict",
            str(video),
            "--weights",
            str(weights),
            "--detector",
            f"boxes:{box_file}",
            "--out",
            str(out),
            "--save-json",
            "--save-video",
            "--no-progress",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    if "posetrack18" in extra:
        return json.loads((out / "posetrack18" / "walk.json").read_text()), captured.err
    return json.loads((out / "walk.json").read_text()), captured.err


def _reference_keypoints(reference, video: Path, box_file: Path) -> list[np.ndarray]:
    """Keypoints from the reference's heatmaps on the predictor's crops, decoded the same way."""
    from pstpose.codec import decode_heatmaps, heatmap_stride, to_image_coords
    from pstpose.inference.crops import crop_clips, crop_matrices, sanitize_boxes
    from pstpose.inference.detectors import BoxFileDetector
    from pstpose.inference.sources import open_source
    from pstpose.preprocess import normalize_rgb

    frames = [f.image for f in open_source(str(video))]
    detector = BoxFileDetector(str(box_file))
    out = []
    for t, image in enumerate(frames):
        boxes, _ = sanitize_boxes(detector.detect(image, t), image.shape[1], image.shape[0])
        mats = crop_matrices(boxes, (256, 192))
        crops = crop_clips([image], mats, (256, 192), normalize=False)[:, 0]
        with torch.no_grad():
            heat = reference(pixel_values=torch.from_numpy(normalize_rgb(crops))).heatmaps.float().numpy()
        coords, _ = decode_heatmaps(heat, "dark")
        out.append(to_image_coords(coords, mats, heatmap_stride(heat.shape[-2:], (256, 192))))
    return out


def test_predict_with_every_layout(tmp_path, video, reference, capsys, synth):
    path, box_file = video
    files = _writers(tmp_path / "weights", reference)
    results = {}
    for name, weights in files.items():
        doc, err = _predict(path, box_file, weights, tmp_path / name.replace(" ", "_"), capsys)
        assert "single-frame ViTPose" in err and "coco joints" in err, name
        assert doc["joint_set"] == "coco" and doc["keypoint_names"] == list(COCO_JOINT_NAMES)
        results[name] = [np.array([p["keypoints"] for p in f["instances"]]) for f in doc["frames"]]
        overlay = tmp_path / name.replace(" ", "_") / "walk.overlay.mp4"
        assert synth.count_video_frames(overlay) == len(doc["frames"])
    expected = _reference_keypoints(reference, path, box_file)
    for name, frames in results.items():
        for got, want in zip(frames, expected):
            order = np.argsort(got[:, 0, 0])  # persons may come in another order than the box file's
            assert np.abs(got[order] - want[np.argsort(want[:, 0, 0])]).max() <= 0.02, name
    # the PoseTrack18 file maps COCO joints by name: head_bottom / head_top absent, eyes left out
    pt18, _ = _predict(path, box_file, files["mmpose 1.x"], tmp_path / "pt18", capsys, "--format", "posetrack18")
    kps = np.array(pt18["annotations"][0]["keypoints"]).reshape(17, 3)
    assert kps[1:3].tolist() == [[0, 0, 0], [0, 0, 0]] and (kps[5:, 2] == 1).all()


def _hub_cache(root: Path, repo: str, folder: Path) -> None:
    """huggingface_hub's cache layout, filled by hand: refs/main -> snapshots/<commit>/files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    base = root / f"models--{repo.replace('/', '--')}"
    snapshot = base / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for item in folder.iterdir():
        (snapshot / item.name).write_bytes(item.read_bytes())
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(commit)


def test_predict_with_a_hub_id_offline(tmp_path, video, reference, capsys, monkeypatch):
    pytest.importorskip("huggingface_hub")
    path, box_file = video
    reference.save_pretrained(tmp_path / "hf")
    cache = tmp_path / "hub"
    _hub_cache(cache, "usyd-community/vitpose-small-test", tmp_path / "hf")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    hub_doc, err = _predict(path, box_file, "hf:usyd-community/vitpose-small-test", tmp_path / "hub-out", capsys)
    local_doc, _ = _predict(path, box_file, tmp_path / "hf", tmp_path / "local-out", capsys)
    assert "single-frame ViTPose" in err
    assert hub_doc["frames"] == local_doc["frames"]
    code = main(["predict", str(path), "--weights", "hf:nobody/not-cached", "--detector", f"boxes:{box_file}",
                 "--out", str(tmp_path / "x"), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "hf:nobody/not-cached" in err and "HF_HUB_OFFLINE" in err and "Traceback" not in err
