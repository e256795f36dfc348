"""Errors and aggregated warnings for evaluation inputs.

A val set has thousands of frames; one problem repeated in every file must read as one line
with a count and an example, not as a wall of text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class EvaluationInputError(ValueError):
    """Ground truth and predictions cannot be evaluated together; the message names file and fix."""


@dataclass
class Diagnostics:
    """Warnings grouped by kind: a count, up to three examples and the fix."""

    _groups: dict[str, dict] = field(default_factory=dict)

    def warn(self, kind: str, example: str, fix: str, count: int = 1) -> None:
        group = self._groups.setdefault(kind, {"count": 0, "examples": [], "fix": fix})
        group["count"] += count
        if len(group["examples"]) < 3:
            group["examples"].append(example)

    def lines(self) -> list[str]:
        out = []
        for kind, g in self._groups.items():
            examples = "; ".join(g["examples"])
            more = f" (and {g['count'] - len(g['examples'])} more)" if g["count"] > len(g["examples"]) else ""
            out.append(f"warning: {kind} x{g['count']}: {examples}{more}. Fix: {g['fix']}")
        return out

    def __bool__(self) -> bool:
        return bool(self._groups)
