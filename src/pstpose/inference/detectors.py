"""Person detectors behind one interface: ``detect(image_bgr, frame_index, file_name) -> (N, 5)``.

Rows are ``[x1, y1, x2, y2, score]`` in image pixels, scores in [0, 1]. Implementations:

* ``HOGDetector``: OpenCV's HOG + linear SVM people detector — no weights to fetch, CPU only,
  good on upright, mostly unoccluded people.
* ``BoxFileDetector``: precomputed boxes (COCO-style detection JSON or MOT text).
* ``TorchvisionDetector``: a torchvision detection model (optional dependency), by short name
  (``TORCHVISION_MODELS``) or full builder name.
* ``OnnxDetector``: a YOLOX or RTMDet ONNX export (rtmlib's / mmdeploy's convention), run by
  ONNX Runtime.

``make_detector(NAME)`` builds one from a command-line name; ``detector_names()`` lists them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from pstpose.data.boxes import (
    DEFAULT_SCORE_THRESHOLD,
    PersonBoxes,
    empty_boxes,
    load_person_boxes,
)
from pstpose.posetrack_ids import leading_video_id, posetrack_image_id


class DetectorError(ValueError):
    """A detector cannot be built or used; the message says why and what to do."""


class Detector(ABC):
    """Finds persons in one frame."""

    def bind(self, source) -> None:  # noqa: B027 - optional hook
        """Called once with the FrameSource before its frames are detected."""

    @abstractmethod
    def detect(self, image_bgr: np.ndarray, frame_index: int, file_name: Path | None = None) -> np.ndarray:
        """(N, 5) float array [x1, y1, x2, y2, score] for one frame."""


def nms(boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of (N, 5) boxes, best score first."""
    from pstpose.inference.tracker import box_iou

    order = np.argsort(-boxes[:, 4], kind="stable")
    keep: list[int] = []
    for i in order:
        if not keep or box_iou(boxes[i : i + 1, :4], boxes[keep, :4]).max() <= iou_threshold:
            keep.append(int(i))
    return np.array(keep, dtype=np.int64)


class HOGDetector(Detector):
    """OpenCV's default HOG people detector.

    Frames are resized to ``work_width`` pixels wide (at most 2x up) before detection: the
    detector's window is 64x128, so this sets the smallest findable person and bounds the cost.
    SVM margins ``m`` become scores ``1 / (1 + exp(-m))``; overlapping hits are merged by NMS.
    """

    def __init__(
        self,
        work_width: int = 640,
        score_threshold: float = 0.5,
        nms_iou: float = 0.45,
        win_stride: int = 8,
        scale: float = 1.05,
    ):
        import cv2

        if not hasattr(cv2, "HOGDescriptor"):
            raise DetectorError("this OpenCV build has no HOGDescriptor (OpenCV 5 removed it; use opencv<5)")
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.work_width = work_width
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.win_stride = win_stride
        self.scale = scale
        self.frames_run = 0  # frames detected, and those with nobody found: weak_detector_hint
        self.frames_empty = 0

    def detect(self, image_bgr: np.ndarray, frame_index: int, file_name: Path | None = None) -> np.ndarray:
        boxes = self._find_people(image_bgr)
        self.frames_run += 1
        self.frames_empty += int(len(boxes) == 0)
        return boxes

    def _find_people(self, image_bgr: np.ndarray) -> np.ndarray:
        import cv2

        h, w = image_bgr.shape[:2]
        factor = min(2.0, self.work_width / w)
        small = image_bgr
        if abs(factor - 1.0) > 1e-3:
            small = cv2.resize(
                image_bgr, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA
            )
        if small.shape[0] < 128 or small.shape[1] < 64:
            return empty_boxes()
        stride = (self.win_stride, self.win_stride)
        rects, weights = self._hog.detectMultiScale(small, winStride=stride, padding=stride, scale=self.scale)
        if len(rects) == 0:
            return empty_boxes()
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / factor
        margins = np.asarray(weights, dtype=np.float64).reshape(-1)
        scores = 1.0 / (1.0 + np.exp(-margins))
        boxes = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:], scores])
        boxes = boxes[scores >= self.score_threshold]
        return boxes[nms(boxes, self.nms_iou)] if len(boxes) else empty_boxes()


