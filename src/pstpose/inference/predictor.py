"""The streaming video pose pipeline: frames → boxes → clip crops → model → keypoints → tracks.

Works with any ``torch.nn.Module`` mapping a clip batch (B, T, 3, H, W) (ImageNet-normalised
RGB, keyframe in the middle) to heatmaps (B, K, H/4, W/4) — ``PSTPose`` or a stand-in.

Batching: all persons of a keyframe go through the model together, and up to ``batch_size``
keyframes are grouped into one call. With ``detect_every > 1`` a frame between detections takes
its boxes from the previous frame's keypoints, so the group is flushed before such a frame.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pstpose.codec import decode_heatmaps, flip_back, heatmap_stride, to_image_coords
from pstpose.devices import precision_autocast
from pstpose.inference.crops import crop_clips, crop_matrices, sanitize_boxes
from pstpose.inference.detectors import Detector, GivenBoxes, boxes_from_keypoints, make_detector
from pstpose.inference.outputs import OutputSpec
from pstpose.inference.prefetch import prefetch
from pstpose.inference.results import PoseResult
from pstpose.inference.sources import Clip, FrameSource, SourceFrame, iter_clips, open_source
from pstpose.inference.streaming import CLIP_MODES, EmbeddedFrame, clip_frame_indices, link_boxes
from pstpose.inference.timing import StageTimes
from pstpose.inference.tracker import Tracker
from pstpose.preprocess import INPUT_SIZE, normalize_rgb

if TYPE_CHECKING:
    import torch


def model_device(model):
    """The device of a module's first parameter or buffer (CPU for a parameterless module)."""
    import torch

    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def model_input_size(model) -> tuple[int, int]:
    config = getattr(model, "config", None)
    return tuple(getattr(config, "image_size", INPUT_SIZE))


def model_joint_set(model, num_channels: int | None = None):
    """What ``model``'s heatmap channels are (``pstpose.keypoints.JointSet``): its own
    ``joint_set``, else PoseTrack's for 17 channels (a stand-in model) or unnamed ones."""
    from pstpose.keypoints import POSETRACK, generic_joint_set

    joints = getattr(model, "joint_set", None)
    if joints is not None:
        return joints
    if num_channels is None or num_channels == len(POSETRACK):
        return POSETRACK
    return generic_joint_set(num_channels)


def model_frames_per_side(model) -> int | None:
    """ξ of the clips ``model`` takes, from its config (the owner of the clip spec); None for a
    model without one (a stand-in)."""
    config = getattr(model, "config", None)
    return getattr(config, "frames_per_side", None)


def clip_frames_per_side(model: Any, frames_per_side: int | None = None) -> int:
    """ξ to cut clips with: the model's own; ``frames_per_side`` is for a model without a config.

    Asking a model for clips of another length than it was built for is a ValueError (the
    model would fail on its first batch, or, without a shape check, mix up its frames).
    """
    native = model_frames_per_side(model)
    if native is None:
        if frames_per_side is None:
            raise ValueError("the model has no config.frames_per_side; pass frames_per_side")
        return int(frames_per_side)
    if frames_per_side is not None and frames_per_side != native:
        raise ValueError(
            f"frames_per_side={frames_per_side}: the model was built for ξ={native} "
            f"(clips of {2 * native + 1} frames); use weights trained with ξ={frames_per_side}"
        )
    return int(native)


def _to_model_input(model, chunk: np.ndarray, device):
    """A chunk of crops → normalised float tensor (B, T, 3, H, W) on ``device``.

    uint8 RGB crops (B, T, H, W, 3) move as bytes and are normalised by the model's own
    ``preprocess`` (a module without one gets the data pipeline's ``normalize_rgb``); float
    crops are taken as already normalised.
    """
    import torch

    if chunk.dtype != np.uint8:
        return torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32)).to(device)
    if hasattr(model, "preprocess"):
        return model.preprocess(torch.from_numpy(np.ascontiguousarray(chunk)).to(device))
    return torch.from_numpy(normalize_rgb(chunk)).to(device)


