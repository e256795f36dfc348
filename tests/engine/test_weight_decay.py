"""Weight decay follows the model's ``no_weight_decay()``: tables, norms, biases and λ are exempt."""

from __future__ import annotations

import torch
from torch import nn

from pstpose.engine.train import parameter_groups
from pstpose.models.pstpose import build_model


def _exempt_by_hand(model: nn.Module) -> set[str]:
    """Worked out from module types and parameter roles, not from tensor rank."""
    norms = (nn.LayerNorm, nn.BatchNorm2d, nn.GroupNorm)
    exempt = {"temporal_embed", "backbone.pos_embed"}
    for module_name, module in model.named_modules():
        for param_name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            if isinstance(module, norms) or param_name.endswith("bias"):
                exempt.add(full)
            elif param_name.startswith("lambda_") or param_name == "head_norm_weight":  # DFE's λ, RMS scale
                exempt.add(full)
    return exempt


def _group_names(model: nn.Module, groups: list[dict]) -> tuple[set[str], set[str]]:
    name_of = {id(p): n for n, p in model.named_parameters()}
    by_decay = {g["weight_decay"]: {name_of[id(p)] for p in g["params"]} for g in groups}
    return by_decay[0.05], by_decay[0.0]


def test_tables_norms_biases_and_lambda_get_no_weight_decay():
    model = build_model("tiny")
    decay, no_decay = _group_names(model, parameter_groups(model, 0.05))
    assert no_decay == _exempt_by_hand(model)
    assert "temporal_embed" in no_decay and "backbone.pos_embed" in no_decay
    assert {
        "backbone.blocks.0.attn.qkv.weight",
        "backbone.patch_embed.proj.weight",
        "head.final_layer.weight",
        "refine.dsf.mixer.offsets.depthwise.weight",
    } <= decay
    assert decay | no_decay == {n for n, _ in model.named_parameters()}
    assert not decay & no_decay


def test_baseline_variant_and_frozen_parameters():
    model = build_model("tiny", variant="baseline")
    model.backbone.patch_embed.proj.weight.requires_grad_(False)
    decay, no_decay = _group_names(model, parameter_groups(model, 0.05))
    assert no_decay == _exempt_by_hand(model)
    assert "backbone.patch_embed.proj.weight" not in decay | no_decay


def test_a_model_without_the_hook_decays_matrices_only():
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    decay, no_decay = _group_names(model, parameter_groups(model, 0.05))
    assert decay == {"0.weight"}
    assert no_decay == {"0.bias", "1.weight", "1.bias"}


def test_adamw_leaves_the_exempt_parameters_alone_when_gradients_are_zero():
    """A step with zero gradients moves only decayed parameters (by lr * wd * value)."""
    model = build_model("tiny")
    with torch.no_grad():
        model.temporal_embed.fill_(1.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(parameter_groups(model, 0.05), lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(model.named_parameters())
    torch.testing.assert_close(after["temporal_embed"], before["temporal_embed"])
    w = "backbone.blocks.0.attn.qkv.weight"
    torch.testing.assert_close(after[w], before[w] * (1 - 0.1 * 0.05))
