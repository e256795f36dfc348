"""pstpose: PSTPose video-based human pose estimation.

Public API (imported lazily so that light commands do not pay for torch):
    build_model(preset, **overrides) -> PSTPose
    PSTPose.from_pretrained(path)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "build_model", "PSTPose"]


def __getattr__(name: str):
    if name in ("build_model", "PSTPose"):
        from pstpose.models import pstpose as _m

        return getattr(_m, name)
    raise AttributeError(f"module 'pstpose' has no attribute {name!r}")
