"""The real wiring's own checks (annotation folders, the data section's clip spec coming from the
model section); the model and the data pipeline themselves are tested where they live."""

import pytest

from pstpose.config import ConfigError, DataConfig, ExperimentConfig, load_experiment, model_preset
from pstpose.engine.build import annotation_dir


def test_annotation_folder_layouts(tmp_path):
    data = DataConfig(root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no annotations for split 'train' \(looked for .*annotations/train"):
        annotation_dir(data, "train")
    (tmp_path / "posetrack_data" / "train").mkdir(parents=True)  # PoseTrack21 layout
    assert annotation_dir(data, "train") == tmp_path / "posetrack_data" / "train"
    (tmp_path / "annotations" / "train").mkdir(parents=True)  # PoseTrack18 layout wins
    assert annotation_dir(data, "train") == tmp_path / "annotations" / "train"
    (tmp_path / "annotations" / "mini").mkdir()
    assert annotation_dir(data, "mini") == tmp_path / "annotations" / "mini"
    with pytest.raises(ConfigError, match="data.root is required"):
        annotation_dir(DataConfig(), "train")


def test_the_data_section_takes_the_clip_spec_from_the_model(tmp_path):
    """The model section owns frames_per_side/image_size; the data section follows it."""
    cfg = load_experiment("synthetic_tiny", ["model.frames_per_side=2", "model.image_size=[192, 144]"])
    assert (cfg.data.frames_per_side, cfg.data.input_size) == (2, (192, 144))
    with pytest.raises(ConfigError, match=r"data.frames_per_side=2 conflicts with model.frames_per_side=1"):
        load_experiment("synthetic_tiny", ["data.frames_per_side=2"])
    with pytest.raises(ConfigError, match=r"data.input_size=\[64, 48\] conflicts with model.image_size=\[128, 96\]"):
        load_experiment("synthetic_tiny", ["data.input_size=[64, 48]"])
    same = tmp_path / "same.yaml"  # repeating the model's values (as older files do) is fine
    same.write_text("model: {preset: tiny, image_size: [128, 96]}\ndata: {frames_per_side: 1, input_size: [128, 96]}\n")
    assert load_experiment(same).data.input_size == (128, 96)
    built = ExperimentConfig(model=model_preset("tiny"), data=DataConfig(frames_per_side=3, input_size=(64, 48)))
    assert (built.data.frames_per_side, built.data.input_size) == (1, (256, 192))  # the model's, in Python too
