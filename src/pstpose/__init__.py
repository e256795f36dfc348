"""pstpose: PSTPose video-based human pose estimation (train, evaluate, ablate, predict, export).

The public API, imported lazily so that ``pstpose --help`` and light commands do not pay for torch:

Models
    ``build_model(preset, **overrides)``, ``PSTPose`` (``PSTPose.from_pretrained(folder)``,
    ``model.save_pretrained(folder)``), ``ModelConfig``.
Prediction
    ``PosePredictor(model, detector=...)`` → ``predict(source, stream=True)`` yields ``PoseResult``
    per frame; ``predict_to_files(source, OutputSpec(out, ...))`` writes JSON and overlay videos.
Evaluation
    ``evaluate(gt, pred)`` → ``EvalResult`` (PoseTrack per-joint AP).
Configuration
    ``load_experiment(name_or_path, overrides)`` → ``ExperimentConfig`` (model + data + train).
Export
    ``export_onnx(model, path)`` (needs the ``[onnx]`` extra).

Example::

    import pstpose

    predictor = pstpose.PosePredictor(pstpose.PSTPose.from_pretrained("runs/pt18-b"), detector="hog")
    for result in predictor.predict("walk.mp4", stream=True):
        print(result.frame_index, result.keypoints.shape)   # (N, 17, 2) image coordinates
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that owns it
_EXPORTS = {
    "PSTPose": "pstpose.models.pstpose",
    "build_model": "pstpose.models.pstpose",
    "ModelConfig": "pstpose.config",
    "ExperimentConfig": "pstpose.config",
    "load_experiment": "pstpose.config",
    "PosePredictor": "pstpose.inference.predictor",
    "PoseResult": "pstpose.inference.results",
    "OutputSpec": "pstpose.inference.outputs",
    "evaluate": "pstpose.metrics.posetrack_eval",
    "EvalResult": "pstpose.metrics.report",
    "export_onnx": "pstpose.export.onnx",
}

__all__ = [
    "EvalResult",
    "ExperimentConfig",
    "ModelConfig",
    "OutputSpec",
    "PSTPose",
    "PosePredictor",
    "PoseResult",
    "__version__",
    "build_model",
    "evaluate",
    "export_onnx",
    "load_experiment",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name loads on first use
    from pstpose.config import ExperimentConfig, ModelConfig, load_experiment
    from pstpose.export.onnx import export_onnx
    from pstpose.inference.outputs import OutputSpec
    from pstpose.inference.predictor import PosePredictor
    from pstpose.inference.results import PoseResult
    from pstpose.metrics.posetrack_eval import evaluate
    from pstpose.metrics.report import EvalResult
    from pstpose.models.pstpose import PSTPose, build_model


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pstpose' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
