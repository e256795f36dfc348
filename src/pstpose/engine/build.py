"""Wires an :class:`~pstpose.config.ExperimentConfig` to the real model, dataset and validation.

Kept apart from the loop so the loop can be tested with stand-ins. The data section is the
data pipeline's configuration (``DataConfig`` when the package defines it); the keys used here:

    root           dataset root, which holds the images and the annotation folders
    format         annotation format ("auto", "pt17", "pt18", "pt21")
    train_split    annotation folder name of the training split (default "train")

The annotation folder of a split is the first that exists of ``root/annotations/<split>``
(PoseTrack18, PoseTrack17 JSON), ``root/posetrack_data/<split>`` (PoseTrack21) and
``root/posetrack_data/annotations/<split>``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from pstpose.config import ConfigError, DataConfig, ExperimentConfig, to_dict
from pstpose.engine.distributed import DistContext, setup_distributed
from pstpose.engine.precision import check_amp
from pstpose.engine.train import Trainer, ValFn
from pstpose.engine.training_state import seed_everything


def _data_root(data: DataConfig) -> Path:
    if not data.root:
        raise ConfigError("data.root is required: the dataset root, which holds the images and the annotation folders")
    return Path(data.root)


ANNOTATION_LAYOUTS = ("annotations/{split}", "posetrack_data/{split}", "posetrack_data/annotations/{split}")


def annotation_dir(data: DataConfig, split: str) -> Path:
    """The annotation folder of a split; see the module docstring."""
    root = _data_root(data)
    tried = [root / layout.format(split=split) for layout in ANNOTATION_LAYOUTS]
    for path in tried:
        if path.exists():
            return path
    raise FileNotFoundError(
        f"{root}: no annotations for split {split!r} (looked for {', '.join(str(p) for p in tried)})"
    )


def build_model_from_experiment(cfg: ExperimentConfig, load_init_weights: bool = True) -> nn.Module:
    from pstpose.engine.init_weights import load_init_weights as initialise
    from pstpose.models.pstpose import build_model

    model = build_model(cfg.model)
    if load_init_weights and cfg.train.init_weights:
        summary = initialise(model, cfg.train.init_weights)
        print(f"init_weights: {summary}", file=sys.stderr)
    return model


def build_train_dataset(cfg: ExperimentConfig) -> Dataset:
    from pstpose.data.dataset import PoseTrackClipDataset
    from pstpose.data.posetrack import load_sequences

    # One source of truth for the seed and the worker count: the training section (and for the
    # clip length and crop size: the model section, which ExperimentConfig copies into cfg.data).
    data = dataclasses.replace(cfg.data, seed=cfg.train.seed, workers=cfg.train.workers)
    sequences = load_sequences(annotation_dir(data, data.train_split), format=data.format)
    return PoseTrackClipDataset(sequences, _data_root(data), data, train=True)


def build_from_experiment(
    cfg: ExperimentConfig, *, resume: bool = False, val_fn: ValFn | None = None, dist: DistContext | None = None
) -> Trainer:
    """A Trainer for ``cfg`` with the real model and dataset.

    Every rank seeds the same way before building the model (DDP also copies rank 0's weights);
    ViTPose initial weights are loaded only for a fresh run (a resume loads last.pt instead).
    ``val_fn`` is the validation hook, ``validate(model, epoch) -> dict`` (e.g. mAP).
    """
    dist = dist if dist is not None else setup_distributed(cfg.train.device)
    check_amp(cfg.train.amp, dist.device)  # fail before the (slow) model and dataset builds
    seed_everything(cfg.train.seed)
    model = build_model_from_experiment(cfg, load_init_weights=not resume)
    dataset = build_train_dataset(cfg)
    return Trainer(model, dataset, cfg.train, val_fn, experiment=to_dict(cfg), dist=dist)
