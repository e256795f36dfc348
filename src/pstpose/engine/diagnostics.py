"""Are the refinement modules alive? Figures of a trained PSTPose on a dataset of clips.

``module_diagnostics(model, data)`` runs the model over person clips and reports, as plain JSON:

* ``lambda``: DFE's learned λ (Eq. 3) per DFE module; in channel mode its mean, min and max
  (and every channel's value);
* ``residual_ratio``: per refinement block, ``||f(x)|| / ||x||`` of its two residual branches
  (mixer: ``f = mixer(LN(x))`` against the block input ``x``; mlp: ``f = mlp(LN(x'))`` against
  ``x' = x + mixer(LN(x))``), Frobenius norms over one clip's tokens, averaged over clips. A
  block whose ratios stay near 0 has learnt to do nothing;
* ``fcg``: purity of FCG's DPC-KNN clusters on body parts (the share of a cluster's tokens
  carrying its most common part label, averaged over clusters weighted by size), beside the
  purity of random clusters of the same sizes (the chance level for this clip's label mix);
  also over body tokens only (background tokens left out), where chance is much lower;
* ``dsf``: the spatial size of DSF's predicted offsets, in pixels of the model input, at the
  keyframe token under each ground-truth joint, binned by that joint's true speed (crop pixels
  per frame, from the ground truth of the neighbouring clip frames); and how much of the offsets
  is a fixed sampling pattern: ``pattern_share`` is the share of the offsets' spatial variance
  (over clips and tokens) explained by each token cell's mean over clips, ``content_px`` the RMS
  distance of an offset from that mean (what the clip's content changes). A pattern share near 1
  means DSF resamples every clip the same way: it cannot be following the motion.
  ``mean_offset_pattern`` returns that per-cell mean, and ``replaced_offsets`` runs the model
  with the offsets replaced (by the pattern, or by zeros) to measure what the content-dependent
  part is worth; ``replaced_lambda`` does the same for DFE's λ (e.g. back to its initial value).

Part label of a token (``TokenLayout`` says which input pixels a token covers):

* synthetic datasets (``pstpose synth``): the generator's per-pixel part map, re-rendered from the
  sequence seed in ``synthetic_summary.json``, warped into the crop (nearest pixel) and voted per
  token: the most frequent label among the token's pixels (ties: the lower label). Labels are the
  15 body parts of any person; background and static occluders are background (0);
* other datasets: from the annotated skeletons of every person in the frame: a token whose
  centre lies within ``skeleton_radius`` input pixels (default half a patch) of a limb segment
  (both joints present) takes the nearest segment's label, else background (0). Frames without
  annotations are unknown (-1) and left out of purity.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pstpose.data.synthetic.parts import PERSON_LABEL_STRIDE

BACKGROUND = 0
UNKNOWN = -1
DEFAULT_SPEED_EDGES: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, math.inf)
SYNTHETIC_SUMMARY = "synthetic_summary.json"
LAMBDA_VECTORS = ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2")


# --- token geometry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenLayout:
    """Which input pixels each token covers: the patch convolution's stride ``patch`` and
    ``padding``. Token (r, c) covers pixel indices [patch*r - padding, patch*(r+1) - padding)
    (rows; columns alike), clipped to the image; the last pixels of a side the convolution never
    reaches belong to no token."""

    frames: int
    rows: int
    cols: int
    patch: int
    padding: int
    image_size: tuple[int, int]  # (height, width) of the model input

    @classmethod
    def of_model(cls, model: nn.Module) -> TokenLayout:
        from pstpose.models.vit import PATCH_PADDING

        cfg = model.config
        grid = model.grid
        return cls(
            grid.frames,
            grid.height,
            grid.width,
            int(cfg.backbone.patch_size),
            PATCH_PADDING,
            tuple(int(v) for v in cfg.image_size),
        )

    @property
    def tokens_per_frame(self) -> int:
        return self.rows * self.cols

    def cell_of(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the token covering points (..., 2) in pixel-index coordinates, clamped to
        the grid (a pixel centre at x belongs to the token whose pixel range holds round(x))."""
        xy = np.asarray(xy, dtype=np.float64)
        col = np.floor((xy[..., 0] + 0.5 + self.padding) / self.patch).astype(np.int64)
        row = np.floor((xy[..., 1] + 0.5 + self.padding) / self.patch).astype(np.int64)
        return np.clip(row, 0, self.rows - 1), np.clip(col, 0, self.cols - 1)

    def pixel_range(self, index: int, size: int) -> tuple[int, int]:
        """Pixel indices [start, stop) of token row/column ``index`` along a side of ``size``."""
        start = self.patch * index - self.padding
        return max(start, 0), min(start + self.patch, size)

    def centres(self) -> np.ndarray:
        """(rows, cols, 2) xy centre of every token's (unclipped) pixel range."""
        offset = (self.patch - 1) / 2.0 - self.padding
        ys = self.patch * np.arange(self.rows) + offset
        xs = self.patch * np.arange(self.cols) + offset
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx, gy], axis=-1)


