"""ONNX export of the full model: onnxruntime agrees with PyTorch to 1e-4, with DFE, FCG's
clustering and DSF's 5-D sampling really in the graph; metadata; the CLI; errors."""

from __future__ import annotations

import re
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from pstpose.cli import main
from pstpose.config import model_config_from_dict
from pstpose.export.onnx import (
    DEFAULT_OPSET,
    ExportDependencyError,
    ExportError,
    VerificationError,
    export_onnx,
    graph_op_types,
    randomize_small_parameters_,
    read_onnx_metadata,
    verify_onnx,
)
from pstpose.keypoints import JOINT_NAMES
from pstpose.models.pstpose import build_model
from pstpose.preprocess import IMAGENET_MEAN, IMAGENET_STD

ATOL = 1e-4


def run_onnxruntime(path, clip: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["heatmaps"], {"clip": clip.numpy()})[0]


def heatmaps_without(model, clip_tokens: torch.Tensor, skipped: str) -> np.ndarray:
    """The model's heatmaps from backbone tokens with one refinement block bypassed (PyTorch)."""
    tokens = clip_tokens
    with torch.no_grad():
        for name, block in model.refine.items():
            if name != skipped:
                tokens = block(tokens)
        return model.decode_keyframe(tokens).numpy()


def test_static_export_matches_pytorch_at_batch_1(tiny_model, static_onnx):
    diff = verify_onnx(tiny_model, static_onnx, batch_sizes=(1,), seed=3, atol=ATOL)
    print(f"static batch 1: max abs difference {diff:.3g}")
    assert diff <= ATOL
    # Independently of verify_onnx: run the file ourselves on another clip.
    clip = torch.randn(1, 3, 3, 256, 192, generator=torch.Generator().manual_seed(11))
    got = run_onnxruntime(static_onnx, clip)
    with torch.no_grad():
        want = tiny_model(clip).numpy()
    assert got.shape == (1, 17, 64, 48)
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


def test_comparison_exercises_every_refinement_module(tiny_model, static_onnx):
    """Bypassing any one of DFE, FCG, DSF changes the heatmaps by far more than the tolerance,
    and onnxruntime follows the full model, not a bypassed one."""
    clip = torch.randn(1, 3, 3, 256, 192, generator=torch.Generator().manual_seed(5))
    got = run_onnxruntime(static_onnx, clip)
    with torch.no_grad():
        full = tiny_model(clip).numpy()
        clip_tokens = tiny_model.clip_tokens(clip)
    assert np.abs(got - full).max() <= ATOL
    for name in ("dfe", "fcg", "dsf"):
        bypassed = heatmaps_without(tiny_model, clip_tokens, name)
        assert np.abs(full - bypassed).max() > 10 * ATOL, name
        assert np.abs(got - bypassed).max() > 10 * ATOL, name


def test_graph_holds_clustering_and_5d_grid_sample(static_onnx):
    proto = onnx.shape_inference.infer_shapes(onnx.load(str(static_onnx)))
    ops = {node.op_type for node in proto.graph.node}
    assert {"TopK", "GridSample", "ArgMin", "OneHot", "ScatterElements"} <= ops
    assert proto.opset_import[0].version == DEFAULT_OPSET == 20
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in proto.graph.value_info}
    samplers = [n for n in proto.graph.node if n.op_type == "GridSample"]
    assert samplers and all(ranks[n.input[0]] == 5 for n in samplers)


def test_dynamic_batch_matches_at_batch_3_and_1(tiny_model, dynamic_onnx):
    diff = verify_onnx(tiny_model, dynamic_onnx, batch_sizes=(3, 1), seed=4, atol=ATOL)
    print(f"dynamic batch 3 and 1: max abs difference {diff:.3g}")
    assert diff <= ATOL
    graph_input = onnx.load(str(dynamic_onnx)).graph.input[0]
    dims = graph_input.type.tensor_type.shape.dim
    assert graph_input.name == "clip"
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 3, 256, 192]


def test_static_file_refuses_other_batch_sizes(tiny_model, static_onnx):
    with pytest.raises(ExportError, match="batch 1 only"):
        verify_onnx(tiny_model, static_onnx, batch_sizes=(3,))


def test_verify_detects_a_model_that_differs(tiny_model, static_onnx):
    changed = build_model("tiny")
    changed.load_state_dict(tiny_model.state_dict())
    with torch.no_grad():
        changed.refine["fcg"].mixer.proj.bias.add_(0.05)
    with pytest.raises(VerificationError, match="differ by"):
        verify_onnx(changed.eval(), static_onnx)


def test_metadata_describes_the_model(tiny_model, static_onnx):
    meta = read_onnx_metadata(static_onnx)
    import pstpose

    assert meta["pstpose_version"] == pstpose.__version__
    assert model_config_from_dict(meta["model_config"]) == tiny_model.config
    assert meta["keypoint_names"] == list(JOINT_NAMES)
    norm = meta["input_normalization"]
    assert norm["color_order"] == "RGB"
    np.testing.assert_allclose(norm["mean"], IMAGENET_MEAN)
    np.testing.assert_allclose(norm["std"], IMAGENET_STD)
    assert meta["input_layout"]["shape"] == ["batch", 3, 3, 256, 192]
    assert meta["output_layout"]["shape"] == ["batch", 17, 64, 48]


