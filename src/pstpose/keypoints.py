"""Joint names, skeleton, flip pairs, colours and dataset mappings — the single source of truth.

The model predicts K = 17 heatmaps in the PoseTrack18/21 slot order. PoseTrack17 files use 15
joint ids of their own; COCO uses the same 17 slots but eyes where PoseTrack has head_bottom and
head_top. Every other module imports these facts from here.
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "nose",
    "head_bottom",
    "head_top",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# Ears exist as slots but PoseTrack never annotates or evaluates them.
UNANNOTATED_JOINTS: tuple[int, ...] = (JOINT_INDEX["left_ear"], JOINT_INDEX["right_ear"])

# Left/right pairs, as 17-slot indices, swapped by a horizontal flip.
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


def flip_permutation() -> list[int]:
    """perm[i] = index of the joint that lands in slot i after a horizontal flip."""
    perm = list(range(NUM_JOINTS))
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


# The PoseTrack18 `categories[0].skeleton`, 1-indexed as written in the files.
POSETRACK18_SKELETON_1BASED: tuple[tuple[int, int], ...] = (
    (16, 14),
    (14, 12),
    (17, 15),
    (15, 13),
    (12, 13),
    (6, 12),
    (7, 13),
    (6, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (9, 11),
    (2, 3),
    (1, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
    (5, 7),
)


def posetrack18_categories() -> list[dict]:
    """The ``categories`` list of a PoseTrack18/21 file: one person category, 17 names, skeleton."""
    return [
        {
            "supercategory": "person",
            "id": 1,
            "name": "person",
            "keypoints": list(JOINT_NAMES),
            "skeleton": [list(pair) for pair in POSETRACK18_SKELETON_1BASED],
        }
    ]


# The skeleton drawn on overlays (0-based): head_top–head_bottom–shoulders, no ear links because
# ears are never predicted meaningfully.
DRAW_SKELETON: tuple[tuple[int, int], ...] = (
    (2, 1),
    (1, 0),
    (1, 5),
    (1, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
)


def side(joint: int) -> str:
    """'left', 'right' or 'center' — used for colours and for flip checks."""
    name = JOINT_NAMES[joint]
    if name.startswith("left_"):
        return "left"
    if name.startswith("right_"):
        return "right"
    return "center"


# BGR colours (OpenCV order) by body side.
SIDE_COLORS_BGR: dict[str, tuple[int, int, int]] = {
    "left": (255, 128, 0),  # blue-ish
    "right": (0, 128, 255),  # orange
    "center": (0, 220, 0),  # green
}


def limb_side(a: int, b: int) -> str:
    sides = {side(a), side(b)}
    if sides == {"left"}:
        return "left"
    if sides == {"right"}:
        return "right"
    return "center"


# --- PoseTrack17 (annolist) ------------------------------------------------------------------
# PoseTrack17 joint id -> name. The evaluation tool works internally in this id space.
PT17_JOINT_NAMES: tuple[str, ...] = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "head_bottom",
    "nose",
    "head_top",
)
NUM_PT17_JOINTS = len(PT17_JOINT_NAMES)
# PT17 id -> 17-slot index, and the inverse (slots without a PT17 id map to -1).
PT17_TO_SLOT: tuple[int, ...] = tuple(JOINT_INDEX[n] for n in PT17_JOINT_NAMES)
SLOT_TO_PT17: tuple[int, ...] = tuple(PT17_TO_SLOT.index(s) if s in PT17_TO_SLOT else -1 for s in range(NUM_JOINTS))

# Evaluation summary groups, in the order papers print them, as PT17 ids.
EVAL_GROUPS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Head", (12, 13, 14)),
    ("Shoulder", (8, 9)),
    ("Elbow", (7, 10)),
    ("Wrist", (6, 11)),
    ("Hip", (2, 3)),
    ("Knee", (1, 4)),
    ("Ankle", (0, 5)),
)

# --- COCO ------------------------------------------------------------------------------------
COCO_JOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# COCO joint index -> 17-slot index (-1 where PoseTrack has no such joint: COCO's eyes). The
# names agree position by position elsewhere; head_bottom/head_top (slots 1, 2) have no COCO
# equivalent, so COCO keypoint results leave COCO's rows 1 and 2 empty.
COCO_TO_SLOT: tuple[int, ...] = tuple(JOINT_INDEX.get(n, -1) for n in COCO_JOINT_NAMES)
SLOTS_SHARED_WITH_COCO: tuple[int, ...] = tuple(s for s in COCO_TO_SLOT if s >= 0)