class BoxFileDetector(Detector):
    """Boxes read from a file, looked up per frame.

    How a frame finds its boxes: MOT files by 0-based frame index; COCO JSON by file name when
    the file lists names, else by PoseTrack image id when the ids look like PoseTrack's and the
    source is named like a PoseTrack sequence (``009473_mpii_test``), else with image_id taken
    as the 0-based frame index.
    """

    def __init__(self, boxes: PersonBoxes | str | Path, score_threshold: float = DEFAULT_SCORE_THRESHOLD):
        self.boxes = boxes if isinstance(boxes, PersonBoxes) else load_person_boxes(boxes, score_threshold)
        self._video_id: int | None = None
        self.frames_matched = 0
        keys = list(self.boxes.by_key)
        self._posetrack_ids = bool(keys) and min(keys) >= posetrack_image_id(0, 0)

    def bind(self, source) -> None:
        video_id = leading_video_id(getattr(source, "name", "") or "")
        self._video_id = int(video_id) if video_id is not None else None

    def key_for(self, frame_index: int, file_name: Path | None = None) -> int:
        if self.boxes.kind == "mot":
            return frame_index
        if file_name is not None and self.boxes.names:
            key = self.boxes.key_for_name(file_name)
            if key is not None:
                return key
        if self._posetrack_ids:
            video_id = self._video_id
            if file_name is not None:
                folder = leading_video_id(Path(file_name).parent.name)
                video_id = int(folder) if folder is not None else video_id
            if video_id is not None:
                stem = Path(file_name).stem if file_name is not None else ""
                try:
                    return posetrack_image_id(video_id, int(stem) if stem.isdigit() else frame_index)
                except ValueError:  # a frame number beyond 9999 has no PoseTrack id to look up
                    return frame_index
        return frame_index

    def detect(self, image_bgr: np.ndarray, frame_index: int, file_name: Path | None = None) -> np.ndarray:
        key = self.key_for(frame_index, file_name)
        if key in self.boxes.by_key:
            self.frames_matched += 1
        return self.boxes.get(key).copy()


class GivenBoxes(Detector):
    """Boxes supplied by the caller: a mapping frame index → (N, 4|5) array, or a callable
    ``(frame_index, file_name) -> array``. For ground-truth boxes and research pipelines."""

    def __init__(self, boxes):
        self._boxes = boxes

    def detect(self, image_bgr: np.ndarray, frame_index: int, file_name: Path | None = None) -> np.ndarray:
        if callable(self._boxes):
            found = self._boxes(frame_index, file_name)
        else:
            found = self._boxes.get(frame_index)
        if found is None:
            return empty_boxes()
        arr = np.asarray(found, dtype=np.float64)
        if arr.size == 0:
            return empty_boxes()
        if arr.ndim != 2 or arr.shape[1] not in (4, 5):
            raise DetectorError(f"boxes for frame {frame_index} must have shape (N, 4) or (N, 5), got {arr.shape}")
        if arr.shape[1] == 4:
            arr = np.column_stack([arr, np.ones(len(arr))])
        return arr


# Short names for torchvision's COCO-trained detectors (``--detector fasterrcnn``); box mAP on
# COCO val2017 as torchvision reports for the pretrained weights (keypointrcnn: person class only).
TORCHVISION_MODELS: dict[str, str] = {
    "fasterrcnn": "fasterrcnn_resnet50_fpn_v2",  # 46.7
    "fasterrcnn-mobile": "fasterrcnn_mobilenet_v3_large_fpn",  # 32.8
    "fasterrcnn-mobile320": "fasterrcnn_mobilenet_v3_large_320_fpn",  # 22.8
    "retinanet": "retinanet_resnet50_fpn_v2",  # 41.5
    "fcos": "fcos_resnet50_fpn",  # 39.2
    "ssd": "ssd300_vgg16",  # 25.1
    "ssdlite": "ssdlite320_mobilenet_v3_large",  # 21.3
    "maskrcnn": "maskrcnn_resnet50_fpn_v2",  # 47.4
    "keypointrcnn": "keypointrcnn_resnet50_fpn",  # 54.6 (persons)
}
DEFAULT_TORCHVISION_MODEL = TORCHVISION_MODELS["fasterrcnn"]


def torchvision_install_command() -> str:
    """The pip command that installs the torchvision release built for the installed torch.

    torch 2.m pairs with torchvision 0.(m + 15); a local build tag (``+cpu``, ``+cu126``) means torch
    came from PyTorch's own index, whose torchvision must come from the same index (PyPI's build
    does not load beside it).
    """
    import torch

    release, _, build = torch.__version__.partition("+")
    parts = release.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return "pip install torchvision  # the release made for your torch"
    if major != 2:
        return "pip install torchvision  # the release made for your torch"
    command = f'pip install "torchvision==0.{minor + 15}.*"'
    if build:
        command += f"  # the {build} build, from PyTorch's index https://download.pytorch.org/whl/{build}"
    return command


