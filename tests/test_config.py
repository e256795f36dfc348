import pytest

from pstpose.config import (
    ConfigError,
    ModelConfig,
    apply_overrides,
    from_dict,
    load_yaml,
    model_config_from_dict,
    model_preset,
    to_dict,
)
from pstpose.config.model import check_model_config


def test_round_trip_through_plain_data():
    cfg = model_preset("vitpose-s")
    assert from_dict(ModelConfig, to_dict(cfg)) == cfg


def test_overrides_parse_yaml_values_and_validate():
    cfg = apply_overrides(model_preset("tiny"), ["fcg.num_clusters=32", "dsf.offset_range=1.5", "dfe.enabled=false"])
    assert cfg.fcg.num_clusters == 32 and cfg.dsf.offset_range == 1.5 and cfg.dfe.enabled is False
    with pytest.raises(ConfigError, match="fcg.num_clusters"):
        apply_overrides(cfg, ["fcg.num_clusters=many"])
    with pytest.raises(ConfigError, match="unknown key fcg.nope"):
        apply_overrides(cfg, ["fcg.nope=1"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(cfg, ["fcg.num_clusters"])


def test_unknown_keys_are_named():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['depht'\] in model.backbone"):
        model_config_from_dict({"preset": "tiny", "backbone": {"depht": 3}})


def test_preset_supplies_defaults():
    cfg = model_config_from_dict({"preset": "vitpose-h", "frames_per_side": 2})
    assert cfg.backbone.embed_dim == 1280 and cfg.num_frames == 5
    with pytest.raises(ConfigError, match="unknown model preset"):
        model_preset("vitpose-xl")


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_yaml(tmp_path / "missing.yaml")


# The published ViTPose backbones (ViTPose's configs ViTPose_{small,base,large,huge}_coco_256x192.py
# in the ViTAE-Transformer/ViTPose repository; the same numbers in transformers' VitPose model
# cards): embed_dim, depth, num_heads, mlp_ratio, LayerNorm eps, drop_path_rate.
PUBLISHED_VITPOSE = {
    "vitpose-s": (384, 12, 12, 4.0, 1e-6, 0.1),
    "vitpose-b": (768, 12, 12, 4.0, 1e-6, 0.3),
    "vitpose-l": (1024, 24, 16, 4.0, 1e-6, 0.5),
    "vitpose-h": (1280, 32, 16, 4.0, 1e-6, 0.55),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_VITPOSE))
def test_vitpose_presets_equal_the_published_configurations(name):
    b = model_preset(name).backbone
    assert (b.embed_dim, b.depth, b.num_heads, b.mlp_ratio, b.layer_norm_eps, b.drop_path_rate) == PUBLISHED_VITPOSE[
        name
    ]
    assert b.patch_size == 16 and b.qkv_bias
    assert b.embed_dim // b.num_heads in (32, 64, 80)  # S: 32; B: 64; L: 64; H: 80


def test_dsf_key_stride_must_divide_the_token_grid():
    tiny = model_preset("tiny")  # 256x192 -> 16x12 tokens a frame
    check_model_config(apply_overrides(tiny, ["dsf.key_stride=4"]))
    with pytest.raises(ConfigError, match=r"model.dsf.key_stride.*divide the 16x12 token grid.*got 8"):
        check_model_config(apply_overrides(tiny, ["dsf.key_stride=8"]))
    with pytest.raises(ConfigError, match="dsf.key_stride"):
        check_model_config(apply_overrides(tiny, ["dsf.key_stride=0"]))


def test_dsf_sampling_mode_and_points_are_checked():
    tiny = model_preset("tiny")
    check_model_config(apply_overrides(tiny, ["dsf.sampling=per_query", "dsf.points=2"]))
    with pytest.raises(ConfigError, match=r"model.dsf.sampling.*'shared' or 'per_query', got 'local'"):
        check_model_config(apply_overrides(tiny, ["dsf.sampling=local"]))
    with pytest.raises(ConfigError, match=r"model.dsf.points.*must be >= 1, got 0"):
        check_model_config(apply_overrides(tiny, ["dsf.sampling=per_query", "dsf.points=0"]))
    with pytest.raises(ConfigError, match=r"model.dsf.key_stride.*per_query"):
        check_model_config(apply_overrides(tiny, ["dsf.sampling=per_query", "dsf.key_stride=2"]))
