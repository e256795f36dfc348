"""Person detectors by name: torchvision short names, YOLOX / RTMDet ONNX exports, the HOG hint.

The ONNX graphs are built here with onnx's helper API. An end-to-end graph's ``dets`` mixes
constants with pixels of its own input (``X[c, y, x] + offset``), so the expected boxes follow
by hand from the letterbox (ratio, top-left placement, pad 114), the channel order and the
normalisation, without running any of the detector's code.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pstpose.cli import main
from pstpose.inference.detectors import (
    RTMDET_MEAN_BGR,
    RTMDET_STD_BGR,
    TORCHVISION_MODELS,
    DetectorError,
    GivenBoxes,
    HOGDetector,
    OnnxDetector,
    TorchvisionDetector,
    make_detector,
    torchvision_install_command,
    weak_detector_hint,
)

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402


def _pix(c: int, y: int, x: int, offset: float = 0.0) -> tuple:
    """A dets entry that reads the network input at channel c, row y, column x (plus offset)."""
    return ("pix", c, y, x, offset)


def _save(graph, path: Path, metadata: dict[str, str] | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def end2end_graph(path: Path, input_hw, rows, labels=None, input_dims=None, metadata=None) -> Path:
    """An mmdeploy-style graph: input (1, 3, H, W) → dets (1, N, 5) [+ labels (1, N) int64].

    Each entry of ``rows`` is a number (a constant) or ``_pix(...)`` (an input pixel + offset):
    dets = Gather(flattened input, index) * mask + constant.
    """
    h, w = input_hw
    index = np.zeros((len(rows), 5), np.int64)
    mask = np.zeros((len(rows), 5), np.float32)
    const = np.zeros((len(rows), 5), np.float32)
    for i, row in enumerate(rows):
        for j, entry in enumerate(row):
            if isinstance(entry, tuple):
                _, c, y, x, offset = entry
                index[i, j] = c * h * w + y * w + x
                mask[i, j] = 1.0
                const[i, j] = offset
            else:
                const[i, j] = entry
    n = len(rows)
    nodes = [
        helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
        helper.make_node("Gather", ["flat", "index"], ["picked"], axis=1),
        helper.make_node("Mul", ["picked", "mask"], ["masked"]),
        helper.make_node("Add", ["masked", "const"], ["dets"]),
    ]
    inits = [
        helper.make_tensor("flat_shape", TensorProto.INT64, [2], [1, -1]),
        helper.make_tensor("index", TensorProto.INT64, [n, 5], index.ravel().tolist()),
        helper.make_tensor("mask", TensorProto.FLOAT, [n, 5], mask.ravel().tolist()),
        helper.make_tensor("const", TensorProto.FLOAT, [n, 5], const.ravel().tolist()),
    ]
    outputs = [helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, n, 5])]
    if labels is not None:
        nodes.append(helper.make_node("Identity", ["label_values"], ["labels"]))
        inits.append(helper.make_tensor("label_values", TensorProto.INT64, [1, n], list(labels)))
        outputs.append(helper.make_tensor_value_info("labels", TensorProto.INT64, [1, n]))
    dims = input_dims or [1, 3, h, w]
    graph = helper.make_graph(
        nodes, "end2end", [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)], outputs, inits
    )
    return _save(graph, path, metadata)


def constant_output_graph(path: Path, input_hw, values: np.ndarray, name: str = "output") -> Path:
    """input (1, 3, H, W) → one float output equal to ``values`` (+ 0 × mean of the input)."""
    h, w = input_hw
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["avg"], keepdims=0),
        helper.make_node("Mul", ["avg", "zero"], ["nothing"]),
        helper.make_node("Add", ["values", "nothing"], [name]),
    ]
    inits = [
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("values", TensorProto.FLOAT, list(values.shape), values.astype(np.float32).ravel().tolist()),
    ]
    graph = helper.make_graph(
        nodes,
        "grid",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(values.shape))],
        inits,
    )
    return _save(graph, path)


# --- end-to-end exports: letterbox, channel order, normalisation, class filter ------------------

INPUT_HW = (64, 96)  # network input (H, W)
FRAME_BGR = (200, 50, 10)  # a uniform 40 × 30 frame: its letterboxed copy keeps these values exactly
RATIO = 1.6  # min(64 / 40, 96 / 30); the frame lands at the top-left as 64 rows × 48 columns
ROWS = [
    [_pix(0, 0, 0), _pix(2, 0, 0), _pix(0, 0, 0, 10), _pix(2, 0, 0, 20), 0.9],  # channel 0 = blue, 2 = red
    [16, 8, 40, 56, 0.8],
    [1, 1, 5, 5, 0.95],  # a car: dropped
    [1, 1, 5, 5, 0.1],  # a person under the threshold: dropped
    [_pix(1, 0, 47), 0, _pix(1, 0, 48), _pix(1, 63, 95, 1), 0.7],  # last frame column, first pad column
]
LABELS = [0, 0, 2, 0, 0]


def _frame() -> np.ndarray:
    return np.tile(np.array(FRAME_BGR, np.uint8), (40, 30, 1))


def _expected(normalise) -> np.ndarray:
    """The kept rows, worked out by hand for input value ``normalise(value, channel)``."""
    b, g, r = FRAME_BGR
    pad = 114
    rows = [
        [normalise(b, 0), normalise(r, 2), normalise(b, 0) + 10, normalise(r, 2) + 20, 0.9],
        [16, 8, 40, 56, 0.8],
        [normalise(g, 1), 0, normalise(pad, 1), normalise(pad, 1) + 1, 0.7],
    ]
    out = np.array(rows, dtype=np.float64)
    out[:, :4] /= RATIO
    return out


def test_yolox_end2end_takes_raw_bgr_letterboxed(tmp_path):
    path = end2end_graph(tmp_path / "det.onnx", INPUT_HW, ROWS, LABELS)
    det = make_detector(f"yolox:{path}")
    assert isinstance(det, OnnxDetector) and det.family == "yolox" and det.input_hw == INPUT_HW
    boxes = det.detect(_frame(), 0)
    # x1 = blue 200 / 1.6 = 125; the pad column reads 114 → 114 / 1.6 = 71.25
    np.testing.assert_allclose(boxes, _expected(lambda v, c: v), atol=1e-4)
    assert boxes[0, 0] == pytest.approx(125.0) and boxes[2, 2] == pytest.approx(71.25)


def test_rtmdet_end2end_normalises_each_bgr_channel(tmp_path):
    path = end2end_graph(tmp_path / "det.onnx", INPUT_HW, ROWS, LABELS)
    det = make_detector(f"rtmdet:{path}")
    assert det.family == "rtmdet"
    mean, std = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)  # mmdet RTMDet config, BGR order
    assert (RTMDET_MEAN_BGR, RTMDET_STD_BGR) == (mean, std)
    boxes = det.detect(_frame(), 0)
    np.testing.assert_allclose(boxes, _expected(lambda v, c: (v - mean[c]) / std[c]), atol=1e-4)
    assert boxes[0, 0] == pytest.approx((200 - 103.53) / 57.375 / 1.6, abs=1e-5)


def test_threshold_frame_of_input_size_and_graph_without_labels(tmp_path):
    """No labels output: every row counts as a person. A frame of the input's size is not resized."""
    rows = [[10, 20, 30, 40, 0.5], [1, 2, 3, 4, 0.35]]
    path = end2end_graph(tmp_path / "yolox_person.onnx", (32, 32), rows)
    frame = np.zeros((32, 32, 3), np.uint8)
    np.testing.assert_allclose(make_detector(f"onnx:{path}").detect(frame, 0), rows)
    np.testing.assert_allclose(make_detector(f"onnx:{path}", score_threshold=0.4).detect(frame, 0), rows[:1])
    assert make_detector(f"onnx:{path}", score_threshold=0.6).detect(frame, 0).shape == (0, 5)


