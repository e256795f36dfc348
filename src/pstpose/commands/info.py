"""`pstpose info`: versions, devices, the default weights and model presets."""

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


def default_weights_line() -> str:
    """Where the packaged default weights are and what they take, read from their config alone
    (the path to pass as ``--weights``, and the crop size a caller must feed ``model(clip)``)."""
    from pstpose.models.errors import CheckpointError
    from pstpose.models.pretrained import CONFIG_NAME, read_pretrained_config
    from pstpose.weights import NoDefaultWeightsError, default_weights

    try:
        folder = default_weights()
        cfg = read_pretrained_config(folder / CONFIG_NAME)
    except NoDefaultWeightsError:
        return "none shipped in this installation (pass --weights)"
    except CheckpointError as exc:
        return f"unreadable default weights: {exc}"
    height, width = cfg.image_size
    frames = 2 * cfg.frames_per_side + 1
    return (
        f"{folder} (default; {cfg.preset} {cfg.variant}, input {height}x{width} H x W, "
        f"{frames} frames a clip, {cfg.num_keypoints} {cfg.keypoints} joints)"
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from pstpose import __version__
    from pstpose.config import BACKBONE_PRESETS

    print(f"pstpose {__version__}")
    print(f"python  {platform.python_version()}")
    print(f"torch   {torch.__version__} (threads: {torch.get_num_threads()})")
    print(f"devices {', '.join(available_devices())}")
    print(f"weights {default_weights_line()}")
    print("presets:")
    for name, bb in BACKBONE_PRESETS.items():
        line = f"  {name:<10} dim {bb.embed_dim:>4}  depth {bb.depth:>2}  heads {bb.num_heads:>2}"
        if not args.no_params:
            line += f"  params {preset_parameter_count(name) / 1e6:8.2f} M"
        print(line)
    return 0
