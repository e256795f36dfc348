"""ONNX export of the full PSTPose model, and its check in onnxruntime against PyTorch.

The whole forward pass is exported, FCG's DPC-KNN clustering (TopK, ArgMin, OneHot,
ScatterElements) and DSF's trilinear sampling (a 5-D GridSample) included. 5-D GridSample exists
in ONNX from opset 20 on (opsets 16-19 define it for 4-D inputs only, and PyTorch's exporter
refuses a 5-D ``grid_sample`` below 20), so 20 is both the minimum and the default opset.
See docs/export.md for the exporter choice and measured differences.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from pstpose.io import OutputError, atomic_path

MIN_OPSET = 20  # first opset whose GridSample takes 5-D (volumetric) inputs
DEFAULT_OPSET = MIN_OPSET
INPUT_NAME = "clip"
OUTPUT_NAME = "heatmaps"
HEATMAP_STRIDE = 4
# Protobuf refuses messages over 2 GiB: above this size the weights go to one side file.
EXTERNAL_DATA_THRESHOLD_BYTES = 1_800_000_000
INSTALL_HINT = "pip install 'pstpose[export]'"


class ExportError(ValueError):
    """The model cannot be exported or checked; the message names the file and the problem."""


class ExportDependencyError(ExportError):
    """onnx or onnxruntime is missing."""


class VerificationError(ExportError):
    """onnxruntime disagrees with PyTorch beyond the tolerance, or a module is missing from the graph."""


def require_export_packages() -> tuple[ModuleType, ModuleType]:
    """Import onnx and onnxruntime, or say how to install them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ExportDependencyError(
            f"ONNX export needs onnx and onnxruntime ({exc}); install them with: {INSTALL_HINT}"
        ) from None
    return onnx, onnxruntime


