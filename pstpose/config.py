"""Typed configuration: dataclasses, presets, YAML files and ``key=value`` overrides.

A config is a tree of dataclasses. ``from_dict`` builds one from plain data and refuses unknown
keys and wrongly typed values with the dotted key in the message; ``apply_overrides`` takes
command-line style ``a.b.c=value`` strings (values parsed as YAML scalars).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names the key and the source."""


# --- model -----------------------------------------------------------------------------------


@dataclass
class BackboneConfig:
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 16
    qkv_bias: bool = True
    drop_path_rate: float = 0.3
    layer_norm_eps: float = 1e-6  # ViTPose's value (transformers' VitPose config defaults to 1e-12)


# The refinement modules work at a reduced internal width ``dim`` (projected in from and out to
# the backbone width); ``mlp_ratio`` is relative to ``dim``. See docs/architecture.md (cost).


@dataclass
class DFEConfig:
    """Differential feature enhancement (differential attention over all clip tokens)."""

    enabled: bool = True
    dim: int = 192
    num_heads: int = 3  # differential heads; each head splits its q/k into a +/- half
    mlp_ratio: float = 1.0
    lambda_init: float | None = None  # None: Differential Transformer schedule at depth L_backbone + 1


@dataclass
class FCGConfig:
    """Fine-grained cluster guidance (DPC-KNN clustering + cluster-to-token attention)."""

    enabled: bool = True
    dim: int = 192
    num_clusters: int = 64
    knn: int = 5
    num_heads: int = 6
    mlp_ratio: float = 1.0


@dataclass
class DSFConfig:
    """Deformable spatiotemporal fusion."""

    enabled: bool = True
    dim: int = 192
    num_heads: int = 6
    offset_groups: int = 3  # heads are split evenly over the groups
    offset_range: float = 2.0  # bound of the predicted spatial offsets (dy, dx), in token cells
    offset_range_t: float = 1.0  # bound of the predicted temporal offset dt, in frames
    offset_kernel: int = 3  # kernel of the depthwise 3-D conv of the offset network
    mlp_ratio: float = 1.0


@dataclass
class HeadConfig:
    kind: str = "classic"  # "classic" (deconvs + BN + ReLU, then 1x1) or "simple" (ReLU, x4 up, 3x3)
    deconv_channels: int = 256
    num_deconv: int = 2


@dataclass
class ModelConfig:
    preset: str = "vitpose-b"
    variant: str = "pstpose"  # "pstpose" | "baseline" (standard spatiotemporal self-attention)
    num_keypoints: int = 17
    frames_per_side: int = 1  # xi: the clip is 2*xi+1 frames, keyframe in the middle
    image_size: tuple[int, int] = (256, 192)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    dfe: DFEConfig = field(default_factory=DFEConfig)
    fcg: FCGConfig = field(default_factory=FCGConfig)
    dsf: DSFConfig = field(default_factory=DSFConfig)
    head: HeadConfig = field(default_factory=HeadConfig)

    @property
    def num_frames(self) -> int:
        return 2 * self.frames_per_side + 1


BACKBONE_PRESETS: dict[str, BackboneConfig] = {
    "tiny": BackboneConfig(embed_dim=128, depth=4, num_heads=4, drop_path_rate=0.0),
    "vitpose-s": BackboneConfig(embed_dim=384, depth=12, num_heads=6, drop_path_rate=0.1),
    "vitpose-b": BackboneConfig(embed_dim=768, depth=12, num_heads=12, drop_path_rate=0.3),
    "vitpose-l": BackboneConfig(embed_dim=1024, depth=24, num_heads=16, drop_path_rate=0.5),
    "vitpose-h": BackboneConfig(embed_dim=1280, depth=32, num_heads=16, drop_path_rate=0.55),
}

# Refinement width per preset: (dim, heads, DFE heads, DSF offset groups). dim ~ embed_dim / 4
# with 32-channel heads keeps DFE+FCG+DSF near 5% of the clip's FLOPs; DFE has half the heads
# (64 channels, i.e. two 32-channel q/k halves), as Differential Transformer pairs two heads in one.
REFINE_PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (64, 2, 1, 2),
    "vitpose-s": (128, 4, 2, 2),
    "vitpose-b": (192, 6, 3, 3),
    "vitpose-l": (256, 8, 4, 4),
    "vitpose-h": (320, 10, 5, 5),
}


def model_preset(name: str) -> ModelConfig:
    """The ModelConfig of a named preset (see BACKBONE_PRESETS and REFINE_PRESETS)."""
    if name not in BACKBONE_PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {sorted(BACKBONE_PRESETS)}")
    cfg = ModelConfig(preset=name, backbone=dataclasses.replace(BACKBONE_PRESETS[name]))
    dim, heads, dfe_heads, groups = REFINE_PRESETS[name]
    for section in (cfg.dfe, cfg.fcg, cfg.dsf):
        section.dim, section.num_heads = dim, heads
    cfg.dfe.num_heads = dfe_heads
    cfg.dsf.offset_groups = groups
    if name == "tiny":
        cfg.head = HeadConfig(kind="classic", deconv_channels=64, num_deconv=2)
    return cfg