def run_model(
    model, crops: np.ndarray, *, flip: bool = False, device=None, max_batch: int = 64, precision: str = "fp32"
) -> np.ndarray:
    """Clip crops → heatmaps (M, K, h, w) float32, in chunks of ``max_batch`` clips.

    ``precision`` ``"bf16"`` runs the model under bfloat16 autocast (weights stay fp32; the
    heatmaps come back as float32 for decoding); ``"fp32"`` runs it as it is.
    crops: normalised float (M, T, 3, H, W) as from ``crop_clips``, or RGB uint8 (M, T, H, W, 3)
    from ``crop_clips(..., normalize=False)``. With ``flip`` each chunk also runs mirrored (in
    the same forward call) and the flipped-back heatmaps are averaged with the plain ones.
    """
    import torch

    crops = np.asarray(crops)
    if crops.ndim != 5 or (crops.dtype == np.uint8 and crops.shape[-1] != 3):
        raise ValueError(f"crops must be (M, T, 3, H, W) float or (M, T, H, W, 3) uint8, got {crops.shape}")
    device = device or model_device(model)
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(crops), max_batch):
            x = _to_model_input(model, crops[start : start + max_batch], device)
            n = len(x)
            with precision_autocast(precision, device):
                y = model(torch.cat([x, x.flip(-1)]) if flip else x)
            y = y.float() if hasattr(y, "float") else y
            if not hasattr(y, "shape") or y.ndim != 4 or y.shape[0] != (2 * n if flip else n):
                raise ValueError(
                    f"the model must return heatmaps (B, K, h, w) for a batch of {n} clips, "
                    f"got {getattr(y, 'shape', type(y).__name__)}"
                )
            if flip:
                y = average_flipped(y, n, model_joint_set(model, y.shape[1]))
            outputs.append(y.float().cpu().numpy())
    if not outputs:
        return np.zeros((0, 0, 0, 0), dtype=np.float32)
    return np.concatenate(outputs)


def average_flipped(heatmaps, n: int, joints):
    """Flip test: the first ``n`` heatmaps averaged with the last ``n`` (from mirrored crops)
    flipped back, left and right joints swapped by ``joints``."""
    return (heatmaps[:n] + flip_back(heatmaps[n:], joints.flip_permutation())) / 2


def estimate_poses(
    model,
    frames: Sequence[np.ndarray],
    boxes: np.ndarray,
    *,
    flip: bool = False,
    decode_method: str = "dark",
    device=None,
    max_batch: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """The low-level call: one clip's frames + keyframe boxes → keypoints in image coordinates.

    frames: the 2ξ+1 BGR uint8 frames of the clip, keyframe in the middle, all one size.
    boxes: (N, 4|5) [x1, y1, x2, y2(, score)] persons in the keyframe; used as given (no
    clipping), a zero-size or non-finite box raises ValueError.
    Returns (keypoints (N, K, 2) float64, scores (N, K) heatmap peaks), K the model's joints.
    """
    frames = list(frames)
    fps_model = model_frames_per_side(model)
    if fps_model is not None and len(frames) != 2 * fps_model + 1:
        raise ValueError(f"the model takes clips of {2 * fps_model + 1} frames, got {len(frames)}")
    if not frames or len({f.shape for f in frames}) != 1:
        raise ValueError("a clip needs at least one frame and all its frames must have one shape")
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        k = len(model_joint_set(model))
        return np.zeros((0, k, 2)), np.zeros((0, k))
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f"boxes must have shape (N, 4) or (N, 5), got {boxes.shape}")
    input_size = model_input_size(model)
    mats = crop_matrices(boxes[:, :4], input_size)
    crops = crop_clips(frames, mats, input_size, normalize=False)
    heatmaps = run_model(model, crops, flip=flip, device=device, max_batch=max_batch)
    coords, scores = decode_heatmaps(heatmaps, decode_method)
    stride = heatmap_stride(heatmaps.shape[-2:], input_size)
    return to_image_coords(coords, mats, stride), scores


