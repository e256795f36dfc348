"""Synthetic video pose data with known ground truth, written as real PoseTrack18 files.

Public API: ``generate_dataset`` (a dataset on disk), ``render_sequence`` / ``iter_frames``
(videos in memory), ``PRESETS`` / ``SynthPreset`` (difficulty knobs) and ``make_contact_sheet``.
Videos are encoded with ``pstpose.media.write_video``. See docs/synthetic.md.
"""

from pstpose.data.synthetic.contact import make_contact_sheet
from pstpose.data.synthetic.generate import generate_dataset, mean_joint_displacement
from pstpose.data.synthetic.presets import PRESETS, SynthPreset, get_preset
from pstpose.data.synthetic.sequence import SyntheticFrame, SyntheticSequence, iter_frames, render_sequence
from pstpose.data.synthetic.visibility import PersonGT

__all__ = [
    "PRESETS",
    "PersonGT",
    "SynthPreset",
    "SyntheticFrame",
    "SyntheticSequence",
    "generate_dataset",
    "get_preset",
    "iter_frames",
    "make_contact_sheet",
    "mean_joint_displacement",
    "render_sequence",
]
