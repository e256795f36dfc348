"""Per-stage wall-clock accounting for the streaming pipeline (no global state)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

STAGES = ("decode", "detect", "crop", "model", "decode_heatmaps", "track", "write")


@dataclass
class StageTimes:
    """Seconds spent per stage plus frame/person counts; ``time(stage)`` adds to a stage."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    persons: int = 0

    @contextlib.contextmanager
    def time(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def as_dict(self) -> dict:
        total = self.total or 1.0
        return {
            "frames": self.frames,
            "persons": self.persons,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "share": {k: round(v / total, 4) for k, v in self.seconds.items()},
        }
