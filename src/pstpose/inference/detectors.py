"""Person detectors behind one interface: ``detect(image_bgr, frame_index, file_name) -> (N, 5)``.

Rows are ``[x1, y1, x2, y2, score]`` in image pixels, scores in [0, 1]. Implementations:

* ``HOGDetector``: OpenCV's HOG + linear SVM people detector — no weights to fetch, CPU only,
  good on upright, mostly unoccluded people.
* ``BoxFileDetector``: precomputed boxes (COCO-style detection JSON or MOT text).
* ``TorchvisionDetector``: a torchvision detection model (optional dependency).

``make_detector("hog" | "boxes:FILE" | "torchvision[:NAME]")`` builds one from a CLI string.
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

    def detect(self, image_bgr: np.ndarray, frame_index: int, file_name: Path | None = None) -> np.ndarray:
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


class TorchvisionDetector(Detector):
    """A torchvision detection model (COCO label 1 = person).

    ``weights="DEFAULT"`` loads torchvision's pretrained weights the normal way (downloaded and
    cached on first use); ``weights=None, weights_backbone=None`` builds a randomly initialised
    model (used by the tests).
    """

    def __init__(
        self,
        model_name: str = "fasterrcnn_resnet50_fpn_v2",
        weights: str | None = "DEFAULT",
        score_threshold: float = 0.5,
        device: str = "cpu",
        **builder_kwargs,
    ):
        try:
            from torchvision.models import detection
        except ImportError:
            raise DetectorError(
                "the torchvision detector needs torchvision (pip install torchvision matching your torch)"
            ) from None
        builder = getattr(detection, model_name, None)
        if builder is None or not callable(builder):
            raise DetectorError(f"torchvision.models.detection has no model {model_name!r}")
        self.model = builder(weights=weights, **builder_kwargs).eval().to(device)
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


def make_detector(spec: str, device: str = "cpu", score_threshold: float | None = None) -> Detector:
    """Build a detector from ``hog``, ``boxes:FILE`` or ``torchvision[:MODEL_NAME]``."""
    kind, _, arg = spec.partition(":")
    if kind == "hog":
        return HOGDetector() if score_threshold is None else HOGDetector(score_threshold=score_threshold)
    if kind == "boxes":
        if not arg:
            raise DetectorError("detector 'boxes:FILE' needs a file after the colon (COCO-style .json or MOT .txt)")
        thr = DEFAULT_SCORE_THRESHOLD if score_threshold is None else score_threshold
        return BoxFileDetector(arg, score_threshold=thr)
    if kind == "torchvision":
        kwargs = {"device": device}
        if arg:
            kwargs["model_name"] = arg
        if score_threshold is not None:
            kwargs["score_threshold"] = score_threshold
        return TorchvisionDetector(**kwargs)
    raise DetectorError(f"unknown detector {spec!r}; use hog, boxes:FILE or torchvision[:MODEL]")


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
