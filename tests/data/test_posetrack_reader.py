"""PoseTrack17/18/21 readers: the real fixture, hand-written files of each format, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pstpose.data.posetrack import (
    PoseTrackFormatError,
    detect_format,
    load_merged,
    load_sequence,
    load_sequences,
    parse_sequence,
)
from pstpose.keypoints import JOINT_INDEX, JOINT_NAMES


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


# --- the real PoseTrack18 file ------------------------------------------------------------------


def test_real_posetrack18_file(shared_data):
    seq = load_sequence(shared_data / "posetrack18_sample" / "annotations" / "val" / "009473_mpii_test.json")
    assert (seq.name, seq.format, seq.nframes, seq.vid_id, len(seq.frames)) == (
        "009473_mpii_test",
        "pt18",
        101,
        "009473",
        1,
    )
    frame = seq.frames[0]
    assert frame.frame_index == 0 and frame.image_id == 10094730000 and frame.is_labeled
    assert frame.file_name == "images/val/009473_mpii_test/000000.jpg" and (frame.width, frame.height) == (1920, 1080)
    assert [p.shape for p in frame.ignore_regions] == [(25, 2), (21, 2)]
    assert frame.ignore_regions[0][0].tolist() == [1907, 228] and frame.ignore_regions[1][-1].tolist() == [3, 762]
    p0, p1 = frame.persons
    assert (p0.track_id, p1.track_id) == (0, 1)
    assert p0.head_box.tolist() == [648, 253, 648 + 138, 253 + 103]  # bbox_head xywh -> corners
    assert p1.head_box.tolist() == [878, 201, 968, 326]
    assert p0.scores is None and p1.scores is None  # "scores": [] in GT
    absent0 = {JOINT_NAMES[k] for k in np.flatnonzero(~p0.present)}
    assert absent0 == {"left_ear", "right_ear", "left_elbow"}  # 0,0,0 entries
    assert p1.present.sum() == 15
    assert p0.keypoints[JOINT_INDEX["head_bottom"]].tolist() == [734.1937256, 371.1997375, 1]
    assert p0.bbox[:2].tolist() == [631.5, 167.77146757999992]


# --- PoseTrack18/21 written here -----------------------------------------------------------------


def _pt18(names=JOINT_NAMES, extra_ann=None, extra_img=None):
    kp = [0.0] * (3 * len(names))
    pos = {n: i for i, n in enumerate(names)}
    kp[3 * pos["nose"] : 3 * pos["nose"] + 3] = [10, 20, 1]
    kp[3 * pos["head_top"] : 3 * pos["head_top"] + 3] = [-3, -7, 0]  # negative, v=0: present
    kp[3 * pos["right_ankle"] : 3 * pos["right_ankle"] + 3] = [5, 0, 0]  # y=0 only: present in pt18
    images = [
        {
            "file_name": "images/val/000002_bonn_test/000004.jpg",
            "id": 40,
            "is_labeled": True,
            "nframes": 9,
            "vid_id": "000002",
            "ignore_regions_x": [[0, 10, 10]],
            "ignore_regions_y": [[0, 0, 10]],
            **(extra_img or {}),
        },
        {"file_name": "images/val/000002_bonn_test/000005.jpg", "id": 41, "is_labeled": False},
    ]
    ann = {
        "image_id": 40,
        "track_id": 3,
        "keypoints": kp,
        "bbox": [1, 2, 3, 4],
        "bbox_head": [0, 0, 10, 20],
        "scores": [0.1 * i for i in range(len(names))],
        **(extra_ann or {}),
    }
    return {
        "images": images,
        "annotations": [ann],
        "categories": [{"id": 1, "name": "person", "keypoints": list(names)}],
    }


def test_pt18_file_fields_and_absence_rule(tmp_path):
    seq = load_sequence(_write(tmp_path / "000002_bonn_test.json", _pt18()))
    assert seq.format == "pt18" and seq.nframes == 9 and seq.vid_id == "000002"
    f0, f1 = seq.frames
    assert (f0.frame_index, f1.frame_index) == (4, 5) and f1.persons == [] and not f1.is_labeled
    p = f0.persons[0]
    expected = {"nose", "head_top", "right_ankle"}
    assert {JOINT_NAMES[k] for k in np.flatnonzero(p.present)} == expected
    assert p.keypoints[JOINT_INDEX["head_top"]].tolist() == [-3, -7, 0]
    assert p.head_box.tolist() == [0, 0, 10, 20] and p.bbox.tolist() == [1, 2, 3, 4] and p.track_id == 3
    assert p.scores[JOINT_INDEX["right_ankle"]] == pytest.approx(1.6)
    assert f0.ignore_regions[0].tolist() == [[0, 0], [10, 0], [10, 10]]


def test_pt18_joints_are_mapped_by_category_names(tmp_path):
    names = list(reversed(JOINT_NAMES))
    p = load_sequence(_write(tmp_path / "s.json", _pt18(names=names))).frames[0].persons[0]
    assert p.keypoints[JOINT_INDEX["nose"]].tolist() == [10, 20, 1]
    assert p.scores[JOINT_INDEX["nose"]] == pytest.approx(0.1 * names.index("nose"))


def test_pt21_detected_and_its_presence_rule(tmp_path):
    for extra in ({"extra_ann": {"person_id": 1024}}, {"extra_img": {"has_labeled_person": True}}):
        data = _pt18(**extra)
        assert detect_format(data) == "pt21"
        p = load_sequence(_write(tmp_path / "s.json", data)).frames[0].persons[0]
        assert {JOINT_NAMES[k] for k in np.flatnonzero(p.present)} == {"nose"}  # x > 0 and y > 0 only
    # Forcing the format overrides detection.
    p = load_sequence(tmp_path / "s.json", format="pt18").frames[0].persons[0]
    assert p.present.sum() == 3
    assert detect_format(_pt18()) == "pt18"


def test_unlabeled_default_and_missing_scores(tmp_path):
    data = _pt18()
    for img in data["images"]:
        img.pop("is_labeled")
    del data["annotations"][0]["scores"]
    seq = load_sequence(_write(tmp_path / "s.json", data))
    assert [f.is_labeled for f in seq.frames] == [True, False]  # without the flag: frames with persons
    assert seq.frames[0].persons[0].scores is None


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: d["annotations"][0].update(keypoints=[0] * 48),
            r"x\.json: annotations\[0\]\.keypoints has 48 values, expected 51",
        ),
        (
            lambda d: d["annotations"][0].update(image_id=99),
            r"x\.json: annotations\[0\]\.image_id 99 does not name an image",
        ),
        (
            lambda d: d["annotations"][0]["keypoints"].__setitem__(4, "7"),
            r"annotations\[0\]\.keypoints must be a flat list of numbers \(found '7'\)",
        ),
        (lambda d: d["annotations"][0].update(scores=[1, 2]), r"annotations\[0\]\.scores has 2 values, expected 17"),
        (
            lambda d: d["annotations"][0].update(bbox_head=[1, 2, 3]),
            r"annotations\[0\]\.bbox_head has 3 values, expected 4",
        ),
        (lambda d: d["images"][0].update(ignore_regions_y=[]), r"images\[0\]: ignore_regions_x and ignore_regions_y"),
        (
            lambda d: d["categories"][0]["keypoints"].__setitem__(0, "snout"),
            r"categories\[0\]\.keypoints\[0\] is 'snout'",
        ),
        (lambda d: d["images"][1].update(id=40), r"images\[1\]\.id 40 repeats"),
    ],
)
def test_pt18_errors_name_file_and_field(tmp_path, mutate, message):
    data = _pt18()
    mutate(data)
    with pytest.raises(PoseTrackFormatError, match=message):
        load_sequence(_write(tmp_path / "x.json", data))


def test_detect_format_messages(tmp_path):
    assert detect_format({"annolist": []}) == "pt17"
    with pytest.raises(PoseTrackFormatError, match=r"f\.json: ambiguous format.*set the format explicitly"):
        detect_format({"annolist": [], "images": []}, "f.json")
    with pytest.raises(PoseTrackFormatError, match=r"f\.json: unknown format.*top-level keys: foo"):
        detect_format({"foo": 1}, "f.json")
    with pytest.raises(PoseTrackFormatError, match="top level is a list"):
        detect_format([], "f.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PoseTrackFormatError, match=r"bad\.json: not valid JSON"):
        load_sequence(tmp_path / "bad.json")


# --- PoseTrack17 annolist written by hand --------------------------------------------------------

ANNOLIST = {
    "annolist": [
        {
            "image": [{"name": "images/bonn_5sec/000342_mpii/00000001.jpg"}],
            "imgnum": [1],
            "is_labeled": [1],
            "ignore_regions": [{"point": [{"x": [0], "y": [0]}, {"x": [50], "y": [0]}, {"x": [50], "y": [40]}]}],
            "annorect": [
                {
                    "x1": [100],
                    "y1": [50],
                    "x2": [130],
                    "y2": [90],
                    "track_id": [7],
                    "score": [0.8],
                    "annopoints": [
                        {
                            "point": [
                                {"id": [0], "x": [120.5], "y": [400], "is_visible": [1], "score": [0.9]},  # right_ankle
                                {
                                    "id": [14],
                                    "x": [115],
                                    "y": [-4],
                                    "is_visible": [0],
                                    "score": [0.6],
                                },  # head_top, negative
                                {"id": [12], "x": [0], "y": [0], "score": [0.3]},  # head_bottom at 0,0: listed
                            ]
                        }
                    ],
                },
                {"x1": [300], "y1": [60], "x2": [320], "y2": [85], "track_id": [8]},  # no annopoints
            ],
        },
        {"image": [{"name": "images/bonn_5sec/000342_mpii/00000002.jpg"}], "annorect": []},
    ]
}


def test_pt17_annolist(tmp_path):
    seq = load_sequence(_write(tmp_path / "000342_mpii.json", ANNOLIST))
    assert seq.format == "pt17" and [f.frame_index for f in seq.frames] == [0, 1]  # %08d, 1-indexed
    assert [f.is_labeled for f in seq.frames] == [True, False]
    f0 = seq.frames[0]
    assert f0.ignore_regions[0].tolist() == [[0, 0], [50, 0], [50, 40]]
    a, b = f0.persons
    assert a.head_box.tolist() == [100, 50, 130, 90] and a.track_id == 7 and a.score == 0.8
    assert {JOINT_NAMES[k] for k in np.flatnonzero(a.present)} == {"right_ankle", "head_top", "head_bottom"}
    assert a.keypoints[JOINT_INDEX["right_ankle"]].tolist() == [120.5, 400, 1]
    assert a.keypoints[JOINT_INDEX["head_top"]].tolist() == [115, -4, 0]
    assert a.scores[JOINT_INDEX["head_top"]] == 0.6 and a.scores[JOINT_INDEX["head_bottom"]] == 0.3
    assert not b.present.any() and b.scores is None and b.head_box.tolist() == [300, 60, 320, 85]


@pytest.mark.parametrize(
    "point, message",
    [
        ({"id": [15], "x": [1], "y": [1]}, r"point\[0\]\.id is 15, expected a PoseTrack17 joint id 0\.\.14"),
        ({"id": [3], "x": ["a"], "y": [1]}, r"point\[0\]\.x must be a number"),
    ],
)
def test_pt17_errors(tmp_path, point, message):
    data = {"annolist": [{"image": [{"name": "a/00000001.jpg"}], "annorect": [{"annopoints": [{"point": [point]}]}]}]}
    with pytest.raises(
        PoseTrackFormatError, match=r"a\.json: annolist\[0\]\.annorect\[0\]\.annopoints\[0\]\." + message
    ):
        load_sequence(_write(tmp_path / "a.json", data))


# --- directories and merged files -----------------------------------------------------------------


def test_load_sequences_sorted_empty_and_mixed(tmp_path):
    _write(tmp_path / "d" / "b.json", _pt18())
    _write(tmp_path / "d" / "a.json", _pt18())
    assert [s.name for s in load_sequences(tmp_path / "d")] == ["a", "b"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(PoseTrackFormatError, match=r"empty: no \.json files"):
        load_sequences(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nowhere: no such directory"):
        load_sequences(tmp_path / "nowhere")
    _write(tmp_path / "d" / "c.json", ANNOLIST)
    with pytest.raises(PoseTrackFormatError, match=r"mixed annotation formats: a\.json is pt18 but c\.json is pt17"):
        load_sequences(tmp_path / "d")


def test_load_merged_groups_videos(tmp_path):
    images, anns = [], []
    for v, vid in enumerate(("000009", "000001")):
        for i in range(3):
            iid = int(f"1{vid}{i:04d}")
            images.append(
                {"file_name": f"images/val/{vid}_mpii_test/{i:06d}.jpg", "id": iid, "vid_id": vid, "is_labeled": True}
            )
            anns.append({"image_id": iid, "track_id": v, "keypoints": [1.0] * 51, "bbox_head": [0, 0, 1, 1]})
    data = {"images": images, "annotations": anns}
    seqs = load_merged(_write(tmp_path / "merged.json", data))
    assert [s.name for s in seqs] == ["000001_mpii_test", "000009_mpii_test"]
    assert [len(s.frames) for s in seqs] == [3, 3]
    assert all(p.track_id == 1 for f in seqs[0].frames for p in f.persons)
    for img in images:
        del img["vid_id"]
    seqs = load_merged(_write(tmp_path / "merged2.json", data))  # grouped by folder instead
    assert [s.name for s in seqs] == ["000001_mpii_test", "000009_mpii_test"]
    assert [f.frame_index for f in seqs[1].frames] == [0, 1, 2]


def test_parse_sequence_in_memory():
    seq = parse_sequence(_pt18(), name="mem")
    assert seq.name == "mem" and seq.source is None and len(seq.frames[0].persons) == 1
