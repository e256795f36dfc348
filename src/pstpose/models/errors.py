"""The one error type for weights and checkpoints that cannot be used.

Every reader raises it: pretrained folders (``pstpose.models.pretrained``), foreign ViTPose
weights (``pstpose.models.vitpose_weights``) and the trainer's state files
(``pstpose.engine.training_state``), so a caller catches one type whatever the file was. It is a
``ValueError`` (and the not-found case also a ``FileNotFoundError``) because the command line
prints those as one-line user errors. Kept in a module of its own, free of torch, so that
importing it costs nothing.
"""

from __future__ import annotations


class CheckpointError(ValueError):
    """Weights or a checkpoint cannot be used; the message names the file and the problem."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A weights file or folder does not exist."""
