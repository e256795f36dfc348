"""Evaluating a model on a dataset split: crops → heatmaps → keypoints → prediction files → mAP.

``evaluate_model`` is the one code path behind ``pstpose test`` and the trainer's per-epoch
validation (``pstpose.engine.validation``). The inputs (split, boxes, samples) come from
``pstpose.engine.eval_data``; the pieces it runs already exist elsewhere: the evaluation samples
and crops of ``PoseTrackClipDataset``, ``run_model`` (batched flip test), ``decode_heatmaps``,
``prediction_to_person`` (heatmap → image coordinates through the crop's own matrix), the
prediction writers and ``evaluate``. What it adds is the assembly of per-sample persons into
sequences that mirror the ground truth, and the record of the conventions that move the numbers
(person boxes, joint scores, flip test, decoding, evaluation mode).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Subset

from pstpose.codec import DECODE_METHODS, decode_heatmaps, heatmap_stride
from pstpose.config import DataConfig, to_dict
from pstpose.data.clips import ClipSample
from pstpose.data.records import Frame, Person, Sequence
from pstpose.engine.build import annotation_dir
from pstpose.engine.eval_data import (
    build_eval_dataset,
    data_for_model,
    detection_boxes,
    frame_key,
    load_split,
    select_samples,
)
from pstpose.inference.predictor import model_device, run_model
from pstpose.metrics.report import SUMMARY_COLUMNS, EvalResult

GT_BOXES = "gt"
JOINT_SCORE_PEAK = "heatmap peak"
JOINT_SCORE_PEAK_X_BOX = "heatmap peak x box score"


@dataclass
class EvaluationReport:
    """What ``evaluate_model`` returns: the evaluator's result, the predictions and the conventions."""

    result: EvalResult
    predictions: list[Sequence]
    conventions: dict[str, Any]
    samples: int
    frames_with_samples: int
    skipped: dict[str, int] = field(default_factory=dict)
    model_config: dict | None = None
    weights: str | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    out_dir: Path | None = None

    def metrics(self) -> dict[str, float]:
        """``{"mAP": Mean, "Head": ..., ..., "Ankle": ...}`` — the validation record of an epoch."""
        summary = self.result.summary("ap")
        out = {"mAP": summary["Mean"]}
        out.update({name: summary[name] for name in SUMMARY_COLUMNS if name != "Mean"})
        return out

    def to_dict(self) -> dict[str, Any]:
        """The evaluator's JSON (as ``pstpose eval --out`` writes it) plus how it was produced."""
        out = self.result.to_dict()
        out.update(
            {
                "conventions": dict(self.conventions),
                "weights": self.weights,
                "model": self.model_config,
                "dataset": dict(self.dataset),
                "samples": self.samples,
                "frames_with_samples": self.frames_with_samples,
                "skipped_samples": dict(self.skipped),
                "seconds": self.seconds,
            }
        )
        return out

    def conventions_text(self) -> str:
        c = self.conventions
        boxes = (
            "ground truth"
            if c["person_boxes"] == GT_BOXES
            else (f"{c['person_boxes']} (score >= {c['box_score_threshold']:g})")
        )
        lines = [
            f"person boxes: {boxes}",
            f"joint score: {c['joint_score']}",
            f"flip test: {'on' if c['flip_test'] else 'off'}",
            f"decoding: {c['decoding']}",
            f"evaluation mode: {c['evaluation_mode']}",
            *([f"model joints: {c['model_joints']}"] if c.get("model_joints") else []),
            f"samples: {self.samples} in {self.frames_with_samples} frames"
            + (f" (subset: max_samples={c['max_samples']})" if c.get("max_samples") else ""),
        ]
        return "\n".join(lines)


# --- model → persons ----------------------------------------------------------------------------


def _joints_note(model) -> str | None:
    """What mapping the model's joints onto PoseTrack's slots loses (None: nothing)."""
    from pstpose.keypoints import POSETRACK

    joints = getattr(model, "joint_set", None)
    return None if joints is None else joints.conversion_note(POSETRACK)


