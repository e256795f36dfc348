"""Starting a run from weights: PSTPose checkpoints of either kind, another input size, another
variant, and the ViTPose fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pstpose.config import ExperimentConfig, to_dict
from pstpose.engine.build import build_model_from_experiment
from pstpose.engine.init_weights import load_init_weights
from pstpose.engine.training_state import save_training_state
from pstpose.models.errors import CheckpointError
from pstpose.models.pstpose import build_model
from pstpose.models.vit import resize_pos_embed

SMALL = {
    "backbone": {"depth": 1, "embed_dim": 32, "num_heads": 2},
    "head": {"deconv_channels": 16},
    "fcg": {"num_clusters": 16},
}


def _model(image_size=(64, 48), variant="pstpose", seed=0):
    torch.manual_seed(seed)
    return build_model("tiny", image_size=list(image_size), variant=variant, **SMALL)


def _keys_cubic(t: float, a: float = -0.75) -> float:
    t = abs(t)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t < 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def _bicubic_loop(grid: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """Separable Keys-cubic resampling (a = -0.75), half-pixel centres, edge samples repeated."""
    rows, cols, _ = grid.shape
    out = np.zeros((out_rows, out_cols, grid.shape[2]))
    for i in range(out_rows):
        y = (i + 0.5) * rows / out_rows - 0.5
        for j in range(out_cols):
            x = (j + 0.5) * cols / out_cols - 0.5
            y0, x0 = math.floor(y), math.floor(x)
            for m in range(y0 - 1, y0 + 3):
                for n in range(x0 - 1, x0 + 3):
                    w = _keys_cubic(y - m) * _keys_cubic(x - n)
                    out[i, j] += w * grid[min(max(m, 0), rows - 1), min(max(n, 0), cols - 1)]
    return out


def test_resize_pos_embed_matches_a_bicubic_loop_and_keeps_the_class_slot():
    rng = np.random.default_rng(0)
    table = torch.from_numpy(rng.normal(size=(1, 1 + 4 * 3, 5)))
    resized = resize_pos_embed(table, (4, 3), (6, 5))
    assert resized.shape == (1, 1 + 6 * 5, 5)
    assert torch.equal(resized[:, 0], table[:, 0])
    expected = _bicubic_loop(table[0, 1:].numpy().reshape(4, 3, 5), 6, 5).reshape(30, 5)
    np.testing.assert_allclose(resized[0, 1:].numpy(), expected, atol=1e-6)
    assert resize_pos_embed(table, (4, 3), (4, 3)) is table
    with pytest.raises(ValueError, match="5x3 grid"):
        resize_pos_embed(table, (5, 3), (6, 5))


def test_a_saved_model_and_a_trainer_checkpoint_start_an_identical_model(tmp_path):
    source = _model(seed=1)
    source.save_pretrained(tmp_path / "weights")
    cfg = ExperimentConfig(model=source.config)
    save_training_state(tmp_path / "best.pt", {"model": source.state_dict(), "config": to_dict(cfg), "epoch": 3})
    clip = torch.randn(2, 3, 3, 64, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = source.eval()(clip)
    for path in (tmp_path / "weights", tmp_path / "weights" / "model.safetensors", tmp_path / "best.pt"):
        target = _model(seed=2)
        summary = load_init_weights(target, path)
        assert f"{len(source.state_dict())} tensors loaded" in summary and "0 kept" in summary
        with torch.no_grad():
            torch.testing.assert_close(target.eval()(clip), expected, rtol=0, atol=0)


def test_another_input_size_resizes_the_position_table_and_keeps_the_rest(tmp_path):
    source = _model((64, 48), seed=1)
    source.save_pretrained(tmp_path / "weights")
    target = _model((96, 80), seed=2)
    summary = load_init_weights(target, tmp_path / "weights")
    assert "position table resized to (6, 5)" in summary
    src, got = source.state_dict(), target.state_dict()
    torch.testing.assert_close(got["backbone.pos_embed"], resize_pos_embed(src["backbone.pos_embed"], (4, 3), (6, 5)))
    assert all(torch.equal(got[k], v) for k, v in src.items() if k != "backbone.pos_embed")


def test_another_variant_loads_what_it_shares(tmp_path):
    source = _model(seed=1)
    source.save_pretrained(tmp_path / "weights")
    target = _model(variant="baseline", seed=2)
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    summary = load_init_weights(target, tmp_path / "weights")
    shared = [k for k in fresh if k in source.state_dict()]
    only_target = [k for k in fresh if k not in source.state_dict()]
    assert shared and only_target, "the variants must share some tensors and differ in others"
    assert f"{len(shared)} tensors loaded" in summary and f"{len(only_target)} kept" in summary
    got = target.state_dict()
    assert all(torch.equal(got[k], source.state_dict()[k]) for k in shared)
    assert all(torch.equal(got[k], fresh[k]) for k in only_target)


def test_mismatched_shapes_and_missing_files_are_refused(tmp_path):
    _model().save_pretrained(tmp_path / "weights")
    wider = build_model(
        "tiny", image_size=[64, 48], **{**SMALL, "backbone": {"depth": 1, "embed_dim": 64, "num_heads": 2}}
    )
    with pytest.raises(CheckpointError, match=r"weights.*shape mismatch for backbone\."):
        load_init_weights(wider, tmp_path / "weights")
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_init_weights(_model(), tmp_path / "nothere.pt")


def test_a_vitpose_file_still_initialises_backbone_and_head(tmp_path):
    source = _model(seed=1)
    state = {
        ("keypoint_" + k if k.startswith("head.") else k): v
        for k, v in source.state_dict().items()
        if k.startswith(("backbone.", "head."))
    }
    torch.save({"state_dict": state}, tmp_path / "vitpose.pth")
    cfg = ExperimentConfig(model=_model().config)
    cfg.train.init_weights = str(tmp_path / "vitpose.pth")
    model = build_model_from_experiment(cfg)
    got = model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in source.state_dict().items() if k.startswith(("backbone.", "head.")))


def test_a_foreign_weights_folder_is_read_as_vitpose(tmp_path):
    """Same file names as a PSTPose folder, but no pstpose tag in config.json: the ViTPose reader."""
    from safetensors.torch import save_file

    source = _model(seed=1)
    folder = tmp_path / "foreign"
    folder.mkdir()
    state = {
        ("keypoint_" + k if k.startswith("head.") else k): v.contiguous()
        for k, v in source.state_dict().items()
        if k.startswith(("backbone.", "head."))
    }
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text('{"model_type": "vitpose"}')
    target = _model(seed=2)
    summary = load_init_weights(target, folder)
    assert summary.startswith(f"{folder}: ViTPose weights (mmpose)") and "0 missing" in summary
    got = target.state_dict()
    assert all(torch.equal(got[k], v) for k, v in source.state_dict().items() if k.startswith(("backbone.", "head.")))


def test_a_single_frame_model_initialises_a_clip_model(tmp_path):
    """T = 1 -> T = 3: the backbone and head are shared; the one temporal entry starts every frame."""
    import torch

    from pstpose.engine.init_weights import load_init_weights
    from pstpose.models.pretrained import save_pretrained
    from pstpose.models.pstpose import build_model

    off = {"enabled": False}
    single = build_model("tiny", image_size=(64, 48), frames_per_side=0, dfe=off, fcg=off, dsf=off)
    with torch.no_grad():
        single.temporal_embed.normal_()
    save_pretrained(single, tmp_path / "single")
    clip = build_model("tiny", image_size=(64, 48), frames_per_side=1, fcg={"num_clusters": 8, "knn": 3})
    summary = load_init_weights(clip, tmp_path / "single")
    assert "temporal table broadcast from 1 to 3 frames" in summary
    assert torch.equal(clip.temporal_embed, single.temporal_embed.expand(1, 3, 1, -1))
    assert torch.equal(clip.backbone.pos_embed, single.backbone.pos_embed)