# --- pure measures -------------------------------------------------------------------------------


def cluster_purity(assignment: np.ndarray, labels: np.ndarray) -> float:
    """Size-weighted mean purity of clusters: sum over clusters of (tokens of its most common
    label) / (tokens counted). Tokens labelled below 0 (unknown) are not counted; NaN when none
    is left."""
    assignment = np.asarray(assignment).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if assignment.shape != labels.shape:
        raise ValueError(f"assignment {assignment.shape} and labels {labels.shape} differ in size")
    keep = labels >= 0
    if not keep.any():
        return float("nan")
    a, lab = assignment[keep].astype(np.int64), labels[keep].astype(np.int64)
    counts = np.zeros((int(a.max()) + 1, int(lab.max()) + 1), dtype=np.int64)
    np.add.at(counts, (a, lab), 1)
    return float(counts.max(axis=1).sum() / keep.sum())


def random_cluster_purity(assignment: np.ndarray, labels: np.ndarray, rng: np.random.Generator, repeats: int) -> float:
    """Chance level of ``cluster_purity``: the same cluster sizes, the counted labels shuffled
    among the counted tokens, averaged over ``repeats`` draws."""
    assignment = np.asarray(assignment).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    keep = labels >= 0
    if not keep.any():
        return float("nan")
    a, lab = assignment[keep], labels[keep]
    return float(np.mean([cluster_purity(a, rng.permutation(lab)) for _ in range(repeats)]))


def residual_ratio(branch: torch.Tensor, base: torch.Tensor) -> float:
    """``||branch|| / ||base||`` with Frobenius norms (a residual update against its input)."""
    denom = float(torch.linalg.vector_norm(base.double()))
    return float(torch.linalg.vector_norm(branch.double())) / denom if denom > 0 else float("nan")


def bin_by_speed(
    speeds: np.ndarray, values: np.ndarray, edges: Sequence[float] = DEFAULT_SPEED_EDGES
) -> list[dict[str, Any]]:
    """Group ``values`` by ``speeds`` into the half-open bins [edges[i], edges[i+1]); per bin the
    count, mean and median value and mean speed (None where the bin is empty). An infinite last
    edge is written as None (JSON has no infinity)."""
    speeds = np.asarray(speeds, dtype=np.float64).reshape(-1)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if speeds.shape != values.shape:
        raise ValueError(f"speeds {speeds.shape} and values {values.shape} differ in size")
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"speed bin edges must be at least two increasing numbers, got {edges}")
    rows = []
    for lo, hi in itertools.pairwise(edges):
        inside = (speeds >= lo) & (speeds < hi)
        chosen = values[inside]
        rows.append(
            {
                "speed": [lo, None if math.isinf(hi) else hi],
                "count": int(inside.sum()),
                "mean": float(chosen.mean()) if chosen.size else None,
                "median": float(np.median(chosen)) if chosen.size else None,
                "mean_speed": float(speeds[inside].mean()) if chosen.size else None,
            }
        )
    return rows


