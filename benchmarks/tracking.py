"""Tracking quality on synthetic crowds: ID switches, MOTA, IDF1 and track ids per person.

Generates sequences of people (boxes + PoseTrack poses) walking across a 1280x720 frame, crossing
each other in pairs, passing behind pillars and behind each other, seen by a simulated detector
(box jitter, keypoint noise, missed detections, false positives, score noise; boxes of partly
hidden people cover their visible part and score lower). Every sequence has its own fixed seed.
Runs the previous tracker ("before", kept below as ``BeforeTracker``) and the current one
("after", with and without box scores: ``pstpose predict`` passes none unless told to) at two
detector score thresholds, and scores them with ``motmetrics`` (IoU >= 0.5 matches).

    python benchmarks/tracking.py [--sequences 24] [--frames 150] [--quick] [--out FILE]

Needs ``motmetrics`` (``pip install motmetrics==1.4.0``, with pandas).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pstpose.inference.tracker import Tracker, box_iou, oks_sigmas, pose_oks  # noqa: E402
from pstpose.keypoints import POSETRACK, JointSet  # noqa: E402

WIDTH, HEIGHT = 1280, 720
HORIZON = 0.3 * HEIGHT  # feet on this line would be at infinite distance
MIN_VISIBLE = 0.3  # people less visible than this are neither detected nor counted as truth


# --- the tracker before the lost-track / two-stage association, kept for comparison ------------
@dataclass
class BeforeConfig:
    iou_weight: float = 0.5
    pose_weight: float = 0.5
    min_similarity: float = 0.2
    max_missed: int = 10
    kpt_thr: float = 0.3
    velocity_smoothing: float = 0.5


@dataclass
class _BeforeTrack:
    track_id: int
    box: np.ndarray
    keypoints: np.ndarray | None
    visible: np.ndarray | None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    missed: int = 0


class BeforeTracker:
    """The previous algorithm: one Hungarian matching of every detection against every track on
    IoU + OKS with a constant-velocity shift, tracks ended after ``max_missed`` (10) frames, every
    unmatched detection a new track, box scores unused."""

    def __init__(self, config: BeforeConfig | None = None, joints: JointSet = POSETRACK):
        self.config = config or BeforeConfig()
        self.joints = joints
        self._tracks: list[_BeforeTrack] = []
        self._next_id = 0

    def _similarity(self, boxes, kpts, vis) -> np.ndarray:
        cfg = self.config
        gaps = np.array([t.missed + 1 for t in self._tracks], dtype=np.float64)
        shift = np.stack([t.velocity for t in self._tracks]) * gaps[:, None]
        pred_boxes = np.stack([t.box for t in self._tracks]) + np.tile(shift, 2)
        iou = box_iou(pred_boxes, boxes)
        if kpts is None or cfg.pose_weight <= 0:
            return iou
        has_pose = np.array([t.keypoints is not None for t in self._tracks])
        oks = np.full_like(iou, np.nan)
        if has_pose.any():
            idx = np.flatnonzero(has_pose)
            pred_kpts = np.stack([self._tracks[i].keypoints for i in idx]) + shift[idx, None, :]
            pred_vis = np.stack([self._tracks[i].visible for i in idx])
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            oks[idx] = pose_oks(pred_kpts, pred_vis, kpts, vis, areas, oks_sigmas(self.joints))
        total = cfg.iou_weight + cfg.pose_weight
        mixed = (cfg.iou_weight * iou + cfg.pose_weight * np.nan_to_num(oks)) / total
        return np.where(np.isnan(oks), iou, mixed)

    def update(self, boxes, keypoints=None, keypoint_scores=None) -> np.ndarray:
        cfg = self.config
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        kpts = vis = None
        if keypoints is not None:
            k = len(self.joints)
            kpts = np.asarray(keypoints, dtype=np.float64).reshape(n, k, 2)
            if keypoint_scores is None:
                vis = np.isfinite(kpts).all(-1)
            else:
                vis = np.asarray(keypoint_scores).reshape(n, k) >= cfg.kpt_thr
            vis[:, list(self.joints.unannotated)] = False
            kpts = np.nan_to_num(kpts)
        ids = np.full(n, -1, dtype=np.int64)
        matched: set[int] = set()
        if self._tracks and n:
            sim = self._similarity(boxes, kpts, vis)
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] >= cfg.min_similarity:
                    self._refresh(self._tracks[r], boxes[c], kpts, vis, c)
                    ids[c] = self._tracks[r].track_id
                    matched.add(r)
        for r, track in enumerate(self._tracks):
            if r not in matched:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= cfg.max_missed]
        for c in np.flatnonzero(ids < 0):
            self._tracks.append(
                _BeforeTrack(
                    track_id=self._next_id,
                    box=boxes[c].copy(),
                    keypoints=None if kpts is None else kpts[c].copy(),
                    visible=None if vis is None else vis[c].copy(),
                )
            )
            ids[c] = self._next_id
            self._next_id += 1
        return ids

    def _refresh(self, track: _BeforeTrack, box, kpts, vis, c: int) -> None:
        a = self.config.velocity_smoothing
        gap = track.missed + 1
        step = ((box[:2] + box[2:]) / 2 - (track.box[:2] + track.box[2:]) / 2) / gap
        track.velocity = a * step + (1 - a) * track.velocity
        track.box = box.copy()
        if kpts is not None:
            track.keypoints = kpts[c].copy()
            track.visible = vis[c].copy()
        track.missed = 0


# --- synthetic people -------------------------------------------------------------------------
# PoseTrack joints of a standing person: x from the body axis, y from the head top, in heights.
_TEMPLATE = np.array(
    [
        (0.0, 0.06),  # nose
        (0.0, 0.13),  # head_bottom
        (0.0, 0.0),  # head_top
        (0.04, 0.06),  # ears (not annotated in PoseTrack)
        (-0.04, 0.06),
        (0.10, 0.17),  # shoulders
        (-0.10, 0.17),
        (0.12, 0.33),  # elbows
        (-0.12, 0.33),
        (0.12, 0.47),  # wrists
        (-0.12, 0.47),
        (0.06, 0.52),  # hips
        (-0.06, 0.52),
        (0.06, 0.74),  # knees
        (-0.06, 0.74),
        (0.06, 0.97),  # ankles
        (-0.06, 0.97),
    ]
)
# forward swing of each joint per unit of sin(gait phase): legs and arms in counter-phase
_SWING = np.array([0, 0, 0, 0, 0, 0, 0, -0.04, 0.04, -0.08, 0.08, 0, 0, 0.06, -0.06, 0.12, -0.12])


@dataclass
class Detections:
    """One frame of the simulated detector: boxes (N, 4) xyxy, scores (N,), keypoints (N, 17, 2),
    keypoint scores (N, 17) and the true person of each (-1: a false positive)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    truth: np.ndarray


