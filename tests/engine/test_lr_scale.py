"""``train.lr_scale``: learning-rate multipliers by parameter name, as their own AdamW groups."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pstpose.config import ConfigError, TrainConfig, check_train_config
from pstpose.engine.schedule import MultiStepWarmupSchedule
from pstpose.engine.train import parameter_groups
from pstpose.models.pstpose import build_model

LAMBDAS = {f"refine.dfe.mixer.lambda_{v}" for v in ("q1", "k1", "q2", "k2")}


def _lr_by_name(model: nn.Module, groups: list[dict], default: float) -> dict[str, tuple[float, float]]:
    name_of = {id(p): n for n, p in model.named_parameters()}
    return {name_of[id(p)]: (g.get("lr", default), g["weight_decay"]) for g in groups for p in g["params"]}


def test_matched_parameters_get_the_scaled_lr_and_keep_their_weight_decay():
    model = build_model("tiny")
    scale = {"refine.dfe.mixer.lambda_*": 10, "refine.dsf.mixer.offsets.*": 4}
    groups = parameter_groups(model, 0.05, 1e-3, scale)
    lrs = _lr_by_name(model, groups, 1e-3)
    assert set(lrs) == {n for n, _ in model.named_parameters()}  # every parameter in exactly one group
    assert sum(len(g["params"]) for g in groups) == len(lrs)
    offsets = {n for n, _ in model.named_parameters() if n.startswith("refine.dsf.mixer.offsets.")}
    assert offsets == {
        f"refine.dsf.mixer.offsets.{m}.{p}" for m in ("depthwise", "norm", "pointwise") for p in ("weight", "bias")
    }
    for name, (lr, _decay) in lrs.items():
        expected = 1e-2 if name in LAMBDAS else 4e-3 if name in offsets else 1e-3
        assert lr == pytest.approx(expected), name
    # weight decay is decided as without scaling: λ none, the offset convs' weights 0.05
    assert lrs["refine.dfe.mixer.lambda_q1"][1] == 0.0
    assert lrs["refine.dsf.mixer.offsets.pointwise.weight"][1] == 0.05
    assert lrs["refine.dsf.mixer.offsets.pointwise.bias"][1] == 0.0


def test_without_scale_the_groups_are_unchanged():
    model = build_model("tiny")
    plain = parameter_groups(model, 0.05)
    assert [g["weight_decay"] for g in plain] == [0.05, 0.0]
    assert all("lr" not in g for g in plain)
    same = parameter_groups(model, 0.05, 1e-3, {})
    assert [[id(p) for p in g["params"]] for g in same] == [[id(p) for p in g["params"]] for g in plain]


def test_first_adamw_step_moves_scaled_parameters_factor_times_as_far():
    """Adam's first step is lr * g / (|g| + eps) ≈ lr * sign(g) per element, whatever |g| is."""
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(parameter_groups(model, 0.0, 0.01, {"1.*": 5}), lr=0.01)
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.3)
    opt.step()
    for name, p in model.named_parameters():
        step = (before[name] - p.detach()).abs()
        torch.testing.assert_close(
            step, torch.full_like(step, 0.05 if name.startswith("1.") else 0.01), rtol=1e-5, atol=0
        )


def test_schedule_scales_every_group_alike():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    opt = torch.optim.AdamW(parameter_groups(model, 0.0, 0.01, {"1.weight": 10}), lr=0.01)
    schedule = MultiStepWarmupSchedule(opt, milestones=[2], gamma=0.1)
    schedule.apply(epoch=3, step=100)
    # groups: layer 0's weight (decayed), layer 1's weight (x10), the biases (not decayed)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.001, 0.001, 0.01])


def test_typos_and_ambiguity_are_config_errors():
    model = build_model("tiny")
    with pytest.raises(ConfigError, match=r"refine\.dfe\.lambda_\*.*match no trainable parameter"):
        parameter_groups(model, 0.05, 1e-3, {"refine.dfe.lambda_*": 10})
    with pytest.raises(ConfigError, match="lambda_q1.*matches several patterns"):
        parameter_groups(model, 0.05, 1e-3, {"refine.dfe.*": 2, "*lambda_*": 10})


@pytest.mark.parametrize("bad", [{"x": 0}, {"x": -1.0}, {"x": "ten"}, {"x": True}, {"": 2}])
def test_config_rejects_bad_factors(bad):
    with pytest.raises(ConfigError, match=r"train\.lr_scale"):
        check_train_config(TrainConfig(lr_scale=bad))
