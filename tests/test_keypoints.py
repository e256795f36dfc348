from pstpose import keypoints as kp


def test_flip_permutation_is_an_involution_that_swaps_sides():
    perm = kp.flip_permutation()
    assert [perm[p] for p in perm] == list(range(kp.NUM_JOINTS))
    for i, j in enumerate(perm):
        a, b = kp.JOINT_NAMES[i], kp.JOINT_NAMES[j]
        if a.startswith("left_"):
            assert b == "right_" + a[5:]
        elif a.startswith("right_"):
            assert b == "left_" + a[6:]
        else:
            assert i == j


def test_pt17_mapping_matches_the_protocol_table():
    # (PT17 id, 17-slot index) rows of the evaluation spec's table.
    table = {0: 16, 1: 14, 2: 12, 3: 11, 4: 13, 5: 15, 6: 10, 7: 8, 8: 6, 9: 5, 10: 7, 11: 9, 12: 1, 13: 0, 14: 2}
    assert dict(enumerate(kp.PT17_TO_SLOT)) == table
    for pid, slot in table.items():
        assert kp.SLOT_TO_PT17[slot] == pid
    assert kp.SLOT_TO_PT17[3] == kp.SLOT_TO_PT17[4] == -1  # ears


def test_eval_groups_cover_the_15_joints_once():
    ids = sorted(j for _, g in kp.EVAL_GROUPS for j in g)
    assert ids == list(range(15))


def test_skeleton_file_form_is_the_posetrack_one():
    # PoseTrack18 categories skeleton links head_bottom (2) and head_top (3), 1-indexed.
    assert (2, 3) in kp.POSETRACK18_SKELETON_1BASED
    assert all(1 <= a <= 17 and 1 <= b <= 17 for a, b in kp.POSETRACK18_SKELETON_1BASED)


def test_coco_shares_all_slots_but_the_head_ones():
    assert set(range(17)) - set(kp.SLOTS_SHARED_WITH_COCO) == {1, 2}