def joint_speeds(joints: np.ndarray, frame_indices: Sequence[int]) -> np.ndarray:
    """(K,) true speed of each keyframe joint in pixels per frame: the mean over the two clip
    neighbours of the keyframe of |displacement| / |frame index difference|; a neighbour that
    repeats the keyframe (video edge) or lacks the joint is left out; NaN when none is left.

    ``joints`` (T, K, 2), NaN where a joint is absent; the keyframe is the middle frame."""
    joints = np.asarray(joints, dtype=np.float64)
    key = joints.shape[0] // 2
    total = np.zeros(joints.shape[1])
    count = np.zeros(joints.shape[1])
    for t in (key - 1, key + 1):
        if not 0 <= t < joints.shape[0]:
            continue
        step = abs(int(frame_indices[t]) - int(frame_indices[key]))
        if step == 0:
            continue
        dist = np.linalg.norm(joints[t] - joints[key], axis=-1) / step
        ok = np.isfinite(dist)
        total[ok] += dist[ok]
        count[ok] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def lambda_report(model: nn.Module) -> dict[str, dict[str, Any]]:
    """λ of every DFE module, keyed by the module's name in ``model``: its mode, value (scalar
    mode) or mean/min/max/values (channel mode), λ_init, and ``adam_reach``.

    ``adam_reach`` is ||dλ/dθ||_1 over the four λ vectors θ (mean over channels in channel mode):
    Adam moves each parameter by at most about the learning rate per step, so λ moves by at most
    ``lr * adam_reach`` per step. The re-parameterisation makes it small where the vectors are:
    each entry of dλ/dθ is an entry of the *other* vector of its product (~0.1 at init)."""
    from pstpose.models.dfe import DifferentialAttention

    out: dict[str, dict[str, Any]] = {}
    for name, module in model.named_modules():
        if not isinstance(module, DifferentialAttention):
            continue
        with torch.no_grad():
            lam = module.lambda_value().detach().double().cpu()
            q1, k1, q2, k2 = (getattr(module, n).detach().double().cpu() for n in LAMBDA_VECTORS)
            if module.lambda_mode == "channel":
                reach = torch.exp(q1 * k1) * (q1.abs() + k1.abs()) + torch.exp(q2 * k2) * (q2.abs() + k2.abs())
            else:
                reach = (
                    torch.exp(q1 @ k1) * (q1.abs() + k1.abs()).sum() + torch.exp(q2 @ k2) * (q2.abs() + k2.abs()).sum()
                )
        entry: dict[str, Any] = {
            "mode": module.lambda_mode,
            "lambda_init": module.lambda_init,
            "adam_reach": float(reach.mean()),
        }
        if lam.ndim == 0:
            entry["value"] = float(lam)
        else:
            entry.update(mean=float(lam.mean()), min=float(lam.min()), max=float(lam.max()), values=lam.tolist())
        out[name or "dfe"] = entry
    return out


# --- part labels per token -----------------------------------------------------------------------


def part_of_label(labels: np.ndarray) -> np.ndarray:
    """Synthetic label map → part labels: 1 + body part for any person's part, 0 otherwise
    (background, static occluders)."""
    labels = np.asarray(labels).astype(np.int64)
    return np.where(labels >= PERSON_LABEL_STRIDE, 1 + labels % PERSON_LABEL_STRIDE, BACKGROUND)


def token_parts_from_pixels(part_map: np.ndarray, layout: TokenLayout) -> np.ndarray:
    """(H, W) part labels of one crop → (rows, cols) token labels: the most frequent label of each
    token's pixels (ties: the lower label)."""
    part_map = np.asarray(part_map, dtype=np.int64)
    h, w = part_map.shape
    out = np.zeros((layout.rows, layout.cols), dtype=np.int64)
    for r in range(layout.rows):
        y0, y1 = layout.pixel_range(r, h)
        for c in range(layout.cols):
            x0, x1 = layout.pixel_range(c, w)
            patch = part_map[y0:y1, x0:x1].reshape(-1)
            out[r, c] = int(np.bincount(patch).argmax()) if patch.size else BACKGROUND
    return out


