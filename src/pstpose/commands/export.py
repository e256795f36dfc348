"""`pstpose export`: the full model to ONNX, checked in onnxruntime against PyTorch.

Thin: the export and the check are ``pstpose.export.onnx``. The output path is probed before
any work; a file that fails the check is removed, so a written file is always a checked one
(unless ``--no-verify``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from pstpose.commands import add_weights_arguments, load_model_from_args

VERIFY_TOLERANCE = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    add_weights_arguments(parser, group=source)
    source.add_argument("--preset", help="build this preset with random weights instead (for trying export out)")
    parser.add_argument("--out", required=True, help="ONNX file to write, e.g. model.onnx")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default and minimum: 20)")
    parser.add_argument("--dynamic-batch", action="store_true", help="symbolic batch axis (checked at batch 1 and 3)")
    parser.add_argument("--batch-size", type=int, default=1, help="fixed batch size without --dynamic-batch")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-PyTorch check")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random check clips (and --preset weights)")


def probe_output(path: Path) -> None:
    """Fail before the (slow) export when ``path`` cannot be written."""
    from pstpose.io import OutputError

    if path.is_dir():
        raise OutputError(f"{path}: is a folder; --out must name the .onnx file to write")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise OutputError(f"{path}: output cannot be written ({blocker} is a file, not a folder)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{path}: output cannot be written ({exc.strerror or exc})") from None


def model_to_export(args: argparse.Namespace):
    """The ``--weights`` model (through the shared ``load_model``), or a ``--preset`` with random
    weights."""
    if args.preset is None:
        return load_model_from_args(args)
    import torch

    from pstpose.export.onnx import randomize_small_parameters_
    from pstpose.models.pstpose import build_model

    torch.manual_seed(args.seed)
    return randomize_small_parameters_(build_model(args.preset), seed=args.seed).eval()


def remove_outputs(path: Path) -> None:
    for stale in (path, path.with_name(f"{path.name}.data")):
        if stale.exists():
            stale.unlink()


def run(args: argparse.Namespace) -> int:
    from pstpose.cli import CLIError
    from pstpose.export.onnx import DEFAULT_OPSET, ExportError, check_opset, require_export_packages

    opset = DEFAULT_OPSET if args.opset is None else args.opset
    check_opset(opset)
    from pstpose.commands import SEED, Limits, check_numbers

    check_numbers(args, {"batch_size": Limits(1, 1024), "seed": SEED})
    require_export_packages()  # before loading anything: the install hint comes first
    out = Path(args.out)
    probe_output(out)
    model = model_to_export(args)
    from pstpose.export.onnx import export_onnx, verify_onnx

    export_onnx(model, out, opset=opset, dynamic_batch=args.dynamic_batch, batch_size=args.batch_size)
    size = sum(p.stat().st_size for p in (out, out.with_name(f"{out.name}.data")) if p.exists())
    batch = "dynamic" if args.dynamic_batch else str(args.batch_size)
    print(f"wrote {out} ({size / 1e6:.2f} MB, opset {opset}, batch {batch})")
    if args.no_verify:
        print("check skipped (--no-verify)")
        return 0
    batches = (1, 3) if args.dynamic_batch else (args.batch_size,)
    try:
        diff = verify_onnx(model, out, batch_sizes=batches, seed=args.seed, atol=VERIFY_TOLERANCE)
    except ExportError as exc:  # a mismatch, or a file onnxruntime cannot load: do not leave it
        remove_outputs(out)
        raise CLIError(f"{exc}; the file was removed") from None
    print(
        f"onnxruntime vs PyTorch on random clips (batch {', '.join(map(str, batches))}): "
        f"max abs difference {diff:.3g} (tolerance {VERIFY_TOLERANCE:g})"
    )
    return 0