def _import_torchvision_detection():
    """``torchvision.models.detection``, or a DetectorError with the command that installs it."""
    try:
        from torchvision.models import detection
    except ImportError:
        raise DetectorError(
            f"the torchvision detectors need torchvision, which is not installed: {torchvision_install_command()}"
        ) from None
    except (RuntimeError, OSError) as exc:  # e.g. "operator torchvision::nms does not exist"
        import torch

        raise DetectorError(
            f"torchvision is installed but does not load beside torch {torch.__version__} ({exc}); "
            f"install the matching build: {torchvision_install_command()}"
        ) from None
    return detection


class TorchvisionDetector(Detector):
    """A torchvision detection model (COCO label 1 = person).

    ``model_name`` is a builder of ``torchvision.models.detection`` or a short name from
    ``TORCHVISION_MODELS``. ``pretrained=True`` loads torchvision's COCO weights the normal way
    (downloaded and cached on first use); ``pretrained=False`` builds the same network with random
    weights and no backbone weights, which needs no download (tests, timing).
    """

    def __init__(
        self,
        model_name: str = DEFAULT_TORCHVISION_MODEL,
        weights: str | None = "DEFAULT",
        score_threshold: float = 0.5,
        device: str = "cpu",
        pretrained: bool = True,
        **builder_kwargs,
    ):
        detection = _import_torchvision_detection()
        full_name = TORCHVISION_MODELS.get(model_name, model_name)
        builder = getattr(detection, full_name, None)
        if builder is None or not callable(builder) or full_name.startswith("_"):
            raise DetectorError(
                f"torchvision.models.detection has no model {model_name!r}; short names: "
                f"{', '.join(TORCHVISION_MODELS)} (or a full builder name such as {DEFAULT_TORCHVISION_MODEL})"
            )
        if not pretrained:
            weights = None
            builder_kwargs.setdefault("weights_backbone", None)
        try:
            model = builder(weights=weights, **builder_kwargs)
        except OSError as exc:  # the weights could not be fetched or read
            raise DetectorError(
                f"torchvision could not load the pretrained weights of {full_name}: {exc} (torchvision downloads "
                "them once into its cache, ~/.cache/torch/hub/checkpoints; that needs internet access)"
            ) from None
        self.model_name = full_name
        self.model = model.eval().to(device)
        self.device = device
        self.score_threshold = score_threshold

    def detect(self, image_bgr: np.ndarray, frame_index: int, file_name: Path | None = None) -> np.ndarray:
        import torch

        rgb = np.ascontiguousarray(image_bgr[..., ::-1])
        tensor = torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0).to(self.device)
        with torch.inference_mode():
            out = self.model([tensor])[0]
        boxes = out["boxes"].float().cpu().numpy().reshape(-1, 4)
        scores = out["scores"].float().cpu().numpy().reshape(-1)
        labels = out["labels"].cpu().numpy().reshape(-1)
        keep = (labels == 1) & (scores >= self.score_threshold)
        if not keep.any():
            return empty_boxes()
        return np.column_stack([boxes[keep], scores[keep]]).astype(np.float64)


ONNX_FAMILIES = ("yolox", "rtmdet")
ONNX_DEFAULT_INPUT_HW = (640, 640)  # for graphs whose input size is dynamic (rtmlib's default)
LETTERBOX_PAD = 114
# RTMDet's normalisation, in the B, G, R order of the pixels it is fed; YOLOX takes raw 0-255 BGR.
RTMDET_MEAN_BGR = (103.53, 116.28, 123.675)
RTMDET_STD_BGR = (57.375, 57.12, 58.395)
YOLOX_STRIDES = (8, 16, 32)
EXPECTED_ONNX_OUTPUTS = (
    "`dets` (1, N, 5) [x1, y1, x2, y2, score] in input pixels with an optional integer `labels` (1, N) "
    "(an end-to-end export with NMS inside), or one YOLOX grid output (1, A, 5 + classes) "
    "[cx, cy, log w, log h, objectness, class scores] over strides 8, 16, 32"
)


