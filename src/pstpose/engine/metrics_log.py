"""Per-epoch metrics as JSON Lines (``metrics.jsonl`` in the run folder).

One object per finished epoch, e.g.
    {"epoch": 3, "global_step": 600, "train_loss": 0.00123, "lr": 0.0002, "samples_per_s": 41.5,
     "time_s": 512.3, "samples": 19200, "val": {"mAP": 71.2}}
The file is small, so every update rewrites it atomically: a crash never leaves a torn line.
On resume, records of epochs after the checkpoint are dropped, so the log always agrees with
the weights in ``last.pt``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pstpose.io import atomic_open


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON: they become null (a diverged loss is still visible as missing)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _json_safe(value.item())
    return value


def read_metrics(path: str | Path) -> list[dict]:
    """Records of a metrics file (empty when absent); a malformed line is an error naming it."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{lineno}: not a JSON object ({exc.msg})") from None
    return records


class MetricsLog:
    """Append-by-rewrite JSONL log of epoch records."""

    def __init__(self, path: str | Path, keep_until_epoch: int | None = None):
        """Open ``path``; with ``keep_until_epoch`` (a resume), keep only records up to that epoch."""
        self.path = Path(path)
        self.records: list[dict] = []
        if keep_until_epoch is not None:
            self.records = [r for r in read_metrics(self.path) if r.get("epoch", 0) <= keep_until_epoch]

    def append(self, record: dict) -> None:
        self.records.append(_json_safe(record))
        with atomic_open(self.path, "w") as fh:
            for r in self.records:
                fh.write(json.dumps(r, allow_nan=False) + "\n")
