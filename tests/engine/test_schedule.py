import pytest
import torch

from pstpose.engine.schedule import MultiStepWarmupSchedule


def make(warmup_iters=0, warmup_ratio=0.001, lr=2e-4):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    return opt, MultiStepWarmupSchedule(opt, (6, 12, 16), 0.1, warmup_iters, warmup_ratio)


def test_paper_recipe_values_at_epoch_boundaries():
    opt, sched = make()
    expected = {0: 2e-4, 5: 2e-4, 6: 2e-5, 11: 2e-5, 12: 2e-6, 15: 2e-6, 16: 2e-7, 19: 2e-7}
    for epoch, lr in expected.items():
        assert sched.apply(epoch, step=10_000) == pytest.approx(lr, rel=1e-12)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-12)


def test_matches_torch_multisteplr_stepped_per_epoch():
    _opt, sched = make()
    ref_opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=2e-4)
    ref = torch.optim.lr_scheduler.MultiStepLR(ref_opt, milestones=[6, 12, 16], gamma=0.1)
    for epoch in range(20):
        assert sched.lr_at(epoch, 10_000)[0] == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12)
        ref_opt.step()
        ref.step()


def test_linear_warmup_by_optimizer_step():
    _, sched = make(warmup_iters=100, warmup_ratio=0.01)
    assert sched.lr_at(0, 0)[0] == pytest.approx(2e-6)
    assert sched.lr_at(0, 50)[0] == pytest.approx(2e-4 * (0.01 + 0.99 * 0.5))
    assert sched.lr_at(0, 99)[0] == pytest.approx(2e-4 * (0.01 + 0.99 * 0.99))
    assert sched.lr_at(0, 100)[0] == pytest.approx(2e-4)
    # warm-up and decay compose (a very short epoch can reach a milestone inside the warm-up)
    assert sched.lr_at(6, 50)[0] == pytest.approx(2e-5 * (0.01 + 0.99 * 0.5))