def test_dynamic_input_size_defaults_to_640(tmp_path):
    path = end2end_graph(tmp_path / "rtmdet.onnx", (640, 640), [[0, 0, 64, 64, 0.9]], [0], input_dims=[1, 3, "h", "w"])
    det = make_detector(f"onnx:{path}")
    assert det.input_hw == (640, 640)
    np.testing.assert_allclose(det.detect(np.zeros((320, 160, 3), np.uint8), 0), [[0, 0, 32, 32, 0.9]])


# --- raw YOLOX grid output: decode, objectness × class score, person class, NMS -----------------


def _grid_values() -> np.ndarray:
    """A 64 × 64 input has 8·8 + 4·4 + 2·2 = 84 anchors; rows [dx, dy, log w, log h, obj, person, other]."""
    out = np.zeros((1, 84, 7), np.float32)
    out[0, 19] = [0.5, 0.25, math.log(2), math.log(3), 0.9, 0.8, 0.0]  # stride 8, cell (3, 2)
    out[0, 20] = [0.0, 0.25, math.log(2), math.log(3), 0.9, 0.7, 0.0]  # stride 8, cell (4, 2): overlaps 19
    out[0, 69] = [0, 0, 0, 0, 0.9, 0.1, 0.9]  # stride 16, cell (1, 1): another class
    out[0, 81] = [0, 0, 0, 0, 1.0, 0.5, 0.0]  # stride 32, cell (1, 0)
    out[0, 0] = [0, 0, 0, 0, 0.2, 0.9, 0.0]  # under the threshold
    return out