# --- generic machinery -----------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert a plain value to the annotated type; raise ConfigError naming the key."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {value!r} matches none of {[_type_name(a) for a in args]}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=key)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if tp is Path:
        return Path(value)
    return value


def from_dict(cls: type[T], data: dict, prefix: str = "") -> T:
    """Build dataclass ``cls`` from nested plain data, refusing unknown keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f" in {prefix}" if prefix else ""
        raise ConfigError(f"unknown key(s) {unknown}{where}; known: {sorted(names)}")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(value, hints[name], key)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    """Plain nested data (tuples become lists) suitable for JSON/YAML."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(cfg)


def merge_dict(base: dict, update: dict) -> dict:
    """Recursive dict merge: values of ``update`` win; nested mappings merge."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_dict(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """'a.b.c=value' -> (['a', 'b', 'c'], parsed value). Values are YAML scalars/lists."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from None
    return key.split("."), value


def apply_overrides(cfg: T, overrides: list[str]) -> T:
    """Return a new config with ``key=value`` overrides applied (validated like from_dict)."""
    data = to_dict(cfg)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override {text!r}: {'.'.join(path[: i + 1])} is not a section")
            node = node[part]
        if path[-1] not in node:
            raise ConfigError(f"override {text!r}: unknown key {'.'.join(path)}")
        node[path[-1]] = value
    return from_dict(type(cfg), data)


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def model_config_from_dict(data: dict, prefix: str = "model") -> ModelConfig:
    """ModelConfig from plain data; a ``preset`` key supplies the defaults the rest overrides."""
    preset = data.get("preset", "vitpose-b")
    base = to_dict(model_preset(preset))
    return from_dict(ModelConfig, merge_dict(base, data), prefix=prefix)


# --- data ------------------------------------------------------------------------------------

DATA_FORMATS = ("auto", "pt17", "pt18", "pt21")


@dataclass
class DataConfig:
    """Clip sampling, augmentation, targets and loading for PoseTrack-style data (docs/data.md)."""

    root: str = ""  # dataset root; Frame.file_name is relative to it
    format: str = "auto"  # "auto" (each Sequence's own format) | "pt17" | "pt18" | "pt21"
    train_split: str = "train"
    val_split: str = "val"
    # clip: frames t - dilation*xi .. t + dilation*xi, replicated at the video's ends
    frames_per_side: int = 1
    dilation: int = 1
    input_size: tuple[int, int] = (256, 192)  # (height, width) of a crop
    heatmap_size: tuple[int, int] = (64, 48)  # (height, width); input_size / 4
    sigma: float = 2.0  # Gaussian target std, in heatmap pixels
    box_enlarge: float = 1.25  # person box -> crop, after padding to the crop's aspect
    keypoint_box_enlarge: float = 1.2  # joint extent -> person box, when a person has no bbox
    # augmentation (training only); every frame of a clip shares one draw
    rotation_range: float = 45.0  # degrees, uniform in [-r, r]
    rotation_prob: float = 0.6
    scale_range: tuple[float, float] = (0.65, 1.35)  # uniform; > 1 crops a larger region
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8  # a person needs this many present joints to be truncated
    half_body_enlarge: float = 1.5  # half-body joint extent -> crop
    # samples and targets
    min_joints: int = 1  # persons with fewer present joints are not samples
    use_visibility: bool = False  # True: joints with v == 0 get weight 0 (default: present counts)
    seed: int = 0  # augmentation seed; the draw of a sample depends on (seed, epoch, index) only
    # loading
    cache_frames: int = 32  # decoded frames kept per worker (0 disables the cache)
    workers: int = 2
    check_files: bool = True  # stat every clip frame when a dataset is built
    # evaluation person boxes
    detection_file: str = ""  # "" = ground-truth boxes
    box_score_threshold: float = 0.2

    def __post_init__(self) -> None:
        def need(ok: bool, key: str, why: str) -> None:
            if not ok:
                raise ConfigError(f"data.{key}: {why}, got {getattr(self, key)!r}")

        need(self.format in DATA_FORMATS, "format", f"must be one of {list(DATA_FORMATS)}")
        need(self.frames_per_side >= 0, "frames_per_side", "must be >= 0")
        need(self.dilation >= 1, "dilation", "must be >= 1")
        need(all(v > 0 for v in self.input_size), "input_size", "must be positive")
        need(all(v > 0 for v in self.heatmap_size), "heatmap_size", "must be positive")
        need(
            self.input_size[0] * self.heatmap_size[1] == self.input_size[1] * self.heatmap_size[0]
            and self.input_size[0] % self.heatmap_size[0] == 0,
            "heatmap_size", "must divide input_size by one integer stride",
        )
        need(self.sigma > 0, "sigma", "must be > 0")
        need(self.box_enlarge > 0, "box_enlarge", "must be > 0")
        need(self.keypoint_box_enlarge > 0, "keypoint_box_enlarge", "must be > 0")
        need(0 <= self.rotation_range <= 180, "rotation_range", "must be in [0, 180]")
        need(0 < self.scale_range[0] <= self.scale_range[1], "scale_range", "must be 0 < low <= high")
        for key in ("rotation_prob", "flip_prob", "half_body_prob"):
            need(0.0 <= getattr(self, key) <= 1.0, key, "must be a probability in [0, 1]")
        need(self.half_body_enlarge > 0, "half_body_enlarge", "must be > 0")
        need(self.min_joints >= 0, "min_joints", "must be >= 0")
        need(self.cache_frames >= 0, "cache_frames", "must be >= 0")
        need(self.workers >= 0, "workers", "must be >= 0")
        need(0.0 <= self.box_score_threshold <= 1.0, "box_score_threshold", "must be in [0, 1]")

    @property
    def num_frames(self) -> int:
        return 2 * self.frames_per_side + 1

    @property
    def heatmap_stride(self) -> int:
        return self.input_size[0] // self.heatmap_size[0]


