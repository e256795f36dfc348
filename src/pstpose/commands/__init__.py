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
