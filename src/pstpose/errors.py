"""Errors shared by the library and the command line.

Library code names its own parameters, never command-line flags; ``OptionError`` carries the
parameter's name so that the ``pstpose`` command can show it as the flag a user typed.
"""

from __future__ import annotations


class OptionError(ValueError):
    """A bad value for the parameter ``option`` (its Python name, e.g. ``batch_size``)."""

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        self.problem = problem
        super().__init__(f"{option}: {problem}")

    def as_flag(self) -> str:
        """The message as the command line shows it: ``--batch-size: must be >= 1, got 0``."""
        return f"--{self.option.replace('_', '-')}: {self.problem}"
