import pytest

from pstpose.config import (
    ConfigError,
    ExperimentConfig,
    TrainConfig,
    experiment_from_dict,
    load_experiment,
    shipped_configs,
    to_dict,
)

EXPECTED = {f"posetrack{y}_{m}" for y in (17, 18, 21) for m in ("vitpose-b", "vitpose-h")} | {
    "synthetic_tiny",
    "synthetic_tiny_hires",
    "synthetic_study",
}


def test_every_shipped_config_loads_with_the_recipe():
    assert set(shipped_configs()) == EXPECTED
    for name, path in shipped_configs().items():
        cfg = load_experiment(path)
        assert isinstance(cfg, ExperimentConfig) and isinstance(cfg.train, TrainConfig)
        assert cfg.data.root and cfg.data.train_split == "train" and cfg.data.val_split == "val"
        assert cfg.data.frames_per_side == cfg.model.frames_per_side
        assert tuple(cfg.data.input_size) == tuple(cfg.model.image_size)
        if name == "synthetic_tiny":
            assert cfg.model.preset == "tiny" and cfg.model.backbone.embed_dim == 128
            assert cfg.train.init_weights is None
            continue
        if name == "synthetic_study":  # the ablation study's recipe: short, the same for every variant
            assert cfg.model.preset == "tiny" and tuple(cfg.model.image_size) == (128, 96)
            assert (cfg.train.epochs, cfg.train.milestones, cfg.train.val_every) == (6, (4, 5), 0)
            continue
        if name == "synthetic_tiny_hires":  # the second step starts from the first one's best.pt
            assert cfg.model.preset == "tiny" and tuple(cfg.model.image_size) == (192, 144)
            assert tuple(cfg.data.heatmap_size) == (48, 36)
            assert cfg.train.init_weights == load_experiment("synthetic_tiny").train.output_dir + "/best.pt"
            continue
        preset = name.split("_", 1)[1]
        assert cfg.model.preset == preset
        assert cfg.model.backbone.embed_dim == {"vitpose-b": 768, "vitpose-h": 1280}[preset]
        assert cfg.model.num_frames == 3
        t = cfg.train
        assert (t.optimizer, t.lr, t.milestones, t.gamma, t.epochs) == ("adamw", 2e-4, (6, 12, 16), 0.1, 20)
        assert t.init_weights  # fine-tuning starts from ViTPose weights


def test_set_overrides_reach_every_section():
    cfg = load_experiment(
        "synthetic_tiny",
        [
            "train.lr=1e-4",
            "train.amp=bf16",
            "train.milestones=[3, 5]",
            "model.dfe.enabled=false",
            "model.fcg.num_clusters=16",
            "data.root=/elsewhere",
            "data.sigma=3",
        ],
    )
    assert cfg.train.lr == 1e-4 and cfg.train.amp == "bf16" and cfg.train.milestones == (3, 5)
    assert cfg.model.dfe.enabled is False and cfg.model.fcg.num_clusters == 16
    assert cfg.model.backbone.embed_dim == 128  # the preset still supplies the rest
    assert cfg.data.root == "/elsewhere" and cfg.data.sigma == 3.0
    with pytest.raises(ConfigError, match="unknown key.*new_key.* in data"):
        load_experiment("synthetic_tiny", ["data.new_key=7"])
    # switching the preset by override changes the defaults under it
    assert load_experiment("synthetic_tiny", ["model.preset=vitpose-s"]).model.backbone.embed_dim == 384


def test_config_errors_name_the_file_and_key(tmp_path):
    with pytest.raises(ConfigError, match=r"synthetic_tiny.yaml: .*train.lr"):
        load_experiment("synthetic_tiny", ["train.lr=fast"])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['lrate'\] in train"):
        load_experiment("synthetic_tiny", ["train.lrate=1"])
    with pytest.raises(ConfigError, match="train.amp"):
        load_experiment("synthetic_tiny", ["train.amp=fp8"])
    with pytest.raises(ConfigError, match="first part must be one of"):
        load_experiment("synthetic_tiny", ["optim.lr=1"])
    with pytest.raises(ConfigError, match="train.milestones"):
        load_experiment("synthetic_tiny", ["train.milestones=[12, 6]"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {preset: tiny}\ntrainer: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown section\(s\) \['trainer'\]"):
        load_experiment(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_experiment(tmp_path / "absent.yaml")


def test_round_trip_through_plain_data():
    cfg = load_experiment("posetrack18_vitpose-b", ["model.dsf.enabled=false"])
    assert experiment_from_dict(to_dict(cfg)) == cfg


def test_scientific_notation_without_a_dot_is_a_number(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("model: {preset: tiny, backbone: {drop_path_rate: 1e-1}}\ntrain: {lr: 3e-4}\ndata: {root: 1e5}\n")
    cfg = load_experiment(path)
    assert cfg.train.lr == 3e-4 and cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.data.root == "1e5"  # a string field keeps what was written


def test_shipped_data_sections_are_typed_data_configs():
    from pstpose.config import DataConfig

    for path in shipped_configs().values():
        assert isinstance(load_experiment(path).data, DataConfig)
