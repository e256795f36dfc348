"""Joint names, skeleton, flip pairs, colours and dataset mappings — the single source of truth.

A model's heatmaps follow its *joint set* (``JointSet``): PoseTrack's 17 slots for models this
package trains, COCO's 17 joints (or another dataset's) for a ViTPose checkpoint used as it
was trained. The joint set names the channels and gives the skeleton, the flip pairs, the drawing
colours and the mapping to other sets by name. PoseTrack17 files use 15 joint ids of their own;
COCO has the same 17 slots as PoseTrack but eyes where PoseTrack has head_bottom and head_top.
Every other module imports these facts from here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

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


# --- joint sets: what a model's channels are -----------------------------------------------------


@dataclass(frozen=True)
class JointSet:
    """The joints a model predicts, in channel order, and what follows from them.

    Flip pairs come from the names (``left_X`` with ``right_X``) plus ``extra_flip_pairs`` for
    joints named otherwise (face landmarks), so no table of pairs can disagree with the names.
    """

    name: str
    joints: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]
    unannotated: tuple[int, ...] = ()  # channels the dataset never labels (hidden when drawn)
    extra_flip_pairs: tuple[tuple[int, int], ...] = ()
    description: str = ""

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        index = {n: i for i, n in enumerate(self.joints)}
        pairs = [
            (i, index["right_" + n[len("left_") :]])
            for i, n in enumerate(self.joints)
            if n.startswith("left_") and "right_" + n[len("left_") :] in index
        ]
        return tuple(pairs) + self.extra_flip_pairs

    def flip_permutation(self) -> list[int]:
        """perm[i] = the channel that lands in channel i after a horizontal flip."""
        perm = list(range(len(self.joints)))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def side(self, joint: int) -> str:
        """'left', 'right' or 'center' (colours)."""
        name = self.joints[joint]
        if name.startswith("left_"):
            return "left"
        if name.startswith("right_"):
            return "right"
        return "center"

    def limb_side(self, a: int, b: int) -> str:
        sides = {self.side(a), self.side(b)}
        return sides.pop() if len(sides) == 1 else "center"

    def indices_in(self, target: JointSet) -> np.ndarray:
        """For each joint of ``target``, the channel of this set with the same name (-1: none)."""
        index = {n: i for i, n in enumerate(self.joints)}
        return np.array([index.get(n, -1) for n in target.joints], dtype=np.int64)

    def convert(self, keypoints: np.ndarray, scores: np.ndarray, target: JointSet) -> tuple[np.ndarray, ...]:
        """(..., K, 2) points and (..., K) scores of this set → ``target``'s order, by name.

        Returns (points, scores, present); target joints this set lacks are 0 and not present.
        """
        source = self.indices_in(target)
        has = source >= 0
        pts = np.zeros((*np.shape(keypoints)[:-2], len(target), 2))
        sc = np.zeros((*np.shape(scores)[:-1], len(target)))
        pts[..., has, :] = np.asarray(keypoints)[..., source[has], :]
        sc[..., has] = np.asarray(scores)[..., source[has]]
        present = np.broadcast_to(has, sc.shape).copy()
        return pts, sc, present

    def conversion_note(self, target: JointSet) -> str | None:
        """One line saying what a conversion to ``target`` loses; None when nothing."""
        if target.name == self.name:
            return None
        missing = [n for n in target.joints if n not in self.joints]
        dropped = [n for n in self.joints if n not in target.joints]
        if not missing and not dropped:
            return None
        parts = []
        if missing:
            parts.append(
                f"{', '.join(missing)} ha{'s' if len(missing) == 1 else 've'} no {self.name} joint (written absent)"
            )
        if dropped:
            parts.append(f"{', '.join(dropped)} not in {target.name} (left out)")
        return f"{self.name} joints as {target.name}: " + "; ".join(parts)


def _pairs(names: tuple[str, ...], links: tuple[tuple[str, str], ...]) -> tuple[tuple[int, int], ...]:
    index = {n: i for i, n in enumerate(names)}
    return tuple((index[a], index[b]) for a, b in links)


_LIMBS = (
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
)

POSETRACK = JointSet(
    "posetrack",
    JOINT_NAMES,
    DRAW_SKELETON,
    unannotated=UNANNOTATED_JOINTS,
    description="PoseTrack18/21: 17 slots, head_bottom/head_top in place of COCO's eyes, ears never labelled",
)

COCO = JointSet(
    "coco",
    COCO_JOINT_NAMES,
    _pairs(
        COCO_JOINT_NAMES,
        (
            ("left_eye", "right_eye"),
            ("nose", "left_eye"),
            ("nose", "right_eye"),
            ("left_eye", "left_ear"),
            ("right_eye", "right_ear"),
            ("left_shoulder", "right_shoulder"),
            *_LIMBS,
        ),
    ),
    description="COCO keypoints: 17 joints (what published ViTPose heads predict)",
)

# The joint orders of the other ViTPose++ datasets (the datasets' own annotation orders).
AIC_JOINT_NAMES = (
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "head_top",
    "neck",
)
MPII_JOINT_NAMES = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "pelvis",
    "thorax",
    "upper_neck",
    "head_top",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
)
ANIMAL_JOINT_NAMES = (  # AP-10K and APT-36K
    "left_eye",
    "right_eye",
    "nose",
    "neck",
    "root_of_tail",
    "left_shoulder",
    "left_elbow",
    "left_front_paw",
    "right_shoulder",
    "right_elbow",
    "right_front_paw",
    "left_hip",
    "left_knee",
    "left_back_paw",
    "right_hip",
    "right_knee",
    "right_back_paw",
)

AIC = JointSet(
    "aic",
    AIC_JOINT_NAMES,
    _pairs(AIC_JOINT_NAMES, (("head_top", "neck"), ("neck", "left_shoulder"), ("neck", "right_shoulder"), *_LIMBS)),
    description="AI Challenger: 14 joints",
)
MPII = JointSet(
    "mpii",
    MPII_JOINT_NAMES,
    _pairs(
        MPII_JOINT_NAMES,
        (
            ("head_top", "upper_neck"),
            ("upper_neck", "thorax"),
            ("thorax", "pelvis"),
            ("thorax", "left_shoulder"),
            ("thorax", "right_shoulder"),
            ("pelvis", "left_hip"),
            ("pelvis", "right_hip"),
            *[limb for limb in _LIMBS if "shoulder" not in limb[0] or "elbow" in limb[1]],
        ),
    ),
    description="MPII: 16 joints",
)
ANIMAL = JointSet(
    "animal",
    ANIMAL_JOINT_NAMES,
    _pairs(
        ANIMAL_JOINT_NAMES,
        (
            ("left_eye", "right_eye"),
            ("left_eye", "nose"),
            ("right_eye", "nose"),
            ("nose", "neck"),
            ("neck", "root_of_tail"),
            ("neck", "left_shoulder"),
            ("left_shoulder", "left_elbow"),
            ("left_elbow", "left_front_paw"),
            ("neck", "right_shoulder"),
            ("right_shoulder", "right_elbow"),
            ("right_elbow", "right_front_paw"),
            ("root_of_tail", "left_hip"),
            ("left_hip", "left_knee"),
            ("left_knee", "left_back_paw"),
            ("root_of_tail", "right_hip"),
            ("right_hip", "right_knee"),
            ("right_knee", "right_back_paw"),
        ),
    ),
    description="AP-10K / APT-36K animals: 17 joints",
)


def _wholebody() -> JointSet:
    """COCO-WholeBody's 133 joints: body (COCO's 17), feet 6, face 68, left hand 21, right hand 21.

    Face landmarks follow the 68-point iBUG scheme, whose mirror pairs are listed by position
    (jaw 0-16 reversed, brows, eyes, nose wings, mouth); hands and feet pair by their names.
    """
    feet = tuple(f"{s}_{p}" for s in ("left", "right") for p in ("big_toe", "small_toe", "heel"))
    face = tuple(f"face_{i}" for i in range(68))
    fingers = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
    hands = tuple(
        f"{s}_hand_{p}" for s in ("left", "right") for p in ("root", *[f"{f}{k}" for f in fingers for k in range(1, 5)])
    )
    names = COCO_JOINT_NAMES + feet + face + hands
    mirror = [(i, 16 - i) for i in range(8)]  # jaw
    mirror += [(17 + i, 26 - i) for i in range(5)]  # brows
    mirror += [(31, 35), (32, 34)]  # nose wings
    mirror += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    mirror += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]  # mouth
    base = len(COCO_JOINT_NAMES) + len(feet)
    face_pairs = tuple((base + a, base + b) for a, b in mirror)
    hand = lambda s, p: names.index(f"{s}_hand_{p}")  # noqa: E731
    hand_links = []
    for s in ("left", "right"):
        for f in fingers:
            chain = ["root", *[f"{f}{k}" for k in range(1, 5)]]
            hand_links += [(hand(s, a), hand(s, b)) for a, b in itertools.pairwise(chain)]
    skeleton = (
        COCO.skeleton
        + _pairs(
            names,
            (
                ("left_ankle", "left_heel"),
                ("left_heel", "left_big_toe"),
                ("left_heel", "left_small_toe"),
                ("right_ankle", "right_heel"),
                ("right_heel", "right_big_toe"),
                ("right_heel", "right_small_toe"),
                ("left_wrist", "left_hand_root"),
                ("right_wrist", "right_hand_root"),
            ),
        )
        + tuple(hand_links)
    )
    return JointSet("wholebody", names, skeleton, extra_flip_pairs=face_pairs, description="COCO-WholeBody: 133 joints")


WHOLEBODY = _wholebody()

JOINT_SETS: dict[str, JointSet] = {js.name: js for js in (POSETRACK, COCO, AIC, MPII, ANIMAL, WHOLEBODY)}


def joint_set(name: str) -> JointSet:
    """The joint set called ``name``; a ValueError listing the known ones otherwise."""
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise ValueError(f"unknown joint set {name!r} (known: {', '.join(JOINT_SETS)})") from None


def generic_joint_set(count: int) -> JointSet:
    """``count`` channels without names of a known dataset: ``keypoint_0``..., no flip pairs."""
    return JointSet(f"generic-{count}", tuple(f"keypoint_{i}" for i in range(count)), (), description="unnamed")


def joint_set_for(name: str, count: int) -> JointSet:
    """The joint set of a model whose config says ``keypoints: name`` and that has ``count``
    channels: the named set when the counts agree, else ``generic_joint_set(count)`` (a model
    built with another channel count has no names to borrow)."""
    named = joint_set(name)
    return named if len(named) == count else generic_joint_set(count)