@dataclass
class PredictionRun:
    """What ``PosePredictor.predict_to_files`` wrote and how long it took."""

    paths: dict[str, Path]  # output kind ("native", "coco", "posetrack18", "video") -> file
    times: StageTimes
    seconds: float

    def summary(self) -> str:
        rate = self.times.frames / max(self.seconds, 1e-9)
        return (
            f"{self.times.frames} frames, {self.times.persons} persons in {self.seconds:.1f} s "
            f"({rate:.1f} frames/s, {self.times.persons / max(self.seconds, 1e-9):.1f} persons/s)"
        )


@dataclass
class _Pending:
    key: SourceFrame
    boxes: np.ndarray  # (N, 4) sanitised
    box_scores: np.ndarray
    matrices: np.ndarray  # (N, 2, 3)
    crops: np.ndarray  # (N, T, H, W, 3) RGB uint8


class PosePredictor:
    """Streams a source through detection, cropping, the model, decoding and tracking.

    model: a PSTPose (or any module mapping clips to heatmaps), or weights for
        ``pstpose.models.load_model`` (a folder, ``.safetensors`` or trainer ``.pt``; None = the
        packaged default weights).
    detector: a ``Detector``, a spec string (``"hog"``, ``"boxes:FILE"``, ``"torchvision"``), or a
        mapping frame index → boxes (wrapped in ``GivenBoxes``).
    frames_per_side: ξ, for a model without a config; a PSTPose's own ξ is used (another value
        is refused, see ``clip_frames_per_side``).
    score_by_box: multiply joint scores by the box score.
    keep_images: results keep their BGR frame (needed by ``PoseResult.plot``).
    overlap: decode, detect and crop the next frames in a background thread while the model runs
        (``pstpose.inference.prefetch``); stage times then overlap and add up to more than the wall
        time. Not with ``detect_every`` > 1, whose frames need the previous frame's poses.
    clip_mode: ``"exact"`` (the paper's: the keyframe box crops every frame of its clip) or
        ``"streaming"`` (each frame's persons are embedded once, with their own boxes, and reused
        by the neighbouring clips; ``pstpose.inference.streaming``). Streaming needs a PSTPose
        and ``detect_every`` = 1; photos and single-frame models always run exact.
    precision: ``"fp32"``, ``"bf16"`` (bfloat16 autocast; needs native bf16 units) or ``"auto"``
        (bf16 on CUDA GPUs that support it, else fp32; ``pstpose.devices.resolve_precision``).
    """

    def __init__(
        self,
        model: torch.nn.Module | str | Path | None = None,
        detector: Detector | str | dict = "hog",
        *,
        device: str | torch.device | None = None,
        batch_size: int = 1,
        flip: bool = False,
        detect_every: int = 1,
        frames_per_side: int | None = None,
        decode_method: str = "dark",
        score_by_box: bool = False,
        tracker: Tracker | bool = True,
        propagate_kpt_thr: float = 0.3,
        min_box_size: float = 1.0,
        keep_images: bool = True,
        max_clips_per_forward: int = 64,
        precision: str = "auto",
        overlap: bool = True,
        clip_mode: str = "exact",
    ):
        if batch_size < 1 or detect_every < 1 or max_clips_per_forward < 1:
            raise ValueError("batch_size, detect_every and max_clips_per_forward must be >= 1")
        if model is None or isinstance(model, (str, Path)):
            from pstpose.models.loading import load_model

            model = load_model(model, device or "cpu")
        if device is not None:
            model = model.to(device)
        self.model = model.eval()
        self.device = device
        from pstpose.devices import resolve_precision

        self.precision = resolve_precision(precision, model_device(model))
        if isinstance(detector, str):
            detector = make_detector(detector, device=str(device or "cpu"))
        elif isinstance(detector, dict) or (callable(detector) and not isinstance(detector, Detector)):
            detector = GivenBoxes(detector)
        self.detector: Detector = detector
        self.frames_per_side = clip_frames_per_side(model, frames_per_side)
        self.input_size = model_input_size(model)
        self.batch_size = batch_size
        self.flip = flip
        self.detect_every = detect_every
        self.decode_method = decode_method
        self.score_by_box = score_by_box
        self.joint_set = model_joint_set(model)
        self.tracker = Tracker() if tracker is True else (tracker or None)
        if self.tracker is not None:
            self.tracker.joints = self.joint_set
        self.propagate_kpt_thr = propagate_kpt_thr
        self.min_box_size = min_box_size
        self.keep_images = keep_images
        self.max_clips_per_forward = max_clips_per_forward
        self.overlap = overlap
        if clip_mode not in CLIP_MODES:
            raise ValueError(f"clip_mode must be one of {', '.join(CLIP_MODES)}, got {clip_mode!r}")
        if clip_mode == "streaming":
            if detect_every > 1:
                raise ValueError(
                    "clip_mode='streaming' needs detect_every=1: a frame between detections takes its "
                    "boxes from the previous frame's poses, which streaming computes only later"
                )
            if not hasattr(self.model, "heatmaps_from_frame_tokens"):
                raise ValueError(
                    f"clip_mode='streaming' needs a model that embeds frames separately (PSTPose); "
                    f"{type(self.model).__name__} does not"
                )
        self.clip_mode = clip_mode
        self.times = StageTimes()
        self.source: FrameSource | None = None
        self._track = True

    # --- streaming -----------------------------------------------------------------------
    def stream(self, source: FrameSource | str, fps: float | None = None) -> Iterator[PoseResult]:
        """One ``PoseResult`` per frame of ``source``, in order."""
        src = source if isinstance(source, FrameSource) else open_source(source, fps=fps)
        self.source = src
        self.times = StageTimes()
        self.detector.bind(src)
        if self.tracker is not None:
            self.tracker.reset()
        pending: list[_Pending] = []
        previous: PoseResult | None = None
        independent = src.independent  # photos: each its own clip, detected, not tracked
        if self.clip_mode == "streaming" and not independent and self.frames_per_side > 0:
            self._track = True
            yield from self._stream_embedding_once(src)
            return
        clips = (
            (Clip(f, (f.image,) * (2 * self.frames_per_side + 1)) for f in self._timed_frames(src))
            if independent
            else iter_clips(self._timed_frames(src), self.frames_per_side)
        )
        batch_size = max(self.batch_size, 8) if independent else self.batch_size
        self._track = not independent
        if self.overlap and (independent or self.detect_every == 1):
            # decode, detect and crop run ahead in a thread while the model runs here
            prepared = prefetch((self._prepare(c, self._detect(c), src) for c in clips), depth=2 * batch_size)
            for item in prepared:
                pending.append(item)
                if len(pending) >= batch_size:
                    yield from self._flush(pending)
                    pending = []
            yield from self._flush(pending)
            return
        for clip in clips:
            detections = None
            if not independent and self.detect_every > 1 and clip.index % self.detect_every != 0:
                for previous in self._flush(pending):
                    yield previous
                pending = []
                detections = self._propagated(previous)
            if detections is None:
                detections = self._detect(clip)
            pending.append(self._prepare(clip, detections, src))
            if len(pending) >= batch_size:
                for previous in self._flush(pending):
                    yield previous
                pending = []
        yield from self._flush(pending)

    def __call__(self, source: FrameSource | str | Path, fps: float | None = None) -> list[PoseResult]:
        return list(self.stream(source, fps=fps))

    def predict(
        self, source: FrameSource | str | Path, *, stream: bool = False, fps: float | None = None
    ) -> Iterator[PoseResult] | list[PoseResult]:
        """One ``PoseResult`` per frame: a generator with ``stream=True`` (flat memory), else a list.

        Example::

            predictor = PosePredictor(detector="hog")        # the packaged default weights
            for result in predictor.predict("walk.mp4", stream=True):
                print(result.frame_index, result.keypoints.shape)
        """
        results = self.stream(source, fps=fps)
        return results if stream else list(results)

    def predict_to_files(
        self,
        source: FrameSource | str | Path,
        spec: OutputSpec,
        *,
        sequence_name: str | None = None,
        fps: float | None = None,
        progress: bool = False,
    ) -> PredictionRun:
        """Run over ``source`` and write the files ``spec`` asks for; returns what was written.

        Every output path is checked (writable, not the source itself) before the first frame is
        decoded, and every file lands atomically when the run ends without error.
        """
        import contextlib
        import sys

        from tqdm import tqdm

        from pstpose.inference.outputs import IMAGES, VIDEO, open_writers
        from pstpose.io import ensure_writable_dir

        src = source if isinstance(source, FrameSource) else open_source(source, fps=fps)
        paths = spec.paths(src.name, sequence_name, images=src.independent)
        image_names = getattr(src, "relative_names", None) if src.independent else None
        source_path = Path(str(source)) if not isinstance(source, FrameSource) else None
        for path in paths.values():
            if source_path is not None and source_path.exists() and path.resolve() == source_path.resolve():
                raise ValueError(f"{path}: this output would overwrite the source; choose another output folder")
        for folder in sorted({p.parent for p in paths.values()}):
            ensure_writable_dir(folder)
        keep = self.keep_images
        self.keep_images = keep or VIDEO in paths or IMAGES in paths
        start = time.perf_counter()
        try:
            with contextlib.ExitStack() as stack:
                writers = open_writers(
                    stack,
                    paths,
                    spec,
                    source_label=str(source_path or src.name),
                    fps=src.fps,
                    width=src.width,
                    height=src.height,
                    sequence_name=sequence_name or src.name,
                    joints=self.joint_set,
                    image_names=image_names,
                )
                bar = stack.enter_context(
                    tqdm(
                        total=src.num_frames,
                        unit="frame",
                        disable=not progress,
                        file=sys.stderr,
                        desc=src.name,
                        dynamic_ncols=True,
                    )
                )
                for result in self.stream(src):
                    with self.times.time("write"):
                        for writer in writers:
                            writer.write(result)
                    bar.update(1)
        finally:
            self.keep_images = keep
        return PredictionRun(paths, self.times, time.perf_counter() - start)

    def _timed_frames(self, frames) -> Iterator[SourceFrame]:
        it = iter(frames)
        while True:
            with self.times.time("decode"):
                frame = next(it, None)
            if frame is None:
                return
            yield frame

    def _detect(self, clip: Clip) -> np.ndarray:
        with self.times.time("detect"):
            return self.detector.detect(clip.key.image, clip.index, clip.key.path)

    def _propagated(self, previous: PoseResult | None) -> np.ndarray | None:
        """Boxes from the previous frame's poses, or None (→ run the detector) if there are none."""
        if previous is None or len(previous) == 0:
            return None
        boxes, kept = boxes_from_keypoints(previous.keypoints, previous.keypoint_scores, self.propagate_kpt_thr)
        if len(boxes) == 0:
            return None
        return np.column_stack([boxes, previous.box_scores[kept]])

    def _prepare(self, clip: Clip, detections: np.ndarray, src: FrameSource) -> _Pending:
        with self.times.time("crop"):
            height, width = clip.key.image.shape[:2]
            boxes, scores = sanitize_boxes(detections, width, height, self.min_box_size)
            mats = crop_matrices(boxes, self.input_size)
            crops = crop_clips(clip.frames, mats, self.input_size, normalize=False)
        return _Pending(clip.key, boxes, scores, mats, crops)

    # --- streaming clips: every frame's persons embedded once ------------------------------
    def _prepare_frame(self, frame: SourceFrame, detections: np.ndarray) -> _Pending:
        """A frame's persons cropped with their own boxes: crops (n, 1, H, W, 3)."""
        return self._prepare(Clip(frame, (frame.image,)), detections, None)

    def _stream_embedding_once(self, src: FrameSource) -> Iterator[PoseResult]:
        xi = self.frames_per_side
        prepared = (self._prepare_frame(f, self._detect(Clip(f, (f.image,)))) for f in self._timed_frames(src))
        if self.overlap:
            prepared = prefetch(prepared, depth=2 * self.batch_size)
        held: dict[int, EmbeddedFrame] = {}
        waiting: list[_Pending] = []
        next_key = 0
        for item in prepared:
            waiting.append(item)
            if len(waiting) >= self.batch_size:
                self._embed_frames(waiting, held)
                waiting = []
                newest = max(held)
                if next_key + xi <= newest:
                    keys = list(range(next_key, newest - xi + 1))
                    yield from self._clips_from_embeddings(keys, held, last_index=None)
                    next_key = keys[-1] + 1
                    for index in [i for i in held if i < next_key - xi]:
                        del held[index]
        self._embed_frames(waiting, held)
        if held:
            last = max(held)
            yield from self._clips_from_embeddings(list(range(next_key, last + 1)), held, last_index=last)

    def _backbone(self, crops: np.ndarray):
        """RGB uint8 crops (n, H, W, 3) -> tokens (n, h*w, C), mirrored crops' tokens appended
        under ``flip``."""
        import torch

        device = self.device or model_device(self.model)
        plain, mirrored = [], []
        with torch.inference_mode(), precision_autocast(self.precision, device):
            for start in range(0, len(crops), self.max_clips_per_forward):
                x = _to_model_input(self.model, crops[start : start + self.max_clips_per_forward, None], device)[:, 0]
                tokens = self.model.embed_frames(torch.cat([x, x.flip(-1)]) if self.flip else x)
                plain.append(tokens[: len(x)])
                mirrored.append(tokens[len(x) :])
        if not plain:
            return None
        return torch.cat(plain + mirrored if self.flip else plain)

    def _embed_frames(self, frames: list[_Pending], held: dict[int, EmbeddedFrame]) -> None:
        if not frames:
            return
        counts = [len(p.boxes) for p in frames]
        tokens = None
        if sum(counts):
            with self.times.time("model"):
                tokens = self._backbone(np.concatenate([p.crops[:, 0] for p in frames if len(p.boxes)]))
        total, start = sum(counts), 0
        for p, n in zip(frames, counts):
            own = None
            if n:
                own = tokens[start : start + n]
                if self.flip:
                    own = (own, tokens[total + start : total + start + n])
            start += n
            held[p.key.index] = EmbeddedFrame(p.key, p.boxes, p.box_scores, p.matrices, own)

    def _clips_from_embeddings(
        self, keys: list[int], held: dict[int, EmbeddedFrame], last_index: int | None
    ) -> list[PoseResult]:
        """Keyframes ``keys`` (their neighbours embedded) -> results: gather each person's clip
        tokens from the linked neighbours, embed exact-mode crops where none is linked, then run
        refinement and head on all of them at once."""
        import torch

        newest = max(held) if last_index is None else last_index
        fallback, where = [], []  # crops to embed on the spot; per clip, per frame a token source
        for key in keys:
            emb = held[key]
            frames = clip_frame_indices(key, self.frames_per_side, newest)
            links = {f: link_boxes(emb.boxes, held[f].boxes) for f in set(frames) if f != key}
            for i in range(len(emb.boxes)):
                slots = []
                for f in frames:
                    j = i if f == key else int(links[f][i])
                    if j >= 0:
                        slots.append(("held", f, j))
                    else:
                        slots.append(("new", len(fallback)))
                        with self.times.time("crop"):
                            fallback.append(
                                crop_clips((held[f].frame.image,), emb.matrices[i : i + 1], self.input_size, False)[
                                    0, 0
                                ]
                            )
                where.append(slots)
        extra = self._backbone(np.stack(fallback)) if fallback else None
        n_extra = len(fallback)

        def token(slot, mirrored_side: bool):
            if slot[0] == "held":
                stored = held[slot[1]].tokens
                return (stored[1] if mirrored_side else stored[0])[slot[2]] if self.flip else stored[slot[2]]
            return extra[n_extra + slot[1]] if mirrored_side else extra[slot[1]]

        coords = np.zeros((0, len(self.joint_set), 2))
        peaks = np.zeros((0, len(self.joint_set)))
        if where:
            with self.times.time("model"), torch.inference_mode():
                device = self.device or model_device(self.model)
                outputs = []
                for start in range(0, len(where), self.max_clips_per_forward):
                    chunk = where[start : start + self.max_clips_per_forward]
                    plain = torch.stack([torch.stack([token(s, False) for s in slots]) for slots in chunk])
                    batch = plain
                    if self.flip:
                        mirrored = torch.stack([torch.stack([token(s, True) for s in slots]) for slots in chunk])
                        batch = torch.cat([plain, mirrored])
                    with precision_autocast(self.precision, device):
                        y = self.model.heatmaps_from_frame_tokens(batch).float()
                    if self.flip:
                        y = average_flipped(y, len(chunk), self.joint_set)
                    outputs.append(y.cpu().numpy())
                heatmaps = np.concatenate(outputs)
            with self.times.time("decode_heatmaps"):
                mats = np.concatenate([held[k].matrices for k in keys if len(held[k].boxes)])
                hm_coords, peaks = decode_heatmaps(heatmaps, self.decode_method)
                coords = to_image_coords(hm_coords, mats, heatmap_stride(heatmaps.shape[-2:], self.input_size))
        pending = [
            _Pending(held[k].frame, held[k].boxes, held[k].box_scores, held[k].matrices, np.zeros((0,))) for k in keys
        ]
        return self._results(pending, coords, peaks)

    def _flush(self, pending: list[_Pending]) -> list[PoseResult]:
        if not pending:
            return []
        counts = [len(p.boxes) for p in pending]
        coords = np.zeros((0, len(self.joint_set), 2))
        peaks = np.zeros((0, len(self.joint_set)))
        if sum(counts):
            crops = np.concatenate([p.crops for p in pending if len(p.boxes)])
            mats = np.concatenate([p.matrices for p in pending if len(p.boxes)])
            with self.times.time("model"):
                heatmaps = run_model(
                    self.model,
                    crops,
                    flip=self.flip,
                    device=self.device,
                    max_batch=self.max_clips_per_forward,
                    precision=self.precision,
                )
            with self.times.time("decode_heatmaps"):
                hm_coords, peaks = decode_heatmaps(heatmaps, self.decode_method)
                coords = to_image_coords(hm_coords, mats, heatmap_stride(heatmaps.shape[-2:], self.input_size))
        return self._results(pending, coords, peaks)

    def _results(self, pending: list[_Pending], coords: np.ndarray, peaks: np.ndarray) -> list[PoseResult]:
        """Keypoints of the persons of ``pending`` keyframes, in order -> tracked results."""
        results = []
        start = 0
        for p in pending:
            n = len(p.boxes)
            kpts, scores = coords[start : start + n], peaks[start : start + n]
            start += n
            if self.score_by_box:
                scores = scores * p.box_scores[:, None]
            with self.times.time("track"):
                if self.tracker is not None and self._track:
                    ids = self.tracker.update(p.boxes, kpts, scores, box_scores=p.box_scores)
                else:
                    ids = np.full(n, -1, dtype=np.int64)
            results.append(
                PoseResult(
                    frame_index=p.key.index,
                    boxes=p.boxes,
                    box_scores=p.box_scores,
                    track_ids=ids,
                    keypoints=kpts,
                    keypoint_scores=scores,
                    image_size=(p.key.image.shape[1], p.key.image.shape[0]),
                    image=p.key.image if self.keep_images else None,
                    file_name=p.key.path,
                    joint_set=self.joint_set,
                )
            )
            self.times.frames += 1
            self.times.persons += n
        return results
