"""The model exports to ONNX (legacy exporter, opset 20 for 5-D GridSample) and runs in onnxruntime."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from pstpose.models.pstpose import build_model

from .conftest import randomize_

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def test_tiny_model_exports_and_matches_in_onnxruntime(tmp_path):
    model = randomize_(build_model("tiny", backbone={"depth": 1}), seed=1, scale=0.1).eval()
    clip = torch.randn(2, 3, 3, 256, 192, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (clip,), str(tmp_path / "m.onnx"), opset_version=20, dynamo=False,
            input_names=["clip"], output_names=["heatmaps"], dynamic_axes={"clip": {0: "batch"}},
        )
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    for batch in (2, 1):
        x = torch.randn(batch, 3, 3, 256, 192)
        got = session.run(None, {"clip": x.numpy()})[0]
        with torch.no_grad():
            ref = model(x).numpy()
        assert np.abs(ref).max() > 1e-3
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
