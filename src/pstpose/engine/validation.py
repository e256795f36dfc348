"""Per-epoch validation for the trainer: ``evaluate_model`` on the val split, reported as a small dict.

The hook the trainer calls is ``val_fn(model, epoch) -> {"mAP": ..., "Head": ..., ..., "Ankle": ...}``
(the Mean column is ``mAP``, the key ``train.best_metric`` selects by default). Ground-truth
boxes, DARK decoding, flip test off unless ``train.val_flip`` (it doubles the cost and validation
only has to rank epochs), and at most ``train.val_max_samples`` persons when set.
"""

from __future__ import annotations

from torch import nn

from pstpose.config import ExperimentConfig
from pstpose.engine.train import ValFn


def make_val_fn(
    cfg: ExperimentConfig,
    *,
    max_samples: int | None = None,
    flip: bool | None = None,
    decode: str = "dark",
) -> ValFn:
    """A validation hook for ``cfg``'s ``data.val_split``.

    ``max_samples`` / ``flip`` default to ``train.val_max_samples`` / ``train.val_flip``.
    Raises FileNotFoundError (naming the folders tried) when the split has no annotations, so
    a caller can skip validation with a note. The annotations are read here, once; the frames
    are checked and read at the first call.
    """
    from pstpose.engine.eval_data import load_split
    from pstpose.engine.evaluation import evaluate_model

    data = cfg.data  # its clip spec is cfg.model's (ExperimentConfig)
    _, sequences = load_split(data, data.val_split)
    max_samples = cfg.train.val_max_samples if max_samples is None else max_samples
    flip = cfg.train.val_flip if flip is None else flip

    def val_fn(model: nn.Module, epoch: int) -> dict:
        report = evaluate_model(
            model,
            data,
            split=data.val_split,
            boxes="gt",
            flip=flip,
            decode=decode,
            batch_size=cfg.train.batch_size,
            workers=cfg.train.workers,
            max_samples=max_samples,
            sequences=sequences,
        )
        return report.metrics()

    return val_fn
