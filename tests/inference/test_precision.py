"""bfloat16 inference: chosen only where the hardware has it, engaged when asked, and close to fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pstpose.devices import has_fast_bf16, resolve_precision
from pstpose.inference.predictor import PosePredictor, run_model

needs_bf16 = pytest.mark.skipif(not has_fast_bf16(torch.device("cpu")), reason="this CPU has no native bf16 units")


def test_precision_names_and_auto():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("auto", cpu) == "fp32"  # CPUs stay fp32 unless asked (joints move under bf16)
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        resolve_precision("half", cpu)
    if not has_fast_bf16(cpu):
        with pytest.raises(ValueError, match="no native bfloat16 support"):
            resolve_precision("bf16", cpu)
    with pytest.raises(ValueError, match="precision must be fp32 or bf16"):
        run_model(torch.nn.Identity(), np.zeros((1, 3, 3, 8, 8), np.float32), precision="auto")


class _RecordsDtype(torch.nn.Module):
    """Heatmaps from a linear layer; remembers the dtype its matmul ran in."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(8, 8)
        self.seen: list[torch.dtype] = []

    def forward(self, clip):
        y = self.proj(clip[:, 1, :1])  # (B, 1, 8, 8)
        self.seen.append(y.dtype)
        return y


@needs_bf16
def test_bf16_runs_the_matmuls_in_bf16_and_returns_float32():
    model = _RecordsDtype()
    crops = np.random.default_rng(0).normal(size=(2, 3, 3, 8, 8)).astype(np.float32)
    plain = run_model(model, crops, precision="fp32")
    low = run_model(model, crops, precision="bf16")
    assert model.seen == [torch.float32, torch.bfloat16]
    assert low.dtype == np.float32
    # bf16 keeps 8 bits of mantissa: close to fp32 (relative 2^-8 per operand), not equal
    assert 0 < np.abs(low - plain).max() < 0.05 * np.abs(plain).max()


@needs_bf16
def test_bf16_decoded_joints_stay_close_on_a_fixed_clip():
    """The shipped model on a rendered clip with ground-truth boxes: bf16 against fp32. The
    tolerances are the measured behaviour of benchmarks/precision.py, with margin: most joints
    move by a small fraction of a pixel; a few joints with flat heatmaps can jump."""
    from pstpose.data.synthetic import render_sequence
    from pstpose.models import load_model

    seq = render_sequence(seed=3, frames=5, height=288, width=384, preset="standard")

    def boxes(index, _name=None):
        rows = [[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3], 1.0] for p in seq.persons[index]]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 5)

    model = load_model(None)
    results = {}
    for precision in ("fp32", "bf16"):
        predictor = PosePredictor(model, boxes, precision=precision, tracker=False, keep_images=False)
        results[precision] = predictor.predict(_Frames(seq.frames))
    a = np.concatenate([r.keypoints for r in results["fp32"]])
    b = np.concatenate([r.keypoints for r in results["bf16"]])
    scores = np.concatenate([r.keypoint_scores for r in results["fp32"]])
    moved = np.linalg.norm(a - b, axis=-1)
    assert moved.max() > 0  # bf16 really ran
    confident = moved[scores >= 0.5]
    assert confident.size > 20
    assert np.median(confident) < 0.25
    assert (confident <= 1.0).mean() >= 0.8


class _Frames:
    """A minimal in-memory frame source for the predictor."""

    def __new__(cls, frames):
        from pstpose.inference.sources import FrameSource, SourceFrame

        class Frames(FrameSource):
            path, fps, num_frames = "synthetic", 25.0, len(frames)
            height, width = frames[0].shape[:2]

            def __iter__(self):
                for i, image in enumerate(frames):
                    yield SourceFrame(i, image, None)

        return Frames()
