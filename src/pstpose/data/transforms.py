"""Augmentation drawn once per sample and shared by every frame of its clip.

A draw (scale, rotation, flip, half-body truncation) turns the keyframe person box into ONE
crop matrix (``preprocess.crop_matrix``); every frame of the clip is warped with it and the
keyframe joints are mapped with it. The random generator of a sample is seeded from
(seed, epoch, index) alone, so a sample is the same whatever the worker count or the order in
which workers fetch it — the trainer relies on this to resume bit-exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pstpose import preprocess
from pstpose.config import DataConfig
from pstpose.data.clips import keypoint_extent_box
from pstpose.keypoints import JOINT_INDEX, NUM_JOINTS, flip_permutation

UPPER_BODY: tuple[int, ...] = tuple(range(JOINT_INDEX["left_hip"]))  # head, arms, shoulders
LOWER_BODY: tuple[int, ...] = tuple(range(JOINT_INDEX["left_hip"], NUM_JOINTS))  # hips, knees, ankles
_HALF_BODY_JOINTS = {"upper": UPPER_BODY, "lower": LOWER_BODY}


@dataclass(frozen=True)
class Augmentation:
    """One draw: crop size multiplier, rotation (degrees, counter-clockwise), mirror, truncation."""

    scale: float = 1.0
    rotation: float = 0.0
    flip: bool = False
    half_body: str | None = None  # None | "upper" | "lower"


NO_AUGMENTATION = Augmentation()


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one sample: a pure function of (seed, epoch, index)."""
    if min(seed, epoch, index) < 0:
        raise ValueError(f"seed, epoch and index must be >= 0, got {seed}, {epoch}, {index}")
    return np.random.default_rng([seed, epoch, index])


def draw_augmentation(rng: np.random.Generator, config: DataConfig, present: np.ndarray | None) -> Augmentation:
    """Draw scale ~ U(scale_range), rotation ~ U(±rotation_range) with probability
    ``rotation_prob`` (else 0), flip with ``flip_prob``, and half-body truncation with
    ``half_body_prob`` for persons with at least ``half_body_min_joints`` present joints.

    Every call consumes the same six numbers, so one option never shifts another's draw.
    """
    u_flip, u_rot, u_half, u_side = rng.random(4)
    rotation = rng.uniform(-config.rotation_range, config.rotation_range)
    scale = rng.uniform(*config.scale_range)
    if u_rot >= config.rotation_prob:
        rotation = 0.0
    half_body = None
    if present is not None and u_half < config.half_body_prob:
        present = np.asarray(present, dtype=bool)
        if int(present.sum()) >= config.half_body_min_joints:
            parts = [name for name, joints in _HALF_BODY_JOINTS.items() if int(present[list(joints)].sum()) >= 2]
            if parts:
                half_body = parts[min(int(u_side * len(parts)), len(parts) - 1)]
    return Augmentation(
        scale=float(scale), rotation=float(rotation), flip=bool(u_flip < config.flip_prob), half_body=half_body
    )


def sample_crop(
    box: np.ndarray,
    augmentation: Augmentation,
    config: DataConfig,
    keypoints: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> preprocess.CropBox:
    """The crop of a sample: the person box padded to the crop aspect and enlarged
    (``box_enlarge``) — or, for a half-body draw, the extent of that half's present joints
    enlarged by ``half_body_enlarge`` — then scaled and rotated by the draw."""
    crop = None
    if augmentation.half_body is not None and keypoints is not None and present is not None:
        joints = np.zeros(NUM_JOINTS, dtype=bool)
        joints[list(_HALF_BODY_JOINTS[augmentation.half_body])] = True
        half_box = keypoint_extent_box(keypoints, np.asarray(present, dtype=bool) & joints, 1.0)
        if half_box is not None:
            crop = preprocess.box_xywh_to_crop(half_box, config.input_size, config.half_body_enlarge)
    if crop is None:
        crop = preprocess.box_xywh_to_crop(box, config.input_size, config.box_enlarge)
    size = (crop.size[0] * augmentation.scale, crop.size[1] * augmentation.scale)
    return preprocess.CropBox(center=crop.center, size=size, rotation=augmentation.rotation)


def sample_matrix(crop: preprocess.CropBox, augmentation: Augmentation, config: DataConfig) -> np.ndarray:
    """Image -> crop 2x3 matrix (float64), mirror included when the draw flips."""
    return preprocess.crop_matrix(crop, config.input_size, flip=augmentation.flip)


def keypoints_to_crop(
    keypoints: np.ndarray, present: np.ndarray, matrix: np.ndarray, flip: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map (17, 3) image joints into the crop; with ``flip`` also swap left/right slots.

    Returns crop xy (17, 2), the visibility column and the present mask, all in the slot order
    of the (possibly flipped) crop: slot i holds joint ``flip_permutation()[i]`` of the person.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    xy = preprocess.apply_affine(keypoints[:, :2], matrix)
    vis = keypoints[:, 2].copy()
    present = np.asarray(present, dtype=bool).copy()
    if flip:
        perm = flip_permutation()
        xy, vis, present = xy[perm], vis[perm], present[perm]
    return xy, vis, present
