"""Looking inside a PSTPose for one joint of one person clip (``pstpose explain``).

The query is the keyframe token under the joint's *predicted* location. For it:

* DFE: the positive and negative softmax maps of Eq. 2 (the query's row, over the keys of all T
  frames, averaged over the heads) and the differential map ``positive - λ·negative`` (λ of
  Eq. 3; in channel mode the mean over the channels, since each channel has its own);
* FCG: DPC-KNN's clusters of all clip tokens, painted in distinct colours, the query's cluster
  highlighted;
* DSF: where the keys the query attends to were sampled: every token j reads its key at its own
  cell plus its predicted offset, and the query weighs those keys by softmax; the ``top`` keys of
  largest weight per offset group are drawn at their sampled positions (on the frame nearest
  the sampled time, size by weight, a line from the token's own cell when on its frame), with
  the query's own sampling point as a star.

``explain_clip`` returns the numbers (``Explanation``); ``render_explanation`` draws them;
``explain_source`` does both for a ``pstpose synth`` dataset folder (ground-truth boxes and
joints drawn) or a video/photo (the predictor's detector finds the person).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pstpose.engine.diagnostics import BlockRecorder, SyntheticTruth, TokenLayout
from pstpose.errors import OptionError

PANELS = ("input", "dfe", "fcg", "dsf")
GROUP_COLORS_BGR = ((255, 255, 0), (255, 0, 255), (0, 215, 255), (0, 140, 255), (80, 255, 80), (255, 120, 120))


# --- what is explained ---------------------------------------------------------------------------


@dataclass
class ClipView:
    """One person clip as the model sees it: RGB crops (T, H, W, 3) uint8, keyframe in the
    middle; ``gt_joints`` (T, 17, 2) PoseTrack-order joints in crop pixels (NaN: absent) when
    the truth is known; ``name`` names the output files."""

    crops: np.ndarray
    frame_indices: tuple[int, ...]
    name: str
    gt_joints: np.ndarray | None = None
    description: str = ""


@dataclass
class AttentionMaps:
    """DFE for the query: each map (T, rows, cols) over the clip's keys."""

    positive: np.ndarray
    negative: np.ndarray
    differential: np.ndarray
    lam: float
    lambda_mode: str


@dataclass
class ClusterMap:
    """FCG: the cluster of every clip token (T, rows, cols) and the query's cluster."""

    assignment: np.ndarray
    query_cluster: int


@dataclass
class SamplingMap:
    """DSF for the query: every key's offsets (G, T, rows', cols', 3) as (dt, dy, dx) in cells
    from its reference point ``reference`` (T, rows', cols', 3; with key stride 1 the key grid is
    the token grid and each key starts at its own cell), and the query's softmax weight on each
    sampled key (G, T, rows', cols'), averaged over the heads of each offset group.

    Per-query sampling (``per_query``): the query's own S samples, offsets (G, S, 3) from the
    query's cell ``reference`` (3,), and their weights (G, S)."""

    offsets: np.ndarray
    weights: np.ndarray
    reference: np.ndarray
    stride: int = 1
    per_query: bool = False

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every sample the query weighs, per group: start cells (G, M, 3), sampled cell positions
        (G, M, 3), both as (t, y, x), and weights (G, M)."""
        g = self.offsets.shape[0]
        starts = np.broadcast_to(self.reference, self.offsets.shape).reshape(g, -1, 3)
        return starts, starts + self.offsets.reshape(g, -1, 3), self.weights.reshape(g, -1)


@dataclass
class Explanation:
    joint: int
    joint_name: str
    predicted: np.ndarray  # (K, 2) keyframe joints in crop pixels
    scores: np.ndarray  # (K,)
    query: tuple[int, int, int]  # (frame, row, col) in the token grid
    layout: TokenLayout
    dfe: AttentionMaps | None = None
    fcg: ClusterMap | None = None
    dsf: SamplingMap | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    joint_set: Any = None  # the model's ``JointSet`` (names, skeleton) for drawing predictions

    @property
    def query_index(self) -> int:
        t, r, c = self.query
        return (t * self.layout.rows + r) * self.layout.cols + c


def joint_index(model: nn.Module, name: str) -> int:
    """The channel of joint ``name`` in ``model``'s joint set; an OptionError lists the names."""
    joints = model.joint_set.joints
    if name not in joints:
        raise OptionError("joint", f"unknown joint {name!r}; valid names: {', '.join(joints)}")
    return joints.index(name)


