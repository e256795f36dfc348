"""Image mode: photos of any sizes are independent images (each its own clip, batched across
photos, not tracked); outputs are annotated images under the photos' names plus one JSON."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

import pstpose.commands.predict as predict_cmd
from pstpose.cli import main
from pstpose.inference.sources import ImageSequenceSource, ImageSetSource, SourceError, open_source
from pstpose.media import image_size

# (file name, width, height, persons as (centre x, top y, width, height))
PHOTOS = [
    ("a.png", 480, 320, [(140.3, 40.6, 100, 200)]),
    ("b.png", 320, 400, [(160.7, 90.2, 120, 240)]),
    ("c.png", 640, 360, [(150.4, 50.1, 100, 200), (450.9, 70.8, 90, 180)]),
]


@pytest.fixture
def photos(tmp_path, synth):
    """Three photos of three sizes with known joints, and a COCO box file naming them."""
    folder = tmp_path / "photos"
    folder.mkdir()
    truth, images, annotations = {}, [], []
    for image_id, (name, w, h, persons) in enumerate(PHOTOS):
        kpts = [synth.person_keypoints(x, y, pw, ph) for x, y, pw, ph in persons]
        cv2.imwrite(str(folder / name), synth.render_scene(w, h, kpts))
        truth[name] = np.stack(kpts)
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for k in kpts:
            b = synth.person_box(k)
            annotations.append(
                {
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": [*map(float, b[:2]), *map(float, b[2:] - b[:2])],
                    "score": 0.9,
                }
            )
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"images": images, "annotations": annotations}))
    return folder, truth, boxes


@pytest.fixture
def oracle(monkeypatch, synth):
    model = synth.ColourOracle()
    monkeypatch.setattr(predict_cmd, "load_model_from_args", lambda args, device: model)
    return model


def _predict(*argv: str) -> int:
    return main(["predict", *argv, "--no-progress"])


def test_header_sizes_equal_decoded_sizes(tmp_path, rng):
    """The header reader that decides the mode agrees with the decoder, PNG and JPEG (baseline
    and progressive); other formats say None."""
    image = rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)
    cases = {
        "x.png": [],
        "x.jpg": [cv2.IMWRITE_JPEG_QUALITY, 90],
        "p.jpg": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
        "x.bmp": [],
    }
    for name, params in cases.items():
        cv2.imwrite(str(tmp_path / name), image, params)
        expected = None if name.endswith(".bmp") else (53, 37)
        assert image_size(tmp_path / name) == expected, name
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00")
    assert image_size(tmp_path / "broken.jpg") is None


def test_folder_of_three_sizes_in_one_process(tmp_path, photos, oracle, capsys):
    folder, truth, boxes = photos
    out = tmp_path / "out"
    assert _predict(str(folder), "--detector", f"boxes:{boxes}", "--out", str(out)) == 0
    assert oracle.calls == 1  # the three photos' persons go through the model in one batch

    data = json.loads((out / "photos.json").read_text())
    assert data["mode"] == "images" and data["num_frames"] == 3
    assert data["fps"] is None and data["width"] is None and data["height"] is None
    for frame, (name, w, h, _) in zip(data["frames"], PHOTOS):
        assert (frame["file_name"], frame["width"], frame["height"]) == (name, w, h)
        kpts = np.array([inst["keypoints"] for inst in frame["instances"]])
        order = np.argsort(kpts[:, 0, 0])
        assert np.abs(kpts[order] - truth[name]).max() < 0.3
        assert all(inst["track_id"] == -1 for inst in frame["instances"])  # photos are not tracked

    vis = out / "vis"
    assert sorted(p.name for p in vis.iterdir()) == [name for name, *_ in PHOTOS]
    for name, w, h, _ in PHOTOS:
        original = cv2.imread(str(folder / name))
        drawn = cv2.imread(str(vis / name))
        assert drawn.shape == original.shape == (h, w, 3)
        # the skeleton is drawn where the joints are: the left wrist's pixel changed
        x, y = np.round(truth[name][0, 9]).astype(int)
        patch = np.s_[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]
        assert np.abs(drawn[patch].astype(int) - original[patch].astype(int)).max() > 30
    printed = capsys.readouterr().out
    assert f"images: {vis}" in printed and f"json: {out / 'photos.json'}" in printed


def test_single_photo_gives_an_annotated_image(tmp_path, photos, oracle):
    folder, _truth, boxes = photos
    out = tmp_path / "out"
    assert _predict(str(folder / "c.png"), "--detector", f"boxes:{boxes}", "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["c.json", "vis"]
    assert cv2.imread(str(out / "vis" / "c.png")).shape == (360, 640, 3)
    frame = json.loads((out / "c.json").read_text())["frames"][0]
    assert frame["file_name"] == "c.png" and len(frame["instances"]) == 2


def test_no_vis_and_no_json(tmp_path, photos, oracle, capsys):
    folder, _, boxes = photos
    out = tmp_path / "out"
    assert _predict(str(folder), "--detector", f"boxes:{boxes}", "--out", str(out), "--no-vis") == 0
    assert sorted(p.name for p in out.iterdir()) == ["photos.json"]
    out2 = tmp_path / "out2"
    assert _predict(str(folder), "--detector", f"boxes:{boxes}", "--out", str(out2), "--no-json") == 0
    assert sorted(p.name for p in out2.iterdir()) == ["vis"]
    assert _predict(str(folder), "--out", str(tmp_path / "o3"), "--no-json", "--no-vis") == 2
    assert "nothing else to write" in capsys.readouterr().err


def test_mode_rule_and_override(tmp_path, synth, oracle):
    """Frames of one size are a video unless told otherwise; several sizes are photos unless
    told otherwise, and then the size error names the way out."""
    frames, _ = synth.moving_scene(3)
    same = tmp_path / "same"
    same.mkdir()
    for i, image in enumerate(frames):
        cv2.imwrite(str(same / f"{i:06d}.png"), image)
    assert isinstance(open_source(same), ImageSequenceSource)
    assert isinstance(open_source(same, mode="images"), ImageSetSource)
    assert isinstance(open_source(same / "000000.png"), ImageSetSource)  # one photo is a photo
    assert isinstance(open_source(str(same / "*.png")), ImageSequenceSource)

    mixed = tmp_path / "mixed"
    shutil.copytree(same, mixed)
    cv2.imwrite(str(mixed / "000001.png"), cv2.resize(frames[1], (240, 160)))
    assert isinstance(open_source(mixed), ImageSetSource)
    video = open_source(mixed, mode="video")
    with pytest.raises(SourceError, match="source mode 'images'"):
        list(video)
    with pytest.raises(SourceError, match="mode must be one of"):
        open_source(mixed, mode="photos")


def test_same_size_folder_as_images_is_not_tracked(tmp_path, synth, oracle):
    frames, truth = synth.moving_scene(3)
    same = tmp_path / "same"
    same.mkdir()
    for i, image in enumerate(frames):
        cv2.imwrite(str(same / f"{i:06d}.png"), image)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(
        json.dumps(
            [
                {"image_id": t, "bbox": [*map(float, b[:2]), *map(float, b[2:] - b[:2])], "score": 0.9}
                for t in range(3)
                for b in (synth.person_box(k) for k in truth[t])
            ]
        )
    )
    out = tmp_path / "out"
    assert _predict(str(same), "--mode", "images", "--out", str(out), "--detector", f"boxes:{boxes}") == 0
    data = json.loads((out / "same.json").read_text())
    assert data["mode"] == "images" and sum(len(f["instances"]) for f in data["frames"]) == 6
    assert all(i["track_id"] == -1 for f in data["frames"] for i in f["instances"])
    assert (out / "vis" / "000002.png").is_file()


def test_annotated_images_never_overwrite_the_photos(tmp_path, photos, oracle, capsys):
    folder, _, boxes = photos
    inside = tmp_path / "o" / "vis"
    shutil.copytree(folder, inside)
    before = {p.name: p.read_bytes() for p in inside.iterdir()}
    assert _predict(str(inside), "--detector", f"boxes:{boxes}", "--out", str(tmp_path / "o")) == 2
    assert "would overwrite the input photo" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in inside.iterdir()} == before
    assert oracle.calls == 0


def test_posetrack18_is_refused_for_photos(tmp_path, photos, oracle, capsys):
    folder, _, _boxes = photos
    code = _predict(str(folder), "--format", "posetrack18", "--out", str(tmp_path / "o"))
    assert code == 2
    assert "describe video sequences" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_several_formats_at_once(tmp_path, photos, oracle):
    folder, _truth, boxes = photos
    out = tmp_path / "out"
    argv = [str(folder), "--detector", f"boxes:{boxes}", "--out", str(out), "--format", "native", "--format", "coco"]
    assert _predict(*argv) == 0
    coco = json.loads((out / "photos.coco.json").read_text())
    assert sorted(d["image_id"] for d in coco) == [0, 1, 2, 2]


@pytest.mark.shared_data
def test_real_posetrack_frames_of_two_sizes(shared_data, tmp_path, monkeypatch, synth):
    """Real PoseTrack frames (1920×1080 and 1280×720) in one folder: image mode, HOG boxes, a
    stand-in pose model; one annotated image per photo at its own size and one JSON."""
    positions = synth.TEMPLATE * [40, 56] + [23.5, 4]
    monkeypatch.setattr(predict_cmd, "load_model_from_args", lambda args, device: synth.FixedHeatmaps(positions))
    folder = tmp_path / "real"
    folder.mkdir()
    shutil.copy(shared_data / "posetrack18_sample/images/val/009473_mpii_test/000000.jpg", folder / "mpii.jpg")
    for name in ("000000.jpg", "000001.jpg"):
        shutil.copy(shared_data / "videos/posetrack18_test_000001" / name, folder / f"street_{name}")
    out = tmp_path / "out"
    assert _predict(str(folder), "--detector", "hog", "--out", str(out)) == 0
    data = json.loads((out / "real.json").read_text())
    sizes = {f["file_name"]: (f["width"], f["height"]) for f in data["frames"]}
    assert sizes == {"mpii.jpg": (1920, 1080), "street_000000.jpg": (1280, 720), "street_000001.jpg": (1280, 720)}
    for name, (w, h) in sizes.items():
        assert cv2.imread(str(out / "vis" / name)).shape == (h, w, 3)
    for frame in data["frames"]:
        w, h = sizes[frame["file_name"]]
        for inst in frame["instances"]:
            x, y, bw, bh = inst["bbox"]
            assert 0 <= x and 0 <= y and x + bw <= w + 1e-6 and y + bh <= h + 1e-6
    assert sum(len(f["instances"]) for f in data["frames"]) > 0
