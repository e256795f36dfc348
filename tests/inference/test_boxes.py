"""Person-box files (COCO detection JSON and MOT text) and the box-file detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pstpose.data.boxes import (
    BoxFileError,
    load_coco_detections,
    load_mot_boxes,
    load_person_boxes,
    xywh_to_xyxy,
    xyxy_to_xywh,
)
from pstpose.inference.detectors import BoxFileDetector, DetectorError, GivenBoxes, make_detector
from pstpose.posetrack_ids import posetrack_image_id


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_coco_detections_threshold_category_and_order(tmp_path):
    path = _write(
        tmp_path / "det.json",
        [
            {"image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.5},
            {"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.9},
            {"image_id": 7, "category_id": 1, "bbox": [1, 1, 1, 1], "score": 0.1},  # under 0.2
            {"image_id": 7, "category_id": 3, "bbox": [1, 1, 9, 9], "score": 0.99},  # not a person
            {"image_id": 8, "category_id": 1, "bbox": [2.5, 3.5, 4, 6], "score": 0.2},  # == threshold
        ],
    )
    boxes = load_coco_detections(path)
    np.testing.assert_allclose(boxes.get(7), [[0, 0, 5, 5, 0.9], [10, 20, 40, 60, 0.5]])
    np.testing.assert_allclose(boxes.get(8), [[2.5, 3.5, 6.5, 9.5, 0.2]])
    assert boxes.get(9).shape == (0, 5)
    assert len(load_coco_detections(path, score_threshold=0.0)) == 4
    assert len(load_coco_detections(path, score_threshold=0.0, category_id=None)) == 5


def test_real_posetrack_ids_and_dict_form(tmp_path):
    image_id = posetrack_image_id(9473, 12)
    assert image_id == 10094730012
    path = _write(
        tmp_path / "det.json",
        {
            "annotations": [
                {"image_id": image_id, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.8},
            ]
        },
    )
    assert load_person_boxes(path).get(10094730012).shape == (1, 5)


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "expected a list"),
        ('[{"bbox": [1, 2, 3, 4]}]', "entry 0: missing 'image_id'"),
        ('[{"image_id": 1}]', "entry 0: missing 'bbox'"),
        ('[{"image_id": 1, "bbox": [1, 2, 3]}]', r"entry 0: bbox must be \[x, y, w, h\]"),
        ('[{"image_id": 1, "bbox": [1, 2, "a", 4]}]', "entry 0: bbox value must be a finite number"),
        ('[{"image_id": 1.5, "bbox": [1, 2, 3, 4]}]', "entry 0: image_id must be an integer"),
        ('[{"image_id": 1, "bbox": [1, 2, 3, 4], "score": null}]', "entry 0: score must be a finite number"),
        ("[3]", "entry 0: expected an object"),
    ],
)
def test_malformed_coco_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BoxFileError, match=f"bad.json.*{message}"):
        load_coco_detections(path)


def test_missing_box_file(tmp_path):
    with pytest.raises(BoxFileError, match="nope.json: box file not found"):
        load_person_boxes(tmp_path / "nope.json")


def test_mot_text(tmp_path):
    path = tmp_path / "det.txt"
    path.write_text(
        "# frame,id,x,y,w,h,score\n"
        "1,-1,10,20,30,40,0.9,-1,-1,-1\n"
        "1,-1,0,0,10,10,0.05,-1,-1,-1\n"
        "\n"
        "3,2,5,5,10,20,-1\n"  # ground-truth style: score -1 means 'unknown' → kept
        "3 4 1 1 2 2\n"  # whitespace separated, no score
    )
    boxes = load_mot_boxes(path)
    np.testing.assert_allclose(boxes.get(0), [[10, 20, 40, 60, 0.9]])
    assert boxes.get(1).shape == (0, 5)
    np.testing.assert_allclose(boxes.get(2), [[5, 5, 15, 25, 1.0], [1, 1, 3, 3, 1.0]])
    assert boxes.kind == "mot"


@pytest.mark.parametrize(
    "line,message",
    [
        ("1,2,3", "line 1: expected 'frame,id,x,y,w,h,score"),
        ("0,-1,1,2,3,4,0.5", "line 1: frame must be an integer >= 1"),
        ("1,-1,a,2,3,4,0.5", "line 1: non-numeric value"),
        ("1,-1,nan,2,3,4,0.5", "line 1: non-finite value"),
    ],
)
def test_malformed_mot_files(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(line + "\n")
    with pytest.raises(BoxFileError, match=f"bad.txt {message}"):
        load_mot_boxes(path)


def test_xywh_round_trip():
    b = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(xywh_to_xyxy(b), [[1, 2, 4, 6]])
    np.testing.assert_allclose(xyxy_to_xywh(xywh_to_xyxy(b)), b)


# --- the box-file detector's frame lookup ---------------------------------------------------


class _Src:
    def __init__(self, name):
        self.name = name


def test_box_detector_by_frame_index_and_mot(tmp_path):
    coco = _write(tmp_path / "d.json", [{"image_id": 2, "bbox": [0, 0, 4, 4], "score": 1.0}])
    det = BoxFileDetector(coco)
    det.bind(_Src("myvideo"))
    assert det.detect(None, 2).shape == (1, 5) and det.detect(None, 1).shape == (0, 5)
    mot = tmp_path / "d.txt"
    mot.write_text("3,-1,0,0,4,4,1\n")
    det = make_detector(f"boxes:{mot}")
    assert det.detect(None, 2).shape == (1, 5)  # MOT frame 3 is index 2
    assert det.frames_matched == 1


def test_box_detector_by_posetrack_id_and_by_name(tmp_path):
    pt = _write(tmp_path / "pt.json", [{"image_id": posetrack_image_id(9473, 4), "bbox": [0, 0, 4, 4], "score": 1.0}])
    det = BoxFileDetector(pt)
    det.bind(_Src("009473_mpii_test"))
    frame_path = tmp_path / "009473_mpii_test" / "000004.jpg"
    assert det.detect(None, 4, frame_path).shape == (1, 5)  # by folder + file number
    assert det.detect(None, 4).shape == (1, 5)  # video named like the sequence: by index
    assert det.key_for(10_004) == 10_004  # past frame 9999 there is no PoseTrack id: the index is the key
    named = _write(
        tmp_path / "n.json",
        [
            {"image_id": 5, "image_name": "images/val/seq/000001.jpg", "bbox": [0, 0, 4, 4], "score": 1.0},
        ],
    )
    det = BoxFileDetector(named)
    det.bind(_Src("seq"))
    assert det.detect(None, 0, tmp_path / "images/val/seq/000001.jpg").shape == (1, 5)
    assert det.detect(None, 1, tmp_path / "images/val/seq/000002.jpg").shape == (0, 5)


def test_given_boxes_and_bad_specs():
    det = GivenBoxes({0: [[0, 0, 10, 10]]})
    np.testing.assert_allclose(det.detect(None, 0), [[0, 0, 10, 10, 1]])
    assert det.detect(None, 1).shape == (0, 5)
    with pytest.raises(DetectorError, match="shape"):
        GivenBoxes({0: [1, 2, 3]}).detect(None, 0)
    with pytest.raises(DetectorError, match="unknown detector"):
        make_detector("yolo")
    with pytest.raises(DetectorError, match="needs a file"):
        make_detector("boxes:")


def test_torchvision_detector_code_path():
    pytest.importorskip("torchvision")
    from pstpose.inference.detectors import TorchvisionDetector

    det = TorchvisionDetector(
        "fasterrcnn_mobilenet_v3_large_320_fpn", weights=None, weights_backbone=None, score_threshold=0.0
    )
    out = det.detect(np.zeros((120, 160, 3), np.uint8), 0)
    assert out.ndim == 2 and out.shape[1] == 5


def test_coco_dataset_file_names_frames_through_its_images_list(tmp_path):
    """A COCO dataset-style file ({images, annotations}) keys boxes by the images' file names."""
    path = _write(
        tmp_path / "ds.json",
        {
            "images": [{"id": 7, "file_name": "c.png"}, {"id": 3, "file_name": "sub/a.png"}],
            "annotations": [
                {"image_id": 7, "bbox": [1, 2, 3, 4], "score": 0.9},
                {"image_id": 3, "bbox": [5, 6, 7, 8], "score": 0.9},
            ],
        },
    )
    det = BoxFileDetector(path)
    assert det.detect(None, 0, tmp_path / "photos" / "c.png")[:, :4].tolist() == [[1, 2, 4, 6]]
    assert det.detect(None, 0, tmp_path / "sub" / "a.png")[:, :4].tolist() == [[5, 6, 12, 14]]
    assert det.detect(None, 3, tmp_path / "other.png")[:, :4].tolist() == [[5, 6, 12, 14]]  # unnamed: index
    bad = _write(tmp_path / "bad.json", {"images": [{"id": "x", "file_name": "a.png"}], "annotations": []})
    with pytest.raises(BoxFileError, match=r"bad.json images\[0\]: needs an integer 'id'"):
        load_person_boxes(bad)