def predict_samples(
    model: nn.Module,
    dataset,
    indices: list[int],
    *,
    flip: bool = True,
    decode: str = "dark",
    batch_size: int = 32,
    workers: int = 0,
    device: torch.device | str | None = None,
    precision: str = "fp32",
) -> dict[int, Person]:
    """Run ``model`` over ``dataset`` items ``indices`` → {sample index: predicted Person}.

    Joint scores are the heatmap peaks; the persons keep the sample's box and box score. A
    model of another joint set (a COCO head) is mapped to PoseTrack's slots by name; slots it
    lacks are absent.
    """
    from pstpose.data.dataset import prediction_to_person
    from pstpose.engine.loader import build_loader
    from pstpose.inference.predictor import model_joint_set
    from pstpose.keypoints import POSETRACK

    if decode not in DECODE_METHODS:
        raise ValueError(f"unknown decoding method {decode!r}; choose one of {list(DECODE_METHODS)}")
    device = torch.device(device) if device is not None else model_device(model)
    input_size = tuple(dataset.config.input_size)
    loader = build_loader(Subset(dataset, indices), batch_size=batch_size, shuffle=False, workers=workers)
    persons: dict[int, Person] = {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                heatmaps = run_model(
                    model, batch["clip"].numpy(), flip=flip, device=device, max_batch=batch_size, precision=precision
                )
                stride = heatmap_stride(heatmaps.shape[-2:], input_size)
                coords, scores = decode_heatmaps(heatmaps, decode)
                joints = model_joint_set(model, heatmaps.shape[1])
                present = None
                if joints.name != POSETRACK.name:
                    coords, scores, present = joints.convert(coords, scores, POSETRACK)
                matrices = batch["meta"]["matrix"].numpy()
                for row, index in enumerate(batch["meta"]["sample_index"].tolist()):
                    persons[index] = prediction_to_person(
                        dataset.samples[index],
                        matrices[row],
                        coords[row],
                        scores[row],
                        stride,
                        None if present is None else present[row],
                    )
    finally:
        model.train(was_training)
    return persons


def assemble_predictions(
    gt: list[Sequence],
    samples: list[ClipSample],
    persons: Mapping[int, Person],
    *,
    score_by_box: bool = False,
) -> list[Sequence]:
    """Per-sample persons → one predicted Sequence per GT sequence, frames mirroring the GT.

    Every GT frame is listed, in GT order (frames without predictions too). Within a frame the
    persons come in sample order and get track ids 0, 1, 2, ... (no tracking: AP does not use
    them, the files need them). Joint scores are the heatmap peaks, times the box score with
    ``score_by_box``; ``Person.score`` is the box score.
    """
    by_frame: dict[tuple[str, int], list[Person]] = defaultdict(list)
    for index in sorted(persons):
        person = dataclasses.replace(persons[index])
        if score_by_box:
            person.scores = np.asarray(person.scores, dtype=np.float64) * float(person.score)
        person.track_id = len(by_frame[frame_key(samples[index])])
        by_frame[frame_key(samples[index])].append(person)
    out = []
    for seq in gt:
        frames = [
            Frame(
                file_name=f.file_name,
                frame_index=f.frame_index,
                persons=by_frame.get((seq.name, f.frame_index), []),
                is_labeled=f.is_labeled,
                image_id=f.image_id,
                width=f.width,
                height=f.height,
            )
            for f in seq.frames
        ]
        out.append(Sequence(name=seq.name, frames=frames, format=seq.format, nframes=seq.nframes, vid_id=seq.vid_id))
    return out


def restrict_to_frames(gt: list[Sequence], keep: set[tuple[str, int]]) -> list[Sequence]:
    """GT copies where frames outside ``keep`` do not count (no persons, not labeled), so a
    subset run is scored on its own frames only."""
    out = []
    for seq in gt:
        frames = [
            f if (seq.name, f.frame_index) in keep else dataclasses.replace(f, persons=[], is_labeled=False)
            for f in seq.frames
        ]
        out.append(dataclasses.replace(seq, frames=frames))
    return out


def write_predictions(folder: Path, predictions: list[Sequence], gt: list[Sequence]) -> list[Path]:
    """One file per sequence: PoseTrack17 annolist for pt17 data, PoseTrack18 layout otherwise."""
    from pstpose.metrics.writers import write_posetrack17, write_posetrack18

    paths = []
    for pred, ref in zip(predictions, gt):
        write = write_posetrack17 if ref.format == "pt17" else write_posetrack18
        paths.append(write(folder / f"{ref.name}.json", pred, gt=ref))
    return paths


# --- the whole run ------------------------------------------------------------------------------


def evaluate_model(
    model: nn.Module,
    data: DataConfig,
    *,
    split: str | None = None,
    boxes: str | Path = GT_BOXES,
    box_score_threshold: float | None = None,
    flip: bool = True,
    decode: str = "dark",
    score_by_box: bool = False,
    mode: str | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    device: torch.device | str | None = None,
    out_dir: str | Path | None = None,
    max_samples: int | None = None,
    weights: str | None = None,
    sequences: list[Sequence] | None = None,
    precision: str = "fp32",
) -> EvaluationReport:
    """Run ``model`` over ``split`` (default ``data.val_split``) of ``data`` and evaluate it.

    ``boxes``: ``"gt"`` or a COCO-style detection file (boxes below ``box_score_threshold``,
    default ``data.box_score_threshold``, dropped). With ``out_dir``, prediction files go to
    ``out_dir/predictions`` and everything to ``out_dir/results.json`` (atomically).
    ``max_samples`` runs a spread subset of whole frames and scores those frames only.
    ``sequences`` (the split's GT, if already read) saves reading the annotation files again.
    ``precision`` ``"bf16"`` runs the model under bfloat16 autocast (``run_model``).
    The clips and crops are the ones the model takes (``data_for_model``), whatever ``data`` says.
    """
    from pstpose.metrics.posetrack_eval import evaluate

    start = time.perf_counter()
    split = split or data.val_split
    data = data_for_model(data, model)
    if decode not in DECODE_METHODS:
        raise ValueError(f"unknown decoding method {decode!r}; choose one of {list(DECODE_METHODS)}")
    folder = annotation_dir(data, split)
    gt = sequences if sequences is not None else load_split(data, split)[1]
    threshold = data.box_score_threshold if box_score_threshold is None else float(box_score_threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"box score threshold must be in [0, 1], got {threshold}")
    use_gt = str(boxes) == GT_BOXES
    data = dataclasses.replace(data, box_score_threshold=threshold)
    box_map = None if use_gt else detection_boxes(boxes, gt, threshold)
    if out_dir is not None:  # before the long part, not after it
        from pstpose.io import ensure_writable_dir

        ensure_writable_dir(out_dir)
    dataset = build_eval_dataset(data, gt, box_map)
    indices = select_samples(dataset.samples, max_samples)
    persons = predict_samples(
        model,
        dataset,
        indices,
        flip=flip,
        decode=decode,
        batch_size=batch_size,
        workers=data.workers if workers is None else workers,
        device=device,
        precision=precision,
    )
    predictions = assemble_predictions(gt, dataset.samples, persons, score_by_box=score_by_box)
    subset = len(indices) < len(dataset.samples)
    kept = {frame_key(dataset.samples[i]) for i in indices}
    eval_gt = restrict_to_frames(gt, kept) if subset else gt
    result = evaluate(eval_gt, predictions, mode=mode)

    config = getattr(model, "config", None)
    report = EvaluationReport(
        result=result,
        predictions=predictions,
        conventions={
            "person_boxes": GT_BOXES if use_gt else str(boxes),
            "box_score_threshold": None if use_gt else threshold,
            "joint_score": JOINT_SCORE_PEAK_X_BOX if score_by_box else JOINT_SCORE_PEAK,
            "flip_test": bool(flip),
            "decoding": decode,
            "precision": precision,
            "evaluation_mode": result.mode,
            "max_samples": max_samples if subset else None,
            "track_ids": "per-frame index (no tracking)",
            "model_joints": _joints_note(model),
        },
        samples=len(indices),
        frames_with_samples=len(kept),
        skipped=dict(Counter(dataset.skipped)),
        model_config=to_dict(config) if dataclasses.is_dataclass(config) else None,
        weights=None if weights is None else str(weights),
        dataset={
            "root": str(data.root),
            "split": split,
            "annotations": str(folder),
            "format": gt[0].format,
            "sequences": len(gt),
            "subset": subset,
        },
    )
    if out_dir is not None:
        out_dir = Path(out_dir)
        write_predictions(out_dir / "predictions", predictions, gt)
        report.out_dir = out_dir
    report.seconds = time.perf_counter() - start
    if out_dir is not None:
        from pstpose.io import write_json

        write_json(out_dir / "results.json", report.to_dict(), indent=2)
    return report
