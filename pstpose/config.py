"""Typed configuration: dataclasses, presets, YAML files and ``key=value`` overrides.

A config is a tree of dataclasses. ``from_dict`` builds one from plain data and refuses unknown
keys and wrongly typed values with the dotted key in the message; ``apply_overrides`` takes
command-line style ``a.b.c=value`` strings (values parsed as YAML scalars).
"""

from __future__ import annotations

import dataclasses
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
