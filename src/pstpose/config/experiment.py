"""Training and experiment configuration: the recipe, and one experiment = model + data + train."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pstpose.config.base import ConfigError, from_dict, load_yaml, merge_dict, parse_override
from pstpose.config.data import DataConfig
from pstpose.config.model import ModelConfig, model_config_from_dict
from pstpose.devices import parse_device

AMP_MODES = ("none", "bf16", "fp16")


@dataclass
class TrainConfig:
    """The optimisation recipe and run settings (see docs/training.md for each field's meaning)."""

    optimizer: str = "adamw"  # only AdamW is implemented (the paper's optimiser)
    lr: float = 2e-4
    weight_decay: float = 0.1  # not applied to biases, norm weights and position embeddings
    betas: tuple[float, float] = (0.9, 0.999)
    # Learning-rate multipliers by parameter name (glob pattern -> factor), e.g.
    # {"refine.dfe.mixer.lambda_*": 10}: parameters that learn slowly at the common rate get their
    # own optimiser group; the schedule scales every group alike. A name may match one pattern only.
    lr_scale: dict[str, float] = field(default_factory=dict)
    milestones: tuple[int, ...] = (6, 12, 16)  # lr *= gamma once this many epochs are complete
    gamma: float = 0.1
    warmup_iters: int = 0  # linear warm-up over the first optimiser steps (0 = none)
    warmup_ratio: float = 0.001  # lr factor at step 0 of the warm-up
    epochs: int = 20
    batch_size: int = 32  # per process; the global batch is batch_size * world_size * accumulation
    grad_clip: float = 1.0  # max global L2 norm of the gradients; 0 disables clipping
    accumulation: int = 1  # micro-batches per optimiser step
    amp: str = "none"  # "none" | "bf16" (CPU and CUDA) | "fp16" (CUDA only, with a GradScaler)
    device: str = "auto"  # "auto" (CUDA when available) | "cpu" | "cuda" | "cuda:N" | "mps" (pstpose.devices)
    seed: int = 0
    deterministic: bool = False  # deterministic kernels; slower, needed for bit-exact reruns
    workers: int = 4  # DataLoader worker processes per training process
    log_every: int = 20  # optimiser steps between progress-bar updates
    output_dir: str = "runs/default"
    init_weights: str | None = None  # ViTPose checkpoint (backbone + head) or PSTPose checkpoint to start from
    val_every: int = 1  # validate after every N epochs (and after the last); 0 disables
    best_metric: str = "mAP"  # key of the validation result that selects best.pt (higher wins)
    val_max_samples: int | None = None  # validate on a spread subset of at most this many persons
    val_flip: bool = False  # flip test in validation (twice the cost; `pstpose test` uses it by default)
    keep_epoch_checkpoints: bool = False  # also keep epoch_NNN.pt beside last.pt
    find_unused_parameters: bool = False  # DDP option, for ablations that leave parameters unused
    progress: bool = True  # tqdm progress bar on rank 0


@dataclass
class ExperimentConfig:
    """One training experiment: the model, the data and the recipe.

    The clip spec is the model's: ``data.frames_per_side`` and ``data.input_size`` are always
    ``model.frames_per_side`` and ``model.image_size`` (filled in here, so the two sections
    cannot disagree). The loader's worker count and the augmentation seed come from
    ``train.workers`` and ``train.seed`` (one place each); ``data.workers``/``data.seed`` are for
    the dataset used on its own.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        self.data = self.data.with_clip_spec(self.model.frames_per_side, self.model.image_size)


SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
_EXPERIMENT_SECTIONS = ("model", "data", "train")
# (data key, model key): the data section's clip spec and the model field that owns each value.
CLIP_SPEC_FIELDS: tuple[tuple[str, str], ...] = (("frames_per_side", "frames_per_side"), ("input_size", "image_size"))


def shipped_configs() -> dict[str, Path]:
    """Name (file stem) -> path of the experiment configs shipped with the package."""
    return {p.stem: p for p in sorted(SHIPPED_CONFIG_DIR.glob("*.yaml"))}


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path to a YAML file, or the name of a shipped config (e.g. ``synthetic_tiny``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_configs()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    raise ConfigError(f"{path}: no such config file, and not a shipped config name (shipped: {sorted(shipped)})")


def _set_dotted(data: dict, text: str) -> None:
    """Apply one ``section.key=value`` override to raw experiment data (created if absent)."""
    path, value = parse_override(text)
    if path[0] not in _EXPERIMENT_SECTIONS:
        raise ConfigError(f"override {text!r}: the first part must be one of {list(_EXPERIMENT_SECTIONS)}")
    if len(path) < 2:
        raise ConfigError(f"override {text!r}: give a key inside the {path[0]} section")
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {text!r}: {'.'.join(path[: i + 1])} is not a section")
        node = child
    node[path[-1]] = value


def experiment_from_dict(data: dict, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """ExperimentConfig from plain data plus ``section.key=value`` overrides, fully validated."""
    data = merge_dict({}, data)  # a copy: overrides never touch the caller's mapping
    unknown = sorted(set(data) - set(_EXPERIMENT_SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section(s) {unknown}; known: {list(_EXPERIMENT_SECTIONS)}")
    for text in overrides:
        _set_dotted(data, text)
    for section in _EXPERIMENT_SECTIONS:
        if data.get(section) is None:
            data[section] = {}
        if not isinstance(data[section], dict):
            raise ConfigError(f"{section}: expected a mapping, got {data[section]!r}")
    model = model_config_from_dict(data["model"])
    train = from_dict(TrainConfig, data["train"], prefix="train")
    check_train_config(train)
    data_cfg = from_dict(DataConfig, data_section_for_model(data["data"], model), prefix="data")
    return ExperimentConfig(model=model, data=data_cfg, train=train)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def data_section_for_model(section: dict, model: ModelConfig) -> dict:
    """The raw data section with its clip spec taken from ``model`` (see ``CLIP_SPEC_FIELDS``).

    A data section may repeat the model's value (older files do); a different value is a
    ConfigError naming both fields, because one of them would be silently ignored.
    """
    out = dict(section)
    for data_key, model_key in CLIP_SPEC_FIELDS:
        owned = _plain(getattr(model, model_key))
        if data_key in section and _plain(section[data_key]) != owned:
            raise ConfigError(
                f"data.{data_key}={_plain(section[data_key])!r} conflicts with model.{model_key}={owned!r}: "
                f"the model section owns the clip length and crop size and the data section takes them "
                f"from it; remove data.{data_key} (or change model.{model_key})"
            )
        out[data_key] = owned
    return out


def load_experiment(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read an experiment YAML (a path or a shipped config name) and apply overrides.

    Errors name the file and the offending key.
    """
    path = resolve_config_path(path)
    try:
        return experiment_from_dict(load_yaml(path), overrides)
    except ConfigError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ConfigError(f"{path}: {exc}") from None


def check_train_config(cfg: TrainConfig) -> None:
    """Reject values that would fail later, deep inside the training loop."""
    if cfg.optimizer.lower() != "adamw":
        raise ConfigError(f"train.optimizer: only 'adamw' is implemented, got {cfg.optimizer!r}")
    if cfg.amp not in AMP_MODES:
        raise ConfigError(f"train.amp: expected one of {list(AMP_MODES)}, got {cfg.amp!r}")
    try:
        parse_device(cfg.device)  # the spelling only: the config may be for another machine
    except ValueError as exc:
        raise ConfigError(f"train.device: {exc}") from None
    positive = {
        "lr": cfg.lr,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "accumulation": cfg.accumulation,
        "log_every": cfg.log_every,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"train.{key}: must be positive, got {value!r}")
    if cfg.val_max_samples is not None and cfg.val_max_samples < 1:
        raise ConfigError(f"train.val_max_samples: must be >= 1 or null, got {cfg.val_max_samples!r}")
    for key in ("weight_decay", "grad_clip", "warmup_iters", "workers", "val_every"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"train.{key}: must not be negative, got {getattr(cfg, key)!r}")
    if list(cfg.milestones) != sorted(cfg.milestones) or any(m <= 0 for m in cfg.milestones):
        raise ConfigError(f"train.milestones: expected increasing positive epochs, got {list(cfg.milestones)}")
    if not 0.0 < cfg.gamma <= 1.0:
        raise ConfigError(f"train.gamma: expected a factor in (0, 1], got {cfg.gamma!r}")
    if not 0.0 <= cfg.warmup_ratio <= 1.0:
        raise ConfigError(f"train.warmup_ratio: expected a factor in [0, 1], got {cfg.warmup_ratio!r}")
    if not all(0.0 <= b < 1.0 for b in cfg.betas):
        raise ConfigError(f"train.betas: expected values in [0, 1), got {list(cfg.betas)}")
    for pattern, factor in cfg.lr_scale.items():
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"train.lr_scale: keys must be parameter-name patterns, got {pattern!r}")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
            raise ConfigError(f"train.lr_scale[{pattern!r}]: expected a positive factor, got {factor!r}")
