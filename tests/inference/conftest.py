"""Synthetic scenes with known joints, oracle stand-in models and small generated videos.

The scene paints every joint as a small Gaussian blob whose colour names the joint (one colour
per centre joint, one per left/right pair). ``ColourOracle`` is a stand-in model that finds the
blobs in the keyframe crop it is given and puts a Gaussian heatmap at each blob's centroid; it
decides left vs right of a pair by position (the image-right blob is the person's left, as for a
person facing the camera), so it behaves like a real model under the flip test. Running the
predictor with it exercises crop → heatmap → sub-pixel decode → inverse affine for real.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pstpose.keypoints import FLIP_PAIRS, NUM_JOINTS
from pstpose.preprocess import IMAGENET_MEAN, IMAGENET_STD, crop_to_heatmap

# Frontal pose in box units: x relative to the box centre (fraction of width), y from the top.
TEMPLATE = np.array(
    [
        (0.0, 0.12),
        (0.0, 0.21),
        (0.0, 0.02),
        (0.14, 0.10),
        (-0.14, 0.10),
        (0.2, 0.27),
        (-0.2, 0.27),
        (0.3, 0.42),
        (-0.3, 0.42),
        (0.36, 0.58),
        (-0.36, 0.58),
        (0.12, 0.55),
        (-0.12, 0.55),
        (0.14, 0.76),
        (-0.14, 0.76),
        (0.15, 0.97),
        (-0.15, 0.97),
    ]
)

# Colour group of each joint: centre joints get their own, the two joints of a pair share one.
GROUP = np.zeros(NUM_JOINTS, dtype=np.int64)
GROUP[:3] = [0, 1, 2]
for _g, (_a, _b) in enumerate(FLIP_PAIRS, start=3):
    GROUP[_a] = GROUP[_b] = _g
NUM_GROUPS = int(GROUP.max()) + 1
GREEN_LEVELS = 20 + 23 * np.arange(NUM_GROUPS)  # green / red ratio names the group
BLOB_SIGMA = 2.0


def person_keypoints(center_x: float, top_y: float, width: float = 100.0, height: float = 200.0) -> np.ndarray:
    """Image coordinates (17, 2) of the template person."""
    return np.column_stack([center_x + TEMPLATE[:, 0] * width, top_y + TEMPLATE[:, 1] * height])


def person_box(keypoints: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """[x1, y1, x2, y2] around the joints plus a margin (fraction of the size per side)."""
    lo, hi = keypoints.min(0), keypoints.max(0)
    pad = (hi - lo) * margin
    return np.concatenate([lo - pad, hi + pad])


def render_scene(width: int, height: int, persons: list[np.ndarray], background: int = 0) -> np.ndarray:
    """BGR uint8 image with each person's joints as coloured Gaussian blobs."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    red = np.zeros((height, width))
    green = np.zeros((height, width))
    for kpts in persons:
        for j, (x, y) in enumerate(kpts):
            x0, x1 = int(max(0, x - 4 * BLOB_SIGMA)), int(min(width, x + 4 * BLOB_SIGMA + 2))
            y0, y1 = int(max(0, y - 4 * BLOB_SIGMA)), int(min(height, y + 4 * BLOB_SIGMA + 2))
            if x0 >= x1 or y0 >= y1:
                continue
            blob = np.exp(-((xx[y0:y1, x0:x1] - x) ** 2 + (yy[y0:y1, x0:x1] - y) ** 2) / (2 * BLOB_SIGMA**2))
            red[y0:y1, x0:x1] += 255.0 * blob
            green[y0:y1, x0:x1] += GREEN_LEVELS[GROUP[j]] * blob
    image = np.full((height, width, 3), background, dtype=np.float64)
    image[..., 2] += red
    image[..., 1] += green
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def gaussian_heatmap(center_xy, shape=(64, 48), sigma: float = 2.0) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.exp(-((xx - center_xy[0]) ** 2 + (yy - center_xy[1]) ** 2) / (2 * sigma**2))


