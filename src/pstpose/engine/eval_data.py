"""What a model is evaluated on: a split's ground truth, its person boxes and the samples to run.

``pstpose.engine.evaluation`` turns these into predictions and scores; the trainer's validation and
``pstpose test`` both start here, so the split, the detection matching and the subset rule are one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from torch import nn

from pstpose.config import DataConfig
from pstpose.data.clips import ClipSample
from pstpose.data.records import Sequence
from pstpose.engine.build import annotation_dir


def load_split(data: DataConfig, split: str) -> tuple[Path, list[Sequence]]:
    """The split's annotation folder (found as training finds it) and its GT sequences."""
    from pstpose.data.posetrack import load_sequences

    folder = annotation_dir(data, split)
    sequences = load_sequences(folder, format=data.format)
    if not sequences:
        raise FileNotFoundError(f"{folder}: no annotation files (*.json) for split {split!r}")
    return folder, sequences


def _name_tail(name: str, parts: int = 2) -> str:
    return "/".join(Path(name).as_posix().split("/")[-parts:])


def detection_boxes(path: str | Path, sequences: list[Sequence], score_threshold: float) -> dict:
    """A detection file → the dataset's box mapping (key → (N, 5) [x, y, w, h, score]).

    Frames are matched by image id; when no labeled frame's id is in the file (PoseTrack17
    annolists have no global ids), by the file's image names (last two path parts, i.e.
    ``<sequence>/<frame>.jpg``).
    """
    from pstpose.data.boxes import load_coco_detections, xyxy_to_xywh

    boxes = load_coco_detections(path, score_threshold=score_threshold)
    as_xywh = {key: np.concatenate([xyxy_to_xywh(arr), arr[:, 4:5]], axis=1) for key, arr in boxes.by_key.items()}
    frames = [f for seq in sequences for f in seq.labeled_frames]
    if any(f.image_id is not None and f.image_id in as_xywh for f in frames):
        return as_xywh
    by_tail = {_name_tail(name): key for name, key in boxes.names.items()}
    mapping = {}
    for frame in frames:
        key = by_tail.get(_name_tail(frame.file_name))
        if key is not None:
            mapping[frame.file_name] = as_xywh.get(key, np.zeros((0, 5)))
    if not mapping and as_xywh:
        raise ValueError(
            f"{path}: none of the {len(frames)} labeled frames matches a detection by image id or image name; "
            "use the detection file made for this dataset split"
        )
    return mapping


def build_eval_dataset(data: DataConfig, sequences: list[Sequence], boxes: Mapping | None = None):
    """The evaluation dataset (no augmentation) over GT boxes, or over ``boxes`` when given."""
    from pstpose.data.dataset import PoseTrackClipDataset

    return PoseTrackClipDataset(sequences, data.root, data, train=False, boxes=boxes)


def frame_key(sample: ClipSample) -> tuple[str, int]:
    return sample.sequence, sample.frame_index


def select_samples(samples: list[ClipSample], max_samples: int | None) -> list[int]:
    """Indices of the samples to run: all, or whole frames spread over the split.

    Every ``s``-th frame (``s`` = ceil(samples / max_samples)) is kept, then frames are dropped
    from the end until at most ``max_samples`` remain (at least one frame is always kept).
    Whole frames, so that the frames evaluated are complete.
    """
    if max_samples is None or max_samples >= len(samples):
        return list(range(len(samples)))
    if max_samples < 1:
        raise ValueError(f"max_samples must be >= 1, got {max_samples}")
    by_frame: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, sample in enumerate(samples):
        by_frame[frame_key(sample)].append(i)
    groups = list(by_frame.values())
    stride = math.ceil(len(samples) / max_samples)
    chosen: list[int] = []
    for group in groups[::stride]:
        if chosen and len(chosen) + len(group) > max_samples:
            break
        chosen.extend(group)
    return sorted(chosen)


def data_for_model(data: DataConfig, model: nn.Module) -> DataConfig:
    """``data`` cutting the clips and crops ``model`` takes: a PSTPose's config (anything with
    ``frames_per_side`` and ``image_size``) owns the clip length and crop size. A model without
    one (a stand-in) takes ``data``'s."""
    config = getattr(model, "config", None)
    frames_per_side = getattr(config, "frames_per_side", None)
    image_size = getattr(config, "image_size", None)
    if frames_per_side is None or image_size is None:
        return data
    return data.with_clip_spec(frames_per_side, image_size)
