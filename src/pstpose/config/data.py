"""Data configuration: clip sampling, augmentation, targets and loading."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pstpose.config.base import ConfigError

DATA_FORMATS = ("auto", "pt17", "pt18", "pt21")


@dataclass
class DataConfig:
    """Clip sampling, augmentation, targets and loading for PoseTrack-style data (docs/data.md).

    ``frames_per_side`` and ``input_size`` are the clip spec of the model the data is cut for;
    the model's config owns them. In an experiment they are filled from ``model.frames_per_side``
    and ``model.image_size`` (``ExperimentConfig``), and ``pstpose test`` takes them from the
    weights it tests; set them here only when using the data pipeline on its own.
    """

    root: str = ""  # dataset root; Frame.file_name is relative to it
    format: str = "auto"  # "auto" (each Sequence's own format) | "pt17" | "pt18" | "pt21"
    train_split: str = "train"
    val_split: str = "val"
    # clip: frames t - dilation*xi .. t + dilation*xi, replicated at the video's ends
    frames_per_side: int = 1  # xi; the model's (see the class docstring)
    dilation: int = 1
    input_size: tuple[int, int] = (256, 192)  # (height, width) of a crop; the model's image_size
    heatmap_size: tuple[int, int] = (64, 48)  # (height, width); input_size / 4
    sigma: float = 2.0  # Gaussian target std, in heatmap pixels
    box_enlarge: float = 1.25  # person box -> crop, after padding to the crop's aspect
    keypoint_box_enlarge: float = 1.2  # joint extent -> person box, when a person has no bbox
    # augmentation (training only); every frame of a clip shares one draw
    rotation_range: float = 45.0  # degrees, uniform in [-r, r]
    rotation_prob: float = 0.6
    scale_range: tuple[float, float] = (0.65, 1.35)  # uniform; > 1 crops a larger region
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8  # a person needs this many present joints to be truncated
    half_body_enlarge: float = 1.5  # half-body joint extent -> crop
    # samples and targets
    min_joints: int = 1  # persons with fewer present joints are not samples
    use_visibility: bool = False  # True: joints with v == 0 get weight 0 (default: present counts)
    seed: int = 0  # augmentation seed; the draw of a sample depends on (seed, epoch, index) only
    # loading
    cache_frames: int = 32  # decoded frames kept per worker (0 disables the cache)
    workers: int = 2
    check_files: bool = True  # stat every clip frame when a dataset is built
    # evaluation person boxes
    detection_file: str = ""  # "" = ground-truth boxes
    box_score_threshold: float = 0.2

    def __post_init__(self) -> None:
        def need(ok: bool, key: str, why: str) -> None:
            if not ok:
                raise ConfigError(f"data.{key}: {why}, got {getattr(self, key)!r}")

        need(self.format in DATA_FORMATS, "format", f"must be one of {list(DATA_FORMATS)}")
        need(self.frames_per_side >= 0, "frames_per_side", "must be >= 0")
        need(self.dilation >= 1, "dilation", "must be >= 1")
        need(all(v > 0 for v in self.input_size), "input_size", "must be positive")
        need(all(v > 0 for v in self.heatmap_size), "heatmap_size", "must be positive")
        need(
            self.input_size[0] * self.heatmap_size[1] == self.input_size[1] * self.heatmap_size[0]
            and self.input_size[0] % self.heatmap_size[0] == 0,
            "heatmap_size",
            "must divide input_size by one integer stride",
        )
        need(self.sigma > 0, "sigma", "must be > 0")
        need(self.box_enlarge > 0, "box_enlarge", "must be > 0")
        need(self.keypoint_box_enlarge > 0, "keypoint_box_enlarge", "must be > 0")
        need(0 <= self.rotation_range <= 180, "rotation_range", "must be in [0, 180]")
        need(0 < self.scale_range[0] <= self.scale_range[1], "scale_range", "must be 0 < low <= high")
        for key in ("rotation_prob", "flip_prob", "half_body_prob"):
            need(0.0 <= getattr(self, key) <= 1.0, key, "must be a probability in [0, 1]")
        need(self.half_body_enlarge > 0, "half_body_enlarge", "must be > 0")
        need(self.min_joints >= 0, "min_joints", "must be >= 0")
        need(self.cache_frames >= 0, "cache_frames", "must be >= 0")
        need(self.workers >= 0, "workers", "must be >= 0")
        need(0.0 <= self.box_score_threshold <= 1.0, "box_score_threshold", "must be in [0, 1]")

    def with_clip_spec(self, frames_per_side: int, input_size: tuple[int, int]) -> DataConfig:
        """This config cutting the clips a model with ``frames_per_side`` and ``image_size`` =
        ``input_size`` takes (itself when it already does)."""
        if self.frames_per_side == frames_per_side and tuple(self.input_size) == tuple(input_size):
            return self
        return dataclasses.replace(self, frames_per_side=int(frames_per_side), input_size=tuple(input_size))

    @property
    def num_frames(self) -> int:
        return 2 * self.frames_per_side + 1

    @property
    def heatmap_stride(self) -> int:
        return self.input_size[0] // self.heatmap_size[0]