def _mixer(model: nn.Module, stage: str, kind: type, label: str) -> tuple[nn.Module | None, str | None]:
    """The stage's mixer when it is ``kind``; else None and why the panel is skipped."""
    if stage not in model.refine:
        return None, f"{label} is disabled in these weights (model.{stage}.enabled is false)"
    mixer = model.refine[stage].mixer
    if not isinstance(mixer, kind):
        return (
            None,
            f"these weights have a plain attention mixer where {label} would be (variant {model.config.variant})",
        )
    return mixer, None


def explain_clip(model: nn.Module, view: ClipView, joint: int | str) -> Explanation:
    """Run ``model`` on ``view`` and read out DFE, FCG and DSF for the query of ``joint``."""
    from pstpose.codec import decode_heatmaps, heatmap_stride
    from pstpose.models.dfe import DifferentialAttention
    from pstpose.models.dsf import DeformableFusion
    from pstpose.models.fcg import ClusterGuidance
    from pstpose.preprocess import heatmap_to_crop

    j = joint_index(model, joint) if isinstance(joint, str) else int(joint)
    layout = TokenLayout.of_model(model)
    expected = (layout.frames, *layout.image_size, 3)
    if tuple(view.crops.shape) != expected:
        raise ValueError(f"{view.name}: crops of shape {tuple(view.crops.shape)}, the model takes {expected}")
    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode(), BlockRecorder(model) as recorder:
        heatmaps = model(model.preprocess(torch.from_numpy(np.ascontiguousarray(view.crops[None])).to(device)))
    coords, scores = decode_heatmaps(heatmaps.float().cpu().numpy(), "dark")
    predicted = heatmap_to_crop(coords[0], heatmap_stride(tuple(heatmaps.shape[-2:]), layout.image_size))
    key = layout.frames // 2
    row, col = layout.cell_of(predicted[j])
    out = Explanation(j, model.joint_set.joints[j], predicted, scores[0], (key, int(row), int(col)), layout)
    out.joint_set = model.joint_set
    q = out.query_index
    grid = (layout.frames, layout.rows, layout.cols)

    def stage_input(stage: str) -> torch.Tensor:
        return recorder.records[stage]["mixer_in"]

    with torch.inference_mode():
        dfe, why = _mixer(model, "dfe", DifferentialAttention, "DFE")
        if dfe is None:
            out.skipped["dfe"] = why
        else:
            positive, negative = (m[0, :, q].double().mean(dim=0) for m in dfe.attention_maps(stage_input("dfe")))
            lam = dfe.lambda_value().double()
            lam_map = float(lam.mean())
            out.dfe = AttentionMaps(
                positive.cpu().numpy().reshape(grid),
                negative.cpu().numpy().reshape(grid),
                (positive - lam_map * negative).cpu().numpy().reshape(grid),
                lam_map,
                dfe.lambda_mode,
            )
        fcg, why = _mixer(model, "fcg", ClusterGuidance, "FCG")
        if fcg is None:
            out.skipped["fcg"] = why
        else:
            assignment = fcg.clusters(stage_input("fcg"))[1][0].cpu().numpy()
            out.fcg = ClusterMap(assignment.reshape(grid), int(assignment[q]))
        dsf, why = _mixer(model, "dsf", DeformableFusion, "DSF")
        if dsf is None:
            out.skipped["dsf"] = why
        else:
            offsets, attention = dsf.sampling(stage_input("dsf"))
            per_group = attention[0, :, q].double().reshape(dsf.groups, dsf.num_heads // dsf.groups, -1).mean(dim=1)
            if dsf.sampling_mode == "per_query":
                out.dsf = SamplingMap(
                    offsets[0, :, key, int(row), int(col)].double().cpu().numpy(),
                    per_group.cpu().numpy(),
                    np.array([key, row, col], dtype=np.float64),
                    per_query=True,
                )
            else:
                keys = dsf.key_grid
                out.dsf = SamplingMap(
                    offsets[0].double().cpu().numpy(),
                    per_group.cpu().numpy().reshape(dsf.groups, keys.frames, keys.height, keys.width),
                    dsf.reference_points().double().numpy(),
                    dsf.key_stride,
                )
    return out


# --- drawing ------------------------------------------------------------------------------------


def token_index_map(layout: TokenLayout) -> np.ndarray:
    """(H, W) index of the frame token (row-major) covering each input pixel; -1 where the patch
    convolution reaches no token (the last pixels of a side)."""
    h, w = layout.image_size
    out = np.full((h, w), -1, dtype=np.int64)
    for r in range(layout.rows):
        y0, y1 = layout.pixel_range(r, h)
        for c in range(layout.cols):
            x0, x1 = layout.pixel_range(c, w)
            out[y0:y1, x0:x1] = r * layout.cols + c
    return out


def paint_tokens(
    image_bgr: np.ndarray, colors_bgr: np.ndarray, alpha: np.ndarray | float, layout: TokenLayout, scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """Blend one colour per token (rows, cols, 3) over an input-size image upscaled by ``scale``;
    ``alpha`` per token (rows, cols) or one number. Returns (image, the token index of every
    painted pixel (-1: none))."""
    index = np.repeat(np.repeat(token_index_map(layout), scale, axis=0), scale, axis=1)
    flat_colors = np.asarray(colors_bgr, dtype=np.float64).reshape(-1, 3)
    flat_alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (layout.rows, layout.cols)).reshape(-1)
    out = image_bgr.astype(np.float64)
    painted = index >= 0
    a = flat_alpha[index[painted]][:, None]
    out[painted] = (1 - a) * out[painted] + a * flat_colors[index[painted]]
    return np.clip(np.round(out), 0, 255).astype(np.uint8), index


def _upscaled(crop_rgb: np.ndarray, scale: int, dim: float = 1.0) -> np.ndarray:
    import cv2

    h, w = crop_rgb.shape[:2]
    big = cv2.resize(np.ascontiguousarray(crop_rgb[..., ::-1]), (w * scale, h * scale), interpolation=cv2.INTER_LINEAR)
    return (big * dim).astype(np.uint8) if dim != 1.0 else big


def _sequential(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (rows, cols) → BGR colours of OpenCV's inferno map."""
    import cv2

    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_INFERNO)[:, 0]
    return lut[np.clip(np.round(values * 255), 0, 255).astype(np.int64)].astype(np.float64)


def _diverging(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] → BGR: blue (negative) through white to red (positive)."""
    v = np.clip(values, -1.0, 1.0)[..., None]
    white = np.array([255.0, 255.0, 255.0])
    red, blue = np.array([40.0, 40.0, 220.0]), np.array([220.0, 90.0, 30.0])
    return np.where(v >= 0, white + v * (red - white), white + (-v) * (blue - white))


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, color=(235, 235, 235)) -> None:
    import cv2

    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def _strip(width: int, text: str, height: int, scale: float) -> np.ndarray:
    strip = np.full((height, width, 3), 28, dtype=np.uint8)
    _text(strip, text, (6, int(height * 0.7)), scale)
    return strip


def _assemble(title: str, rows: list[tuple[str, list[np.ndarray]]], column_titles: list[str], scale: int) -> np.ndarray:
    """A figure: a title strip, then per row a label strip over its tiles side by side."""
    pad = 4
    font = 0.42 * scale / 2 + 0.12
    strip_h = int(22 * scale / 2 + 6)
    tile_h, tile_w = rows[0][1][0].shape[:2]
    width = len(column_titles) * (tile_w + pad) + pad
    parts = [_strip(width, title, strip_h, font)]
    header = np.full((strip_h, width, 3), 28, dtype=np.uint8)
    for i, name in enumerate(column_titles):
        _text(header, name, (pad + i * (tile_w + pad) + 4, int(strip_h * 0.7)), font)
    parts.append(header)
    for label, tiles in rows:
        parts.append(_strip(width, label, strip_h, font))
        line = np.full((tile_h + pad, width, 3), 28, dtype=np.uint8)
        for i, tile in enumerate(tiles):
            line[:tile_h, pad + i * (tile_w + pad) : pad + i * (tile_w + pad) + tile_w] = tile
        parts.append(line)
    return np.concatenate(parts, axis=0)


def _mark_query(tile: np.ndarray, layout: TokenLayout, row: int, col: int, scale: int) -> None:
    import cv2

    h, w = layout.image_size
    y0, y1 = layout.pixel_range(row, h)
    x0, x1 = layout.pixel_range(col, w)
    cv2.rectangle(tile, (x0 * scale, y0 * scale), (x1 * scale - 1, y1 * scale - 1), (255, 255, 255), 2, cv2.LINE_AA)


def _mark_joint(tile: np.ndarray, xy: np.ndarray | None, scale: int, gt: bool) -> None:
    import cv2

    if xy is None or not np.isfinite(xy).all():
        return
    p = (int(round((xy[0] + 0.5) * scale - 0.5)), int(round((xy[1] + 0.5) * scale - 0.5)))
    if gt:
        cv2.drawMarker(tile, p, (0, 0, 0), cv2.MARKER_CROSS, 6 * scale + 2, 4, cv2.LINE_AA)
        cv2.drawMarker(tile, p, (80, 255, 80), cv2.MARKER_CROSS, 6 * scale, 2, cv2.LINE_AA)
    else:
        cv2.circle(tile, p, 3 * scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.circle(tile, p, 3 * scale, (255, 255, 255), 1, cv2.LINE_AA)


def _gt_of(view: ClipView, expl: Explanation) -> np.ndarray | None:
    """(T, 2) ground truth of the explained joint, when known and named in PoseTrack's set."""
    from pstpose.keypoints import POSETRACK

    if view.gt_joints is None or expl.joint_name not in POSETRACK.joints:
        return None
    return view.gt_joints[:, POSETRACK.joints.index(expl.joint_name)]


def _decorate(tile: np.ndarray, t: int, view: ClipView, expl: Explanation, scale: int) -> np.ndarray:
    gt = _gt_of(view, expl)
    if gt is not None:
        _mark_joint(tile, gt[t], scale, gt=True)
    if t == expl.query[0]:
        _mark_query(tile, expl.layout, expl.query[1], expl.query[2], scale)
        _mark_joint(tile, expl.predicted[expl.joint], scale, gt=False)
    return tile


def _column_titles(view: ClipView) -> list[str]:
    key = len(view.frame_indices) // 2
    return [f"frame {f}" + (" (key)" if t == key else f" ({t - key:+d})") for t, f in enumerate(view.frame_indices)]


def render_explanation(view: ClipView, expl: Explanation, *, scale: int = 2, top: int = 12) -> dict[str, np.ndarray]:
    """BGR figures ``{"input", "dfe", "fcg", "dsf"}`` (a skipped module has none)."""
    from pstpose.keypoints import POSETRACK
    from pstpose.visualize import draw_poses, track_color

    layout, t_count = expl.layout, len(view.frame_indices)
    columns = _column_titles(view)
    legend = f"{expl.joint_name}: circle = predicted, box = query token"
    legend += ", green cross = ground truth" if view.gt_joints is not None else "; predicted pose on the keyframe"
    figures: dict[str, np.ndarray] = {}

    tiles = []
    for t in range(t_count):
        tile = _upscaled(view.crops[t], scale)
        if view.gt_joints is not None:
            tile = draw_poses(tile, (view.gt_joints[t] + 0.5) * scale - 0.5, thickness=1, joints=POSETRACK)
        elif t == expl.query[0] and expl.joint_set is not None:  # no truth: the predicted pose
            points = (expl.predicted + 0.5) * scale - 0.5
            tile = draw_poses(tile, points[None], expl.scores[None], thickness=1, joints=expl.joint_set)
        tiles.append(_decorate(tile, t, view, expl, scale))
    figures["input"] = _assemble(f"input clip {view.description}".strip(), [(legend, tiles)], columns, scale)

    if expl.dfe is not None:
        m = expl.dfe
        rows = []
        for label, values, diverging in (
            ("positive softmax(Q+ K+^T)", m.positive, False),
            ("negative softmax(Q- K-^T)", m.negative, False),
            (f"differential = positive - {m.lam:.3f} * negative", m.differential, True),
        ):
            peak = float(np.abs(values).max()) or 1.0
            row_tiles = []
            for t in range(t_count):
                v = values[t] / peak
                colors = _diverging(v) if diverging else _sequential(v)
                alpha = 0.1 + 0.75 * np.abs(v)  # near-zero weights leave the frame visible
                tile, _ = paint_tokens(_upscaled(view.crops[t], scale), colors, alpha, layout, scale)
                row_tiles.append(_decorate(tile, t, view, expl, scale))
            scale_note = f" (colour scale +-{peak:.4f})" if diverging else f" (max {peak:.4f})"
            rows.append((label + scale_note, row_tiles))
        lam_note = f"lambda = {m.lam:.3f}" + (" (mean over channels)" if m.lambda_mode == "channel" else "")
        figures["dfe"] = _assemble(f"DFE attention of the {expl.joint_name} query, {lam_note}", rows, columns, scale)

    if expl.fcg is not None:
        a = expl.fcg.assignment
        k = expl.fcg.query_cluster
        size = int((a == k).sum())
        frames_with = int(np.count_nonzero((a == k).reshape(t_count, -1).any(axis=1)))
        tiles = []
        for t in range(t_count):
            colors = np.array([track_color(int(c)) for c in a[t].reshape(-1)], dtype=np.float64).reshape(*a[t].shape, 3)
            mine = a[t] == k
            colors[mine] = (255.0, 255.0, 255.0)
            alpha = np.where(mine, 0.75, 0.45)
            tile, _ = paint_tokens(_upscaled(view.crops[t], scale, dim=0.8), colors, alpha, layout, scale)
            tiles.append(_decorate(tile, t, view, expl, scale))
        label = f"{int(a.max()) + 1} clusters; the query's cluster {k} (white): {size} tokens in {frames_with} frame(s)"
        figures["fcg"] = _assemble(
            f"FCG clusters (DPC-KNN) of all {a.size} clip tokens", [(label, tiles)], columns, scale
        )

    if expl.dsf is not None:
        figures["dsf"] = _render_sampling(view, expl, scale, top, columns)
    return figures


def _render_sampling(view: ClipView, expl: Explanation, scale: int, top: int, columns: list[str]) -> np.ndarray:
    import cv2

    layout, s = expl.layout, expl.dsf
    t_count = len(view.frame_indices)
    tiles = [_upscaled(view.crops[t], scale, dim=0.55) for t in range(t_count)]
    offset_px = (layout.patch - 1) / 2.0 - layout.padding

    def to_px(cells: np.ndarray) -> tuple[int, int]:
        x = layout.patch * cells[1] + offset_px
        y = layout.patch * cells[0] + offset_px
        return int(round((x + 0.5) * scale - 0.5)), int(round((y + 0.5) * scale - 0.5))

    notes = []
    starts, positions, weights = s.samples()
    if s.per_query:  # the star: the query's own cell, the centre its samples start around
        own = [s.reference] * len(weights)
    else:  # the star: the key sampled from the query's own reference point
        qt, qr, qc = expl.query[0], expl.query[1] // s.stride, expl.query[2] // s.stride
        own = positions[:, np.ravel_multi_index((qt, qr, qc), s.weights.shape[1:])]
    for g in range(len(weights)):
        color = GROUP_COLORS_BGR[g % len(GROUP_COLORS_BGR)]
        flat = weights[g]
        order = np.argsort(-flat, kind="stable")[:top]
        notes.append(
            f"group {g}: top {len(order)} {'samples' if s.per_query else 'keys'} = {100 * flat[order].sum():.0f}%"
        )
        peak = float(flat[order[0]]) or 1.0
        for idx in order:
            start, at = starts[g, idx], positions[g, idx]
            shown = int(np.clip(round(at[0]), 0, t_count - 1))
            target = to_px(at[1:])
            if shown == round(start[0]):
                cv2.line(tiles[shown], to_px(start[1:]), target, color, 1, cv2.LINE_AA)
            radius = int(round(scale * (1.5 + 4.0 * np.sqrt(flat[idx] / peak))))
            cv2.circle(tiles[shown], target, radius, color, -1, cv2.LINE_AA)
            cv2.circle(tiles[shown], target, radius, (0, 0, 0), 1, cv2.LINE_AA)
        shown = int(np.clip(round(own[g][0]), 0, t_count - 1))
        cv2.drawMarker(tiles[shown], to_px(own[g][1:]), color, cv2.MARKER_STAR, 8 * scale, 2)
    tiles = [_decorate(tile, t, view, expl, scale) for t, tile in enumerate(tiles)]
    star = "the query's own cell" if s.per_query else "the query's own sampling point"
    label = "; ".join(notes) + f"; star = {star}"
    title = f"DSF sampling points the {expl.joint_name} query attends to (colour = offset group, size = weight)"
    return _assemble(title, [(label, tiles)], columns, scale)


# --- sources ------------------------------------------------------------------------------------


def synthetic_view(
    model: nn.Module,
    root: str | Path,
    joint: str,
    *,
    frame: int | None = None,
    sequence: str | None = None,
    track: int | None = None,
) -> ClipView:
    """The clip of one person of a ``pstpose synth`` dataset, cropped at its ground-truth box.

    Defaults: the first val sequence (else the first), its middle frame, and the person whose
    ``joint`` is visible there with the largest box (else present, else the largest box).
    """
    from pstpose.data.clips import clip_frame_indices
    from pstpose.inference.crops import crop_clips, crop_matrices
    from pstpose.keypoints import POSETRACK
    from pstpose.media import read_image
    from pstpose.preprocess import apply_affine

    truth = SyntheticTruth(root)
    names = list(truth.sequences)
    if sequence is None:
        sequence = next((n for n in names if truth.splits[n] == "val"), names[0] if names else None)
    if sequence not in truth.sequences:
        raise OptionError("sequence", f"{root} has no sequence {sequence!r}; its sequences: {', '.join(names)}")
    frames = truth.sequences[sequence][1]
    frame = frames // 2 if frame is None else int(frame)
    if not 0 <= frame < frames:
        raise OptionError("frame", f"sequence {sequence} has frames 0..{frames - 1}, got {frame}")
    persons = truth.frame(sequence, frame)[1]
    if track is not None:
        persons = [p for p in persons if p.track_id == track]
        if not persons:
            raise OptionError("track", f"no person with track id {track} in frame {frame} of {sequence}")
    if not persons:
        raise ValueError(f"{root}: frame {frame} of {sequence} shows no person; choose another frame")
    j = POSETRACK.joints.index(joint) if joint in POSETRACK.joints else None

    def rank(p) -> tuple:
        area = float(p.bbox[2] * p.bbox[3])
        if j is None:
            return (0, 0, area)
        return (bool(p.keypoints[j, 2] > 0), bool(p.present[j]), area)

    person = max(persons, key=rank)
    layout = TokenLayout.of_model(model)
    indices = clip_frame_indices(frame, frames, layout.frames // 2)
    folder = "train" if truth.splits[sequence] == "train" else "val"
    images = [read_image(Path(root) / "images" / folder / sequence / f"{i:06d}.jpg", "bgr") for i in indices]
    x, y, w, h = (float(v) for v in person.bbox)
    matrix = crop_matrices(np.array([[x, y, x + w, y + h]]), layout.image_size)[0]
    crops = crop_clips(images, matrix[None], layout.image_size, normalize=False)[0]
    gt = np.full((len(indices), len(POSETRACK), 2), np.nan)
    for t, i in enumerate(indices):
        same = [p for p in truth.frame(sequence, i)[1] if p.track_id == person.track_id]
        if same:
            xy = same[0].keypoints[:, :2].copy()
            xy[~same[0].present] = np.nan
            gt[t] = apply_affine(xy, matrix)
    return ClipView(
        crops, tuple(indices), f"{sequence}_f{frame:04d}_t{person.track_id}", gt, f"{sequence}, track {person.track_id}"
    )


def media_view(
    model: nn.Module, source: str | Path, *, frame: int | None = None, detector: str = "hog", device: str = "cpu"
) -> ClipView:
    """The clip of the best-scoring person the detector finds in keyframe ``frame`` (default: the
    middle frame when the source says its length, else 0) of a video, frame folder or photo."""
    from pstpose.inference.crops import crop_clips, crop_matrices, sanitize_boxes
    from pstpose.inference.detectors import make_detector
    from pstpose.inference.sources import iter_clips, open_source

    src = open_source(source)
    if frame is None:
        frame = (src.num_frames // 2) if src.num_frames else 0
    if frame < 0:
        raise OptionError("frame", f"must be >= 0, got {frame}")
    layout = TokenLayout.of_model(model)
    clip = next((c for c in iter_clips(iter(src), layout.frames // 2) if c.index == frame), None)
    if clip is None:
        raise OptionError("frame", f"{source} has no frame {frame}")
    found = make_detector(detector, device=device).detect(clip.key.image, clip.index, clip.key.path)
    boxes, scores = sanitize_boxes(found, src.width, src.height)
    if not len(boxes):
        raise ValueError(f"{source}: the {detector} detector finds no person in frame {frame}; try another frame")
    best = int(np.argmax(scores))
    matrix = crop_matrices(boxes[best : best + 1], layout.image_size)
    crops = crop_clips(list(clip.frames), matrix, layout.image_size, normalize=False)[0]
    last = (src.num_frames or frame + 1) - 1
    half = layout.frames // 2
    indices = tuple(min(max(frame + d, 0), max(last, frame)) for d in range(-half, half + 1))
    return ClipView(crops, indices, f"{src.name}_f{frame:04d}", None, f"{src.name}, detection score {scores[best]:.2f}")


@dataclass
class ExplainResult:
    explanation: Explanation
    view: ClipView
    paths: dict[str, Path]


def explain_source(
    model: nn.Module,
    source: str | Path,
    joint: str,
    out_dir: str | Path,
    *,
    frame: int | None = None,
    sequence: str | None = None,
    track: int | None = None,
    detector: str = "hog",
    device: str = "cpu",
    scale: int = 2,
    top: int = 12,
) -> ExplainResult:
    """Explain ``joint`` for one person of ``source`` and write ``<name>_<joint>_<panel>.png``
    into ``out_dir``: a synthetic dataset folder (with ground truth) or a video/photo."""
    from pstpose.io import write_bytes

    joint_index(model, joint)  # a bad name fails before any frame is read
    if SyntheticTruth.present_at(source):
        view = synthetic_view(model, source, joint, frame=frame, sequence=sequence, track=track)
    else:
        view = media_view(model, source, frame=frame, detector=detector, device=device)
    expl = explain_clip(model, view, joint)
    figures = render_explanation(view, expl, scale=scale, top=top)
    paths = {}
    for panel in PANELS:
        if panel in figures:
            path = Path(out_dir) / f"{view.name}_{expl.joint_name}_{panel}.png"
            write_bytes(path, encode_png(figures[panel]))
            paths[panel] = path
    return ExplainResult(expl, view, paths)


def encode_png(image_bgr: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", image_bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()
