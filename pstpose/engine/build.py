"""Wires an :class:`~pstpose.config.ExperimentConfig` to the real model, dataset and validation.

Kept apart from the loop so the loop can be tested with stand-ins. The data section is the
data pipeline's configuration (``DataConfig`` when the package defines it); the keys used here:

    root           dataset root, which holds the images and the annotation folders
    format         annotation format ("auto", "pt17", "pt18", "pt21")
    train_split    annotation folder name of the training split (default "train")

The annotation folder of a split is the first that exists of ``root/annotations/<split>``
(PoseTrack18, PoseTrack17 JSON), ``root/posetrack_data/<split>`` (PoseTrack21) and
``root/posetrack_data/annotations/<split>``; ``train_annotations`` names one explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from pstpose.config import ConfigError, ExperimentConfig, to_dict
from pstpose.engine.checkpoint import seed_everything
from pstpose.engine.distributed import DistContext, setup_distributed
from pstpose.engine.precision import check_amp
from pstpose.engine.train import Trainer, ValFn


def _data_key(data: dict, key: str) -> Any:
    if data.get(key) in (None, ""):
        raise ConfigError(f"data.{key} is required to train (set it in the config or with --set data.{key}=...)")
    return data[key]


ANNOTATION_LAYOUTS = ("annotations/{split}", "posetrack_data/{split}", "posetrack_data/annotations/{split}")


def annotation_dir(data: dict, split_key: str = "train_split", explicit_key: str = "train_annotations") -> Path:
    """The annotation folder (or merged file) of a split; see the module docstring."""
    if data.get(explicit_key):
        path = Path(data[explicit_key])
        if not path.exists():
            raise FileNotFoundError(f"{path}: data.{explicit_key} not found")
        return path
    root = Path(_data_key(data, "root"))
    split = data.get(split_key) or split_key.split("_")[0]
    tried = [root / layout.format(split=split) for layout in ANNOTATION_LAYOUTS]
    for path in tried:
        if path.exists():
            return path
    raise FileNotFoundError(
        f"{root}: no annotations for split {split!r} (looked for {', '.join(str(p) for p in tried)})"
    )


def check_data_matches_model(cfg: ExperimentConfig) -> None:
    """The clip length and crop size are stated in both sections; they must agree."""
    data, model = cfg.data, cfg.model
    if "frames_per_side" in data and int(data["frames_per_side"]) != model.frames_per_side:
        raise ConfigError(f"data.frames_per_side={data['frames_per_side']} but model.frames_per_side="
                          f"{model.frames_per_side}; the clips must have the length the model expects")
    if "input_size" in data and tuple(data["input_size"]) != tuple(model.image_size):
        raise ConfigError(f"data.input_size={list(data['input_size'])} but model.image_size="
                          f"{list(model.image_size)}")


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
    check_data_matches_model(cfg)
    data = {k: v for k, v in cfg.data.items() if k != "train_annotations"}
    data_config = _typed_data_config(data)
    sequences = load_sequences(annotation_dir(cfg.data), format=cfg.data.get("format", "auto"))
    return PoseTrackClipDataset(sequences, Path(_data_key(cfg.data, "root")), data_config, train=True)


def build_from_experiment(cfg: ExperimentConfig, *, resume: bool = False, val_fn: ValFn | None = None,
                          dist: DistContext | None = None) -> Trainer:
    """A Trainer for ``cfg`` with the real model and dataset.

    Every rank seeds the same way before building the model (DDP also copies rank 0's weights);
    ViTPose initial weights are loaded only for a fresh run (a resume loads last.pt instead).
    ``val_fn`` is the validation hook, ``validate(model, epoch) -> dict`` (e.g. mAP).
    """
    dist = dist if dist is not None else setup_distributed(cfg.train.device)
    check_amp(cfg.train.amp, dist.device)  # fail before the (slow) model and dataset builds
    check_data_matches_model(cfg)
    seed_everything(cfg.train.seed)
    model = build_model_from_experiment(cfg, load_init_weights=not resume)
    dataset = build_train_dataset(cfg)
    return Trainer(model, dataset, cfg.train, val_fn, experiment=to_dict(cfg), dist=dist)
