"""Weights shipped inside the package.

``DEFAULT_WEIGHTS`` is the one place that names the default checkpoint: the ``tiny`` model
trained on the synthetic dataset (``model.safetensors`` + ``config.json``, installed with the
package through pyproject's package-data ``weights/**/*``). ``pstpose.models.load_model(None)``
loads it, and through it ``pstpose predict`` and ``pstpose demo`` when no ``--weights`` is given.
"""

from __future__ import annotations

from pathlib import Path

from pstpose.models.errors import CheckpointNotFoundError

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "tiny_synthetic"
"""Folder of the default checkpoint (may be absent in an installation built without it)."""


class NoDefaultWeightsError(CheckpointNotFoundError):
    """No checkpoint ships with this installation; the caller must name weights. A
    CheckpointNotFoundError, so that callers of ``load_model`` catch one type. The message names
    no command-line flag (Python callers read it too); the commands add their ``--weights`` hint."""


def default_weights(folder: Path | None = None) -> Path:
    """The packaged default checkpoint folder, or ``NoDefaultWeightsError`` when it is absent.

    ``folder`` overrides ``DEFAULT_WEIGHTS`` (tests point it at a stand-in checkpoint).
    """
    folder = DEFAULT_WEIGHTS if folder is None else Path(folder)
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise NoDefaultWeightsError(
            f"no default weights shipped in this installation ({folder} has no model.safetensors + config.json)"
        )
    return folder
