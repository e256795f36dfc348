"""A contact sheet of a generated dataset: sample frames read back from the written files, each
shown raw and with its ground truth drawn, so a person can judge the figures at a glance."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from pstpose.io import OutputError, write_bytes
from pstpose.media import read_image
from pstpose.visualize import contact_sheet, draw_poses

OCCLUDED_RING = (255, 255, 255)


def annotate(image: np.ndarray, annotations: list[dict]) -> np.ndarray:
    """Ground truth on a frame: skeleton and boxes via ``draw_poses``, occluded joints (v = 0)
    marked with white rings."""
    if not annotations:
        return image.copy()
    kps = np.array([a["keypoints"] for a in annotations], dtype=np.float64).reshape(-1, 17, 3)
    present = ~np.all(kps == 0, axis=2)
    boxes = np.array(
        [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in annotations]
    )
    out = draw_poses(image, kps[..., :2], present.astype(np.float64), boxes, [a["track_id"] for a in annotations])
    for person in kps:
        for x, y, v in person:
            if v == 0 and not (x == 0 and y == 0):
                cv2.circle(out, (int(round(x)), int(round(y))), 4, OCCLUDED_RING, 1, cv2.LINE_AA)
    for a in annotations:
        x, y, w, h = a["bbox_head"]
        cv2.rectangle(out, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), (255, 255, 0), 1)
    return out


def make_contact_sheet(
    dataset_dir: str | Path,
    path: str | Path,
    tiles: int = 4,
    columns: int = 4,
    max_width: int = 1280,
    drop_bits: int = 2,
) -> Path:
    """Pick ``tiles`` labeled frames spread over the dataset's sequences; write raw | annotated
    pairs as one PNG, atomically. The ``drop_bits`` lowest bits of every colour are cleared
    (invisible at a glance) so that the PNG of noisy JPEG frames stays small."""
    root = Path(dataset_dir)
    files = sorted((root / "annotations").glob("*/*.json"))
    if not files:
        raise FileNotFoundError(f"{root}: no annotations/*/*.json files to make a contact sheet from")
    images = []
    for k in range(tiles):
        seq_file = files[k % len(files)]
        data = json.loads(seq_file.read_text())
        labeled = [im for im in data["images"] if im["is_labeled"]]
        if not labeled:
            continue
        im = labeled[(len(labeled) * (2 * (k // len(files)) + 1) // 4) % len(labeled)]
        frame = read_image(root / im["file_name"], "bgr")  # drawn on with OpenCV's BGR colours
        anns = [a for a in data["annotations"] if a["image_id"] == im["id"]]
        images += [frame, annotate(frame, anns)]
    sheet = contact_sheet(images, columns=columns)
    if sheet.shape[1] > max_width:
        f = max_width / sheet.shape[1]
        sheet = cv2.resize(sheet, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    if drop_bits > 0:
        sheet = (sheet >> drop_bits) << drop_bits
    ok, buf = cv2.imencode(".png", sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise OutputError(f"{path}: PNG encoding failed")
    path = Path(path)
    write_bytes(path, buf.tobytes())
    return path
