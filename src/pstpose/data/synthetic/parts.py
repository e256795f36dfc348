"""Body parts, the label-map encoding, and which parts touch which joint.

The label map is a uint16 image painted with exactly the same shapes, in the same order, as the
colour frame: 0 is background, ``1 + k`` is static occluder k, and ``64 * (person + 1) + part``
is a body part of person index ``person``. Visibility and the tests read it.
"""

from __future__ import annotations

from pstpose.keypoints import JOINT_INDEX

TORSO, HEAD, NECK = 0, 1, 2
L_UPPER_ARM, L_FOREARM, R_UPPER_ARM, R_FOREARM = 3, 4, 5, 6
L_THIGH, L_SHIN, R_THIGH, R_SHIN = 7, 8, 9, 10
L_FOOT, R_FOOT, L_HAND, R_HAND = 11, 12, 13, 14
PART_NAMES: tuple[str, ...] = (
    "torso",
    "head",
    "neck",
    "left_upper_arm",
    "left_forearm",
    "right_upper_arm",
    "right_forearm",
    "left_thigh",
    "left_shin",
    "right_thigh",
    "right_shin",
    "left_foot",
    "right_foot",
    "left_hand",
    "right_hand",
)
PERSON_LABEL_STRIDE = 64
MAX_OCCLUDERS = PERSON_LABEL_STRIDE - 1

J = JOINT_INDEX
# The parts whose drawn area contains (or ends at) each joint.
JOINT_PARTS: dict[int, tuple[int, ...]] = {
    J["nose"]: (HEAD,),
    J["head_bottom"]: (NECK, HEAD, TORSO),
    J["head_top"]: (HEAD,),
    J["left_ear"]: (HEAD,),
    J["right_ear"]: (HEAD,),
    J["left_shoulder"]: (TORSO, L_UPPER_ARM),
    J["right_shoulder"]: (TORSO, R_UPPER_ARM),
    J["left_elbow"]: (L_UPPER_ARM, L_FOREARM),
    J["right_elbow"]: (R_UPPER_ARM, R_FOREARM),
    J["left_wrist"]: (L_FOREARM, L_HAND),
    J["right_wrist"]: (R_FOREARM, R_HAND),
    J["left_hip"]: (TORSO, L_THIGH),
    J["right_hip"]: (TORSO, R_THIGH),
    J["left_knee"]: (L_THIGH, L_SHIN),
    J["right_knee"]: (R_THIGH, R_SHIN),
    J["left_ankle"]: (L_SHIN, L_FOOT),
    J["right_ankle"]: (R_SHIN, R_FOOT),
}


def person_label(person_index: int, part: int) -> int:
    return PERSON_LABEL_STRIDE * (person_index + 1) + part


def occluder_label(k: int) -> int:
    if not 0 <= k < MAX_OCCLUDERS:
        raise ValueError(f"at most {MAX_OCCLUDERS} occluders, got index {k}")
    return 1 + k


def decode_label(label: int) -> tuple[str, int, int]:
    """('background', -1, -1), ('occluder', k, -1) or ('person', person_index, part)."""
    if label == 0:
        return "background", -1, -1
    if label < PERSON_LABEL_STRIDE:
        return "occluder", label - 1, -1
    return "person", label // PERSON_LABEL_STRIDE - 1, label % PERSON_LABEL_STRIDE
