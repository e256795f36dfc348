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
