"""Foreign ViTPose weights: parity with transformers' VitPose (its own layout and mmpose's), the
load report, and the errors users see."""

from __future__ import annotations

import fractions
import re

import pytest
import torch

from pstpose.models.errors import CheckpointError
from pstpose.models.pstpose import PSTPose, build_model

from .conftest import SMALL

transformers = pytest.importorskip("transformers")


def make_hf_vitpose(simple: bool, seed: int = 0):
    """A random transformers VitPose shaped like ``tiny`` with a 2-layer backbone."""
    torch.manual_seed(seed)
    backbone = transformers.VitPoseBackboneConfig(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        mlp_ratio=4,
        layer_norm_eps=1e-6,
        out_indices=[2],
    )
    config = transformers.VitPoseConfig(backbone_config=backbone, use_simple_decoder=simple, num_labels=17)
    model = transformers.VitPoseForPoseEstimation(config)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():  # values of O(0.1) everywhere, so that the heatmaps are far from zero
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * 0.1
            p.copy_(1.0 + noise if "layernorm" in name or ("batchnorm" in name and name.endswith("weight")) else noise)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return model.eval()


def pstpose_like(simple: bool) -> PSTPose:
    head = {"kind": "simple"} if simple else {"kind": "classic", "deconv_channels": 256}
    return build_model("tiny", **SMALL, head=head).eval()


@pytest.mark.parametrize("simple", [False, True])
def test_transformers_checkpoint_gives_the_same_heatmaps(tmp_path, clip, simple):
    hf = make_hf_vitpose(simple)
    hf.save_pretrained(tmp_path / "hf")
    model = pstpose_like(simple)
    report = model.load_vitpose_weights(tmp_path / "hf")
    assert report.layout == "transformers" and not report.missing and not report.unexpected
    assert all(k.startswith(("temporal_embed", "refine.")) for k in report.new_modules)
    with torch.no_grad():
        expected = hf(pixel_values=clip[:, 1]).heatmaps
        got = model(clip)
    assert expected.abs().max() > 0.05
    assert (got - expected).abs().max() <= 1e-4
    # The bare safetensors file works as well.
    model2 = pstpose_like(simple)
    model2.load_vitpose_weights(tmp_path / "hf" / "model.safetensors")
    with torch.no_grad():
        assert torch.equal(model2(clip), got)


# The test's own table from transformers' names to mmpose/ViTPose names.
HF_TO_MMPOSE = [
    (r"^backbone\.embeddings\.patch_embeddings\.projection\.", "backbone.patch_embed.proj."),
    (r"^backbone\.embeddings\.position_embeddings$", "backbone.pos_embed"),
    (r"^backbone\.encoder\.layer\.(\d+)\.layernorm_before\.", r"backbone.blocks.\1.norm1."),
    (r"^backbone\.encoder\.layer\.(\d+)\.layernorm_after\.", r"backbone.blocks.\1.norm2."),
    (r"^backbone\.encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"backbone.blocks.\1.attn.proj."),
    (r"^backbone\.encoder\.layer\.(\d+)\.mlp\.", r"backbone.blocks.\1.mlp."),
    (r"^backbone\.layernorm\.", "backbone.last_norm."),
    (r"^head\.deconv1\.", "keypoint_head.deconv_layers.0."),
    (r"^head\.batchnorm1\.", "keypoint_head.deconv_layers.1."),
    (r"^head\.deconv2\.", "keypoint_head.deconv_layers.3."),
    (r"^head\.batchnorm2\.", "keypoint_head.deconv_layers.4."),
    (r"^head\.conv\.", "keypoint_head.final_layer."),
]


def to_mmpose_state(hf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in hf_state.items():
        m = re.match(r"^backbone\.encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$", key)
        if m:
            qkv.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = value
            continue
        for pattern, repl in HF_TO_MMPOSE:
            if re.match(pattern, key):
                out[re.sub(pattern, repl, key)] = value
                break
        else:
            raise AssertionError(f"test table lacks {key}")
    for (layer, leaf), parts in qkv.items():
        out[f"backbone.blocks.{layer}.attn.qkv.{leaf}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return out


@pytest.mark.parametrize("simple", [False, True])
def test_mmpose_pth_gives_the_same_heatmaps(tmp_path, clip, simple):
    hf = make_hf_vitpose(simple, seed=7)
    state = to_mmpose_state(hf.state_dict())
    torch.save({"meta": {"epoch": 210}, "state_dict": state}, tmp_path / "vitpose.pth")
    model = pstpose_like(simple)
    report = model.load_vitpose_weights(tmp_path / "vitpose.pth", strict=True)
    assert report.layout == "mmpose" and len(report.loaded) == len(state)
    with torch.no_grad():
        expected = hf(pixel_values=clip[:, 1]).heatmaps
        assert (model(clip) - expected).abs().max() <= 1e-4


def test_load_report_names_missing_and_unexpected_keys(tmp_path):
    state = to_mmpose_state(make_hf_vitpose(False).state_dict())
    del state["backbone.blocks.1.mlp.fc2.bias"]
    state["backbone.blocks.0.attn.relative_bias"] = torch.zeros(3)
    torch.save(state, tmp_path / "partial.pth")
    model = pstpose_like(False)
    report = model.load_vitpose_weights(tmp_path / "partial.pth")
    assert report.missing == ["backbone.blocks.1.mlp.fc2.bias"]
    assert report.unexpected == ["backbone.blocks.0.attn.relative_bias"]
    text = str(report)
    assert "missing (1): backbone.blocks.1.mlp.fc2.bias" in text and "relative_bias" in text
    with pytest.raises(CheckpointError, match="strict load refused"):
        model.load_vitpose_weights(tmp_path / "partial.pth", strict=True)


def test_shape_mismatch_is_refused_with_key_and_shapes(tmp_path):
    make_hf_vitpose(False).save_pretrained(tmp_path / "hf")
    model = build_model("tiny", **SMALL)  # classic head with 64 channels, not 256
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(
        CheckpointError, match=r"head\.deconv_layers\.0\.weight: checkpoint \(128, 256, 4, 4\), model \(128, 64, 4, 4\)"
    ):
        model.load_vitpose_weights(tmp_path / "hf")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing half-loaded
    report = model.load_vitpose_weights(tmp_path / "hf", include_head=False)  # backbone only is fine
    assert not report.missing and all(k.startswith("head.") for k in report.unexpected)


def test_unsafe_or_foreign_files_are_refused(tmp_path):
    torch.save({"state_dict": {"x": fractions.Fraction(1, 3)}}, tmp_path / "pickled.pth")  # not a tensor
    model = pstpose_like(False)
    with pytest.raises(CheckpointError, match="pickled.pth"):
        model.load_vitpose_weights(tmp_path / "pickled.pth")
    torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a ViTPose checkpoint"):
        model.load_vitpose_weights(tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        model.load_vitpose_weights(tmp_path / "nothere.pth")


def test_coco_head_into_posetrack_slots_says_which_channels_relearn(tmp_path):
    make_hf_vitpose(False).save_pretrained(tmp_path / "hf")
    model = pstpose_like(False)  # a PoseTrack model, as training builds it
    report = model.load_vitpose_weights(tmp_path / "hf")
    assert report.joint_set == "coco"
    note = next(n for n in report.notes if "change meaning" in n)
    assert "left_eye->head_bottom, right_eye->head_top change meaning and re-learn" in note
    assert "head: coco joints" in str(report)
