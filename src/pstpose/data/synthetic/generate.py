"""Writing a whole synthetic dataset in the PoseTrack18 layout, optionally with worker processes.

Split: ``videos`` train sequences (every frame labeled) and ``val_videos`` val sequences (default
max(1, videos // 4); every 4th frame labeled, like PoseTrack). Each sequence's seed is derived
from (seed, split, index) alone, so the files are identical whatever the number of workers.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pstpose.data.synthetic.presets import SynthPreset, get_preset
from pstpose.data.synthetic.sequence import plan_sequence, render_planned_frame
from pstpose.data.synthetic.writer import sequence_json, sequence_name, write_jpeg
from pstpose.io import write_json
from pstpose.posetrack_ids import MAX_FRAMES

SUMMARY_NAME = "synthetic_summary.json"
VAL_LABEL_EVERY = 4
TRAIN_LABEL_EVERY = 1
MAX_VIDEOS = 99_999
GENERATOR_VERSION = 1
SPLIT_CODE = {"train": 1, "val": 2}


@dataclass(frozen=True)
class SequenceJob:
    out_dir: str
    split: str
    index: int
    video_number: int
    seed: int
    frames: int
    height: int
    width: int
    preset_name: str
    preset: SynthPreset


def sequence_seed(seed: int, split: str, index: int) -> int:
    """The seed of one sequence, from the dataset seed, the split and the index only."""
    return int(np.random.SeedSequence([int(seed), SPLIT_CODE[split], int(index)]).generate_state(1)[0])


def mean_joint_displacement(persons_per_frame: list[list]) -> tuple[float, int]:
    """Mean distance (pixels) a joint moves between consecutive frames, over joints present in
    both frames of the same track; returns (mean, number of joint pairs)."""
    total, count = 0.0, 0
    for prev, cur in itertools.pairwise(persons_per_frame):
        before = {p.track_id: p for p in prev}
        for p in cur:
            q = before.get(p.track_id)
            if q is None:
                continue
            both = p.present & q.present
            if both.any():
                total += float(np.linalg.norm(p.keypoints[both, :2] - q.keypoints[both, :2], axis=1).sum())
                count += int(both.sum())
    return (total / count if count else 0.0), count


def _run_job(job: SequenceJob) -> dict:
    plan = plan_sequence(
        seed=job.seed, frames=job.frames, height=job.height, width=job.width, preset=job.preset, people=None
    )
    name = sequence_name(job.video_number, job.split)
    folder = "train" if job.split == "train" else "val"
    root = Path(job.out_dir)
    persons = []
    for t in range(plan.frames):
        frame = render_planned_frame(plan, t)
        write_jpeg(root / "images" / folder / name / f"{t:06d}.jpg", frame.image, plan.jpeg_quality)
        persons.append(frame.persons)
    label_every = TRAIN_LABEL_EVERY if job.split == "train" else VAL_LABEL_EVERY
    content = sequence_json(job.video_number, job.split, persons, job.width, job.height, label_every)
    write_json(root / "annotations" / folder / f"{name}.json", content)
    disp, _ = mean_joint_displacement(persons)
    kps = [p.keypoints for frame in persons for p in frame]
    present = sum(int((~np.all(k == 0, axis=1)).sum()) for k in kps)
    visible = sum(int((k[:, 2] > 0).sum()) for k in kps)
    return {
        "name": name,
        "split": job.split,
        "seed": job.seed,
        "frames": plan.frames,
        "labeled_frames": sum(1 for im in content["images"] if im["is_labeled"]),
        "annotations": len(content["annotations"]),
        "people": len(plan.people),
        "actions": [p.motion.action for p in plan.people],
        "bursts": sum(1 for p in plan.people if p.motion.burst is not None),
        "occluders": len(plan.occluders),
        "background": plan.background_kind,
        "jpeg_quality": plan.jpeg_quality,
        "mean_joint_displacement_px": round(disp, 3),
        "visible_joint_fraction": round(visible / present, 4) if present else 0.0,
    }


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


JPEG_BYTES_PER_PIXEL = 0.25  # the synthetic frames' JPEG size, measured at quality 90 (~0.1-0.2), rounded up


def check_disk_space(out: Path, frames: int, height: int, width: int) -> None:
    """Refuse, before rendering, a dataset that cannot fit on the disk that would hold it."""
    import shutil

    anchor = out
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    need = int(frames * height * width * JPEG_BYTES_PER_PIXEL)
    free = shutil.disk_usage(anchor).free
    if need > free:
        raise ValueError(
            f"{out}: {frames} frames of {width}x{height} need about {need / 1024**3:.1f} GiB, "
            f"but only {free / 1024**3:.1f} GiB is free there"
        )


def generate_dataset(
    out_dir: str | Path,
    *,
    videos: int = 8,
    val_videos: int | None = None,
    frames: int = 24,
    height: int = 288,
    width: int = 384,
    seed: int = 0,
    preset: str | SynthPreset = "standard",
    workers: int = 1,
    overwrite: bool = False,
) -> dict:
    """Write ``videos`` train and ``val_videos`` val sequences under ``out_dir`` and return the
    summary (also written to ``out_dir/synthetic_summary.json``).

    ``workers > 1`` renders sequences in spawned processes (safe with OpenCV's threads); a script
    that calls it must do so under ``if __name__ == "__main__":``."""
    out = Path(out_dir)
    if val_videos is None:
        val_videos = max(1, videos // 4)
    if not (0 <= videos <= MAX_VIDEOS and 0 <= val_videos <= MAX_VIDEOS) or videos + val_videos == 0:
        raise ValueError(
            f"videos/val_videos must be between 0 and {MAX_VIDEOS} and not both 0, got {videos}/{val_videos}"
        )
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(
            f"frames must be between 1 and {MAX_FRAMES} (PoseTrack image ids have 4 frame digits), got {frames}"
        )
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"{out}: directory is not empty (overwrite it explicitly to write into it)")
    if isinstance(preset, SynthPreset):
        preset_name, knobs = "custom", preset
    else:
        preset_name, knobs = preset, get_preset(preset)
    plan_sequence(seed=0, frames=1, height=height, width=width, preset=knobs)  # validates sizes early
    check_disk_space(out, (videos + val_videos) * frames, height, width)

    jobs = [
        SequenceJob(
            str(out), split, i, number, sequence_seed(seed, split, i), frames, height, width, preset_name, knobs
        )
        for split, count, base in (("train", videos, 1), ("val", val_videos, 100_001))
        for i, number in zip(range(count), range(base, base + count))
    ]
    if workers == 1 or len(jobs) == 1:
        stats = [_run_job(j) for j in jobs]
    else:
        with mp.get_context("spawn").Pool(min(workers, len(jobs)), initializer=_init_worker) as pool:
            stats = pool.map(_run_job, jobs, chunksize=1)

    summary = _summary(stats, seed, preset_name, knobs, frames, height, width)
    write_json(out / SUMMARY_NAME, summary, indent=1)
    return summary


def _summary(
    stats: list[dict], seed: int, preset_name: str, knobs: SynthPreset, frames: int, height: int, width: int
) -> dict:
    from pstpose.data.synthetic.motion import FPS

    def split_totals(split: str) -> dict:
        rows = [s for s in stats if s["split"] == split]
        return {
            "sequences": [s["name"] for s in rows],
            "frames": sum(s["frames"] for s in rows),
            "labeled_frames": sum(s["labeled_frames"] for s in rows),
            "annotations": sum(s["annotations"] for s in rows),
            "label_every": TRAIN_LABEL_EVERY if split == "train" else VAL_LABEL_EVERY,
        }

    disp = [s["mean_joint_displacement_px"] for s in stats]
    vis = [s["visible_joint_fraction"] for s in stats]
    return {
        "generator": "pstpose.data.synthetic",
        "version": GENERATOR_VERSION,
        "format": "posetrack18",
        "seed": seed,
        "preset": preset_name,
        "knobs": knobs.to_dict(),
        "frames_per_video": frames,
        "height": height,
        "width": width,
        "fps": FPS,
        "splits": {"train": split_totals("train"), "val": split_totals("val")},
        "mean_joint_displacement_px": round(float(np.mean(disp)), 3) if disp else 0.0,
        "visible_joint_fraction": round(float(np.mean(vis)), 4) if vis else 0.0,
        "actions": {
            a: sum(s["actions"].count(a) for s in stats) for a in sorted({a for s in stats for a in s["actions"]})
        },
        "sequences": stats,
    }
