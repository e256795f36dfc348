"""The training loop: one code path for a CPU process, one GPU, and many GPUs under torchrun.

The model, the dataset and the validation hook are given to :class:`Trainer` (see
``pstpose.engine.build.build_from_experiment`` for the real wiring), so the loop can be tested
with small stand-ins. Run-folder layout (``config.output_dir``):

    last.pt         training state after the latest finished epoch (always; see training_state.py)
    best.pt         copy of the training state with the highest validation ``best_metric`` so far
    epoch_NNN.pt    per-epoch copies, only with ``keep_epoch_checkpoints``
    metrics.jsonl   one JSON object per finished epoch (see metrics_log.py)
    config.yaml     the experiment configuration of the run
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset
from tqdm import tqdm

from pstpose.config import ConfigError, TrainConfig, check_train_config, to_dict
from pstpose.engine.distributed import (
    DistContext,
    all_reduce_sum,
    broadcast_object,
    gather_objects,
    setup_distributed,
)
from pstpose.engine.loader import EpochLoader
from pstpose.engine.loss import weighted_heatmap_mse
from pstpose.engine.metrics_log import MetricsLog
from pstpose.engine.precision import Determinism, autocast, check_amp, make_grad_scaler
from pstpose.engine.schedule import MultiStepWarmupSchedule
from pstpose.engine.training_state import (
    capture_rng_state,
    copy_training_state,
    load_training_state,
    restore_rng_state,
    save_training_state,
    seed_everything,
)
from pstpose.io import atomic_open, check_output_dir

# The validation hook: val_fn(model, epoch) -> {metric: value}; pstpose.engine.validation makes the real one.
ValFn = Callable[[nn.Module, int], dict]
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl")


class RunExistsError(ValueError):
    """The output folder already holds a run and neither resume nor overwrite was asked for."""


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def parameter_groups(
    model: nn.Module, weight_decay: float, lr: float | None = None, lr_scale: dict[str, float] | None = None
) -> list[dict]:
    """AdamW groups: the model says which parameters take no weight decay (``no_weight_decay()``,
    as timm's models do); a model without that hook gets decay on tensors of rank >= 2 only.

    ``lr_scale`` maps parameter-name glob patterns to learning-rate factors (``train.lr_scale``):
    each (decay, factor) pair becomes its own group with ``lr = lr * factor``. A pattern that
    matches no trainable parameter, or a parameter matched by two patterns, is a ConfigError
    (a typo must not silently train at the common rate).
    """
    lr_scale = dict(lr_scale or {})
    if lr_scale and lr is None:
        raise ValueError("parameter_groups: lr_scale needs the base lr")
    if hasattr(model, "no_weight_decay"):
        skip = set(model.no_weight_decay())
    else:
        skip = {name for name, param in model.named_parameters() if param.ndim <= 1}
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    used: set[str] = set()
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        matches = [pattern for pattern in lr_scale if fnmatch.fnmatchcase(name, pattern)]
        if len(matches) > 1:
            raise ConfigError(f"train.lr_scale: parameter {name!r} matches several patterns: {matches}")
        used.update(matches)
        factor = float(lr_scale[matches[0]]) if matches else 1.0
        groups.setdefault((name not in skip, factor), []).append(param)
    unused = [pattern for pattern in lr_scale if pattern not in used]
    if unused:
        raise ConfigError(
            f"train.lr_scale: pattern(s) {unused} match no trainable parameter of the model "
            "(names as in model.named_parameters(), e.g. 'refine.dfe.mixer.lambda_*')"
        )
    out = []
    for (decays, factor), params in sorted(groups.items(), key=lambda item: (not item[0][0], item[0][1])):
        group: dict[str, Any] = {"params": params, "weight_decay": weight_decay if decays else 0.0}
        if factor != 1.0:
            group["lr"] = lr * factor
            group["lr_factor"] = factor
        out.append(group)
    return out


def check_run_folder(output_dir: str | Path, resume: bool, overwrite: bool) -> str | None:
    """What is wrong with starting (or resuming) a run in ``output_dir``: None when nothing."""
    output_dir = Path(output_dir)
    try:
        check_output_dir(output_dir)  # creates nothing: a refused run leaves no folder behind
    except OSError as exc:
        return str(exc)
    existing = [name for name in RUN_FILES if (output_dir / name).exists()]
    if resume and not (output_dir / "last.pt").exists():
        return f"{output_dir}: nothing to resume (no last.pt)"
    if not resume and existing and not overwrite:
        return (
            f"{output_dir}: already holds a run ({', '.join(existing)}); resume it, overwrite it to "
            "start again, or choose another output folder"
        )
    return None


class Trainer:
    """Trains ``model`` on ``train_dataset`` (items with clip/target/target_weight) by ``config``.

    ``val_fn(model, epoch) -> dict`` runs on rank 0 with the unwrapped model in eval mode after
    epochs ``val_every``, ``2*val_every``, ... and the last one; ``epoch`` is 1-based (the number of
    finished epochs). ``experiment`` is the whole configuration as plain data, stored in
    checkpoints and config.yaml.
    """

    def __init__(
        self,
        model: nn.Module,
        train_dataset: Dataset,
        config: TrainConfig,
        val_fn: ValFn | None = None,
        *,
        experiment: dict | None = None,
        dist: DistContext | None = None,
        loss_fn: LossFn = weighted_heatmap_mse,
    ):
        check_train_config(config)
        self.config = config
        self.dist = dist if dist is not None else setup_distributed(config.device)
        self.device = self.dist.device
        check_amp(config.amp, self.device)
        self.val_fn = val_fn
        self.loss_fn = loss_fn
        self.experiment = experiment if experiment is not None else {"train": to_dict(config)}
        self.output_dir = Path(config.output_dir)

        self.model = model.to(self.device)
        self.net: nn.Module = self.model
        if self.dist.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=config.find_unused_parameters
            )
        self.optimizer = torch.optim.AdamW(
            parameter_groups(self.model, config.weight_decay, config.lr, config.lr_scale),
            lr=config.lr,
            betas=tuple(config.betas),
        )
        self.schedule = MultiStepWarmupSchedule(
            self.optimizer, config.milestones, config.gamma, config.warmup_iters, config.warmup_ratio
        )
        self.scaler = make_grad_scaler(config.amp, self.device)
        self.loader = EpochLoader(
            train_dataset,
            config.batch_size,
            config.workers,
            config.seed,
            self.dist.rank,
            self.dist.world_size,
            pin_memory=self.device.type == "cuda",
        )
        self.epoch = 0  # finished epochs
        self.global_step = 0  # optimiser steps taken
        self.best: dict[str, Any] = {"metric": config.best_metric, "value": None, "epoch": None}
        self.history: list[dict] = []
        self._metrics: MetricsLog | None = None

    # --- run folder ---------------------------------------------------------------------------

    def _start_fresh(self) -> None:
        seed_everything(self.config.seed + self.dist.rank)
        if self.dist.is_main:
            for stale in [*RUN_FILES, *(p.name for p in self.output_dir.glob("epoch_*.pt"))]:
                (self.output_dir / stale).unlink(missing_ok=True)
            with atomic_open(self.output_dir / "config.yaml") as fh:
                fh.write(yaml.safe_dump(self.experiment, sort_keys=False))
            self._metrics = MetricsLog(self.output_dir / "metrics.jsonl")

    def resume_from(self, path: str | Path) -> None:
        """Restore weights, optimiser, scaler, counters and this rank's RNG states from a training state file."""
        state = load_training_state(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.best = dict(state.get("best") or self.best)
        rng_states = state.get("rng") or []
        if len(rng_states) == self.dist.world_size:
            restore_rng_state(rng_states[self.dist.rank])
        else:  # another world size: the run goes on, but cannot be bit-identical
            seed_everything(self.config.seed + self.dist.rank + 7919 * self.epoch)
            if self.dist.is_main:
                tqdm.write(
                    f"note: {path} was written by {len(rng_states)} process(es), resuming with "
                    f"{self.dist.world_size}; random streams are re-seeded"
                )
        if self.dist.is_main:
            self._metrics = MetricsLog(self.output_dir / "metrics.jsonl", keep_until_epoch=self.epoch)
            self.history = list(self._metrics.records)

    # --- the loop -----------------------------------------------------------------------------

    def fit(self, resume: bool = False, overwrite: bool = False) -> list[dict]:
        """Train from the start (or from ``output_dir/last.pt`` with ``resume``) to ``config.epochs``.

        Returns the per-epoch records (the same objects as metrics.jsonl, on rank 0; other ranks
        get records without the file's history)."""
        problem = check_run_folder(self.output_dir, resume, overwrite) if self.dist.is_main else None
        problem = broadcast_object(self.dist, problem)
        if problem is not None:
            raise RunExistsError(problem)
        with Determinism(self.config.deterministic):
            if resume:
                self.resume_from(self.output_dir / "last.pt")
            else:
                self._start_fresh()
            while self.epoch < self.config.epochs:
                record = self.train_one_epoch(self.epoch)
                self.epoch += 1
                val = self.validate() if self._validation_due() else None
                if val is not None:
                    record["val"] = val
                self._end_of_epoch(record)
        return self.history

    def _validation_due(self) -> bool:
        every = self.config.val_every
        return self.val_fn is not None and every > 0 and (self.epoch % every == 0 or self.epoch == self.config.epochs)

    def validate(self) -> dict | None:
        """Run ``val_fn`` on rank 0 and share its result with every rank."""
        result = None
        if self.dist.is_main and self.val_fn is not None:
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                result = dict(self.val_fn(self.model, self.epoch))
            self.model.train(was_training)
        return broadcast_object(self.dist, result)

    def _forward_backward(self, batch: dict, divisor: int, sync: bool) -> torch.Tensor:
        clip = batch["clip"].to(self.device, non_blocking=True)
        target = batch["target"].to(self.device, non_blocking=True)
        weight = batch["target_weight"].to(self.device, non_blocking=True)
        no_sync = self.net.no_sync() if (self.dist.distributed and not sync) else contextlib.nullcontext()
        with no_sync:
            with autocast(self.config.amp, self.device):
                pred = self.net(clip)
            loss = self.loss_fn(pred, target, weight)
            self.scaler.scale(loss / divisor).backward()
        return loss.detach()

    def _optimizer_step(self, epoch: int) -> float:
        lr = self.schedule.apply(epoch, self.global_step)
        if self.config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.global_step += 1
        return lr

    def train_step(self, batch: dict, epoch: int = 0) -> torch.Tensor:
        """One optimiser step on one batch (no accumulation); returns the loss. For benchmarks
        and custom loops; ``fit`` is the normal entry point."""
        self.net.train()
        loss = self._forward_backward(batch, divisor=1, sync=True)
        self._optimizer_step(epoch)
        return loss

    def train_one_epoch(self, epoch: int) -> dict:
        """One pass over this rank's share of the data; returns the epoch's record (1-based epoch)."""
        cfg = self.config
        self.net.train()
        n_batches, accum = len(self.loader), cfg.accumulation
        n_steps = math.ceil(n_batches / accum)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        samples, steps_done, lr = 0, 0, self.schedule.lr_at(epoch, self.global_step)[0]
        bar = tqdm(
            total=n_steps,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            unit="step",
            dynamic_ncols=True,
            disable=not (self.dist.is_main and cfg.progress),
            leave=False,
        )
        self.optimizer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        for i, batch in enumerate(self.loader.epoch(epoch)):
            group_start = (i // accum) * accum
            group_len = min(accum, n_batches - group_start)  # the last group may be shorter
            closes_group = i == group_start + group_len - 1
            loss = self._forward_backward(batch, divisor=group_len, sync=closes_group)
            size = int(batch["clip"].shape[0])
            loss_sum += loss.double() * size
            samples += size
            if closes_group:
                lr = self._optimizer_step(epoch)
                steps_done += 1
                bar.update(1)
                if steps_done % cfg.log_every == 0 or steps_done == n_steps:  # a sync: not every step
                    mean = loss_sum.item() / samples
                    if not math.isfinite(mean) and not self.dist.distributed:
                        raise TrainingDivergedError(
                            f"training loss is {mean} at epoch {epoch + 1}, step {self.global_step}"
                        )
                    rate = samples * self.dist.world_size / (time.perf_counter() - start)
                    bar.set_postfix(loss=f"{mean:.3g}", lr=f"{lr:.3g}", sps=f"{rate:.1f}")
        bar.close()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        total_loss, total_samples = all_reduce_sum(self.dist, [loss_sum.item(), samples])
        elapsed = max(gather_objects(self.dist, elapsed))
        mean_loss = total_loss / max(total_samples, 1)
        if not math.isfinite(mean_loss):
            raise TrainingDivergedError(f"training loss is {mean_loss} in epoch {epoch + 1}")
        return {
            "epoch": epoch + 1,
            "global_step": self.global_step,
            "train_loss": mean_loss,
            "lr": lr,
            "samples": int(total_samples),
            "samples_per_s": total_samples / max(elapsed, 1e-9),
            "time_s": elapsed,
        }

    # --- end of epoch: checkpoints and log ----------------------------------------------------

    def state_dict(self, rng_states: list[dict]) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_states,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "best": dict(self.best),
            "world_size": self.dist.world_size,
            "config": self.experiment,
        }

    def _improves_best(self, val: dict | None) -> bool:
        if not val or self.best["metric"] not in val:
            return False
        value = float(val[self.best["metric"]])
        if not math.isfinite(value):
            return False
        return self.best["value"] is None or value > self.best["value"]

    def _end_of_epoch(self, record: dict) -> None:
        rng_states = gather_objects(self.dist, capture_rng_state())  # every rank's, for exact resume
        improved = self._improves_best(record.get("val"))
        if improved:
            self.best = {
                "metric": self.best["metric"],
                "value": float(record["val"][self.best["metric"]]),
                "epoch": self.epoch,
            }
        record["best"] = dict(self.best)
        self.history.append(record)
        if not self.dist.is_main:
            return
        last = save_training_state(self.output_dir / "last.pt", self.state_dict(rng_states))
        if self.config.keep_epoch_checkpoints:
            copy_training_state(last, self.output_dir / f"epoch_{self.epoch:03d}.pt")
        if improved:
            copy_training_state(last, self.output_dir / "best.pt")
        self._metrics.append(record)
        summary = (
            f"epoch {self.epoch}/{self.config.epochs}  loss {record['train_loss']:.4g}  "
            f"lr {record['lr']:.3g}  {record['samples_per_s']:.1f} samples/s  {record['time_s']:.0f} s"
        )
        scalars = {k: v for k, v in (record.get("val") or {}).items() if isinstance(v, (int, float))}
        if scalars:
            summary += "  val " + " ".join(f"{k} {v:.4g}" for k, v in scalars.items())
        tqdm.write(summary)
