"""The generated dataset on disk: PoseTrack18 structure equal to the real release, determinism
(also across worker counts), readers, summary, CLI and errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pstpose.cli import main as cli_main
from pstpose.data.synthetic import PRESETS, generate_dataset, make_contact_sheet
from pstpose.keypoints import JOINT_NAMES, POSETRACK18_SKELETON_1BASED

SMALL = dict(videos=2, val_videos=1, frames=6, height=96, width=128, seed=3)
REAL_FILE = Path("posetrack18_sample/annotations/val/009473_mpii_test.json")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    generate_dataset(out, **SMALL)
    return out


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_whatever_the_workers(dataset, tmp_path):
    other = tmp_path / "again"
    generate_dataset(other, **SMALL, workers=2)
    a, b = _all_files(dataset), _all_files(other)
    assert sorted(a) == sorted(b)
    assert len([k for k in a if k.endswith(".jpg")]) == (2 + 1) * 6
    for name in a:
        assert a[name] == b[name], name
    # a different seed changes the pixels
    third = tmp_path / "seed4"
    generate_dataset(third, **{**SMALL, "seed": 4, "videos": 1, "val_videos": 0})
    assert (third / "images/train/000001_mpii_train/000000.jpg").read_bytes() != a[
        "images/train/000001_mpii_train/000000.jpg"
    ]


def test_layout_names_and_ids(dataset):
    train = sorted((dataset / "annotations" / "train").glob("*.json"))
    val = sorted((dataset / "annotations" / "val").glob("*.json"))
    assert [p.name for p in train] == ["000001_mpii_train.json", "000002_mpii_train.json"]
    assert [p.name for p in val] == ["100001_mpii_test.json"]
    for path, every in [(p, 1) for p in train] + [(p, 4) for p in val]:
        data = json.loads(path.read_text())
        seq = path.stem
        vid = seq[:6]
        assert [im["file_name"] for im in data["images"]] == [
            f"images/{path.parent.name}/{seq}/{t:06d}.jpg" for t in range(6)
        ]
        for t, im in enumerate(data["images"]):
            assert im["id"] == int("1" + vid + f"{t:04d}") == im["frame_id"]
            assert im["vid_id"] == vid and im["nframes"] == 6
            assert im["is_labeled"] is (t % every == 0)
            assert (im["width"], im["height"]) == (128, 96)
            assert (dataset / im["file_name"]).is_file()
        labeled = {im["id"] for im in data["images"] if im["is_labeled"]}
        ids = set()
        for ann in data["annotations"]:
            assert ann["image_id"] in labeled
            assert ann["id"] // 100 == ann["image_id"] and ann["id"] not in ids
            ids.add(ann["id"])
            kps = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
            assert np.all(kps[[3, 4]] == 0), "ears are never annotated"
            assert set(np.unique(kps[:, 2])) <= {0.0, 1.0}
            assert ann["num_keypoints"] == int((kps[:, 2] > 0).sum()) >= 3
        img = cv2.imread(str(dataset / data["images"][0]["file_name"]))
        assert img.shape == (96, 128, 3)


def test_keys_and_categories_equal_the_real_release(dataset, shared_data):
    real = json.loads((shared_data / REAL_FILE).read_text())
    ours = json.loads((dataset / "annotations/val/100001_mpii_test.json").read_text())
    assert set(ours) == set(real)
    assert ours["categories"] == real["categories"]
    real_image_keys = set(real["images"][0]) - {"ignore_regions_x", "ignore_regions_y", "mask_file"}
    assert {k for im in ours["images"] for k in im} == real_image_keys
    assert {k for a in ours["annotations"] for k in a} == set(real["annotations"][0])
    for key in ("id", "frame_id", "nframes"):
        assert type(ours["images"][0][key]) is type(real["images"][0][key])
    assert type(ours["images"][0]["vid_id"]) is str


def test_categories_use_project_joint_facts(dataset):
    data = json.loads((dataset / "annotations/train/000001_mpii_train.json").read_text())
    assert data["categories"][0]["keypoints"] == list(JOINT_NAMES)
    assert [tuple(p) for p in data["categories"][0]["skeleton"]] == list(POSETRACK18_SKELETON_1BASED)


def test_files_load_with_the_posetrack_reader(dataset):
    from pstpose.data import posetrack

    path = dataset / "annotations/val/100001_mpii_test.json"
    raw = json.loads(path.read_text())
    seq = posetrack.load_sequence(path)
    assert len(seq.frames) == 6
    assert [f.is_labeled for f in seq.frames] == [im["is_labeled"] for im in raw["images"]]
    n = sum(len(f.persons) for f in seq.frames)
    assert n == len(raw["annotations"])
    first = next(a for a in raw["annotations"])
    person = next(p for f in seq.frames for p in f.persons)
    np.testing.assert_allclose(person.keypoints, np.array(first["keypoints"]).reshape(17, 3))


def test_summary_describes_the_dataset(dataset):
    summary = json.loads((dataset / "synthetic_summary.json").read_text())
    assert summary["preset"] == "standard" and summary["seed"] == 3
    assert summary["knobs"]["people"] == list(PRESETS["standard"].people)
    assert summary["splits"]["train"]["frames"] == 12 and summary["splits"]["val"]["labeled_frames"] == 2
    anns = sum(len(json.loads(p.read_text())["annotations"]) for p in (dataset / "annotations").rglob("*.json"))
    assert summary["splits"]["train"]["annotations"] + summary["splits"]["val"]["annotations"] == anns


def test_contact_sheet_png(dataset, tmp_path):
    path = make_contact_sheet(dataset, tmp_path / "sheet.png", tiles=2, columns=2)
    sheet = cv2.imread(str(path))
    assert sheet is not None and sheet.shape[1] == 2 * 128 + 3 * 4 and sheet.shape[0] == 2 * 96 + 3 * 4


def test_errors_name_the_problem(dataset, tmp_path):
    with pytest.raises(ValueError, match="not empty"):
        generate_dataset(dataset, **SMALL)
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        generate_dataset(tmp_path / "x", preset="nope")
    with pytest.raises(ValueError, match="4 frame digits"):
        generate_dataset(tmp_path / "y", frames=10_001)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        generate_dataset(tmp_path / "file")


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    sheet = tmp_path / "docs" / "sheet.png"
    args = [
        str(out),
        "--videos",
        "1",
        "--val-videos",
        "1",
        "--frames",
        "4",
        "--height",
        "64",
        "--width",
        "96",
        "--preset",
        "easy",
        "--contact-sheet",
        str(sheet),
    ]
    assert cli_main(["synth", *args]) == 0
    assert (out / "annotations/train/000001_mpii_train.json").is_file() and sheet.is_file()
    assert "frames/s" in capsys.readouterr().out
    assert cli_main(["synth", *args]) == 2  # not empty
    assert "not empty" in capsys.readouterr().err