def test_yolox_grid_output_is_decoded(tmp_path):
    path = constant_output_graph(tmp_path / "model.onnx", (64, 64), _grid_values())
    det = make_detector(f"onnx:{path}")  # a grid output can only be YOLOX's
    assert det.family == "yolox"
    boxes = det.detect(np.zeros((32, 16, 3), np.uint8), 0)  # ratio min(64/32, 64/16) = 2
    # anchor 19: centre ((0.5+3)·8, (0.25+2)·8) = (28, 18), size (16, 24) → [20, 6, 36, 30], 0.9·0.8;
    # anchor 20: [24, 6, 40, 30], IoU 288/480 = 0.6 with 19 → suppressed;
    # anchor 81: centre (32, 0), size 32 → [16, -16, 48, 16], 1·0.5.
    expected = np.array([[20, 6, 36, 30, 0.72], [16, -16, 48, 16, 0.5]], np.float64)
    expected[:, :4] /= 2
    np.testing.assert_allclose(boxes, expected, atol=1e-5)


def test_grid_output_errors(tmp_path):
    grid = constant_output_graph(tmp_path / "g.onnx", (64, 64), _grid_values())
    with pytest.raises(DetectorError, match="decoded for YOLOX only"):
        make_detector(f"rtmdet:{grid}").detect(np.zeros((64, 64, 3), np.uint8), 0)
    short = constant_output_graph(tmp_path / "s.onnx", (64, 64), np.zeros((1, 80, 7), np.float32))
    with pytest.raises(DetectorError, match="80 rows; a 64x64 input over strides 8, 16, 32 gives 84"):
        make_detector(f"yolox:{short}").detect(np.zeros((64, 64, 3), np.uint8), 0)


# --- telling YOLOX from RTMDet ------------------------------------------------------------------


def test_family_from_file_folder_and_metadata(tmp_path):
    rows, labels = [[0, 0, 1, 1, 0.9]], [0]
    assert make_detector(f"onnx:{end2end_graph(tmp_path / 'rtmdet_nano.onnx', (32, 32), rows, labels)}").family == (
        "rtmdet"
    )
    nested = end2end_graph(tmp_path / "yolox_m_8xb8-300e_humanart" / "end2end.onnx", (32, 32), rows, labels)
    assert make_detector(f"onnx:{nested}").family == "yolox"
    tagged = end2end_graph(tmp_path / "m.onnx", (32, 32), rows, labels, metadata={"model": "RTMDet-m person"})
    assert make_detector(f"onnx:{tagged}").family == "rtmdet"
    assert make_detector(f"yolox:{tagged}").family == "yolox"  # an explicit name wins
    plain = end2end_graph(tmp_path / "plain" / "end2end.onnx", (32, 32), rows, labels)
    with pytest.raises(DetectorError, match=r"YOLOX or an RTMDet.*name the family: yolox:.*end2end\.onnx"):
        make_detector(f"onnx:{plain}")


# --- errors ---------------------------------------------------------------------------------------


