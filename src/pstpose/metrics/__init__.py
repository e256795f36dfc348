"""Evaluation metrics: PoseTrack per-joint AP and pose-tracking MOTA (``evaluate``) and prediction writers.

``from pstpose.metrics import evaluate, EvalResult`` — imported lazily so that importing the
package costs nothing until a metric is used.
"""

from __future__ import annotations

__all__ = ["EvalResult", "EvaluationInputError", "TrackingMetrics", "evaluate"]


def __getattr__(name: str):
    if name == "evaluate":
        from pstpose.metrics.posetrack_eval import evaluate

        return evaluate
    if name == "EvalResult":
        from pstpose.metrics.report import EvalResult

        return EvalResult
    if name == "TrackingMetrics":
        from pstpose.metrics.posetrack_tracking import TrackingMetrics

        return TrackingMetrics
    if name == "EvaluationInputError":
        from pstpose.metrics.diagnostics import EvaluationInputError

        return EvaluationInputError
    raise AttributeError(f"module 'pstpose.metrics' has no attribute {name!r}")
