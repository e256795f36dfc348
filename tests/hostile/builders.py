"""Valid inputs the hostile cases start from: PoseTrack files, configs, frames, weights, box files.

Each builder writes a small input that the package accepts; the cases then break one thing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from pstpose.keypoints import JOINT_NAMES

SEQ = "000001_mpii_test"
FRAMES = 3


def _joints(frame: int, person: int) -> list[float]:
    flat = []
    for k in range(17):
        flat += [60.0 + 6 * k + 80 * person, 80.0 + 2 * k + frame, 1.0]
    return flat


def pt18_gt() -> dict[str, Any]:
    """One sequence, three labelled frames, two persons each: a valid PoseTrack18 GT document."""
    images, annotations = [], []
    for f in range(FRAMES):
        image_id = 10_000_010_000 + f
        images.append(
            {
                "file_name": f"images/val/{SEQ}/{f:06d}.jpg",
                "id": image_id,
                "frame_id": image_id,
                "vid_id": "000001",
                "nframes": FRAMES,
                "is_labeled": True,
                "ignore_regions_x": [],
                "ignore_regions_y": [],
            }
        )
        for p in range(2):
            annotations.append(
                {
                    "image_id": image_id,
                    "id": image_id * 100 + p,
                    "track_id": p,
                    "category_id": 1,
                    "keypoints": _joints(f, p),
                    "bbox": [50.0 + 80 * p, 70.0, 110.0, 60.0],
                    "bbox_head": [55.0 + 80 * p, 60.0, 30.0, 30.0],
                }
            )
    categories = [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(JOINT_NAMES)}]
    return {"images": images, "annotations": annotations, "categories": categories}


def pt18_pred(gt: dict[str, Any] | None = None) -> dict[str, Any]:
    """Predictions equal to the GT joints (mAP 100), with joint scores."""
    doc = copy.deepcopy(gt or pt18_gt())
    for ann in doc["annotations"]:
        ann.pop("bbox_head", None)
        ann["scores"] = [0.9] * 17
    return doc


def pt17_gt() -> dict[str, Any]:
    """The same scene as a PoseTrack17 annolist."""
    annolist = []
    for f in range(FRAMES):
        rects = []
        for p in range(2):
            flat = _joints(f, p)
            points = [{"id": [k], "x": [flat[3 * k]], "y": [flat[3 * k + 1]], "is_visible": [1]} for k in range(15)]
            rects.append(
                {
                    "x1": [55.0 + 80 * p],
                    "y1": [60.0],
                    "x2": [85.0 + 80 * p],
                    "y2": [90.0],
                    "track_id": [p],
                    "annopoints": [{"point": points}],
                }
            )
        annolist.append(
            {
                "image": [{"name": f"images/bonn/{SEQ}/{f:08d}.jpg"}],
                "imgnum": [f + 1],
                "is_labeled": [1],
                "annorect": rects,
            }
        )
    return {"annolist": annolist}


def pt17_pred(gt: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = copy.deepcopy(gt or pt17_gt())
    for frame in doc["annolist"]:
        for rect in frame["annorect"]:
            rect["score"] = [0.9]
            for point in rect["annopoints"][0]["point"]:
                point["score"] = [0.9]
    return doc


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def eval_pair(folder: Path, gt: Any = None, pred: Any = None, fmt: str = "pt18") -> tuple[Path, Path]:
    """``folder/gt/SEQ.json`` and ``folder/pred/SEQ.json``; documents default to a valid pair."""
    if fmt == "pt17":
        gt = pt17_gt() if gt is None else gt
        pred = pt17_pred() if pred is None else pred
    else:
        gt = pt18_gt() if gt is None else gt
        pred = pt18_pred() if pred is None else pred
    g = write_json(folder / "gt" / f"{SEQ}.json", gt) if not isinstance(gt, bytes) else _raw(folder / "gt", gt)
    p = (
        write_json(folder / "pred" / f"{SEQ}.json", pred)
        if not isinstance(pred, bytes)
        else _raw(folder / "pred", pred)
    )
    return g.parent, p.parent


def _raw(directory: Path, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{SEQ}.json"
    path.write_bytes(data)
    return path


def mean_ap(stdout: str) -> float:
    """The Mean column of the AP row of ``pstpose eval``'s table."""
    for line in stdout.splitlines():
        cells = line.split()
        if cells and cells[0] == "AP":
            return float(cells[-1])
    raise AssertionError(f"no AP row in the output:\n{stdout}")


def frames_folder(folder: Path, sizes: list[tuple[int, int]] | None = None, name: str = "frames") -> Path:
    """A folder of small JPEG frames (one size unless ``sizes`` says otherwise)."""
    import cv2

    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    sizes = sizes or [(96, 128)] * 3
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        image = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(out / f"{i:06d}.jpg"), image)
    return out


def box_file(folder: Path, frames: int = 3) -> Path:
    """A COCO-style detection file for ``frames_folder``: one person box a frame."""
    dets = [{"image_id": i, "category_id": 1, "bbox": [20, 10, 60, 80], "score": 0.9} for i in range(frames)]
    return write_json(folder / "boxes.json", dets)
