"""Fixtures for the export tests: one tiny model with its refinement modules switched on, and its
ONNX files exported once per test session (exports take seconds)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from pstpose.export.onnx import export_onnx, randomize_small_parameters_
from pstpose.models.pstpose import PSTPose, build_model


@pytest.fixture(scope="session")
def tiny_model() -> PSTPose:
    """The tiny preset with every zero / near-zero parameter redrawn, so DFE, FCG and DSF act."""
    torch.manual_seed(0)
    return randomize_small_parameters_(build_model("tiny"), seed=0).eval()


@pytest.fixture(scope="session")
def static_onnx(tiny_model, tmp_path_factory):
    return export_onnx(tiny_model, tmp_path_factory.mktemp("static") / "tiny.onnx")


@pytest.fixture(scope="session")
def dynamic_onnx(tiny_model, tmp_path_factory):
    return export_onnx(tiny_model, tmp_path_factory.mktemp("dynamic") / "tiny.onnx", dynamic_batch=True)
