"""The assembled PSTPose: identity at init, variants, gradients, input checks, config handling."""

from __future__ import annotations

import pytest
import torch

from pstpose.config import BACKBONE_PRESETS, ConfigError, model_preset
from pstpose.models.dfe import DifferentialAttention
from pstpose.models.dsf import DeformableFusion
from pstpose.models.fcg import ClusterGuidance
from pstpose.models.layers import SpatiotemporalSelfAttention
from pstpose.models.pstpose import PSTPose, build_model

from .conftest import SMALL, randomize_


def single_frame_vitpose(model: PSTPose, frames: torch.Tensor) -> torch.Tensor:
    """ViTPose alone on one frame per sample: backbone -> 16x12 map -> head."""
    tokens = model.backbone(frames)
    fmap = tokens.transpose(1, 2).reshape(frames.shape[0], -1, *model.backbone.grid)
    return model.head(fmap)


def test_fresh_model_is_exactly_single_frame_vitpose_on_the_keyframe(small_model, clip):
    # Pretend the backbone and head carry ViTPose weights: random values everywhere there.
    randomize_(small_model.backbone, seed=3, scale=0.1)
    randomize_(small_model.head, seed=4, scale=0.1)
    with torch.no_grad():
        out = small_model(clip)
        ref = single_frame_vitpose(small_model, clip[:, 1])
        other = single_frame_vitpose(small_model, clip[:, 0])
    assert out.shape == (2, 17, 64, 48)
    assert (out - ref).abs().max() <= 1e-6
    assert (out - other).abs().max() > 1e-3  # the keyframe, not another frame
    # The refinement stack itself is the identity map at init.
    tokens = torch.randn(2, 576, 128)
    assert torch.equal(small_model.refine_tokens(tokens), tokens)


def test_refinement_changes_the_output_once_trained(small_model, clip):
    randomize_(small_model, seed=5)
    with torch.no_grad():
        refined = small_model(clip)
        plain = single_frame_vitpose(small_model, clip[:, 1])
    assert (refined - plain).abs().max() > 1e-4


@pytest.mark.parametrize(
    "overrides, mixers",
    [
        ({}, [DifferentialAttention, ClusterGuidance, DeformableFusion]),
        ({"dfe": {"enabled": False}}, [ClusterGuidance, DeformableFusion]),
        ({"fcg": {"enabled": False}}, [DifferentialAttention, DeformableFusion]),
        ({"dsf": {"enabled": False}}, [DifferentialAttention, ClusterGuidance]),
        ({"variant": "baseline"}, [SpatiotemporalSelfAttention] * 3),
        ({"dfe": {"enabled": False}, "fcg": {"enabled": False}, "dsf": {"enabled": False}}, []),
    ],
)
def test_ablation_variants_build_and_run(overrides, mixers, clip):
    torch.manual_seed(0)
    model = randomize_(build_model("tiny", **SMALL, **overrides), seed=1).eval()
    assert [type(b.mixer) for b in model.refine.values()] == mixers
    with torch.no_grad():
        out = model(clip[:1])
    assert out.shape == (1, 17, 64, 48) and torch.isfinite(out).all()


def _assert_every_parameter_has_gradient(model: PSTPose) -> None:
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, f"no gradient reached: {dead}"


def _loss(model: PSTPose, clip: torch.Tensor) -> torch.Tensor:
    return (model(clip) - 0.5).square().mean()


def test_gradients_reach_every_parameter_from_a_nonzero_init(clip):
    torch.manual_seed(0)
    model = randomize_(build_model("tiny", **SMALL, frames_per_side=1), seed=2, scale=0.2).train()
    _loss(model, clip).backward()
    _assert_every_parameter_has_gradient(model)


def test_gradients_reach_every_parameter_after_one_step_from_the_default_init(clip):
    torch.manual_seed(0)
    model = build_model("tiny", **SMALL).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    _loss(model, clip).backward()
    opt.step()
    opt.zero_grad()
    _loss(model, clip).backward()
    _assert_every_parameter_has_gradient(model)


def test_wrong_clip_shapes_are_refused_clearly(small_model):
    with pytest.raises(ValueError, match=r"\(B, 3, 3, 256, 192\).*got \(1, 5, 3, 256, 192\)"):
        small_model(torch.zeros(1, 5, 3, 256, 192))
    with pytest.raises(ValueError, match="got \\(3, 3, 256, 192\\)"):
        small_model(torch.zeros(3, 3, 256, 192))
    with pytest.raises(ValueError, match="float"):
        small_model(torch.zeros(1, 3, 3, 256, 192, dtype=torch.uint8))


def test_longer_clips_follow_frames_per_side():
    model = build_model("tiny", **SMALL, frames_per_side=2, fcg={"num_clusters": 16}).eval()
    assert model.config.num_frames == 5 and model.config.fcg.num_clusters == 16
    assert model.config.dfe.dim == model_preset("tiny").dfe.dim  # untouched fields keep the preset
    with torch.no_grad():
        assert model(torch.randn(1, 5, 3, 256, 192)).shape == (1, 17, 64, 48)


def test_build_model_validates_overrides():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['clusters'\] in model.fcg"):
        build_model("tiny", fcg={"clusters": 3})
    with pytest.raises(ConfigError, match="unknown key"):
        build_model("tiny", nonsense=1)
    with pytest.raises(ConfigError, match="num_clusters"):
        build_model("tiny", fcg={"num_clusters": 10_000})
    with pytest.raises(ConfigError, match="offset_groups"):
        build_model("tiny", dsf={"offset_groups": 3})
    with pytest.raises(ConfigError, match="unknown model preset"):
        build_model("vitpose-xxl")
    cfg = model_preset("tiny")
    assert build_model(cfg, num_keypoints=15).config.num_keypoints == 15


@pytest.mark.parametrize("name", list(BACKBONE_PRESETS))
def test_every_preset_builds_on_the_meta_device(name):
    with torch.device("meta"):
        model = build_model(name)
    n_refine = sum(p.numel() for p in model.refine.parameters())
    n_all = sum(p.numel() for p in model.parameters())
    assert 0 < n_refine < (0.2 if name == "tiny" else 0.05) * n_all


def test_the_model_owns_its_normalisation():
    """``preprocess`` equals the data pipeline's ImageNet normalisation, and its constants are
    not part of the saved weights (old checkpoints keep loading)."""
    import numpy as np

    from pstpose.models.pstpose import build_model
    from pstpose.preprocess import normalize_rgb

    model = build_model("tiny")
    crops = np.random.default_rng(0).integers(0, 256, (2, 3, 256, 192, 3), dtype=np.uint8)
    got = model.preprocess(torch.from_numpy(crops)).numpy()
    np.testing.assert_allclose(got, normalize_rgb(crops), atol=1e-5)
    # hand-worked: a pure-red pixel (255, 0, 0) -> ((1 - .485)/.229, (0 - .456)/.224, (0 - .406)/.225)
    red = torch.zeros(1, 1, 16, 16, 3, dtype=torch.uint8)
    red[..., 0] = 255
    np.testing.assert_allclose(
        model.preprocess(red)[0, 0, :, 0, 0].numpy(), [0.515 / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-5
    )
    assert "pixel_mean" not in model.state_dict() and "pixel_std" not in model.state_dict()