def test_external_data_and_missing_module_guard(tmp_path):
    """Weights in a side file load in onnxruntime; a file without DSF fails the check of a model with DSF."""
    no_dsf = randomize_small_parameters_(build_model("tiny", backbone={"depth": 1}, dsf={"enabled": False})).eval()
    path = export_onnx(no_dsf, tmp_path / "small.onnx", external_data=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.onnx", "small.onnx.data"]
    assert path.stat().st_size < 100_000 < (tmp_path / "small.onnx.data").stat().st_size
    assert verify_onnx(no_dsf, path) <= ATOL
    with_dsf = build_model("tiny", backbone={"depth": 1})
    with pytest.raises(VerificationError, match="GridSample"):
        verify_onnx(with_dsf, path)


@pytest.mark.filterwarnings("ignore:Exporting to ONNX opset version 99")
def test_old_opset_and_failed_export_leave_no_file(tmp_path, monkeypatch):
    import pstpose.export.onnx as onnx_export

    model = build_model("tiny", backbone={"depth": 1}).eval()
    with pytest.raises(ExportError, match="opset 20"):
        export_onnx(model, tmp_path / "m.onnx", opset=17)
    with pytest.raises(ExportError, match=r"opset 99 is newer than .* \(at most \d+\)"):
        export_onnx(model, tmp_path / "m.onnx", opset=99)
    monkeypatch.setattr(onnx_export, "max_opset", lambda: 99)  # let it reach the exporter, which fails
    with pytest.raises(ExportError, match="export at opset 99 failed") as failure:
        export_onnx(model, tmp_path / "m.onnx", opset=99)
    assert "\n" not in str(failure.value)  # one line, not the exporter's graph dump
    assert list(tmp_path.iterdir()) == []


def test_missing_onnxruntime_names_the_extra(monkeypatch, tiny_model, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(ExportDependencyError, match=re.escape("pip install 'pstpose[export]'")):
        export_onnx(tiny_model, tmp_path / "m.onnx")
    assert main(["export", "--preset", "tiny", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "pip install 'pstpose[export]'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A save_pretrained folder of the tiny preset with a one-block backbone (fast to export)."""
    torch.manual_seed(1)
    model = randomize_small_parameters_(build_model("tiny", backbone={"depth": 1}), seed=1)
    return model.save_pretrained(tmp_path_factory.mktemp("weights") / "tiny")


def test_cli_exports_and_checks_a_checkpoint(weights_dir, tmp_path, capsys):
    out = tmp_path / "nested" / "model.onnx"
    assert main(["export", "--weights", str(weights_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    print(printed)
    size = re.search(r"\(([\d.]+) MB", printed)
    assert size and abs(float(size.group(1)) - out.stat().st_size / 1e6) < 0.01
    diff = re.search(r"batch 1\): max abs difference ([\d.e+-]+)", printed)
    assert diff and float(diff.group(1)) <= ATOL
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx"]
    assert read_onnx_metadata(out)["model_config"]["preset"] == "tiny"


def test_cli_removes_a_file_that_fails_the_check(weights_dir, tmp_path, monkeypatch, capsys):
    import pstpose.export.onnx as onnx_export

    def failing_check(model, path, **kwargs):
        raise VerificationError(f"{path}: onnxruntime and PyTorch differ by 0.5 (> 0.0001)")

    monkeypatch.setattr(onnx_export, "verify_onnx", failing_check)
    out = tmp_path / "model.onnx"
    assert main(["export", "--weights", str(weights_dir), "--out", str(out)]) == 2
    assert "differ by 0.5" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing-weights", "weights not found"),
        ("weights-without-config", "config.json is missing"),
        ("out-is-folder", "is a folder"),
        ("out-under-a-file", "is a file, not a folder"),
        ("old-opset", "opset 20"),
    ],
)
def test_cli_errors_are_one_line(case, message, weights_dir, tmp_path, capsys):
    weights, out, extra = str(weights_dir), tmp_path / "m.onnx", []
    if case == "missing-weights":
        weights = str(tmp_path / "nowhere")
    elif case == "weights-without-config":
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "model.safetensors").write_bytes((weights_dir / "model.safetensors").read_bytes())
        weights = str(broken)
    elif case == "out-is-folder":
        out = tmp_path
    elif case == "out-under-a-file":
        (tmp_path / "plain").write_text("x")
        out = tmp_path / "plain" / "m.onnx"
    elif case == "old-opset":
        extra = ["--opset", "16"]
    before = sorted(tmp_path.rglob("*"))
    assert main(["export", "--weights", weights, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "dsf", [{"key_stride": 2}, {"sampling": "per_query", "points": 2}], ids=["stride2", "per-query"]
)
def test_dsf_options_export_and_match(tmp_path, dsf):
    """Key stride 2 (block-averaged queries, a smaller key grid) and per-query sampling (each
    query's own samples and weights) trace into the graph and match PyTorch."""
    torch.manual_seed(1)
    model = randomize_small_parameters_(
        build_model("tiny", image_size=(64, 64), fcg={"num_clusters": 8}, dsf=dsf), seed=1
    )
    model = model.eval()
    path = export_onnx(model, tmp_path / "dsf.onnx")
    assert verify_onnx(model, path, atol=1e-4) < 1e-4
    assert "GridSample" in graph_op_types(path)