def _segment_distances(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances (P, S) from points (P, 2) to segments a[s]-b[s] (S, 2)."""
    ab = b - a
    ap = points[:, None, :] - a[None]
    length2 = (ab * ab).sum(-1)
    t = np.clip((ap * ab[None]).sum(-1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    nearest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None, :] - nearest, axis=-1)


def token_parts_from_skeleton(
    persons_xy: np.ndarray, skeleton: Sequence[tuple[int, int]], layout: TokenLayout, radius: float
) -> np.ndarray:
    """(rows, cols) token labels of one crop from joints (P, K, 2) in crop pixels (NaN: absent):
    1 + index in ``skeleton`` of the nearest segment (both ends present, any person) within
    ``radius`` pixels of the token centre, else background (0)."""
    persons_xy = np.asarray(persons_xy, dtype=np.float64).reshape(-1, *np.shape(persons_xy)[-2:])
    centres = layout.centres().reshape(-1, 2)
    best = np.full(len(centres), np.inf)
    label = np.zeros(len(centres), dtype=np.int64)
    for person in persons_xy:
        for s, (i, j) in enumerate(skeleton):
            if not (np.isfinite(person[i]).all() and np.isfinite(person[j]).all()):
                continue
            d = _segment_distances(centres, person[i][None], person[j][None])[:, 0]
            closer = (d <= radius) & (d < best)
            best[closer] = d[closer]
            label[closer] = s + 1
    return label.reshape(layout.rows, layout.cols)


# --- clips with their ground truth ----------------------------------------------------------------


@dataclass
class DiagnosticClip:
    """One person clip and the ground truth the measures need.

    ``clip`` (T, 3, H, W) normalised as the model takes it; ``joints`` (T, K, 2) the person's
    joints in crop pixels per clip frame (NaN: absent or unannotated); ``frame_indices`` (T,)
    the video frame of each clip frame; ``token_parts`` (T, rows, cols) part labels (0
    background, -1 unknown) or None.
    """

    clip: torch.Tensor
    joints: np.ndarray
    frame_indices: np.ndarray
    token_parts: np.ndarray | None = None


class SyntheticTruth:
    """Ground truth of a ``pstpose synth`` dataset re-rendered from its summary: every frame's
    part label map and persons (also for the frames the annotation files leave unlabelled)."""

    def __init__(self, root: str | Path) -> None:
        from pstpose.data.synthetic.presets import SynthPreset

        self.root = Path(root)
        path = self.root / SYNTHETIC_SUMMARY
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
            knobs = {k: tuple(v) if isinstance(v, list) else v for k, v in summary["knobs"].items()}
            self.preset = SynthPreset(**knobs)
            self.height, self.width = int(summary["height"]), int(summary["width"])
            self.sequences = {s["name"]: (int(s["seed"]), int(s["frames"])) for s in summary["sequences"]}
            self.splits = {s["name"]: str(s["split"]) for s in summary["sequences"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a readable synthetic dataset summary ({exc})") from None
        self._plans: dict[str, Any] = {}
        # (labels (H, W) uint16, persons) of a frame; a clip's frames are asked for by every clip
        # whose window holds them, so the last few are kept.
        self.frame = lru_cache(maxsize=64)(self._render)

    @staticmethod
    def present_at(root: str | Path) -> bool:
        return (Path(root) / SYNTHETIC_SUMMARY).is_file()

    def _plan(self, sequence: str) -> Any:
        from pstpose.data.synthetic.sequence import plan_sequence

        if sequence not in self.sequences:
            raise ValueError(f"{self.root / SYNTHETIC_SUMMARY}: no sequence named {sequence!r}")
        if sequence not in self._plans:
            seed, frames = self.sequences[sequence]
            self._plans[sequence] = plan_sequence(
                seed=seed, frames=frames, height=self.height, width=self.width, preset=self.preset
            )
        return self._plans[sequence]

    def _render(self, sequence: str, frame_index: int) -> tuple[np.ndarray, list]:
        from pstpose.data.synthetic.sequence import render_planned_frame

        frame = render_planned_frame(self._plan(sequence), int(frame_index), degrade=False, with_labels=True)
        return frame.labels, frame.persons


def _present_xy(keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
    xy = np.asarray(keypoints, dtype=np.float64)[:, :2].copy()
    xy[~np.asarray(present, dtype=bool)] = np.nan
    return xy


def _warp_labels(labels: np.ndarray, matrix: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    import cv2

    h, w = image_size
    return cv2.warpAffine(
        labels.astype(np.uint16),
        np.asarray(matrix, dtype=np.float64),
        (w, h),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def dataset_clips(
    dataset: Any,
    layout: TokenLayout,
    *,
    sequences: Sequence | None = None,
    indices: Iterable[int] | None = None,
    skeleton: Sequence[tuple[int, int]] | None = None,
    skeleton_radius: float | None = None,
) -> Iterator[DiagnosticClip]:
    """``DiagnosticClip`` of the items of a ``PoseTrackClipDataset`` (evaluation mode).

    Synthetic datasets get their truth by re-rendering (``SyntheticTruth``); otherwise the
    annotated persons of ``sequences`` (the dataset's ground truth; without them only the
    keyframe person is known: no speeds, and part labels from that person alone).
    """
    from pstpose.keypoints import POSETRACK
    from pstpose.preprocess import apply_affine

    skeleton = POSETRACK.skeleton if skeleton is None else skeleton
    radius = layout.patch / 2.0 if skeleton_radius is None else float(skeleton_radius)
    truth = SyntheticTruth(dataset.root) if SyntheticTruth.present_at(dataset.root) else None
    frames_by_name = {}
    for seq in sequences or ():
        frames_by_name[seq.name] = {f.frame_index: f for f in seq.frames}
    for i in range(len(dataset)) if indices is None else indices:
        item = dataset[int(i)]
        sample = dataset.samples[int(i)]
        matrix = item["meta"]["matrix"].numpy()
        t_count = len(sample.frame_indices)
        joints = np.full((t_count, len(sample.keypoints), 2), np.nan)
        parts = np.full((t_count, layout.rows, layout.cols), UNKNOWN, dtype=np.int64)
        for t, frame_index in enumerate(sample.frame_indices):
            if truth is not None:
                labels, persons = truth.frame(sample.sequence, frame_index)
                parts[t] = token_parts_from_pixels(
                    part_of_label(_warp_labels(labels, matrix, layout.image_size)), layout
                )
                mine = [p for p in persons if p.track_id == sample.track_id]
                if mine:
                    joints[t] = apply_affine(_present_xy(mine[0].keypoints, mine[0].present), matrix)
                continue
            frame = frames_by_name.get(sample.sequence, {}).get(frame_index)
            if frame is not None and frame.is_labeled:
                everyone = [apply_affine(_present_xy(p.keypoints, p.present), matrix) for p in frame.persons]
                parts[t] = token_parts_from_skeleton(np.array(everyone), skeleton, layout, radius)
                mine = [p for p in frame.persons if p.track_id == sample.track_id]
                if mine:
                    joints[t] = apply_affine(_present_xy(mine[0].keypoints, mine[0].present), matrix)
            elif frame_index == sample.frame_index:
                joints[t] = apply_affine(_present_xy(sample.keypoints, sample.present), matrix)
                parts[t] = token_parts_from_skeleton(joints[t][None], skeleton, layout, radius)
        yield DiagnosticClip(item["clip"], joints, np.asarray(sample.frame_indices), parts)


# --- capturing the refinement blocks' internals ---------------------------------------------------


class BlockRecorder:
    """Forward hooks on every refinement block of a PSTPose: per block the input ``x``, the
    mixer's input ``LN(x)`` and output, the MLP's output, and DSF's offsets. Use as a context
    manager around forward calls; each call replaces what the last one recorded."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.records: dict[str, dict[str, torch.Tensor]] = {}
        self._handles: list = []

    def __enter__(self) -> BlockRecorder:
        from pstpose.models.dsf import DeformableFusion

        for name, block in self.model.refine.items():
            store = self.records.setdefault(name, {})

            def keep(key: str, store=store):
                def hook(_module, inputs, output):
                    store[key + "_in"] = inputs[0].detach()
                    store[key + "_out"] = output.detach()

                return hook

            self._handles.append(block.register_forward_hook(keep("block")))
            self._handles.append(block.mixer.register_forward_hook(keep("mixer")))
            self._handles.append(block.mlp.register_forward_hook(keep("mlp")))
            if isinstance(block.mixer, DeformableFusion):
                self._handles.append(block.mixer.offsets.register_forward_hook(keep("offsets")))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def _describe(values: list[float]) -> dict[str, float | None]:
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if not arr.size:
        return {"mean": None, "std": None}
    return {"mean": float(arr.mean()), "std": float(arr.std())}


def _clips_of(data: Any, model: nn.Module, layout: TokenLayout, split: str, sequences, max_clips, **kw):
    """Turn what ``module_diagnostics`` accepts into DiagnosticClips."""
    from torch.utils.data import DataLoader

    from pstpose.data.dataset import PoseTrackClipDataset
    from pstpose.engine.eval_data import select_samples

    if isinstance(data, (str, Path)):
        data, sequences = folder_dataset(Path(data), model, split)
    if isinstance(data, DataLoader):
        data = data.dataset
    if isinstance(data, PoseTrackClipDataset):
        if data.train:
            raise ValueError("module_diagnostics needs an evaluation dataset (train=False): augmentation moves joints")
        return dataset_clips(data, layout, sequences=sequences, indices=select_samples(data.samples, max_clips), **kw)
    return iter(data)


def folder_dataset(root: Path, model: nn.Module, split: str):
    """The evaluation dataset (ground-truth boxes) of ``root``'s ``split`` cut for ``model``."""
    from pstpose.config import DataConfig
    from pstpose.engine.eval_data import build_eval_dataset, data_for_model, load_split

    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such dataset folder")
    h, w = model.config.image_size
    data = DataConfig(root=str(root), input_size=(h, w), heatmap_size=(h // 4, w // 4), workers=0)
    data = data_for_model(data, model)
    _, sequences = load_split(data, split)
    return build_eval_dataset(data, sequences), sequences


def module_diagnostics(
    model: nn.Module,
    data: Any,
    *,
    split: str = "val",
    sequences: Sequence | None = None,
    max_clips: int | None = 200,
    batch_size: int = 8,
    speed_edges: Sequence[float] = DEFAULT_SPEED_EDGES,
    random_repeats: int = 20,
    seed: int = 0,
    skeleton_radius: float | None = None,
) -> dict[str, Any]:
    """The "are the modules alive?" figures (see the module docstring) as a JSON-ready dict.

    ``data``: a dataset folder (its ``split``, ground-truth boxes), a ``PoseTrackClipDataset`` in
    evaluation mode or a DataLoader over one (``sequences``: its ground truth, for speeds and
    part labels outside synthetic data), or an iterable of ``DiagnosticClip``. ``max_clips``
    spreads a subset of whole frames over a dataset (None: all).
    """
    from pstpose.models.dsf import DeformableFusion
    from pstpose.models.fcg import ClusterGuidance

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    layout = TokenLayout.of_model(model)
    clips = _clips_of(data, model, layout, split, sequences, max_clips, skeleton_radius=skeleton_radius)
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    ratios: dict[str, dict[str, list[float]]] = {n: {"mixer": [], "mlp": []} for n in model.refine}
    purity = {"all": [], "all_random": [], "body": [], "body_random": []}
    joint_offsets, joint_dt, joint_speed, all_offsets, all_dt = [], [], [], [], []
    motion_true, motion_looked = [], []  # per joint and neighbouring frame: true / attended displacement
    pattern = OffsetPattern()
    count = 0
    model.eval()

    def run(batch: list[DiagnosticClip]) -> None:
        with torch.inference_mode(), BlockRecorder(model) as rec:
            model(_stack(batch, device))
        for name, block in model.refine.items():
            r = rec.records[name]
            base_mlp = r["block_in"] + r["mixer_out"]
            for b in range(len(batch)):
                ratios[name]["mixer"].append(residual_ratio(r["mixer_out"][b], r["block_in"][b]))
                ratios[name]["mlp"].append(residual_ratio(r["mlp_out"][b], base_mlp[b]))
            if isinstance(block.mixer, ClusterGuidance):
                with torch.inference_mode():
                    _, assignment = block.mixer.clusters(r["mixer_in"])
                for b, clip in enumerate(batch):
                    if clip.token_parts is None:
                        continue
                    a, labels = assignment[b].cpu().numpy(), clip.token_parts.reshape(-1)
                    body = np.where(labels == BACKGROUND, UNKNOWN, labels)
                    purity["all"].append(cluster_purity(a, labels))
                    purity["all_random"].append(random_cluster_purity(a, labels, rng, random_repeats))
                    purity["body"].append(cluster_purity(a, body))
                    purity["body_random"].append(random_cluster_purity(a, body, rng, random_repeats))
            if isinstance(block.mixer, DeformableFusion):
                off = r["offsets_out"].double().cpu().numpy()  # (B, G, T, h, w, 3) cells
                pattern.add(off)
                spatial = layout.patch * np.hypot(off[..., 1], off[..., 2])
                all_offsets.append(spatial.reshape(-1))
                all_dt.append(np.abs(off[..., 0]).reshape(-1))
                key, stride = layout.frames // 2, block.mixer.key_stride
                with torch.inference_mode():
                    looked = block.mixer.attended_positions(r["mixer_in"]).cpu().numpy()  # (B, T, N, 2)
                for b, clip in enumerate(batch):
                    speeds = joint_speeds(clip.joints, clip.frame_indices)
                    for j in np.flatnonzero(np.isfinite(speeds)):
                        row, col = layout.cell_of(clip.joints[key, j])
                        krow, kcol = row // stride, col // stride  # the joint's reference point
                        joint_offsets.append(float(spatial[b, :, key, krow, kcol].mean()))
                        joint_dt.append(float(np.abs(off[b, :, key, krow, kcol, 0]).mean()))
                        joint_speed.append(float(speeds[j]))
                        query = (key * layout.rows + row) * layout.cols + col
                        for f in range(layout.frames):
                            moved = clip.joints[f, j] - clip.joints[key, j]  # (x, y) input px
                            if f == key or clip.frame_indices[f] == clip.frame_indices[key]:
                                continue
                            if np.isfinite(moved).all() and np.isfinite(looked[b, f, query]).all():
                                motion_true.append(moved)
                                motion_looked.append(layout.patch * (looked[b, f, query, ::-1] - (row, col)[::-1]))

    for batch in _batches(clips, batch_size):
        run(batch)
        count += len(batch)
    if count == 0:
        raise ValueError("module_diagnostics: the data holds no clips")
    report = _report(
        model, layout, count, ratios, purity, (joint_speed, joint_offsets, joint_dt), all_offsets, all_dt, speed_edges
    )
    if pattern.count:
        report["dsf"]["offset_pattern"] = pattern.summary(layout.patch)
    if "skipped" not in report["dsf"]:
        report["dsf"]["motion"] = motion_following(motion_true, motion_looked)
    return report


def motion_following(true: Sequence[np.ndarray], looked: Sequence[np.ndarray]) -> dict[str, Any]:
    """Does DSF's attention follow a joint into the neighbouring frames?

    Pairs of (x, y) displacements in input pixels: the joint's true move from the keyframe to a
    neighbouring frame, and where the query at the joint's keyframe cell attends in that frame
    relative to its own cell (``DeformableFusion.attended_positions``). ``slope``: the least-
    squares factor of looked on true through the origin (1 = follows, 0 = blind);
    ``correlation`` of the components; ``error_px`` the mean distance between the looked-at and the
    true displacement, beside ``still_error_px`` for attending straight at the own cell."""
    d = np.asarray(true, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(looked, dtype=np.float64).reshape(-1, 2)
    if d.shape != p.shape:
        raise ValueError(f"motion_following: {d.shape[0]} true and {p.shape[0]} looked-at displacements")
    out: dict[str, Any] = {"pairs": int(d.shape[0]), "slope": None, "correlation": None}
    if d.shape[0] == 0:
        return {**out, "error_px": None, "still_error_px": None}
    out["error_px"] = float(np.linalg.norm(p - d, axis=1).mean())
    out["still_error_px"] = float(np.linalg.norm(d, axis=1).mean())
    squares = float((d * d).sum())
    if squares > 0:
        out["slope"] = float((p * d).sum() / squares)
    if d.shape[0] >= 2 and d.std() > 0 and p.std() > 0:
        out["correlation"] = float(np.corrcoef(d.reshape(-1), p.reshape(-1))[0, 1])
    return out


def _stack(batch: list[DiagnosticClip], device: torch.device) -> torch.Tensor:
    return torch.stack([c.clip for c in batch]).to(device=device, dtype=torch.float32)


def _batches(clips: Iterable[DiagnosticClip], batch_size: int) -> Iterator[list[DiagnosticClip]]:
    batch: list[DiagnosticClip] = []
    for clip in clips:
        batch.append(clip)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


class OffsetPattern:
    """Running per-cell sums of DSF offsets (G, T, h, w, 3) over clips: their mean (the fixed
    sampling pattern) and how far single clips stray from it."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None  # sum over clips, cells
        self.squares = 0.0  # sum over clips and cells of |(dy, dx)|^2

    def add(self, offsets: np.ndarray) -> None:
        """``offsets``: (B, G, T, h, w, 3) in token cells, one row per clip."""
        summed = offsets.sum(axis=0)
        self.total = summed if self.total is None else self.total + summed
        self.squares += float((offsets[..., 1:] ** 2).sum())
        self.count += offsets.shape[0]

    def mean(self) -> np.ndarray:
        return self.total / self.count

    def summary(self, patch: int) -> dict[str, float | int]:
        cell_mean = self.mean()[..., 1:]
        cells = cell_mean[..., 0].size
        content = self.squares - self.count * float((cell_mean**2).sum())  # sum |o - cell mean|^2
        grand = cell_mean.reshape(-1, 2).mean(axis=0)
        spread = self.squares - self.count * cells * float((grand**2).sum())  # sum |o - grand mean|^2
        content = max(content, 0.0)
        return {
            "clips": self.count,
            "content_px": patch * math.sqrt(content / (self.count * cells)),
            "pattern_px": patch * float(np.hypot(cell_mean[..., 0], cell_mean[..., 1]).mean()),
            "pattern_share": 1.0 - content / spread if spread > 0 else 1.0,
        }


def _dsf_of(model: nn.Module):
    from pstpose.models.dsf import DeformableFusion

    return next((b.mixer for b in model.refine.values() if isinstance(b.mixer, DeformableFusion)), None)


def mean_offset_pattern(
    model: nn.Module, data: Any, *, split: str = "val", max_clips: int | None = 200, batch_size: int = 8
) -> torch.Tensor:
    """DSF's offsets (G, T, h, w, 3), in token cells, averaged per cell over the clips of ``data``
    (as ``module_diagnostics`` reads it): the sampling pattern DSF applies whatever the content."""
    dsf = _dsf_of(model)
    if dsf is None:
        raise ValueError("mean_offset_pattern: the model has no DSF module")
    layout = TokenLayout.of_model(model)
    device = next(model.parameters()).device
    pattern = OffsetPattern()
    model.eval()
    handle = dsf.offsets.register_forward_hook(lambda _m, _i, out: pattern.add(out.double().cpu().numpy()))
    try:
        for batch in _batches(_clips_of(data, model, layout, split, None, max_clips), batch_size):
            with torch.inference_mode():
                model(_stack(batch, device))
    finally:
        handle.remove()
    if not pattern.count:
        raise ValueError("mean_offset_pattern: the data holds no clips")
    return torch.from_numpy(pattern.mean()).float()


@contextlib.contextmanager
def replaced_offsets(model: nn.Module, offsets: torch.Tensor) -> Iterator[nn.Module]:
    """Run ``model`` with DSF's predicted offsets replaced by ``offsets`` ((G, T, h, w, 3) in token
    cells, the same for every clip; zeros = sample every token's own cell)."""
    dsf = _dsf_of(model)
    if dsf is None:
        raise ValueError("replaced_offsets: the model has no DSF module")

    def hook(_module, _inputs, output: torch.Tensor) -> torch.Tensor:
        if tuple(offsets.shape) != tuple(output.shape[1:]):
            raise ValueError(
                f"replaced_offsets: offsets of shape {tuple(offsets.shape)}, DSF predicts {tuple(output.shape[1:])}"
            )
        return offsets.to(output).expand_as(output)

    handle = dsf.offsets.register_forward_hook(hook)
    try:
        yield model
    finally:
        handle.remove()


def _report(model, layout, count, ratios, purity, joints, all_offsets, all_dt, speed_edges) -> dict[str, Any]:
    from pstpose.models.fcg import ClusterGuidance

    report: dict[str, Any] = {
        "clips": count,
        "grid": [layout.frames, layout.rows, layout.cols],
        "patch_size_px": layout.patch,
        "enabled": list(model.refine),
        "lambda": lambda_report(model),
        "residual_ratio": {n: {k: _describe(v) for k, v in r.items()} for n, r in ratios.items()},
    }
    fcg = next((b.mixer for b in model.refine.values() if isinstance(b.mixer, ClusterGuidance)), None)
    if fcg is None:
        report["fcg"] = {"skipped": "the model has no FCG module"}
    elif not purity["all"]:
        report["fcg"] = {"skipped": "no clip carries token part labels"}
    else:
        report["fcg"] = {
            "clusters": fcg.num_clusters,
            "clips": len(purity["all"]),
            "purity": _describe(purity["all"])["mean"],
            "random_purity": _describe(purity["all_random"])["mean"],
            "purity_body_tokens": _describe(purity["body"])["mean"],
            "random_purity_body_tokens": _describe(purity["body_random"])["mean"],
        }
    dsf = _dsf_of(model)
    if dsf is None:
        report["dsf"] = {"skipped": "the model has no DSF module"}
    else:
        speed, offsets, dts = (np.asarray(v, dtype=np.float64) for v in joints)
        spatial = np.concatenate(all_offsets) if all_offsets else np.zeros(0)
        report["dsf"] = {
            "offset_range_px": dsf.offsets.range_xy * layout.patch,
            "offset_range_frames": dsf.offsets.range_t,
            "all_tokens": {
                "offset_px_mean": float(spatial.mean()) if spatial.size else None,
                "offset_px_p95": float(np.percentile(spatial, 95)) if spatial.size else None,
                "offset_frames_mean": float(np.concatenate(all_dt).mean()) if all_dt else None,
            },
            "joints": int(speed.size),
            "speed_unit": "input (crop) pixels per frame",
            "offset_px_by_speed": bin_by_speed(speed, offsets, speed_edges),
            "offset_frames_by_speed": bin_by_speed(speed, dts, speed_edges),
        }
        if speed.size >= 3 and np.std(speed) > 0 and np.std(offsets) > 0:
            report["dsf"]["speed_offset_correlation"] = float(np.corrcoef(speed, offsets)[0, 1])
    return report


@contextlib.contextmanager
def replaced_lambda(model: nn.Module, value: float | torch.Tensor) -> Iterator[nn.Module]:
    """Run ``model`` with every DFE module's λ (Eq. 3) replaced by ``value`` (a number, or one
    weight per head channel in channel mode): what the learned λ is worth against, say, λ_init."""
    from pstpose.models.dfe import DifferentialAttention

    mixers = [b.mixer for b in model.refine.values() if isinstance(b.mixer, DifferentialAttention)]
    if not mixers:
        raise ValueError("replaced_lambda: the model has no DFE module")
    for mixer in mixers:
        fixed = torch.as_tensor(value, dtype=mixer.lambda_q1.dtype, device=mixer.lambda_q1.device)
        mixer.lambda_value = lambda fixed=fixed: fixed  # instance attribute shadows the method
    try:
        yield model
    finally:
        for mixer in mixers:
            del mixer.lambda_value
