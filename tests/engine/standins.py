"""Small stand-ins for the PSTPose model and the PoseTrack clip dataset, with the same interfaces
(clip (B, T, 3, H, W) -> heatmaps (B, K, H/4, W/4); items with clip/target/target_weight/meta)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

FRAMES, KEYPOINTS, HEIGHT, WIDTH = 3, 4, 16, 12


class TinyHeatmapNet(nn.Module):
    """Two convolutions over the frames stacked as channels, pooled to stride 4."""

    def __init__(self, dropout: float = 0.0, frames: int = FRAMES, keypoints: int = KEYPOINTS):
        super().__init__()
        self.conv = nn.Conv2d(frames * 3, 8, 3, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Conv2d(8, keypoints, 1)
        self.pool = nn.AvgPool2d(4)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = clip.shape
        x = torch.relu(self.norm(self.conv(clip.reshape(b, t * c, h, w))))
        return self.pool(self.head(self.drop(x)))


class RandomClipDataset(Dataset):
    """Fixed random items; with ``noise`` each read adds a draw from NumPy's global generator
    (standing in for augmentation, so the run depends on the RNG states being restored)."""

    def __init__(self, size: int = 12, seed: int = 0, noise: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        self.clips = torch.randn(size, FRAMES, 3, HEIGHT, WIDTH, generator=g)
        self.targets = torch.rand(size, KEYPOINTS, HEIGHT // 4, WIDTH // 4, generator=g)
        self.weights = (torch.rand(size, KEYPOINTS, generator=g) > 0.25).float()
        self.noise = noise

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        clip = self.clips[index]
        if self.noise:
            clip = clip + self.noise * torch.from_numpy(np.random.standard_normal(clip.shape).astype(np.float32))
        return {
            "clip": clip,
            "target": self.targets[index],
            "target_weight": self.weights[index],
            "meta": {"index": index, "joints": list(range(index % 3))},
        }


def state_hash(model: nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
