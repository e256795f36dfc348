"""Hostile experiment configs: bad values through ``--set`` and bad YAML files (``pstpose train --dry-run``)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.hostile.harness import Case

BASE = "synthetic_tiny"


def _set(name: str, override: str, names: tuple[str, ...]) -> Case:
    return Case(
        "config-set",
        name,
        lambda folder: ["train", BASE, "--dry-run", "--set", override],
        names=lambda folder: list(names),
    )


def _file(name: str, text: str | bytes, names: tuple[str, ...] = ("exp.yaml",)) -> Case:
    def build(folder: Path) -> list[str]:
        path = folder / "exp.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return ["train", str(path), "--dry-run"]

    return Case("config-file", name, build, names=lambda folder: list(names))


def _special(name: str, make, names: tuple[str, ...] = ("exp.yaml",)) -> Case:
    def build(folder: Path) -> list[str]:
        make(folder / "exp.yaml")
        return ["train", str(folder / "exp.yaml"), "--dry-run"]

    return Case("config-file", name, build, names=lambda folder: list(names))


def _bomb(levels: int = 9) -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    lines.append(f"model: *l{levels - 1}")
    return "\n".join(lines) + "\n"


CASES: list[Case] = [
    _set("lr-nan", "train.lr=nan", ("train.lr",)),
    _set("lr-yaml-nan", "train.lr=.nan", ("train.lr",)),
    _set("lr-inf", "train.lr=.inf", ("train.lr",)),
    _set("lr-negative", "train.lr=-1", ("train.lr",)),
    _set("lr-word", "train.lr=abc", ("train.lr",)),
    _set("lr-huge-exponent", "train.lr=1e999", ("train.lr",)),
    _set("weight-decay-inf", "train.weight_decay=.inf", ("train.weight_decay",)),
    _set("grad-clip-nan", "train.grad_clip=.nan", ("train.grad_clip",)),
    _set("batch-size-huge", "train.batch_size=99999999999999999999999", ("train.batch_size",)),
    _set("batch-size-zero", "train.batch_size=0", ("train.batch_size",)),
    _set("batch-size-fraction", "train.batch_size=1.5", ("train.batch_size",)),
    _set("epochs-bool", "train.epochs=true", ("train.epochs",)),
    _set("deterministic-string", "train.deterministic='false'", ("train.deterministic",)),
    _set("amp-unknown", "train.amp=fp8", ("train.amp",)),
    _set("milestones-decreasing", "train.milestones=[12,6]", ("train.milestones",)),
    _set("gamma-zero", "train.gamma=0", ("train.gamma",)),
    _set("workers-negative", "train.workers=-1", ("train.workers",)),
    _set("device-unknown", "train.device=gpu7", ("train.device",)),
    _set("unknown-key", "train.lrr=1", ("lrr",)),
    _set("no-equals", "train.lr", ("train.lr",)),
    _set("deep-value", "train.lr=" + "[" * 5000 + "]" * 5000, ("override",)),
    _set("data-sigma-nan", "data.sigma=.nan", ("data.sigma",)),
    _set("data-input-size-one", "data.input_size=[128]", ("data.input_size",)),
    _set("data-input-size-negative", "data.input_size=[-128,96]", ("data.input_size",)),
    _set("data-scale-range-reversed", "data.scale_range=[1.35,0.65]", ("data.scale_range",)),
    _set("data-flip-prob-two", "data.flip_prob=2", ("data.flip_prob",)),
    _set("data-box-threshold-nan", "data.box_score_threshold=.nan", ("data.box_score_threshold",)),
    _set("model-embed-dim-zero", "model.backbone.embed_dim=0", ("model.backbone.embed_dim",)),
    _set("model-heads-not-dividing", "model.backbone.num_heads=3", ("num_heads",)),
    _set("model-image-size-not-patch-multiple", "model.image_size=[100,96]", ("model.image_size",)),
    _set("model-frames-per-side-negative", "model.frames_per_side=-1", ("frames_per_side",)),
    _set("model-keypoints-zero", "model.num_keypoints=0", ("model.num_keypoints",)),
    _set("model-depth-huge", "model.backbone.depth=100000000", ("model.backbone.depth",)),
    _file("alias-bomb", _bomb(), ("exp.yaml", "aliases")),
    _file("self-alias", "model: &a [*a]\n", ("exp.yaml",)),
    _file("deep-nesting", "model: " + "[" * 5000 + "]" * 5000 + "\n", ("exp.yaml",)),
    _file("syntax-error", "model:\n  preset: tiny\n   bad: indentation\n", ("exp.yaml",)),
    _file("top-level-list", "- model\n- data\n", ("exp.yaml",)),
    _file("not-utf8", b"model:\n  preset: \xff\xfe\n", ("exp.yaml", "UTF-8")),
    _file("unknown-section", "modle:\n  preset: tiny\n", ("modle",)),
    _file("section-is-list", "model: [1, 2]\n", ("model",)),
    _file("epochs-infinite", "train:\n  epochs: 1e999\n", ("train.epochs",)),
    _file("lr-string-false", "train:\n  lr: 'false'\n", ("train.lr",)),
    _special("is-a-folder", lambda p: p.mkdir()),
    _special("is-a-fifo", lambda p: os.mkfifo(p)),
    _special("too-large", lambda p: p.write_bytes(b"# padding\n" * 1_800_000)),
]
