"""Evaluation results: the paper's table, per-joint numbers, JSON / CSV / Markdown.

Tables round to one decimal as papers print them; JSON keeps full precision (NaN as null).
Group columns: Head = mean(head_top, head_bottom, nose), the others the mean of left and
right (a plain mean: NaN when a member is NaN); Mean = nanmean of the 15 joints, which the
official tool calls Total — not the mean of the seven groups.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pstpose.keypoints import EVAL_GROUPS, JOINT_NAMES, PT17_JOINT_NAMES, UNANNOTATED_JOINTS
from pstpose.metrics.posetrack_ap import JointMetrics
from pstpose.metrics.posetrack_inputs import InputStats

MODE_DESCRIPTIONS: dict[str, str] = {
    "posetrack": "official PoseTrack17/18 tool rules",
    "posetrack21": "PoseTrack21 kit rules",
}
SUMMARY_COLUMNS: tuple[str, ...] = tuple(name for name, _ in EVAL_GROUPS) + ("Mean",)
METRICS: tuple[str, ...] = ("ap", "precision", "recall")
_METRIC_LABELS = {"ap": "AP", "precision": "Precision", "recall": "Recall"}
# Per-joint rows in the model's 17-slot order (ears are never evaluated).
DISPLAY_JOINTS: tuple[str, ...] = tuple(n for i, n in enumerate(JOINT_NAMES) if i not in UNANNOTATED_JOINTS)


def summarize(values: np.ndarray) -> dict[str, float]:
    """Group means and the Mean column from 15 per-joint values (PoseTrack17 id order)."""
    out = {name: float(np.mean(values[list(ids)])) for name, ids in EVAL_GROUPS}
    finite = values[~np.isnan(values)]
    out["Mean"] = float(finite.mean()) if len(finite) else math.nan
    return out


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass
class EvalResult:
    """What ``evaluate`` returns; every number the CLI prints or writes comes from here."""

    mode: str
    joints: JointMetrics
    stats: InputStats
    gt_format: str
    pred_format: str
    warnings: list[str] = field(default_factory=list)

    def _values(self, metric: str) -> np.ndarray:
        return getattr(self.joints, metric)

    def summary(self, metric: str = "ap") -> dict[str, float]:
        """{Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, Mean} for ``ap``, ``precision`` or ``recall``."""
        return summarize(self._values(metric))

    def per_joint(self, metric: str = "ap") -> dict[str, float]:
        vals = self._values(metric)
        return {name: float(vals[PT17_JOINT_NAMES.index(name)]) for name in DISPLAY_JOINTS}

    @property
    def mean_ap(self) -> float:
        return self.summary("ap")["Mean"]

    def to_dict(self) -> dict[str, Any]:
        per_joint = {}
        for name in DISPLAY_JOINTS:
            j = PT17_JOINT_NAMES.index(name)
            per_joint[name] = {
                "ap": _json_number(self.joints.ap[j]),
                "precision": _json_number(self.joints.precision[j]),
                "recall": _json_number(self.joints.recall[j]),
                "n_gt": int(self.joints.n_gt[j]),
                "n_pred": int(self.joints.n_pred[j]),
            }
        return {
            "mode": self.mode,
            "mode_description": MODE_DESCRIPTIONS[self.mode],
            "gt_format": self.gt_format,
            "pred_format": self.pred_format,
            "summary": {m: {k: _json_number(v) for k, v in self.summary(m).items()} for m in METRICS},
            "per_joint": per_joint,
            "counts": dict(vars(self.stats)),
            "warnings": list(self.warnings),
        }

    def table(self) -> str:
        """The paper's table plus per-joint AP / precision / recall, as plain text."""
        head = f"{'':<11}" + "".join(f"{c:>9}" for c in SUMMARY_COLUMNS)
        lines = [
            f"PoseTrack per-joint mAP — mode: {self.mode} ({MODE_DESCRIPTIONS[self.mode]}); "
            f"GT {self.gt_format}, predictions {self.pred_format}",
            f"{self.stats.sequences} sequences, {self.stats.counted_frames} of {self.stats.frames} frames counted, "
            f"{self.stats.gt_persons} GT persons, {self.stats.pred_persons} predicted persons",
            head,
        ]
        for m in METRICS:
            row = self.summary(m)
            lines.append(f"{_METRIC_LABELS[m]:<11}" + "".join(f"{_fmt(row[c]):>9}" for c in SUMMARY_COLUMNS))
        lines.append("")
        lines.append(f"{'joint':<16}{'AP':>8}{'Precision':>11}{'Recall':>9}{'GT':>8}{'pred':>8}")
        for name in DISPLAY_JOINTS:
            j = PT17_JOINT_NAMES.index(name)
            lines.append(
                f"{name:<16}{_fmt(self.joints.ap[j]):>8}{_fmt(self.joints.precision[j]):>11}"
                f"{_fmt(self.joints.recall[j]):>9}{int(self.joints.n_gt[j]):>8}{int(self.joints.n_pred[j]):>8}"
            )
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [
            f"Mode: `{self.mode}` ({MODE_DESCRIPTIONS[self.mode]})",
            "",
            "| Metric | " + " | ".join(SUMMARY_COLUMNS) + " |",
            "|---|" + "---:|" * len(SUMMARY_COLUMNS),
        ]
        for m in METRICS:
            row = self.summary(m)
            lines.append(f"| {_METRIC_LABELS[m]} | " + " | ".join(_fmt(row[c]) for c in SUMMARY_COLUMNS) + " |")
        lines += ["", "| Joint | AP | Precision | Recall |", "|---|---:|---:|---:|"]
        for name in DISPLAY_JOINTS:
            j = PT17_JOINT_NAMES.index(name)
            lines.append(
                f"| {name} | {_fmt(self.joints.ap[j])} | {_fmt(self.joints.precision[j])} | {_fmt(self.joints.recall[j])} |"
            )
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["mode", "metric", *SUMMARY_COLUMNS])
        for m in METRICS:
            row = self.summary(m)
            writer.writerow([self.mode, _METRIC_LABELS[m], *(_fmt(row[c]) for c in SUMMARY_COLUMNS)])
        writer.writerow([])
        writer.writerow(["mode", "joint", "AP", "Precision", "Recall", "n_gt", "n_pred"])
        for name in DISPLAY_JOINTS:
            j = PT17_JOINT_NAMES.index(name)
            writer.writerow(
                [
                    self.mode,
                    name,
                    _fmt(self.joints.ap[j]),
                    _fmt(self.joints.precision[j]),
                    _fmt(self.joints.recall[j]),
                    int(self.joints.n_gt[j]),
                    int(self.joints.n_pred[j]),
                ]
            )
        return buf.getvalue()