@dataclass
class Sequence:
    """A generated sequence: per frame the truth (ids, visible boxes) and the detections."""

    name: str
    people: int
    gt_ids: list[np.ndarray]
    gt_boxes: list[np.ndarray]
    detections: list[Detections]


def _paths(rng: np.random.Generator, frames: int, people: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre x, foot y and walking speed (P, T) of every person: crossing pairs and loners."""
    xs = np.zeros((people, frames))
    feet = np.zeros((people, frames))
    vx = np.zeros((people, frames))
    pairs = max(1, people // 2 - 1)
    p = 0
    for _ in range(pairs):  # two people meeting at a random place and time, at nearly the same depth
        meet_t, meet_x = rng.uniform(0.2, 0.8) * frames, rng.uniform(0.25, 0.75) * WIDTH
        foot = rng.uniform(0.55, 0.95) * HEIGHT
        for sign in (1, -1):
            v = sign * rng.uniform(1.0, 3.5)
            xs[p] = meet_x + v * (np.arange(frames) - meet_t)
            feet[p] = foot + rng.uniform(-20, 20) + rng.uniform(-0.15, 0.15) * np.arange(frames)
            vx[p] = v
            p += 1
    for q in range(p, people):  # loners: walking, turning or standing
        x0, foot0 = rng.uniform(-0.1, 1.1) * WIDTH, rng.uniform(0.5, 0.95) * HEIGHT
        v0 = 0.0 if rng.random() < 0.2 else rng.choice([-1, 1]) * rng.uniform(0.8, 3.5)
        v = np.full(frames, v0)
        if v0 and rng.random() < 0.3:  # turn back over 15 frames
            t0 = int(rng.integers(frames // 4, 3 * frames // 4))
            v[t0:] = v0 - 2 * v0 * np.clip((np.arange(frames - t0)) / 15, 0, 1)
        v = v + rng.normal(0, 0.05, frames)
        xs[q] = x0 + np.cumsum(v)
        feet[q] = foot0 + np.cumsum(rng.normal(0, 0.2, frames))
        vx[q] = v
    feet = np.clip(feet, 0.45 * HEIGHT, 0.98 * HEIGHT)
    return xs, feet, vx


def _visibility(boxes: np.ndarray, feet: np.ndarray, pillars: list[tuple[float, float]]):
    """Fraction of each box seen, the box around its seen part, and a function telling whether
    points are seen: frame edges, pillars (in front of everyone) and nearer people hide."""
    n = len(boxes)
    gx, gy = np.meshgrid((np.arange(8) + 0.5) / 8, (np.arange(16) + 0.5) / 16)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (128, 2) in box units

    def seen(i: int, pts: np.ndarray) -> np.ndarray:
        ok = (pts[:, 0] >= 0) & (pts[:, 0] < WIDTH) & (pts[:, 1] >= 0) & (pts[:, 1] < HEIGHT)
        for x1, x2 in pillars:
            ok &= ~((pts[:, 0] >= x1) & (pts[:, 0] < x2))
        for j in range(n):
            if j != i and feet[j] > feet[i]:  # j is nearer
                b = boxes[j]
                inset = 0.1 * (b[2] - b[0])  # a body fills its box less at the sides
                inside = (pts[:, 0] >= b[0] + inset) & (pts[:, 0] < b[2] - inset)
                ok &= ~(inside & (pts[:, 1] >= b[1]) & (pts[:, 1] < b[3]))
        return ok

    fractions, seen_boxes = np.zeros(n), boxes.copy()
    for i, b in enumerate(boxes):
        pts = b[:2] + grid * (b[2:] - b[:2])
        ok = seen(i, pts)
        fractions[i] = ok.mean()
        if ok.any() and fractions[i] < 0.9:
            cell = (b[2:] - b[:2]) / [16, 32]
            seen_boxes[i] = np.concatenate([pts[ok].min(0) - cell, pts[ok].max(0) + cell])
    return fractions, seen_boxes, seen


def make_sequence(
    index: int,
    frames: int = 150,
    people: int | None = None,
    pillars: int | None = None,
    det_threshold: float = 0.1,
    miss_rate: float = 0.05,
    fp_rate: float = 0.5,
    seed: int = 0,
) -> Sequence:
    """Sequence ``index`` (its own seed): 3-8 people and 0-2 pillars by default, by index."""
    rng = np.random.default_rng([seed, index])
    people = 3 + index % 6 if people is None else people
    pillars = index % 3 if pillars is None else pillars
    posts = []
    for _ in range(pillars):
        x = rng.uniform(0.15, 0.8) * WIDTH
        posts.append((x, x + rng.uniform(80, 160)))
    xs, feet, vx = _paths(rng, frames, people)
    build = rng.uniform(0.85, 1.15, people)  # body width of each person
    phase0 = rng.uniform(0, 2 * np.pi, people)
    gt_ids, gt_boxes, dets = [], [], []
    for t in range(frames):
        h = (feet[:, t] - HORIZON) * 0.8
        top = feet[:, t] - h
        stride = np.cumsum(np.abs(vx), axis=1)[:, t]
        swing = np.sin(phase0 + stride / (0.4 * h)) * np.sign(vx[:, t]) * (np.abs(vx[:, t]) > 0.3)
        joints = np.zeros((people, 17, 2))
        joints[..., 0] = (
            xs[:, t, None] + (_TEMPLATE[None, :, 0] * build[:, None] + _SWING * swing[:, None]) * h[:, None]
        )
        joints[..., 1] = top[:, None] + _TEMPLATE[None, :, 1] * h[:, None]
        lo, hi = joints.min(1), joints.max(1)
        pad = np.stack([0.08 * h, 0.03 * h], axis=1)
        boxes = np.concatenate([lo - pad, hi + pad], axis=1)
        fractions, seen_boxes, seen = _visibility(boxes, feet[:, t], posts)
        truth = np.flatnonzero(fractions >= MIN_VISIBLE)
        gt_ids.append(truth)
        gt_boxes.append(seen_boxes[truth])

        d_boxes, d_scores, d_kpts, d_kscores, d_truth = [], [], [], [], []
        for i in truth:
            if rng.random() > (1 - miss_rate) * min(1.0, 0.4 + fractions[i]):
                continue
            b = seen_boxes[i]
            size = (b[2:] - b[:2]) * np.exp(rng.normal(0, 0.04, 2))
            centre = (b[:2] + b[2:]) / 2 + rng.normal(0, 0.02 * h[i], 2)
            d_boxes.append(np.concatenate([centre - size / 2, centre + size / 2]))
            d_scores.append(np.clip(0.2 + 0.75 * fractions[i] ** 1.5 + rng.normal(0, 0.1), 0.02, 0.99))
            ok = seen(i, joints[i])
            noise = np.where(ok[:, None], 0.015, 0.1) * h[i]
            d_kpts.append(joints[i] + rng.normal(0, 1, (17, 2)) * noise)
            d_kscores.append(np.where(ok, rng.uniform(0.6, 0.95, 17), rng.uniform(0.0, 0.35, 17)))
            d_truth.append(i)
        for _ in range(rng.poisson(fp_rate)):  # false positives anywhere, mostly weak
            fh = rng.uniform(80, 300)
            cx, ftop = rng.uniform(0, WIDTH), rng.uniform(0.2 * HEIGHT, HEIGHT - fh)
            d_boxes.append(np.array([cx - 0.2 * fh, ftop, cx + 0.2 * fh, ftop + fh]))
            d_scores.append(0.1 + 0.7 * rng.beta(2, 4))
            d_kpts.append(
                np.column_stack([cx + _TEMPLATE[:, 0] * fh, ftop + _TEMPLATE[:, 1] * fh])
                + rng.normal(0, 0.08 * fh, (17, 2))
            )
            d_kscores.append(rng.uniform(0.0, 0.6, 17))
            d_truth.append(-1)
        keep = np.flatnonzero(np.asarray(d_scores) >= det_threshold) if d_scores else np.zeros(0, np.int64)
        keep = keep[rng.permutation(len(keep))]  # detections in no particular order
        dets.append(
            Detections(
                boxes=np.asarray(d_boxes, dtype=np.float64).reshape(-1, 4)[keep],
                scores=np.asarray(d_scores, dtype=np.float64)[keep],
                keypoints=np.asarray(d_kpts, dtype=np.float64).reshape(-1, 17, 2)[keep],
                keypoint_scores=np.asarray(d_kscores, dtype=np.float64).reshape(-1, 17)[keep],
                truth=np.asarray(d_truth, dtype=np.int64)[keep],
            )
        )
    return Sequence(f"seq{index:02d}", people, gt_ids, gt_boxes, dets)


# --- running and scoring ----------------------------------------------------------------------
def run_tracker(tracker, seq: Sequence, box_scores: bool = True) -> list[np.ndarray]:
    """The ids a tracker gives each frame's detections (``box_scores``: pass the detector scores)."""
    out = []
    for d in seq.detections:
        if isinstance(tracker, BeforeTracker) or not box_scores:
            out.append(tracker.update(d.boxes, d.keypoints, d.keypoint_scores))
        else:
            out.append(tracker.update(d.boxes, d.keypoints, d.keypoint_scores, box_scores=d.scores))
    return out


def count_id_switches(seq: Sequence, ids: list[np.ndarray]) -> int:
    """Times a person's detections change track id from one tracked detection to the next,
    read from the generator's truth (no box matching)."""
    last: dict[int, int] = {}
    switches = 0
    for d, frame_ids in zip(seq.detections, ids):
        for person, tid in zip(d.truth, frame_ids):
            if person < 0 or tid < 0:
                continue
            if person in last and last[person] != tid:
                switches += 1
            last[int(person)] = int(tid)
    return switches


def _accumulator(seq: Sequence, ids: list[np.ndarray]):
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for gt_ids, gt_boxes, d, frame_ids in zip(seq.gt_ids, seq.gt_boxes, seq.detections, ids):
        kept = frame_ids >= 0
        iou = box_iou(gt_boxes, d.boxes[kept])
        dist = np.where(iou >= 0.5, 1 - iou, np.nan)  # motmetrics' own iou_matrix needs numpy < 2
        acc.update(gt_ids.tolist(), frame_ids[kept].tolist(), dist)
    return acc


VARIANTS = {
    "before": (BeforeTracker, False),
    "after, no box scores": (Tracker, False),
    "after": (Tracker, True),
}


def evaluate(sequences: list[Sequence]) -> dict[str, dict]:
    """Overall and per-sequence figures of every variant on ``sequences``."""
    import motmetrics as mm

    mh = mm.metrics.create()
    names = [s.name for s in sequences]
    out = {}
    for variant, (make, scores) in VARIANTS.items():
        runs, seconds, updates = [], 0.0, 0
        for seq in sequences:
            start = time.perf_counter()
            runs.append(run_tracker(make(), seq, box_scores=scores))
            seconds += time.perf_counter() - start
            updates += len(seq.detections)
        accs = [_accumulator(s, r) for s, r in zip(sequences, runs)]
        summary = mh.compute_many(
            accs,
            metrics=["num_switches", "mota", "idf1", "num_unique_objects", "num_false_positives", "num_misses"],
            names=names,
            generate_overall=True,
        )
        ids = [len({int(i) for f in r for i in f if i >= 0}) for r in runs]
        overall = summary.loc["OVERALL"]
        out[variant] = {
            "id_switches": int(overall["num_switches"]),
            "mota": round(float(overall["mota"]), 4),
            "idf1": round(float(overall["idf1"]), 4),
            "false_positives": int(overall["num_false_positives"]),
            "misses": int(overall["num_misses"]),
            "track_ids": int(sum(ids)),
            "true_people": int(sum(int(summary.loc[n, "num_unique_objects"]) for n in names)),
            "id_switches_by_truth": int(sum(count_id_switches(s, r) for s, r in zip(sequences, runs))),
            "ms_per_frame": round(1000 * seconds / max(updates, 1), 4),
            "per_sequence_id_switches": {n: int(summary.loc[n, "num_switches"]) for n in names},
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=24)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--thresholds", default="0.1,0.5", help="detector score thresholds, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="6 sequences of 60 frames")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tracking.json"))
    args = parser.parse_args()
    if args.quick:
        args.sequences, args.frames = 6, 60
    try:
        import motmetrics
    except ImportError:
        print("benchmarks/tracking.py needs motmetrics: pip install motmetrics==1.4.0", file=sys.stderr)
        return 1
    try:
        thresholds = [float(v) for v in args.thresholds.split(",")]
    except ValueError:
        print(f"--thresholds: expected comma-separated numbers, got {args.thresholds!r}", file=sys.stderr)
        return 2

    from pstpose.inference.tracker import TrackerConfig
    from pstpose.io import write_json

    results = {}
    print(f"{args.sequences} sequences x {args.frames} frames, {WIDTH}x{HEIGHT}, seed {args.seed}")
    print(f"{'det thr':>7}  {'tracker':<22}{'IDsw':>6}{'MOTA':>8}{'IDF1':>8}{'ids':>6}{'people':>8}{'ms/frame':>10}")
    for thr in thresholds:
        seqs = [make_sequence(i, args.frames, det_threshold=thr, seed=args.seed) for i in range(args.sequences)]
        res = evaluate(seqs)
        results[f"{thr:g}"] = res
        for variant, r in res.items():
            print(
                f"{thr:>7g}  {variant:<22}{r['id_switches']:>6}{r['mota']:>8.3f}{r['idf1']:>8.3f}"
                f"{r['track_ids']:>6}{r['true_people']:>8}{r['ms_per_frame']:>10.3f}"
            )
    record = {
        "benchmark": "tracking",
        "sequences": args.sequences,
        "frames": args.frames,
        "frame_size": [WIDTH, HEIGHT],
        "seed": args.seed,
        "detector_thresholds": thresholds,
        "match_iou": 0.5,
        "before_config": asdict(BeforeConfig()),
        "after_config": asdict(TrackerConfig()),
        "results": results,
        "motmetrics": motmetrics.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = Path(args.out)
    write_json(out, record, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
