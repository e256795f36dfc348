"""The ``pstpose`` subcommands, one module each, plus the option handling they share.

Kept import-light: ``pstpose --help`` imports this package.
"""

from __future__ import annotations


def device_from_option(value: str) -> str:
    """The ``--device`` option resolved on this machine (``pstpose.devices``), as a device string.

    The library's message says what is wrong with the value; this adds the option it came from.
    """
    from pstpose.devices import resolve_device

    try:
        return str(resolve_device(value))
    except ValueError as exc:
        raise ValueError(f"--device {value}: {exc}") from None


class Limits:
    """The accepted range of one numeric option: ``low <= value <= high``, finite (``low_open``:
    ``low < value``)."""

    def __init__(self, low: float, high: float, *, low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def problem(self, value: float) -> str | None:
        import math

        lower = "greater than" if self.low_open else "at least"
        text = f"must be {lower} {self.low:g} and at most {self.high:g}, got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return text
        if value < self.low or (self.low_open and value == self.low) or value > self.high:
            return text
        return None


PROBABILITY = Limits(0.0, 1.0)
BATCH_SIZE = Limits(1, 4096)
WORKERS = Limits(0, 64)
SEED = Limits(0, 2**32 - 1)
FRAME_SIDE = Limits(64, 4096)  # pixels of a generated frame


def check_numbers(args: object, limits: dict[str, Limits]) -> None:
    """Refuse, before any work, numeric options outside their limits (NaN and infinities too).

    ``limits`` maps an argparse destination (``det_thr``) to its range; the message names the
    flag (``--det-thr``). Options left at None (not given, no default) are skipped.
    """
    from pstpose.errors import OptionError

    for dest, limit in limits.items():
        value = getattr(args, dest, None)
        if value is None or isinstance(value, bool):
            continue
        problem = limit.problem(value)
        if problem is not None:
            raise OptionError(dest, problem)


WEIGHTS_HELP = (
    "a PSTPose folder or its .safetensors, a trainer .pt, a ViTPose checkpoint (ViTPose/mmpose 0.x or "
    "mmpose 1.x .pth, ViTPose++ raw or split, transformers VitPose folder or .safetensors) or a Hugging Face "
    "Hub id hf:OWNER/NAME (e.g. hf:usyd-community/vitpose-base-simple)"
)
VITPOSE_DATASETS = ("coco", "aic", "mpii", "ap10k", "apt36k", "wholebody")  # ViTPose++'s expert order


def add_weights_arguments(parser, *, default: str | None = None, required: bool = False, group=None) -> None:
    """``--weights`` (anything ``load_model`` reads) and ``--vitpose-dataset``, the same in every
    command that takes a model."""
    suffix = f" (default: {default})" if default else ""
    (group or parser).add_argument("--weights", required=required, help=WEIGHTS_HELP + suffix)
    parser.add_argument(
        "--vitpose-dataset",
        choices=VITPOSE_DATASETS,
        default=None,
        help="ViTPose++ weights: the dataset whose expert (and head) to use (default coco)",
    )


def load_model_from_args(args, device: str = "cpu"):
    """The model of ``--weights``/``--vitpose-dataset``; a foreign checkpoint's load is said in one
    line on stderr (what it is, its joints, and that it runs as single-frame ViTPose)."""
    import sys

    from pstpose.models.loading import load_model

    model = load_model(args.weights, device, vitpose_dataset=getattr(args, "vitpose_dataset", None))
    report = getattr(model, "load_report", None)
    if report is not None:
        print(report.one_line(), file=sys.stderr)
    return model
