"""Wires an :class:`~pstpose.config.ExperimentConfig` to the real model, dataset and validation.

Kept apart from the loop so the loop can be tested with stand-ins. The data section is a plain
mapping read by :func:`build_train_dataset`; keys used here:

    root               folder the image paths of the annotations are relative to
    train_annotations  folder (or file) of PoseTrack annotations for training
    val_annotations    the same for validation (used by the validation hook)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from pstpose.config import ConfigError, ExperimentConfig, to_dict
from pstpose.engine.checkpoint import seed_everything
from pstpose.engine.distributed import DistContext, setup_distributed
from pstpose.engine.train import Trainer, ValFn


def _data_key(data: dict, key: str) -> Any:
    if data.get(key) in (None, ""):
        raise ConfigError(f"data.{key} is required to train (set it in the config or with --set data.{key}=...)")
    return data[key]


def build_model_from_experiment(cfg: ExperimentConfig, load_init_weights: bool = True) -> nn.Module:
    try:
        from pstpose.models.pstpose import build_model
    except ImportError as exc:
        raise ImportError(f"the PSTPose model is not available in this installation ({exc})") from exc
    model = build_model(cfg.model)
    if load_init_weights and cfg.train.init_weights:
        path = Path(cfg.train.init_weights)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: train.init_weights checkpoint not found")
        model.load_vitpose_weights(path)
    return model


def _typed_data_config(data: dict) -> Any:
    """The data pipeline's typed config when it defines one, else the mapping itself."""
    try:
        from pstpose.config import DataConfig  # type: ignore[attr-defined]
    except ImportError:
        return dict(data)
    from pstpose.config import from_dict

    return from_dict(DataConfig, data, prefix="data")


def build_train_dataset(cfg: ExperimentConfig) -> Dataset:
    try:
        from pstpose.data.dataset import PoseTrackClipDataset
        from pstpose.data.posetrack import load_sequences
    except ImportError as exc:
        raise ImportError(f"the PoseTrack data pipeline is not available in this installation ({exc})") from exc
    root = Path(_data_key(cfg.data, "root"))
    annotations = Path(_data_key(cfg.data, "train_annotations"))
    if not annotations.exists():
        raise FileNotFoundError(f"{annotations}: data.train_annotations not found")
    sequences = load_sequences(annotations)
    return PoseTrackClipDataset(sequences, root, _typed_data_config(cfg.data), train=True)


def build_from_experiment(cfg: ExperimentConfig, *, resume: bool = False, val_fn: ValFn | None = None,
                          dist: DistContext | None = None) -> Trainer:
    """A Trainer for ``cfg`` with the real model and dataset.

    Every rank seeds the same way before building the model (DDP also copies rank 0's weights);
    ViTPose initial weights are loaded only for a fresh run (a resume loads last.pt instead).
    ``val_fn`` is the validation hook, ``validate(model, epoch) -> dict`` (e.g. mAP).
    """
    dist = dist if dist is not None else setup_distributed(cfg.train.device)
    seed_everything(cfg.train.seed)
    model = build_model_from_experiment(cfg, load_init_weights=not resume)
    dataset = build_train_dataset(cfg)
    return Trainer(model, dataset, cfg.train, val_fn, experiment=to_dict(cfg), dist=dist)
