"""Overlay drawing extensions."""

from __future__ import annotations

import numpy as np
import pytest

from pstpose.visualize import clip_crops_sheet, draw_poses, track_color


def test_track_label_stays_inside_the_image_at_the_top():
    image = np.zeros((100, 120, 3), np.uint8)
    out = draw_poses(
        image, np.full((1, 17, 2), 50.0), np.zeros((1, 17)), boxes=np.array([[10, 0, 60, 80]]), track_ids=[3]
    )
    color = np.array(track_color(3))
    label_rows = np.flatnonzero((out[:, 12:40] == color).all(-1).any(1))
    assert label_rows.min() == 0 and label_rows.max() > 5  # a filled label band below y = 0


def test_clip_crops_sheet_layout():
    crops = np.zeros((2, 3, 8, 6, 3), np.uint8)
    crops[1, 2, ..., 0] = 255  # red (RGB) in person 1, frame 2
    sheet = clip_crops_sheet(crops, pad=1)
    assert sheet.shape == (2 * 9 + 1, 3 * 7 + 1, 3)
    assert (sheet[10:18, 15:21] == [0, 0, 255]).all()  # shown as BGR red, row 1, column 2
    with pytest.raises(ValueError, match="uint8 crops"):
        clip_crops_sheet(crops.astype(np.float32))