def letterbox(image_bgr: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The image scaled by ``ratio`` to fit ``input_hw``, placed at the top-left of a canvas of
    grey 114; returns (canvas (H, W, 3) uint8, ratio). Boxes found on the canvas map back to the
    image by dividing by ``ratio``."""
    import cv2

    in_h, in_w = input_hw
    h, w = image_bgr.shape[:2]
    ratio = min(in_h / h, in_w / w)
    new_w = min(in_w, max(1, int(w * ratio + 1e-6)))
    new_h = min(in_h, max(1, int(h * ratio + 1e-6)))
    resized = image_bgr
    if (new_w, new_h) != (w, h):
        resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((in_h, in_w, 3), LETTERBOX_PAD, dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, ratio


def yolox_grid_boxes(raw: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Decode a YOLOX grid output (A, 5 + C) to [x1, y1, x2, y2, objectness × class-0 score] rows.

    Anchors run over strides 8, 16, 32, each row-major over its (H // s) × (W // s) grid: the
    centre is (offset + cell) × s, the size exp(log size) × s.
    """
    in_h, in_w = input_hw
    cells, strides = [], []
    for s in YOLOX_STRIDES:
        ys, xs = np.mgrid[0 : in_h // s, 0 : in_w // s]
        cells.append(np.column_stack([xs.ravel(), ys.ravel()]))
        strides.append(np.full(xs.size, s, dtype=np.float64))
    cell = np.concatenate(cells).astype(np.float64)
    stride = np.concatenate(strides)[:, None]
    raw = raw.astype(np.float64)
    centre = (raw[:, :2] + cell) * stride
    half = np.exp(raw[:, 2:4]) * stride / 2
    score = raw[:, 4] * raw[:, 5]
    return np.column_stack([centre - half, centre + half, score])


class OnnxDetector(Detector):
    """A YOLOX or RTMDet person detector exported to ONNX, run by ONNX Runtime.

    Follows the convention of mmdeploy's exports as rtmlib runs them: input (1, 3, H, W) read from
    the graph (640 × 640 when dynamic); the BGR frame letterboxed (scaled to fit, top-left, grey
    114 padding); YOLOX takes raw 0-255 BGR, RTMDet (x - mean) / std per BGR channel. Outputs:
    see ``EXPECTED_ONNX_OUTPUTS``. Class 0 is the person; a graph without ``labels`` is taken as
    a person-only detector. Boxes are divided by the letterbox ratio back to frame pixels.

    ``family`` picks the preprocessing: "yolox", "rtmdet", or None to infer it (``infer_family``).
    """

    def __init__(
        self,
        path: str | Path,
        family: str | None = None,
        score_threshold: float = 0.3,
        nms_iou: float = 0.45,
        device: str = "cpu",
    ):
        self.path = Path(path)
        if family is not None and family not in ONNX_FAMILIES:
            raise DetectorError(f"ONNX detector family must be one of {', '.join(ONNX_FAMILIES)}, got {family!r}")
        if not self.path.is_file():
            what = "is a folder, not an ONNX file" if self.path.is_dir() else "ONNX file not found"
            raise DetectorError(f"{self.path}: {what}")
        try:
            import onnxruntime as ort
        except ImportError:
            raise DetectorError('the ONNX detectors need onnxruntime: pip install "pstpose[onnx]"') from None
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            index = str(device).partition(":")[2] or "0"
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(index)}))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own exception types for unreadable or invalid graphs
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DetectorError(f"{self.path}: not a loadable ONNX model ({first_line})") from None
        self.input_name, self.input_hw, self._input_dtype = self._read_input()
        self._check_outputs()
        self.family = family or self.infer_family()
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def _read_input(self) -> tuple[str, tuple[int, int], type]:
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise DetectorError(
                f"{self.path}: expected one image input (1, 3, H, W), the graph has {len(inputs)}: {names}"
            )
        spec = inputs[0]
        shape = list(spec.shape or [])
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise DetectorError(f"{self.path}: input {spec.name!r} has shape {shape}; expected (1, 3, H, W)")
        dtypes = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}
        if spec.type not in dtypes:
            raise DetectorError(f"{self.path}: input {spec.name!r} is {spec.type}; expected a float tensor")
        h, w = shape[2], shape[3]
        known = isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0
        return spec.name, ((h, w) if known else ONNX_DEFAULT_INPUT_HW), dtypes[spec.type]

    def _describe_outputs(self) -> str:
        return ", ".join(f"{o.name} {list(o.shape or [])}" for o in self.session.get_outputs())

    def _check_outputs(self) -> None:
        """Fail at load, not on the first frame, when no output can hold boxes."""
        ranks = [len(o.shape) for o in self.session.get_outputs() if o.shape is not None]
        if 3 not in ranks:
            raise DetectorError(
                f"{self.path}: outputs {self._describe_outputs()} do not follow the YOLOX/RTMDet convention; "
                f"expected {EXPECTED_ONNX_OUTPUTS}"
            )

    def infer_family(self) -> str:
        """YOLOX or RTMDet, from the name of the file and of its folder and from the graph's
        metadata (producer, graph name, description, custom keys and values): whichever of the two
        words appears, alone; failing that, a raw grid output means YOLOX. Otherwise the caller
        must name it, since the two normalise their input differently."""
        meta = self.session.get_modelmeta()
        texts = [self.path.name, self.path.parent.name, meta.producer_name, meta.graph_name, meta.description]
        texts += [f"{k} {v}" for k, v in (meta.custom_metadata_map or {}).items()]
        found = {family for family in ONNX_FAMILIES if any(family in str(t).lower() for t in texts)}
        if len(found) == 1:
            return found.pop()
        last_dims = [o.shape[-1] for o in self.session.get_outputs() if o.shape and len(o.shape) == 3]
        if not found and any(isinstance(d, int) and d >= 6 for d in last_dims):
            return "yolox"
        raise DetectorError(
            f"{self.path}: cannot tell whether this is a YOLOX or an RTMDet export (they normalise their input "
            f"differently); name the family: yolox:{self.path} or rtmdet:{self.path}"
        )

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """The (1, 3, H, W) network input for a BGR frame, and the letterbox ratio."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise DetectorError(f"the ONNX detector takes BGR frames (H, W, 3), got shape {image_bgr.shape}")
        canvas, ratio = letterbox(image_bgr, self.input_hw)
        pixels = canvas.astype(np.float32)
        if self.family == "rtmdet":
            pixels = (pixels - np.float32(RTMDET_MEAN_BGR)) / np.float32(RTMDET_STD_BGR)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=self._input_dtype), ratio

    def _person_boxes(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """(N, 5) person rows in network-input pixels from the graph's outputs, before the
        score threshold (end-to-end) or after threshold and NMS (grid)."""
        arrays = {name: np.asarray(a) for name, a in outputs.items()}
        dets_name = "dets" if "dets" in arrays else None
        if dets_name is None:
            fives = [n for n, a in arrays.items() if a.ndim == 3 and a.shape[-1] == 5]
            dets_name = fives[0] if len(fives) == 1 else None
        if dets_name is not None:
            dets = arrays[dets_name]
            if dets.ndim != 3 or dets.shape[0] != 1 or dets.shape[-1] != 5:
                raise self._layout_error(arrays)
            rows = dets[0].astype(np.float64)
            labels_name = "labels" if "labels" in arrays else None
            if labels_name is None:
                others = [n for n, a in arrays.items() if n != dets_name and a.ndim == 2]
                labels_name = others[0] if len(others) == 1 else None
            if labels_name is not None:
                labels = arrays[labels_name].reshape(-1)
                if labels.shape[0] != rows.shape[0]:
                    raise self._layout_error(arrays)
                rows = rows[np.rint(labels) == 0]
            return rows[rows[:, 4] >= self.score_threshold]
        grids = [a for a in arrays.values() if a.ndim == 3 and a.shape[-1] >= 6]
        if len(grids) != 1 or grids[0].shape[0] != 1:
            raise self._layout_error(arrays)
        if self.family != "yolox":
            raise DetectorError(
                f"{self.path}: raw grid outputs are decoded for YOLOX only; export RTMDet end-to-end "
                "(mmdeploy's detection config with NMS) so that the graph gives `dets` and `labels`"
            )
        grid = grids[0][0]
        expected = sum((self.input_hw[0] // s) * (self.input_hw[1] // s) for s in YOLOX_STRIDES)
        if grid.shape[0] != expected:
            raise DetectorError(
                f"{self.path}: the grid output has {grid.shape[0]} rows; a {self.input_hw[0]}x{self.input_hw[1]} "
                f"input over strides 8, 16, 32 gives {expected}"
            )
        rows = yolox_grid_boxes(grid, self.input_hw)
        rows = rows[rows[:, 4] >= self.score_threshold]
        return rows[nms(rows, self.nms_iou)] if len(rows) else rows

    def _layout_error(self, arrays: dict[str, np.ndarray]) -> DetectorError:
        got = ", ".join(f"{n} {list(a.shape)}" for n, a in arrays.items())
        return DetectorError(
            f"{self.path}: outputs {got} do not follow the YOLOX/RTMDet convention; expected {EXPECTED_ONNX_OUTPUTS}"
        )

    def detect(self, image_bgr: np.ndarray, frame_index: int, file_name: Path | None = None) -> np.ndarray:
        tensor, ratio = self.preprocess(image_bgr)
        names = [o.name for o in self.session.get_outputs()]
        outputs = dict(zip(names, self.session.run(names, {self.input_name: tensor})))
        rows = self._person_boxes(outputs)
        if not len(rows):
            return empty_boxes()
        rows = rows.copy()
        rows[:, :4] /= ratio
        return rows


def detector_names() -> str:
    """Every ``--detector`` form, for help and error messages."""
    return ", ".join(
        ["hog", "boxes:FILE", *TORCHVISION_MODELS, "torchvision[:MODEL]", "onnx:FILE", "yolox:FILE", "rtmdet:FILE"]
    )


def make_detector(
    spec: str, device: str = "cpu", score_threshold: float | None = None, pretrained: bool = True
) -> Detector:
    """Build a detector from its command-line name (``detector_names()``).

    ``pretrained=False`` gives torchvision detectors random weights instead of downloading
    torchvision's (for tests); other detectors ignore it.
    """
    kind, colon, arg = spec.partition(":")
    thr = {} if score_threshold is None else {"score_threshold": score_threshold}
    if kind == "hog" and not colon:
        return HOGDetector(**thr)
    if kind == "boxes":
        if not arg:
            raise DetectorError("detector 'boxes:FILE' needs a file after the colon (COCO-style .json or MOT .txt)")
        return BoxFileDetector(
            arg, score_threshold=DEFAULT_SCORE_THRESHOLD if score_threshold is None else score_threshold
        )
    if kind in TORCHVISION_MODELS and not colon:
        return TorchvisionDetector(kind, device=device, pretrained=pretrained, **thr)
    if kind == "torchvision":
        return TorchvisionDetector(arg or DEFAULT_TORCHVISION_MODEL, device=device, pretrained=pretrained, **thr)
    if kind in ("onnx", *ONNX_FAMILIES):
        if not arg:
            raise DetectorError(f"detector '{kind}:FILE' needs an .onnx file after the colon")
        return OnnxDetector(arg, family=None if kind == "onnx" else kind, device=device, **thr)
    raise DetectorError(f"unknown detector {spec!r}; valid detectors: {detector_names()}")


def weak_detector_hint(detector: Detector) -> str | None:
    """A one-line suggestion when HOG found nobody in more than half of the frames it ran on
    (most often people it cannot see: small, sitting, occluded, seen from above), else None."""
    if not isinstance(detector, HOGDetector) or detector.frames_run == 0:
        return None
    if 2 * detector.frames_empty <= detector.frames_run:
        return None
    return (
        f"hint: the HOG detector found nobody in {detector.frames_empty} of {detector.frames_run} frames; "
        "a learned detector finds far more people: fasterrcnn (needs torchvision) "
        "or rtmdet:FILE.onnx (an RTMDet/YOLOX ONNX export, e.g. rtmlib's)"
    )


def boxes_from_keypoints(
    keypoints: np.ndarray, scores: np.ndarray, kpt_thr: float = 0.3, margin: float = 0.15, min_joints: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes for the next frame from this frame's poses (detect-every-N propagation).

    The tight box around joints scoring >= ``kpt_thr`` is enlarged by ``margin`` per dimension
    (a detector's box has room around the joints). Persons with fewer than ``min_joints``
    confident joints are dropped. Returns (boxes (M, 4), kept indices (M,)).
    """
    kpts = np.asarray(keypoints, dtype=np.float64).reshape(len(keypoints), -1, 2)
    sc = np.asarray(scores, dtype=np.float64).reshape(len(kpts), -1)
    boxes, kept = [], []
    for i in range(len(kpts)):
        good = (sc[i] >= kpt_thr) & np.isfinite(kpts[i]).all(axis=1)
        if good.sum() < min_joints:
            continue
        lo, hi = kpts[i, good].min(axis=0), kpts[i, good].max(axis=0)
        half = (hi - lo) * (1 + margin) / 2
        center = (lo + hi) / 2
        if not math.isfinite(half.sum()):
            continue
        boxes.append(np.concatenate([center - half, center + half]))
        kept.append(i)
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    return np.stack(boxes), np.array(kept, dtype=np.int64)
