"""The torch Dataset of PoseTrack clips: samples -> augmented crops, heatmap targets and meta.

Each item is one person in one keyframe: the 2*xi+1 clip frames cropped with ONE matrix,
Gaussian targets for the keyframe joints and ``meta`` values that the default collate batches
(numbers, strings, tensors). ``dataset.samples[meta["sample_index"]]`` is the full record of an
item, which is how an evaluation run maps predictions back to frames and boxes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence as SequenceABC
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pstpose import preprocess
from pstpose.codec import heatmap_points_to_image, make_targets
from pstpose.config import DataConfig
from pstpose.data.clips import ClipSample, check_frame_files, detection_samples, ground_truth_samples
from pstpose.data.frames import FrameCache
from pstpose.data.records import Person, Sequence
from pstpose.data.transforms import (
    NO_AUGMENTATION,
    Augmentation,
    draw_augmentation,
    keypoints_to_crop,
    sample_crop,
    sample_matrix,
    sample_rng,
)
from pstpose.keypoints import NUM_JOINTS


class PoseTrackClipDataset(Dataset):
    """Clips of PoseTrack-style ``sequences`` whose frame files live under ``root``.

    train=True: one sample per ground-truth person (see ``clips.ground_truth_samples``), with
    augmentation. train=False: no augmentation; person boxes from ``boxes`` (image_id or
    file_name -> (N, 5) [x, y, w, h, score]) when given, else from ground truth.

    An index may be an int (uses the epoch set by ``set_epoch``) or an (epoch, index) pair, so
    that samplers of persistent workers can carry the epoch themselves.
    """

    def __init__(
        self,
        sequences: SequenceABC[Sequence],
        root: str | Path,
        config: DataConfig,
        train: bool,
        boxes: Mapping | None = None,
    ):
        self.root = Path(root)
        self.config = config
        self.train = train
        self.epoch = 0
        self.skipped: Counter = Counter()
        if boxes is not None:
            if train:
                raise ValueError("training samples use ground-truth boxes; pass boxes only with train=False")
            self.samples: list[ClipSample] = detection_samples(sequences, config, boxes, self.skipped)
        else:
            self.samples = ground_truth_samples(sequences, config, self.skipped)
        if config.check_files:
            check_frame_files(self.samples, self.root)
        self._cache: FrameCache | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = None  # every worker decodes into a cache of its own
        return state

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def cache(self) -> FrameCache:
        if self._cache is None:
            self._cache = FrameCache(self.config.cache_frames)
        return self._cache

    def augmentation(self, index: int, epoch: int | None = None) -> Augmentation:
        """The draw of sample ``index`` in ``epoch`` (no augmentation when not training)."""
        if not self.train:
            return NO_AUGMENTATION
        epoch = self.epoch if epoch is None else epoch
        rng = sample_rng(self.config.seed, epoch, index)
        return draw_augmentation(rng, self.config, self.samples[index].present)

    def crop_matrix(self, index: int, augmentation: Augmentation) -> np.ndarray:
        sample = self.samples[index]
        crop = sample_crop(sample.box, augmentation, self.config, sample.keypoints, sample.present)
        return sample_matrix(crop, augmentation, self.config)

    def load_clip(self, sample: ClipSample, matrix: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB crops, every frame warped with the same ``matrix``."""
        warped: dict[str, np.ndarray] = {}
        for name in sample.frame_files:
            if name not in warped:  # replicated edge frames are warped once
                frame = self.cache.get(self.root / name)
                warped[name] = preprocess.warp_frame(frame, matrix, self.config.input_size)
        return np.stack([warped[name] for name in sample.frame_files])

    def __getitem__(self, item) -> dict:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        index = int(index)
        if not 0 <= index < len(self.samples):
            raise IndexError(f"sample index {index} out of range 0..{len(self.samples) - 1}")
        sample = self.samples[index]
        augmentation = self.augmentation(index, int(epoch))
        matrix = self.crop_matrix(index, augmentation)
        clip = preprocess.normalize_rgb(self.load_clip(sample, matrix))

        cfg = self.config
        joints = np.zeros((NUM_JOINTS, 3)) if sample.keypoints is None else sample.keypoints
        present = np.zeros(NUM_JOINTS, bool) if sample.present is None else sample.present
        xy, vis, present_crop = keypoints_to_crop(joints, present, matrix, augmentation.flip)
        target, weight = make_targets(
            xy, present_crop, vis, cfg.heatmap_size, cfg.sigma, cfg.heatmap_stride, cfg.use_visibility
        )
        meta = {
            "sample_index": index,
            "epoch": int(epoch),
            "image_id": -1 if sample.image_id is None else int(sample.image_id),
            "sequence": sample.sequence,
            "file_name": sample.file_name,
            "frame_index": sample.frame_index,
            "track_id": -1 if sample.track_id is None else int(sample.track_id),
            "matrix": torch.from_numpy(np.asarray(matrix, dtype=np.float64)),
            "box": torch.from_numpy(np.asarray(sample.box, dtype=np.float64)),
            "box_score": float(sample.box_score),
            "joints": torch.from_numpy(np.asarray(joints, dtype=np.float64).copy()),
            "joints_present": torch.from_numpy(np.asarray(present, dtype=bool).copy()),
            "flip": bool(augmentation.flip),
            "scale": float(augmentation.scale),
            "rotation": float(augmentation.rotation),
            "half_body": augmentation.half_body or "",
        }
        return {
            "clip": torch.from_numpy(clip),
            "target": torch.from_numpy(target),
            "target_weight": torch.from_numpy(weight),
            "meta": meta,
        }


def prediction_to_person(
    sample: ClipSample,
    matrix: np.ndarray,
    points_hm: np.ndarray,
    joint_scores: np.ndarray,
    stride: int = preprocess.HEATMAP_STRIDE,
    present: np.ndarray | None = None,
) -> Person:
    """A predicted Person in image coordinates from one item's heatmap peaks.

    ``points_hm`` (17, 2) are heatmap coordinates in the crop of ``matrix`` (``meta["matrix"]``,
    unflipped at evaluation); ``joint_scores`` (17,) are the peak values. The person keeps the
    sample's box and box score, so an evaluation run can group persons per frame
    (``sample.image_id`` / ``sample.file_name``). ``present`` (17,) marks the joints the model
    has (all by default; a COCO head has no head_bottom/head_top).
    """
    xy = heatmap_points_to_image(np.asarray(points_hm, dtype=np.float64), np.asarray(matrix, dtype=np.float64), stride)
    scores = np.asarray(joint_scores, dtype=np.float64).reshape(NUM_JOINTS)
    present = np.ones(NUM_JOINTS, bool) if present is None else np.asarray(present, bool).reshape(NUM_JOINTS)
    keypoints = np.concatenate([xy.reshape(NUM_JOINTS, 2), present[:, None].astype(np.float64)], axis=1)
    return Person(
        keypoints=keypoints,
        present=present,
        track_id=sample.track_id,
        scores=scores,
        bbox=np.asarray(sample.box, dtype=np.float64).copy(),
        score=float(sample.box_score),
    )
