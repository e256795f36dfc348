"""Shared pieces of the `pstpose test` / validation tests: a tiny synthetic split, a tiny model
config and an ORACLE model that returns Gaussian heatmaps at the ground-truth joints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from pstpose import preprocess
from pstpose.codec import flip_back, gaussian_heatmaps
from pstpose.config import DataConfig, experiment_from_dict
from pstpose.data.transforms import NO_AUGMENTATION

INPUT_SIZE = (64, 48)
HEATMAP_SIZE = (16, 12)


def make_tiny_dataset(root: Path) -> Path:
    from pstpose.data.synthetic import generate_dataset

    generate_dataset(root, videos=1, val_videos=1, frames=8, height=144, width=192, seed=0)
    return root


def tiny_experiment_dict(root: Path, output_dir: Path | None = None) -> dict:
    """A depth-1 `tiny` model on 64x48 crops; everything on the CPU without workers."""
    return {
        "model": {
            "preset": "tiny",
            "image_size": list(INPUT_SIZE),
            "fcg": {"num_clusters": 8},
            "backbone": {"depth": 1},
        },
        "data": {
            "root": str(root),
            "format": "pt18",
            "input_size": list(INPUT_SIZE),
            "heatmap_size": list(HEATMAP_SIZE),
            "workers": 0,
        },
        "train": {
            "epochs": 1,
            "batch_size": 8,
            "device": "cpu",
            "workers": 0,
            "progress": False,
            "milestones": [1],
            "lr": 1e-3,
            "output_dir": str(output_dir or root / "run"),
        },
    }


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_experiment(root: Path, **train):
    data = tiny_experiment_dict(root)
    data["train"].update(train)
    return experiment_from_dict(data)


def oracle_data_config(root: Path) -> DataConfig:
    """Full-size heatmaps (64x48) so the oracle's Gaussians are well resolved."""
    return DataConfig(root=str(root), format="pt18", workers=0)


class OracleModel(nn.Module):
    """Returns, batch after batch, heatmaps drawn at given joints of the samples in run order.

    ``joints`` is one (keypoints (17, 3) image coords, present (17,), amplitude (17,)) per sample,
    in the order the runner feeds them (sample-index order, no shuffling). A doubled batch whose
    second half mirrors the first (the flip test) gets the flipped-back maps for that half.
    """

    def __init__(self, dataset, indices, joints, heatmap_size, sigma: float = 2.0):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the stand-in a device
        stride = dataset.config.heatmap_stride
        self.maps = []
        for index, (keypoints, present, amplitude) in zip(indices, joints):
            matrix = dataset.crop_matrix(index, NO_AUGMENTATION)
            points = preprocess.crop_to_heatmap(preprocess.apply_affine(keypoints[:, :2], matrix), stride)
            maps = gaussian_heatmaps(points, present.astype(float), heatmap_size, sigma)
            self.maps.append(maps * np.asarray(amplitude, dtype=np.float32)[:, None, None])
        self.cursor = 0
        self.flipped_calls = 0

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        n = clip.shape[0]
        half = n // 2
        doubled = n % 2 == 0 and n > 0 and torch.equal(clip[half:], clip[:half].flip(-1))
        count = half if doubled else n
        maps = torch.from_numpy(np.stack(self.maps[self.cursor : self.cursor + count]))
        assert len(maps) == count, "the runner asked for more samples than it was given"
        self.cursor += count
        if doubled:
            self.flipped_calls += 1
            return torch.cat([maps, flip_back(maps)])
        return maps


def gt_joints(samples, indices):
    """(keypoints, present, amplitude 1) of each sample's own ground truth."""
    return [(samples[i].keypoints, samples[i].present, np.ones(17)) for i in indices]