# --- training --------------------------------------------------------------------------------


AMP_MODES = ("none", "bf16", "fp16")


@dataclass
class TrainConfig:
    """The optimisation recipe and run settings (see docs/training.md for each field's meaning)."""

    optimizer: str = "adamw"  # only AdamW is implemented (the paper's optimiser)
    lr: float = 2e-4
    weight_decay: float = 0.1  # not applied to biases, norm weights and position embeddings
    betas: tuple[float, float] = (0.9, 0.999)
    milestones: tuple[int, ...] = (6, 12, 16)  # lr *= gamma once this many epochs are complete
    gamma: float = 0.1
    warmup_iters: int = 0  # linear warm-up over the first optimiser steps (0 = none)
    warmup_ratio: float = 0.001  # lr factor at step 0 of the warm-up
    epochs: int = 20
    batch_size: int = 32  # per process; the global batch is batch_size * world_size * accumulation
    grad_clip: float = 1.0  # max global L2 norm of the gradients; 0 disables clipping
    accumulation: int = 1  # micro-batches per optimiser step
    amp: str = "none"  # "none" | "bf16" (CPU and CUDA) | "fp16" (CUDA only, with a GradScaler)
    device: str = "auto"  # "auto" (CUDA when available) | "cpu" | "cuda"
    seed: int = 0
    deterministic: bool = False  # deterministic kernels; slower, needed for bit-exact reruns
    workers: int = 4  # DataLoader worker processes per training process
    log_every: int = 20  # optimiser steps between progress-bar updates
    output_dir: str = "runs/default"
    init_weights: str | None = None  # ViTPose checkpoint used to initialise the backbone
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

    The loader's worker count and the augmentation seed come from ``train.workers`` and
    ``train.seed`` (one place each); ``data.workers``/``data.seed`` are for the dataset used on
    its own.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent / "configs"
_EXPERIMENT_SECTIONS = ("model", "data", "train")


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
    raise ConfigError(
        f"{path}: no such config file, and not a shipped config name (shipped: {sorted(shipped)})"
    )


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


_SCI_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _scientific_floats(cls: Any, data: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; turn such strings into floats where ``cls``
    declares a float, so ``lr: 1e-4`` and ``--set train.lr=1e-4`` mean what they say."""
    if not (dataclasses.is_dataclass(cls) and isinstance(data, dict)):
        return data
    hints = typing.get_type_hints(cls)
    out = dict(data)
    for key, value in data.items():
        tp = hints.get(key)
        if tp is None:
            continue
        args = typing.get_args(tp)
        if (tp is float or float in args) and isinstance(value, str) and _SCI_FLOAT.match(value.strip()):
            out[key] = float(value)
        elif dataclasses.is_dataclass(tp):
            out[key] = _scientific_floats(tp, value)
    return out


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
    model = model_config_from_dict(_scientific_floats(ModelConfig, data["model"]))
    train = from_dict(TrainConfig, _scientific_floats(TrainConfig, data["train"]), prefix="train")
    check_train_config(train)
    data_cfg = from_dict(DataConfig, _scientific_floats(DataConfig, data["data"]), prefix="data")
    return ExperimentConfig(model=model, data=data_cfg, train=train)


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
    if cfg.device not in ("auto", "cpu", "cuda") and not cfg.device.startswith("cuda:"):
        raise ConfigError(f"train.device: expected auto, cpu or cuda, got {cfg.device!r}")
    positive = {"lr": cfg.lr, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                "accumulation": cfg.accumulation, "log_every": cfg.log_every}
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