class ColourOracle(torch.nn.Module):
    """Stand-in model: reads the keyframe crop, returns Gaussians at the coloured blobs."""

    def __init__(self, frames_per_side: int = 1, heatmap_sigma: float = 2.0, bias_x: float = 0.0):
        super().__init__()
        self.bias_x = bias_x  # a systematic error (crop px, towards +x) that the flip test cancels
        self.config = SimpleNamespace(
            frames_per_side=frames_per_side, num_frames=2 * frames_per_side + 1, image_size=(256, 192)
        )
        self.heatmap_sigma = heatmap_sigma
        self.calls = 0
        self.batch_sizes: list[int] = []

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        from scipy import ndimage

        self.calls += 1
        self.batch_sizes.append(int(clip.shape[0]))
        b, t = clip.shape[:2]
        key = clip[:, t // 2].numpy()  # (B, 3, H, W) normalised RGB
        rgb = key * IMAGENET_STD[None, :, None, None] + IMAGENET_MEAN[None, :, None, None]
        out = np.zeros((b, NUM_JOINTS, 64, 48), dtype=np.float32)
        for i in range(b):
            red, green = rgb[i, 0], rgb[i, 1]
            level = (green / np.maximum(red, 1e-6) * 255.0 - GREEN_LEVELS[0]) / (GREEN_LEVELS[1] - GREEN_LEVELS[0])
            group = np.round(level).astype(np.int64)
            mask = (red > 0.25) & (np.abs(level - group) < 0.45) & (group >= 0) & (group < NUM_GROUPS)
            labels, n = ndimage.label(mask)
            if n == 0:
                continue
            weights = np.where(mask, red - 0.25, 0.0)
            index = np.arange(1, n + 1)
            mass = ndimage.sum(weights, labels, index)
            cy, cx = np.array(ndimage.center_of_mass(weights, labels, index)).reshape(-1, 2).T
            comp_group = ndimage.median(group, labels, index).astype(np.int64)
            for g in range(NUM_GROUPS):
                comps = np.flatnonzero(comp_group == g)
                joints = np.flatnonzero(GROUP == g)
                comps = comps[np.argsort(-mass[comps])][: len(joints)]
                if len(joints) == 2 and len(comps) == 2:
                    # image-right blob is the person's left joint (first of the pair)
                    comps = comps[np.argsort(-cx[comps])]
                for joint, comp in zip(joints, comps):
                    hm_xy = crop_to_heatmap(np.array([cx[comp] + self.bias_x, cy[comp]]))
                    out[i, joint] = gaussian_heatmap(hm_xy, sigma=self.heatmap_sigma)
        return torch.from_numpy(out)


class FixedHeatmaps(torch.nn.Module):
    """Stand-in model returning Gaussians at fixed heatmap positions (17, 2) for every clip."""

    def __init__(self, positions_hm: np.ndarray, frames_per_side: int = 1):
        super().__init__()
        self.config = SimpleNamespace(
            frames_per_side=frames_per_side, num_frames=2 * frames_per_side + 1, image_size=(256, 192)
        )
        self.maps = torch.from_numpy(np.stack([gaussian_heatmap(p) for p in positions_hm]).astype(np.float32))
        self.seen_shapes: list[tuple] = []

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        self.seen_shapes.append(tuple(clip.shape))
        return self.maps[None].expand(clip.shape[0], -1, -1, -1).clone()


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10, codec: str = "libx264") -> Path:
    """Encode BGR frames with PyAV."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def count_video_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def moving_scene(num_frames: int, width: int = 480, height: int = 320, step: float = 3.0, rng=None):
    """Two well-separated persons moving right by ``step`` px/frame (with a sub-pixel start).

    Returns (frames BGR list, keypoints per frame (T, 2, 17, 2)).
    """
    offset = 0.37 if rng is None else rng.uniform(0, 1)
    frames, truth = [], []
    for t in range(num_frames):
        persons = [
            person_keypoints(110.3 + offset + step * t, 40.6),
            person_keypoints(330.8 - offset + step * t, 70.2, width=90, height=180),
        ]
        frames.append(render_scene(width, height, persons))
        truth.append(np.stack(persons))
    return frames, np.stack(truth)


@pytest.fixture
def synth() -> SimpleNamespace:
    return SimpleNamespace(
        TEMPLATE=TEMPLATE,
        person_keypoints=person_keypoints,
        person_box=person_box,
        render_scene=render_scene,
        gaussian_heatmap=gaussian_heatmap,
        ColourOracle=ColourOracle,
        FixedHeatmaps=FixedHeatmaps,
        write_video=write_video,
        count_video_frames=count_video_frames,
        moving_scene=moving_scene,
    )