def max_opset() -> int:
    """The newest opset both the installed ``onnx`` and torch's (TorchScript-based) exporter know."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    try:
        from torch.onnx import _constants

        limit = getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", _constants.ONNX_MAX_OPSET)
        newest = min(newest, int(limit))
    except (ImportError, AttributeError):  # a torch without the constant: onnx's word stands
        pass
    return newest


def check_opset(opset: int) -> None:
    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise ExportError(
            f"opset {opset!r} is too old: DSF samples a 5-D volume and ONNX GridSample accepts "
            f"5-D inputs only from opset {MIN_OPSET} on"
        )
    newest = max_opset()
    if opset > newest:
        raise ExportError(f"opset {opset} is newer than the installed onnx and torch support (at most {newest})")


def _model_config(model: nn.Module):
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "num_frames"):
        raise ExportError(f"expected a PSTPose model (with a .config), got {type(model).__name__}")
    return config


def input_shape(model: nn.Module, batch: int) -> tuple[int, int, int, int, int]:
    """(B, T, 3, H, W) of the clips the model takes."""
    config = _model_config(model)
    return (batch, config.num_frames, 3, *config.image_size)


def expected_op_types(config: Any) -> set[str]:
    """ONNX ops that must appear in the graph when the refinement modules are really exported:
    TopK for FCG's k-nearest-neighbour density, GridSample for DSF's sampling."""
    if config.variant != "pstpose":
        return set()
    ops = set()
    if config.fcg.enabled:
        ops.add("TopK")
    if config.dsf.enabled:
        ops.add("GridSample")
    return ops


def onnx_metadata(model: nn.Module) -> dict[str, str]:
    """metadata_props that make the file self-describing (every value a string, JSON where structured)."""
    from pstpose import __version__
    from pstpose.config import to_dict
    from pstpose.keypoints import joint_set_for

    config = _model_config(model)
    joints = joint_set_for(config.keypoints, config.num_keypoints)
    normalization = {
        "color_order": "RGB",
        "formula": "(pixel / 255 - mean) / std, per channel",
        "mean": [round(float(v) / 255.0, 6) for v in model.pixel_mean.flatten()],
        "std": [round(float(v) / 255.0, 6) for v in model.pixel_std.flatten()],
    }
    h, w = config.image_size
    return {
        "pstpose_version": __version__,
        "model_config": json.dumps(to_dict(config), sort_keys=True),
        "joint_set": joints.name,
        "keypoint_names": json.dumps(list(joints.joints)),
        "flip_pairs": json.dumps([list(p) for p in joints.flip_pairs]),
        "input_normalization": json.dumps(normalization),
        "input_layout": json.dumps(
            {
                "name": INPUT_NAME,
                "shape": ["batch", config.num_frames, 3, h, w],
                "frames": f"2*frames_per_side+1 person crops, keyframe at index {config.frames_per_side}",
            }
        ),
        "output_layout": json.dumps(
            {
                "name": OUTPUT_NAME,
                "shape": ["batch", len(joints), h // HEATMAP_STRIDE, w // HEATMAP_STRIDE],
                "stride": HEATMAP_STRIDE,
                "crop_to_heatmap": "x_hm = (x_crop + 0.5) / 4 - 0.5",
            }
        ),
    }


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """metadata_props of an exported file, JSON values decoded (the weights are not loaded)."""
    onnx, _ = require_export_packages()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors have no common base class
        raise ExportError(f"{path}: not a readable ONNX file ({exc})") from None
    out: dict[str, Any] = {}
    for prop in proto.metadata_props:
        try:
            out[prop.key] = json.loads(prop.value)
        except json.JSONDecodeError:
            out[prop.key] = prop.value
    return out


def graph_op_types(path: str | Path) -> set[str]:
    """Op types of the main graph of an ONNX file."""
    onnx, _ = require_export_packages()
    proto = onnx.load(str(path), load_external_data=False)
    return {node.op_type for node in proto.graph.node}


def _check_float32(model: nn.Module) -> None:
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes - {torch.float32}:
        raise ExportError(f"export expects float32 weights, got {sorted(map(str, dtypes))} (call model.float() first)")


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The exporter's messages can carry the whole traced graph: keep the first line."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return line if len(line) <= limit else line[:limit] + " ..."


def _parameter_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _trace_to_onnx(model: nn.Module, example: torch.Tensor, path: Path, opset: int, dynamic_batch: bool) -> None:
    """TorchScript-based export (see docs/export.md: faster here and needs no extra package)."""
    dynamic_axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings():
        # Shape reads (static sizes, by design), the legacy-exporter notice and slice folding notes.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*Constant folding.*")
        warnings.filterwarnings("ignore", message=".*feature will be removed.*")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = False,
    batch_size: int = 1,
    external_data: bool | None = None,
) -> Path:
    """Export ``model`` (eval mode) to ``path``: input ``clip`` (B, T, 3, H, W), output ``heatmaps``.

    With ``dynamic_batch`` the batch axis is symbolic; otherwise it is fixed at ``batch_size``.
    ``external_data`` (default: only above ~1.8 GB) puts the weights in ``<path>.data`` beside
    the file. The file (and its data file) appear only once complete.
    """
    onnx, _ = require_export_packages()
    check_opset(opset)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ExportError(f"batch_size must be a positive integer, got {batch_size!r}")
    _check_float32(model)
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give the .onnx file to write")
    if external_data is None:
        external_data = _parameter_bytes(model) > EXTERNAL_DATA_THRESHOLD_BYTES
    device = next(model.parameters()).device
    example = torch.randn(input_shape(model, batch_size), generator=torch.Generator().manual_seed(0)).to(device)
    was_training = model.training
    model.eval()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    try:
        traced = work / "traced.onnx"  # the exporter may write side files for big models: keep them here
        try:
            with torch.no_grad():
                _trace_to_onnx(model, example, traced, opset, dynamic_batch)
        except (RuntimeError, ValueError, torch.onnx.errors.OnnxExporterError) as exc:
            raise ExportError(f"{path}: ONNX export at opset {opset} failed: {_first_line(exc)}") from None
        proto = onnx.load(str(traced))
        onnx.helper.set_model_props(proto, onnx_metadata(model))
        proto.producer_name = "pstpose"
        proto.doc_string = "PSTPose video pose estimation: a clip of person crops -> keyframe heatmaps"
        data_name = f"{path.name}.data"
        if external_data:
            onnx.save_model(
                proto,
                str(work / path.name),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=data_name,
                size_threshold=1024,
            )
            onnx.checker.check_model(str(work / path.name))
            with atomic_path(path.parent / data_name) as tmp:
                os.replace(work / data_name, tmp)
        else:
            onnx.checker.check_model(proto)
            onnx.save_model(proto, str(work / path.name))
        with atomic_path(path) as tmp:
            os.replace(work / path.name, tmp)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        model.train(was_training)
    return path


def _session(path: Path, ort: ModuleType):
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ExportError(f"{path}: onnxruntime cannot load this file ({exc})") from None


def verify_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    batch_sizes: tuple[int, ...] = (1,),
    seed: int = 0,
    atol: float = 1e-4,
) -> float:
    """Run the exported file in onnxruntime (CPU) and ``model`` in PyTorch on the same random
    clips, one per batch size; return the largest absolute heatmap difference.

    Raises VerificationError when it exceeds ``atol``, or when the graph lacks the ops that
    show FCG (TopK) and DSF (GridSample) were exported rather than bypassed.
    """
    import numpy as np

    _, ort = require_export_packages()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    missing = expected_op_types(_model_config(model)) - graph_op_types(path)
    if missing:
        raise VerificationError(f"{path}: graph has no {sorted(missing)} node: a refinement module was not exported")
    session = _session(path, ort)
    fixed_batch = session.get_inputs()[0].shape[0]
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    worst = 0.0
    try:
        for batch in batch_sizes:
            if isinstance(fixed_batch, int) and batch != fixed_batch:
                raise ExportError(
                    f"{path}: exported for batch {fixed_batch} only (export with dynamic_batch for others)"
                )
            clip = torch.randn(input_shape(model, batch), generator=generator)
            with torch.no_grad():
                reference = model(clip.to(device)).float().cpu().numpy()
            (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: clip.numpy()})
            if got.shape != reference.shape:
                raise VerificationError(f"{path}: onnxruntime gave shape {got.shape}, PyTorch {reference.shape}")
            worst = max(worst, float(np.abs(got - reference).max()))
    finally:
        model.train(was_training)
    if not worst <= atol:  # also catches NaN
        raise VerificationError(f"{path}: onnxruntime and PyTorch differ by {worst:.3g} (> {atol:g})")
    return worst


@torch.no_grad()
def randomize_small_parameters_(model: nn.Module, seed: int = 0, std: float = 0.02) -> nn.Module:
    """Redraw from N(0, std) every parameter whose entries are all smaller than ``std``.

    A fresh PSTPose starts as ViTPose: the refinement blocks' output projections are zero (each
    block is the identity), DSF's offset weights and the head's weights are ~1e-3. Redrawing
    those makes DFE, FCG and DSF change the heatmaps, with offsets of a fraction of a cell, so
    that a comparison of two runtimes covers the real clustering and sampling paths.
    LayerNorm scales (all ones) and already-random weights are left alone.
    """
    generator = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        if param.numel() and float(param.abs().max()) < std:
            noise = torch.randn(param.shape, generator=generator) * std
            param.copy_(noise.to(param.device, param.dtype))
    return model
