"""Evaluation results: the paper's table, per-joint numbers, JSON / CSV / Markdown.

Tables round to one decimal as papers print them; JSON keeps full precision (NaN as null).
Group columns: Head = mean(head_top, head_bottom, nose), the others the mean of left and
right (a plain mean: NaN when a member is NaN); Mean = nanmean of the 15 joints, which the
official tool calls Total — not the mean of the seven groups. Tracking scores (``--tracking``)
use the same columns; their printed table labels them as the official tool does.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pstpose.keypoints import EVAL_GROUPS, JOINT_NAMES, PT17_JOINT_NAMES, UNANNOTATED_JOINTS
from pstpose.metrics.posetrack_ap import JointMetrics
from pstpose.metrics.posetrack_inputs import InputStats

if TYPE_CHECKING:
    from pstpose.metrics.posetrack_tracking import TrackingMetrics

MODE_DESCRIPTIONS: dict[str, str] = {
    "posetrack": "official PoseTrack17/18 tool rules",
    "posetrack21": "PoseTrack21 kit rules",
}
SUMMARY_COLUMNS: tuple[str, ...] = tuple(name for name, _ in EVAL_GROUPS) + ("Mean",)
METRICS: tuple[str, ...] = ("ap", "precision", "recall")
_METRIC_LABELS = {"ap": "AP", "precision": "Precision", "recall": "Recall"}
TRACKING_METRICS: tuple[str, ...] = ("mota", "motp", "precision", "recall")
_TRACKING_LABELS = {"mota": "MOTA", "motp": "MOTP", "precision": "Prec", "recall": "Rec", "motp_matched": "MOTP_m"}
# The official tool's column labels for the tracking table, in SUMMARY_COLUMNS order.
TRACKING_COLUMN_LABELS: tuple[str, ...] = ("Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total")
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
    tracking: TrackingMetrics | None = None  # with evaluate(..., tracking=True)

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

    def _tracking(self) -> TrackingMetrics:
        if self.tracking is None:
            raise ValueError("no tracking scores: evaluate with tracking=True")
        return self.tracking

    def tracking_summary(self, metric: str = "mota") -> dict[str, float]:
        """Group means and Mean (the tool's Total) of ``mota``, ``motp``, ``precision``, ``recall``
        or ``motp_matched``."""
        return summarize(getattr(self._tracking(), metric))

    def tracking_per_joint(self, metric: str = "mota") -> dict[str, float]:
        vals = getattr(self._tracking(), metric)
        return {name: float(vals[PT17_JOINT_NAMES.index(name)]) for name in DISPLAY_JOINTS}

    @property
    def mean_mota(self) -> float:
        return self.tracking_summary("mota")["Mean"]

    def _tracking_dict(self) -> dict[str, Any]:
        t = self._tracking()
        metrics = (*TRACKING_METRICS, "motp_matched")
        per_joint = {}
        for name in DISPLAY_JOINTS:
            j = PT17_JOINT_NAMES.index(name)
            per_joint[name] = {m: _json_number(getattr(t, m)[j]) for m in metrics} | t.counts(j)
        return {
            "rules": "official PoseTrack17/18 tool, evalPoseTracking",
            "sequences": t.sequences,
            "scored_frames": t.scored_frames,
            "summary": {m: {k: _json_number(v) for k, v in self.tracking_summary(m).items()} for m in metrics},
            "per_joint": per_joint,
        }

    def tracking_table(self) -> str:
        """MOTA, MOTP, precision and recall per joint group and Total, then per joint, as plain text."""
        t = self._tracking()
        lines = [
            f"PoseTrack pose tracking (official PoseTrack17/18 tool, its evalPoseTracking rules): {t.sequences} "
            f"sequences, {t.scored_frames} frames scored",
            f"{'':<11}" + "".join(f"{c:>9}" for c in TRACKING_COLUMN_LABELS),
        ]
        for m in TRACKING_METRICS:
            row = self.tracking_summary(m)
            lines.append(f"{_TRACKING_LABELS[m]:<11}" + "".join(f"{_fmt(row[c]):>9}" for c in SUMMARY_COLUMNS))
        lines.append("")
        lines.append(
            f"{'joint':<16}{'MOTA':>8}{'MOTP':>8}{'Prec':>8}{'Rec':>8}{'obj':>8}{'miss':>8}{'FP':>8}{'IDsw':>8}"
        )
        for name in DISPLAY_JOINTS:
            j = PT17_JOINT_NAMES.index(name)
            c = t.counts(j)
            lines.append(
                f"{name:<16}"
                + "".join(f"{_fmt(getattr(t, m)[j]):>8}" for m in TRACKING_METRICS)
                + "".join(f"{c[k]:>8}" for k in ("num_objects", "num_misses", "num_false_positives", "num_switches"))
            )
        return "\n".join(lines)

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
        } | ({"tracking": self._tracking_dict()} if self.tracking is not None else {})

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
        if self.tracking is not None:
            lines += ["", self.tracking_table()]
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
        if self.tracking is not None:
            lines += ["", "Pose tracking (official PoseTrack17/18 tool rules)", ""]
            lines += [
                "| Metric | " + " | ".join(TRACKING_COLUMN_LABELS) + " |",
                "|---|" + "---:|" * len(SUMMARY_COLUMNS),
            ]
            for m in TRACKING_METRICS:
                row = self.tracking_summary(m)
                lines.append(f"| {_TRACKING_LABELS[m]} | " + " | ".join(_fmt(row[c]) for c in SUMMARY_COLUMNS) + " |")
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
        if self.tracking is not None:
            writer.writerow([])
            writer.writerow(["mode", "tracking metric", *SUMMARY_COLUMNS])
            for m in TRACKING_METRICS:
                row = self.tracking_summary(m)
                writer.writerow([self.mode, _TRACKING_LABELS[m], *(_fmt(row[c]) for c in SUMMARY_COLUMNS)])
        return buf.getvalue()
