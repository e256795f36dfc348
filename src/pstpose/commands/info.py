"""`pstpose info`: versions, devices and model presets."""

from __future__ import annotations

import argparse
import platform


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-params", action="store_true", help="skip building presets to count parameters")


def available_devices() -> list[str]:
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def preset_parameter_count(name: str) -> int:
    """Parameters of a freshly built preset, counted on the meta device (no memory used)."""
    import torch

    from pstpose.models.pstpose import build_model

    with torch.device("meta"):
        model = build_model(name)
    return sum(p.numel() for p in model.parameters())


def run(args: argparse.Namespace) -> int:
    import torch

    from pstpose import __version__
    from pstpose.config import BACKBONE_PRESETS

    print(f"pstpose {__version__}")
    print(f"python  {platform.python_version()}")
    print(f"torch   {torch.__version__} (threads: {torch.get_num_threads()})")
    print(f"devices {', '.join(available_devices())}")
    print("presets:")
    for name, bb in BACKBONE_PRESETS.items():
        line = f"  {name:<10} dim {bb.embed_dim:>4}  depth {bb.depth:>2}  heads {bb.num_heads:>2}"
        if not args.no_params:
            line += f"  params {preset_parameter_count(name) / 1e6:8.2f} M"
        print(line)
    return 0
