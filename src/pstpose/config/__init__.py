"""Typed configuration: dataclasses, presets, YAML files and ``key=value`` overrides.

One module per concern — ``base`` (the machinery), ``model``, ``data`` and ``experiment``
(training recipe + model + data) — re-exported here so callers write ``from pstpose.config import X``.
"""

from pstpose.config.base import (
    ConfigError,
    apply_overrides,
    from_dict,
    load_yaml,
    merge_dict,
    parse_override,
    to_dict,
)
from pstpose.config.data import DATA_FORMATS, DataConfig
from pstpose.config.experiment import (
    AMP_MODES,
    SHIPPED_CONFIG_DIR,
    ExperimentConfig,
    TrainConfig,
    check_train_config,
    experiment_from_dict,
    load_experiment,
    resolve_config_path,
    shipped_configs,
)
from pstpose.config.model import (
    BACKBONE_PRESETS,
    REFINE_PRESETS,
    BackboneConfig,
    DFEConfig,
    DSFConfig,
    FCGConfig,
    HeadConfig,
    ModelConfig,
    model_config_from_dict,
    model_preset,
)

__all__ = [
    "AMP_MODES",
    "BACKBONE_PRESETS",
    "DATA_FORMATS",
    "REFINE_PRESETS",
    "SHIPPED_CONFIG_DIR",
    "BackboneConfig",
    "ConfigError",
    "DFEConfig",
    "DSFConfig",
    "DataConfig",
    "ExperimentConfig",
    "FCGConfig",
    "HeadConfig",
    "ModelConfig",
    "TrainConfig",
    "apply_overrides",
    "check_train_config",
    "experiment_from_dict",
    "from_dict",
    "load_experiment",
    "load_yaml",
    "merge_dict",
    "model_config_from_dict",
    "model_preset",
    "parse_override",
    "resolve_config_path",
    "shipped_configs",
    "to_dict",
]
