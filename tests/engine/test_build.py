"""The real wiring's own checks (annotation folders, data/model agreement); the model and the
data pipeline themselves are tested where they live."""

import pytest

from pstpose.config import ConfigError, DataConfig, load_experiment
from pstpose.engine.build import annotation_dir, check_data_matches_model


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


def test_clip_length_and_crop_size_must_agree():
    check_data_matches_model(load_experiment("synthetic_tiny"))
    with pytest.raises(ConfigError, match="data.frames_per_side=2 but model.frames_per_side=1"):
        check_data_matches_model(load_experiment("synthetic_tiny", ["data.frames_per_side=2"]))
    with pytest.raises(ConfigError, match="data.input_size"):
        check_data_matches_model(load_experiment("synthetic_tiny", ["data.input_size=[64, 48]"]))
