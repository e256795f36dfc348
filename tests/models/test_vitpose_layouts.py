"""Every published ViTPose layout, at the published sizes, against transformers' VitPose.

The reference is a random ``VitPoseForPoseEstimation`` (ViTPose-S and -B; ViTPose++ with six
experts). Each ecosystem's checkpoint is written from its state with the test's own name tables
(ViTPose/mmpose 0.x, mmpose 1.x, ViTPose++ raw and split, transformers) and wrappers, loaded
through ``load_model`` (the path every command takes), and must give the reference heatmaps on a
clip whose neighbour frames differ from the keyframe. L and H: key maps and shapes only.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from pstpose.config import model_preset
from pstpose.models.errors import CheckpointError
from pstpose.models.loading import load_model

from .test_vitpose_weights import to_mmpose_state

transformers = pytest.importorskip("transformers")

# name -> (width, depth, heads, ViTPose++ part_features): the published ViTPose/ViTPose++ shapes.
SIZES = {"s": (384, 12, 12, 96), "b": (768, 12, 12, 192), "l": (1024, 24, 16, 256), "h": (1280, 32, 16, 320)}
DATASETS = ("coco", "aic", "mpii", "ap10k", "apt36k", "wholebody")


def make_reference(size: str, *, simple: bool, experts: int = 1, seed: int = 0, device: str = "cpu"):
    width, depth, heads, part = SIZES[size]
    backbone = transformers.VitPoseBackboneConfig(
        hidden_size=width,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        mlp_ratio=4,
        layer_norm_eps=1e-6,
        image_size=[256, 192],
        num_experts=experts,
        part_features=part,
        out_indices=[depth],
    )
    config = transformers.VitPoseConfig(backbone_config=backbone, use_simple_decoder=simple, num_labels=17)
    with torch.device(device):
        model = transformers.VitPoseForPoseEstimation(config)
    if device == "meta":
        return model
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # O(0.05) values everywhere: heatmaps far from zero, no saturation
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * 0.05
            p.copy_(1.0 + noise if "layernorm" in name or ("batchnorm" in name and name.endswith("weight")) else noise)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return model.eval()


# The test's own table from ViTPose/mmpose 0.x names to mmpose 1.x (mmpretrain VisionTransformer
# + HeatmapHead) names.
MMPOSE0_TO_1 = [
    (r"^backbone\.blocks\.(\d+)\.norm1\.", r"backbone.layers.\1.ln1."),
    (r"^backbone\.blocks\.(\d+)\.norm2\.", r"backbone.layers.\1.ln2."),
    (r"^backbone\.blocks\.(\d+)\.attn\.", r"backbone.layers.\1.attn."),
    (r"^backbone\.blocks\.(\d+)\.mlp\.fc1\.", r"backbone.layers.\1.ffn.layers.0.0."),
    (r"^backbone\.blocks\.(\d+)\.mlp\.fc2\.", r"backbone.layers.\1.ffn.layers.1."),
    (r"^backbone\.patch_embed\.proj\.", "backbone.patch_embed.projection."),
    (r"^backbone\.last_norm\.", "backbone.ln1."),
    (r"^keypoint_head\.", "head."),
]


def to_mmpose1_state(state0: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state0.items():
        if key == "backbone.pos_embed":  # mmpretrain's ViT without a class token: no class slot
            out[key] = value[:, 1:] + value[:, :1]
            continue
        for pattern, repl in MMPOSE0_TO_1:
            if re.match(pattern, key):
                out[re.sub(pattern, repl, key)] = value
                break
        else:
            raise AssertionError(f"test table lacks {key}")
    return out


def mmengine_meta() -> dict:
    """What published mmengine checkpoints carry in ``meta``: numpy arrays and scalars."""
    return {
        "epoch": 210,
        "seed": np.int64(21),
        "dataset_meta": {"sigmas": np.linspace(0.025, 0.107, 17).astype(np.float32), "flip_indices": [0, 2, 1]},
        "hook_msgs": {"best_score": np.float64(0.757)},
        "mask": np.array([True, False]),
    }


def keyframe_clip(seed: int = 3) -> torch.Tensor:
    """One 3-frame clip whose neighbours differ from the keyframe (a model that used them would differ)."""
    return torch.randn(1, 3, 3, 256, 192, generator=torch.Generator().manual_seed(seed))


def assert_same_heatmaps(model, reference, clip, dataset_index: int | None = None, channels: int | None = None):
    with torch.no_grad():
        kwargs = {} if dataset_index is None else {"dataset_index": torch.tensor([dataset_index])}
        expected = reference(pixel_values=clip[:, 1], **kwargs).heatmaps
        got = model(clip)
    if channels is not None:
        expected = expected[:, :channels]
    assert got.shape == expected.shape
    assert expected.abs().max() > 0.05
    assert (got - expected).abs().max() <= 1e-4


@pytest.fixture(scope="module", params=[("s", False), ("b", True)], ids=["S-classic", "B-simple"])
def plain(request):
    size, simple = request.param
    return size, make_reference(size, simple=simple, seed=len(size))


def _writers(folder: Path, hf) -> dict[str, Path]:
    """The plain (non-MoE) layouts of one reference, as users find them."""
    hf.save_pretrained(folder / "transformers")
    state0 = to_mmpose_state(hf.state_dict())
    files = {
        "transformers folder": folder / "transformers",
        "transformers .safetensors": folder / "transformers" / "model.safetensors",
    }
    for name, payload in {
        "vitpose 0.x state_dict": {"meta": {"epoch": 210}, "state_dict": state0},
        "vitpose 0.x bare": state0,
        "vitpose 0.x model wrapper": {"model": state0},
        "vitpose 0.x module. prefix": {"state_dict": {f"module.{k}": v for k, v in state0.items()}},
        "mmpose 1.x": {"meta": mmengine_meta(), "state_dict": to_mmpose1_state(state0), "message_hub": {}},
    }.items():
        path = folder / (name.replace(" ", "_") + ".pth")
        torch.save(payload, path)
        files[name] = path
    return files


def test_every_plain_layout_gives_the_reference_heatmaps(tmp_path, plain):
    size, hf = plain
    clip = keyframe_clip()
    for name, path in _writers(tmp_path, hf).items():
        model = load_model(path)
        report = model.load_report
        assert not report.missing and report.joint_set == "coco", name
        assert model.config.keypoints == "coco" and model.joint_set.joints[1] == "left_eye"
        assert model.config.backbone.num_heads == SIZES[size][2], name
        assert_same_heatmaps(model, hf, clip)
        expected_layout = "transformers" if name.startswith("transformers") else name.split()[0]
        assert report.layout == {"vitpose": "mmpose", "mmpose": "mmpose1"}.get(expected_layout, expected_layout), name
        assert report.evidence and "single-frame ViTPose" in str(report)


@pytest.fixture(scope="module", params=["s", "b"])
def moe(request):
    return request.param, make_reference(request.param, simple=False, experts=6, seed=11)


def raw_moe_file(path: Path, hf, associate_rows: int = 20) -> None:
    """A raw ViTPose++ checkpoint: shared fc2 + experts, COCO's keypoint_head, and five associate
    heads; head 0 (AIC) is COCO's head with extra final-layer rows, so that taking it and cutting
    it to AIC's 14 channels reproduces transformers' first 14 channels."""
    state = to_mmpose_state(hf.state_dict())
    head = {k[len("keypoint_head.") :]: v for k, v in state.items() if k.startswith("keypoint_head.")}
    for i in range(5):
        for name, value in head.items():
            if name.startswith("final_layer."):
                extra = torch.full((associate_rows - value.shape[0], *value.shape[1:]), 7.0)
                value = torch.cat([value, extra])
            state[f"associate_keypoint_heads.{i}.{name}"] = value if i == 0 else torch.zeros_like(value) + i
    torch.save({"meta": mmengine_meta(), "state_dict": state}, path)


def split_file(raw: Path, path: Path, dataset_index: int) -> None:
    """What ViTPose's model split writes for one dataset: fc2 = [shared; expert], COCO keeps the
    experts and associate heads in the file, the others lose them and take their own head."""
    ckpt = torch.load(raw, weights_only=False)
    state = dict(ckpt["state_dict"])
    for key in [k for k in state if k.endswith(("mlp.fc2.weight", "mlp.fc2.bias"))]:
        expert = key.replace("fc2.", f"experts.{dataset_index}.")
        state[key] = torch.cat([state[key], state[expert]])
    if dataset_index:
        for key in [k for k in state if k.startswith("keypoint_head.")]:
            state[key] = state[key.replace("keypoint_head.", f"associate_keypoint_heads.{dataset_index - 1}.")]
        for key in ("keypoint_head.final_layer.weight", "keypoint_head.final_layer.bias"):
            state[key] = state[key][:14]
        state = {k: v for k, v in state.items() if "experts" not in k and not k.startswith("associate")}
    torch.save({"state_dict": state}, path)


def test_vitpose_plus_merges_the_chosen_expert(tmp_path, moe):
    _, hf = moe
    clip = keyframe_clip(5)
    hf.save_pretrained(tmp_path / "plus")
    raw_moe_file(tmp_path / "raw.pth", hf)
    for index, dataset in ((0, "coco"), (1, "aic")):
        # transformers vitpose-plus: one head (COCO's), the dataset's expert merged
        model = load_model(tmp_path / "plus", vitpose_dataset=dataset)
        assert "merged into fc2 of 12 blocks" in str(model.load_report)
        assert_same_heatmaps(model, hf, clip, dataset_index=index)
        # raw ViTPose++: the dataset's expert and the dataset's own head (AIC: 14 channels)
        model = load_model(tmp_path / "raw.pth", vitpose_dataset=dataset)
        assert model.config.keypoints == dataset and len(model.joint_set) == (17, 14)[index]
        assert_same_heatmaps(model, hf, clip, dataset_index=index, channels=(17, 14)[index])
        # the split file of that dataset
        split_file(tmp_path / "raw.pth", tmp_path / f"{dataset}.pth", index)
        model = load_model(tmp_path / f"{dataset}.pth")
        assert_same_heatmaps(model, hf, clip, dataset_index=index, channels=(17, 14)[index])
    different = load_model(tmp_path / "plus", vitpose_dataset="mpii")
    with torch.no_grad():
        assert (different(clip) - load_model(tmp_path / "plus")(clip)).abs().max() > 1e-3  # experts matter


def test_vitpose_plus_dataset_errors_list_what_the_file_has(tmp_path):
    hf = make_reference("s", simple=False, experts=6, seed=11)
    raw_moe_file(tmp_path / "raw.pth", hf)
    with pytest.raises(CheckpointError, match=r"unknown ViTPose\+\+ dataset 'crowdpose' \(known: coco, aic, mpii"):
        load_model(tmp_path / "raw.pth", vitpose_dataset="crowdpose")
    state = torch.load(tmp_path / "raw.pth", weights_only=False)["state_dict"]
    four = {k: v for k, v in state.items() if not re.search(r"experts\.[45]\.", k)}
    torch.save(four, tmp_path / "four.pth")
    with pytest.raises(
        CheckpointError, match=r"no expert for dataset 'wholebody'; this ViTPose\+\+ file has 4: coco, aic, mpii, ap10k"
    ):
        load_model(tmp_path / "four.pth", vitpose_dataset="wholebody")
    plain_state = {k: v for k, v in four.items() if "experts" not in k and "associate" not in k}
    width = plain_state["backbone.patch_embed.proj.weight"].shape[0]
    for key in [k for k in plain_state if k.endswith("mlp.fc2.weight")]:
        plain_state[key] = torch.zeros(width, plain_state[key].shape[1])
        plain_state[key.replace("weight", "bias")] = torch.zeros(width)
    torch.save(plain_state, tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match="not a ViTPose\\+\\+ .* no dataset 'aic'"):
        load_model(tmp_path / "plain.pth", vitpose_dataset="aic")


@pytest.mark.parametrize("size", ["l", "h"])
def test_large_and_huge_key_maps_and_shapes(size):
    """Meta tensors only: every layout's keys of the published L/H map onto the inferred model."""
    from pstpose.models.foreign import infer_config
    from pstpose.models.pretrained import check_shapes
    from pstpose.models.pstpose import PSTPose
    from pstpose.models.vitpose_weights import detect_layout, merge_experts, remap_vitpose_keys

    hf = make_reference(size, simple=False, experts=6, device="meta")
    hf_state = hf.state_dict()
    state0 = to_mmpose_state(hf_state)
    plain0 = {k: v for k, v in state0.items() if "experts" not in k}
    width = SIZES[size][0]
    for key in [k for k in plain0 if k.endswith("mlp.fc2.weight")]:
        plain0[key] = torch.empty(width, plain0[key].shape[1], device="meta")
        plain0[key.replace("weight", "bias")] = torch.empty(width, device="meta")
    layouts = {
        "transformers": hf_state,
        "mmpose": state0,
        "mmpose1": to_mmpose1_state(plain0),
    }
    for layout, raw in layouts.items():
        assert detect_layout(list(raw)) == layout
        state, unmapped = remap_vitpose_keys(raw, layout)
        state, _, _ = merge_experts(state, "aic" if layout != "mmpose1" else None, layout, has_other_heads=False)
        assert not unmapped, (layout, unmapped[:3])
        if layout == "mmpose1":  # read_vitpose gives the table its class slot
            pos = state["backbone.pos_embed"]
            state["backbone.pos_embed"] = torch.empty(1, pos.shape[1] + 1, pos.shape[2], device="meta")
        cfg = infer_config(state, Path(layout))
        published = model_preset(f"vitpose-{size}").backbone
        assert (cfg.backbone.embed_dim, cfg.backbone.depth, cfg.backbone.num_heads) == (
            published.embed_dim,
            published.depth,
            published.num_heads,
        )
        with torch.device("meta"):
            model = PSTPose(cfg)
        ours = model.state_dict()
        check_shapes(ours, state, Path(layout))
        assert {k for k in ours if k.startswith(("backbone.", "head."))} == set(state), layout