def test_onnx_file_errors(tmp_path):
    with pytest.raises(DetectorError, match=r"nothing\.onnx: ONNX file not found"):
        make_detector(f"onnx:{tmp_path / 'nothing.onnx'}")
    with pytest.raises(DetectorError, match="is a folder"):
        make_detector(f"yolox:{tmp_path}")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(DetectorError, match=r"junk\.onnx: not a loadable ONNX model"):
        make_detector(f"rtmdet:{junk}")
    with pytest.raises(DetectorError, match="needs an .onnx file"):
        make_detector("onnx:")


def test_outputs_outside_the_convention_say_what_was_expected(tmp_path):
    classifier = constant_output_graph(tmp_path / "yolox_cls.onnx", (32, 32), np.zeros((1, 1000), np.float32))
    with pytest.raises(DetectorError, match=r"outputs output \[1, 1000\] do not follow .*expected `dets` \(1, N, 5\)"):
        make_detector(f"onnx:{classifier}")
    four = constant_output_graph(tmp_path / "yolox_four.onnx", (32, 32), np.zeros((1, 3, 4), np.float32))
    with pytest.raises(DetectorError, match=r"output \[1, 3, 4\] do not follow.*YOLOX grid output"):
        make_detector(f"onnx:{four}").detect(np.zeros((32, 32, 3), np.uint8), 0)
    e2e = end2end_graph(tmp_path / "yolox_e2e.onnx", (32, 32), [[0, 0, 1, 1, 0.9]], [0])
    det = make_detector(f"onnx:{e2e}")
    with pytest.raises(DetectorError, match="takes BGR frames"):
        det.detect(np.zeros((32, 32), np.uint8), 0)


def test_unknown_detector_lists_the_valid_ones():
    with pytest.raises(DetectorError) as err:
        make_detector("yolo")
    message = str(err.value)
    assert message.startswith("unknown detector 'yolo'")
    for name in ("hog", "boxes:FILE", *TORCHVISION_MODELS, "torchvision[:MODEL]", "onnx:FILE", "rtmdet:FILE"):
        assert name in message
    with pytest.raises(DetectorError, match="unknown detector 'fasterrcnn:x'"):
        make_detector("fasterrcnn:x")


def test_cli_reports_detector_errors(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((64, 64, 3), 90, np.uint8))
    argv = ["predict", str(frames), "--out", str(tmp_path / "o"), "--no-progress", "--detector"]
    assert main([*argv, f"onnx:{tmp_path / 'gone.onnx'}"]) == 2
    assert "gone.onnx: ONNX file not found" in capsys.readouterr().err
    assert main([*argv, "yolo"]) == 2
    assert "valid detectors: hog, boxes:FILE, fasterrcnn" in capsys.readouterr().err


# --- torchvision ------------------------------------------------------------------------------------


def _torchvision_or_skip():
    try:
        import torchvision  # noqa: F401
    except Exception as exc:  # a torchvision built for another torch raises RuntimeError on import
        pytest.skip(f"torchvision not usable here: {exc}")


