"""Run under torchrun by test_ddp.py: trains the stand-in model for one epoch and saves this
rank's final weights. Usage: ddp_worker.py OUT_DIR BATCH_SIZE"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from pstpose.config import TrainConfig  # noqa: E402
from pstpose.engine.distributed import setup_distributed, teardown_distributed  # noqa: E402
from pstpose.engine.train import Trainer  # noqa: E402
from tests.engine.standins import RandomClipDataset, TinyHeatmapNet  # noqa: E402


def train(out: Path, batch_size: int) -> None:
    cfg = TrainConfig(
        lr=1e-2,
        epochs=1,
        batch_size=batch_size,
        grad_clip=0.0,
        device="cpu",
        seed=5,
        deterministic=True,
        workers=0,
        output_dir=str(out / "run"),
        progress=False,
        milestones=(6,),
    )
    ctx = setup_distributed(cfg.device)
    torch.manual_seed(ctx.rank + 100)  # deliberately different initial weights on each rank
    trainer = Trainer(TinyHeatmapNet(), RandomClipDataset(size=8), cfg, dist=ctx)
    history = trainer.fit()
    torch.save(
        {
            "state": trainer.model.state_dict(),
            "world_size": ctx.world_size,
            "steps": trainer.global_step,
            "loss": history[-1]["train_loss"],
        },
        out / f"rank{ctx.rank}_of_{ctx.world_size}.pt",
    )
    teardown_distributed()


if __name__ == "__main__":
    torch.set_num_threads(1)
    train(Path(sys.argv[1]), int(sys.argv[2]))
