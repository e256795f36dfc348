"""Weights shipped inside the package.

``DEFAULT_WEIGHTS`` is the one place that names the default checkpoint: the ``tiny`` model
trained on the synthetic dataset (``model.safetensors`` + ``config.json``, installed with the
package through pyproject's package-data ``weights/**/*``). ``pstpose predict`` and
``pstpose demo`` use it when no ``--weights`` is given.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "tiny_synthetic"
"""Folder of the default checkpoint (may be absent in an installation built without it)."""


class NoDefaultWeightsError(FileNotFoundError):
    """No checkpoint ships with this installation; the user must pass ``--weights``."""


def default_weights(folder: Path | None = None) -> Path:
    """The packaged default checkpoint folder, or ``NoDefaultWeightsError`` when it is absent.

    ``folder`` overrides ``DEFAULT_WEIGHTS`` (tests point it at a stand-in checkpoint).
    """
    folder = DEFAULT_WEIGHTS if folder is None else Path(folder)
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise NoDefaultWeightsError(
            f"no default weights shipped in this installation ({folder} has no model.safetensors + "
            "config.json); pass --weights"
        )
    return folder
