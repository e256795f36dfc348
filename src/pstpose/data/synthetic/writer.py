"""PoseTrack18 per-sequence files, with the real release's structure and key names.

Ids follow the real pattern (``pstpose.posetrack_ids``): image id = "1" + 6-digit video number +
4-digit frame index (10094730000 is frame 0 of video 009473), ``frame_id`` equals the image id as
in the real files, and an annotation id is the image id followed by a 2-digit person index.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pstpose.data.synthetic.visibility import PersonGT
from pstpose.io import OutputError, write_bytes
from pstpose.keypoints import posetrack18_categories
from pstpose.posetrack_ids import posetrack_image_id, video_id_text

MAX_PERSONS_PER_FRAME = 100  # the 2-digit person field of an annotation id


def sequence_name(video_number: int, split: str) -> str:
    return f"{video_id_text(video_number)}_mpii_{'train' if split == 'train' else 'test'}"


def _num(v: float) -> float:
    """Two decimals: sub-pixel enough, and stable bytes."""
    r = round(float(v), 2)
    return 0.0 if r == 0 else r


def annotation(person: PersonGT, img_id: int, index: int) -> dict:
    if index >= MAX_PERSONS_PER_FRAME:
        raise ValueError(f"more than {MAX_PERSONS_PER_FRAME} persons in image {img_id}")
    kps = []
    for x, y, v in person.keypoints:
        kps += [0, 0, 0] if x == 0 and y == 0 and v == 0 else [_num(x), _num(y), int(v)]
    return {
        "bbox_head": [_num(v) for v in person.head_box],
        "keypoints": kps,
        "track_id": int(person.track_id),
        "image_id": img_id,
        "bbox": [_num(v) for v in person.bbox],
        "scores": [],
        "category_id": 1,
        "id": img_id * 100 + index,
        "iscrowd": False,
        "num_keypoints": int((person.keypoints[:, 2] > 0).sum()),
    }


def sequence_json(
    video_number: int,
    split: str,
    persons_per_frame: list[list[PersonGT]],
    width: int,
    height: int,
    label_every: int,
) -> dict:
    """The file content. Every frame is listed in ``images``; annotations only for labeled ones
    (frames ``t % label_every == 0``), like the real release."""
    name = sequence_name(video_number, split)
    folder = "train" if split == "train" else "val"
    nframes = len(persons_per_frame)
    images, annotations = [], []
    for t, persons in enumerate(persons_per_frame):
        img_id = posetrack_image_id(video_number, t)
        labeled = t % label_every == 0
        images.append(
            {
                "has_no_densepose": True,
                "is_labeled": labeled,
                "file_name": f"images/{folder}/{name}/{t:06d}.jpg",
                "nframes": nframes,
                "frame_id": img_id,
                "vid_id": video_id_text(video_number),
                "id": img_id,
                "width": width,
                "height": height,
            }
        )
        if labeled:
            annotations += [annotation(p, img_id, i) for i, p in enumerate(persons)]
    return {"categories": posetrack18_categories(), "images": images, "annotations": annotations}


def write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    """Encode a BGR frame as JPEG at ``quality`` and write it atomically (``pstpose.io``)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OutputError(f"{path}: JPEG encoding failed")
    write_bytes(path, buf.tobytes())
