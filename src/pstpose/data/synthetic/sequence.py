"""In-memory synthetic videos: ``render_sequence`` (all frames) and ``iter_frames`` (one at a
time, for long videos in flat memory). Encoding them is ``pstpose.media.write_video``'s job."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from pstpose.data.records import Frame, Person, Sequence
from pstpose.data.synthetic.degrade import apply_degradations
from pstpose.data.synthetic.motion import FPS
from pstpose.data.synthetic.presets import SynthPreset, get_preset
from pstpose.data.synthetic.render import draw_frame
from pstpose.data.synthetic.scene import ScenePlan, frame_rng, plan_scene
from pstpose.data.synthetic.visibility import PersonGT, frame_ground_truth
from pstpose.posetrack_ids import leading_video_id


@dataclass
class SyntheticFrame:
    index: int
    image: np.ndarray  # (H, W, 3) uint8 BGR
    persons: list[PersonGT]
    labels: np.ndarray | None = None  # (H, W) uint16 label map, when asked for
    label_depth: dict[int, float] | None = None  # depth of every drawn label, when asked for


@dataclass
class SyntheticSequence:
    """A rendered video and its ground truth. ``frames[t]`` and ``persons[t]`` belong together."""

    frames: list[np.ndarray]
    persons: list[list[PersonGT]]
    fps: float
    height: int
    width: int
    preset: str
    seed: int
    jpeg_quality: int  # the quality the dataset writer uses for this video
    actions: dict[int, str] = field(default_factory=dict)  # track id -> motion
    labels: list[np.ndarray] | None = None
    label_depth: list[dict[int, float]] | None = None

    def to_records(self, name: str = "000000_mpii_test", label_every: int = 1) -> Sequence:
        """The ground truth as the project's in-memory PoseTrack form (for evaluation)."""
        frames = []
        for t, persons in enumerate(self.persons):
            labeled = t % label_every == 0
            recs = [
                Person(
                    keypoints=p.keypoints.copy(),
                    present=p.present,
                    track_id=p.track_id,
                    bbox=p.bbox.copy(),
                    head_box=np.array(
                        [p.head_box[0], p.head_box[1], p.head_box[0] + p.head_box[2], p.head_box[1] + p.head_box[3]]
                    ),
                )
                for p in (persons if labeled else [])
            ]
            frames.append(
                Frame(
                    file_name=f"images/val/{name}/{t:06d}.jpg",
                    frame_index=t,
                    persons=recs,
                    is_labeled=labeled,
                    width=self.width,
                    height=self.height,
                )
            )
        return Sequence(name=name, frames=frames, format="pt18", nframes=len(frames), vid_id=leading_video_id(name))


def _resolve(preset: str | SynthPreset) -> tuple[str, SynthPreset]:
    if isinstance(preset, SynthPreset):
        return "custom", preset
    return preset, get_preset(preset)


def plan_sequence(
    *,
    seed: int,
    frames: int,
    height: int,
    width: int,
    preset: str | SynthPreset = "standard",
    people: int | None = None,
) -> ScenePlan:
    name, knobs = _resolve(preset)
    return plan_scene(int(seed), int(frames), int(height), int(width), knobs, name, people)


def render_planned_frame(plan: ScenePlan, t: int, *, degrade: bool = True, with_labels: bool = False) -> SyntheticFrame:
    drawn = draw_frame(plan, t, with_labels=True)
    persons = frame_ground_truth(plan, t, drawn.labels)
    image = drawn.image
    if degrade:
        image = apply_degradations(image.copy() if with_labels else image, drawn.labels, plan, t, frame_rng(plan, t))
    return SyntheticFrame(
        index=t,
        image=image,
        persons=persons,
        labels=drawn.labels if with_labels else None,
        label_depth=drawn.label_depth if with_labels else None,
    )


def iter_frames(
    *,
    seed: int,
    frames: int,
    height: int,
    width: int,
    preset: str | SynthPreset = "standard",
    people: int | None = None,
    degrade: bool = True,
    with_labels: bool = False,
) -> Iterator[SyntheticFrame]:
    """Render frames one at a time; memory stays flat however long the video is."""
    plan = plan_sequence(seed=seed, frames=frames, height=height, width=width, preset=preset, people=people)
    for t in range(plan.frames):
        yield render_planned_frame(plan, t, degrade=degrade, with_labels=with_labels)


def render_sequence(
    *,
    seed: int,
    frames: int,
    height: int,
    width: int,
    preset: str | SynthPreset = "standard",
    people: int | None = None,
    degrade: bool = True,
    with_labels: bool = False,
) -> SyntheticSequence:
    """Render a whole synthetic video in memory (nothing touches the disk).

    ``degrade=False`` gives the clean frames (no blur, noise or lighting changes) and
    ``with_labels=True`` also returns the part label maps; the ground truth is the same either way.
    """
    plan = plan_sequence(seed=seed, frames=frames, height=height, width=width, preset=preset, people=people)
    out = [render_planned_frame(plan, t, degrade=degrade, with_labels=with_labels) for t in range(plan.frames)]
    return SyntheticSequence(
        frames=[f.image for f in out],
        persons=[f.persons for f in out],
        fps=FPS,
        height=plan.height,
        width=plan.width,
        preset=plan.preset_name,
        seed=plan.seed,
        jpeg_quality=plan.jpeg_quality,
        actions={p.track_id: p.motion.action for p in plan.people},
        labels=[f.labels for f in out] if with_labels else None,
        label_depth=[f.label_depth for f in out] if with_labels else None,
    )