def test_torchvision_person_filter_and_rgb_input(monkeypatch):
    """The model gets RGB in [0, 1]; only label 1 (person) at or over the threshold is kept."""
    import torch

    seen = []

    def fake_model(images):
        seen.append(images[0])
        return [
            {
                "boxes": torch.tensor([[1.0, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]),
                "scores": torch.tensor([0.9, 0.95, 0.4]),
                "labels": torch.tensor([1, 3, 1]),
            }
        ]

    det = object.__new__(TorchvisionDetector)  # the detection step alone, without building a network
    det.model, det.device, det.score_threshold = fake_model, "cpu", 0.5
    frame = np.zeros((2, 3, 3), np.uint8)
    frame[..., 0], frame[..., 2] = 255, 51  # blue 255, red 51
    np.testing.assert_allclose(det.detect(frame, 0), [[1, 2, 3, 4, 0.9]], rtol=1e-6)
    np.testing.assert_allclose(seen[0][0].numpy(), 0.2)  # channel 0 is red: 51 / 255
    np.testing.assert_allclose(seen[0][2].numpy(), 1.0)


def test_torchvision_install_command(monkeypatch):
    import torch

    monkeypatch.setattr(torch, "__version__", "2.13.0+cpu")
    assert torchvision_install_command() == (
        'pip install "torchvision==0.28.*"  # the cpu build, from PyTorch\'s index https://download.pytorch.org/whl/cpu'
    )
    monkeypatch.setattr(torch, "__version__", "2.5.1")  # torchvision 0.20 was released with torch 2.5
    assert torchvision_install_command() == 'pip install "torchvision==0.20.*"'


def test_missing_or_broken_torchvision_names_the_command(monkeypatch):
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import fails with ImportError
    with pytest.raises(DetectorError, match=r"not installed: pip install \"torchvision==0\.\d+\.\*\""):
        make_detector("fasterrcnn")

    class BrokenFinder:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "torchvision":
                raise RuntimeError("operator torchvision::nms does not exist")
            return None

    monkeypatch.delitem(sys.modules, "torchvision")
    monkeypatch.setattr(sys, "meta_path", [BrokenFinder(), *sys.meta_path])
    with pytest.raises(DetectorError, match=r"does not load beside torch .*torchvision::nms.*pip install"):
        make_detector("torchvision:retinanet_resnet50_fpn_v2")


# short name -> the torchvision model class its builder returns; ResNet-50 / VGG ones take
# 10-30 s each on a loaded 2-core CPU, so they are marked slow.
TORCHVISION_CLASSES = {
    "fasterrcnn": "FasterRCNN",
    "fasterrcnn-mobile": "FasterRCNN",
    "fasterrcnn-mobile320": "FasterRCNN",
    "retinanet": "RetinaNet",
    "fcos": "FCOS",
    "ssd": "SSD",
    "ssdlite": "SSD",
    "maskrcnn": "MaskRCNN",
    "keypointrcnn": "KeypointRCNN",
}
LIGHT_TORCHVISION = {"fasterrcnn-mobile", "fasterrcnn-mobile320", "ssdlite"}


def test_every_short_name_has_a_class():
    assert set(TORCHVISION_CLASSES) == set(TORCHVISION_MODELS)


@pytest.mark.parametrize(
    "short_name",
    [n if n in LIGHT_TORCHVISION else pytest.param(n, marks=pytest.mark.slow) for n in sorted(TORCHVISION_CLASSES)],
)
def test_torchvision_short_names_build_real_models(short_name):
    _torchvision_or_skip()
    det = make_detector(short_name, score_threshold=0.0, pretrained=False)
    assert det.model_name == TORCHVISION_MODELS[short_name]
    assert type(det.model).__name__ == TORCHVISION_CLASSES[short_name]
    boxes = det.detect(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8), 0)
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and np.isfinite(boxes).all()


def test_torchvision_full_builder_names_and_unknown_ones():
    _torchvision_or_skip()
    det = make_detector("torchvision:fasterrcnn_mobilenet_v3_large_320_fpn", pretrained=False)
    assert det.model_name == "fasterrcnn_mobilenet_v3_large_320_fpn"
    with pytest.raises(DetectorError, match="has no model 'nonsense'; short names: fasterrcnn, fasterrcnn-mobile"):
        make_detector("torchvision:nonsense", pretrained=False)


# --- the HOG hint -------------------------------------------------------------------------------------


def test_weak_detector_hint_needs_more_than_half_empty():
    hog = HOGDetector()
    assert weak_detector_hint(hog) is None  # never ran
    hog.frames_run, hog.frames_empty = 4, 2
    assert weak_detector_hint(hog) is None
    hog.frames_empty = 3
    hint = weak_detector_hint(hog)
    assert hint.startswith("hint: the HOG detector found nobody in 3 of 4 frames")
    assert "fasterrcnn (needs torchvision)" in hint and "rtmdet:FILE.onnx" in hint
    assert weak_detector_hint(GivenBoxes({})) is None  # other detectors get no hint


def test_hog_counts_frames_with_nobody():
    hog = HOGDetector()
    for i in range(3):
        assert hog.detect(np.full((256, 192, 3), 128, np.uint8), i).shape == (0, 5)
    assert (hog.frames_run, hog.frames_empty) == (3, 3)


def test_predict_prints_the_hint_on_blank_frames(tmp_path, capsys):
    frames = tmp_path / "blank"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((160, 120, 3), 200, np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(frames), "--detector", "hog", "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "hint: the HOG detector found nobody in 4 of 4 frames" in err
    assert "fasterrcnn (needs torchvision)" in err and "choose one with --detector NAME" in err
