"""Ground truth against the drawn pixels: joints on their limbs, occlusion flags against the depth
order, boxes, head boxes, the out-of-frame rule and the left-side cues."""

from __future__ import annotations

import numpy as np
import pytest

from pstpose.data.synthetic import parts as P
from pstpose.data.synthetic.render import background_frame, draw_frame
from pstpose.data.synthetic.scene import project_all
from pstpose.data.synthetic.sequence import plan_sequence, render_planned_frame
from pstpose.data.synthetic.visibility import BBOX_ENLARGE, OUTSIDE_MARGIN, frame_ground_truth
from pstpose.keypoints import JOINT_INDEX, NUM_JOINTS

H, W = 144, 192
CASES = [(11, "occlusion", 5), (12, "standard", 4), (13, "rapid-motion", 3)]


@pytest.fixture(scope="module")
def rendered():
    """(plan, frames) for a few scenes, clean, with label maps."""
    out = []
    for seed, preset, people in CASES:
        plan = plan_sequence(seed=seed, frames=8, height=H, width=W, preset=preset, people=people)
        frames = [render_planned_frame(plan, t, degrade=False, with_labels=True) for t in range(plan.frames)]
        out.append((plan, frames))
    return out


def _joints(rendered):
    """Every annotated (present, not an ear) joint: (plan, frame, person index, gt, joint)."""
    for plan, frames in rendered:
        for fr in frames:
            for gt in fr.persons:
                idx = gt.track_id  # track ids are person indices within a video
                for j in np.flatnonzero(gt.present):
                    yield plan, fr, idx, gt, int(j)


def test_visible_joints_land_on_their_own_limbs(rendered):
    checked = 0
    for _plan, fr, idx, gt, j in _joints(rendered):
        x, y, v = gt.keypoints[j]
        if v != 1:
            continue
        kind, owner, part = P.decode_label(int(fr.labels[int(round(y)), int(round(x))]))
        assert (kind, owner) == ("person", idx) and part in P.JOINT_PARTS[j], (j, kind, owner, part)
        checked += 1
    assert checked > 300


def test_visible_joints_are_painted_over_the_background(rendered):
    """Independent of the label map: the clean colour frame differs from the empty background at
    visible joints (a person was really drawn there)."""
    same = total = 0
    for plan, frames in rendered:
        for fr in frames:
            bg = background_frame(plan, fr.index).astype(int)
            for gt in fr.persons:
                for x, y, v in gt.keypoints:
                    if v == 1:
                        xi, yi = int(round(x)), int(round(y))
                        total += 1
                        same += int(np.abs(fr.image[yi, xi].astype(int) - bg[yi, xi]).sum() < 6)
    assert total > 300 and same / total < 0.03


def test_occlusion_flags_follow_the_depth_order(rendered):
    by_others = 0
    for _plan, fr, idx, gt, j in _joints(rendered):
        x, y, v = gt.keypoints[j]
        xi, yi = int(round(x)), int(round(y))
        if not (0 <= xi < W and 0 <= yi < H) or v == 1:
            continue
        label = int(fr.labels[yi, xi])
        kind, owner, part = P.decode_label(label)
        joint_depth = gt.joint_depth[j]
        if kind == "occluder" or (kind == "person" and owner != idx):
            # something else covers the joint: it was painted later, so it is nearer
            # (0.15 m: the largest depth bias a body part gets)
            assert fr.label_depth[label] < joint_depth + 0.15, (kind, fr.label_depth[label], joint_depth)
            by_others += 1
        else:
            # self-occlusion: a nearer part of the same body, or a side of it turned away
            assert kind == "person" and owner == idx, kind
            adjacent = part in P.JOINT_PARTS[j]
            assert not adjacent or part in (P.TORSO, P.HEAD), (j, part)
            if not adjacent:
                assert fr.label_depth[label] < joint_depth + 0.15
    assert by_others > 5


def test_joints_of_people_behind_others_are_occluded(rendered):
    """Where two people's drawn areas overlap, the farther person's joint under the nearer one's
    body is flagged occluded, never visible."""
    hits = 0
    for _plan, fr, idx, gt, j in _joints(rendered):
        x, y, v = gt.keypoints[j]
        xi, yi = int(round(x)), int(round(y))
        if not (0 <= xi < W and 0 <= yi < H):
            continue
        kind, owner, _ = P.decode_label(int(fr.labels[yi, xi]))
        if kind == "person" and owner != idx:
            assert v == 0
            hits += 1
    assert hits > 0


def test_person_box_is_the_enlarged_joint_box_and_encloses_visible_joints(rendered):
    for _plan, frames in rendered:
        for fr in frames:
            for gt in fr.persons:
                x, y, w, h = gt.bbox
                kp = gt.keypoints[gt.present]
                vis = gt.keypoints[gt.keypoints[:, 2] == 1]
                assert np.all(vis[:, 0] >= x) and np.all(vis[:, 0] <= x + w)
                assert np.all(vis[:, 1] >= y) and np.all(vis[:, 1] <= y + h)
                span = kp[:, :2].max(0) - kp[:, :2].min(0)
                np.testing.assert_allclose([w, h], span * BBOX_ENLARGE, rtol=1e-9)
                np.testing.assert_allclose([x + w / 2, y + h / 2], (kp[:, :2].max(0) + kp[:, :2].min(0)) / 2)


def test_head_boxes_scale_with_the_head(rendered):
    nose, top = JOINT_INDEX["nose"], JOINT_INDEX["head_top"]
    for plan, frames in rendered:
        for fr in frames:
            for gt in fr.persons:
                person = plan.people[gt.track_id]
                hx, hy, hw, hh = gt.head_box
                # size = head radius projected at the head's depth (focal * r / z), for every person
                expected = 2 * person.shape.head_r * plan.camera.focal / gt.joint_depth[top]
                assert hw == pytest.approx(expected, rel=0.05)
                assert hh / hw == pytest.approx(1.15)
                for j in (nose, top):
                    if gt.present[j]:
                        px, py = gt.keypoints[j, :2]
                        assert hx - 1 <= px <= hx + hw + 1 and hy - 1 <= py <= hy + hh + 1
    # and bigger heads / nearer people get bigger boxes
    widths = [
        (gt.head_box[2], plan.people[gt.track_id].shape.head_r / gt.depth)
        for plan, frames in rendered
        for fr in frames
        for gt in fr.persons
    ]
    w, ratio = np.array(widths).T
    assert np.corrcoef(w, ratio)[0, 1] > 0.99


def test_ears_are_unlabeled_and_far_outside_joints_absent():
    plan = plan_sequence(seed=9, frames=2, height=H, width=W, preset="easy", people=1)  # a wide walker
    person = plan.people[0]
    # slide the person (in 3-D) so that it straddles the left border of frame 0
    span = person.uv[0, :NUM_JOINTS, 0]
    margin = OUTSIDE_MARGIN * max(H, W)
    shift_px = span.min() + 1.3 * margin  # the leftmost joint lands beyond the margin
    person.body.points[..., 0] -= shift_px * person.depth[0, :NUM_JOINTS].mean() / plan.camera.focal
    person.uv, person.depth = project_all(plan.camera, person.body.points)
    labels = draw_frame(plan, 0).labels
    gts = frame_ground_truth(plan, 0, labels)
    assert len(gts) == 1
    gt = gts[0]
    for j in range(NUM_JOINTS):
        x, y, v = gt.keypoints[j]
        u = person.uv[0, j, 0]
        if j in (JOINT_INDEX["left_ear"], JOINT_INDEX["right_ear"]) or u < -margin:
            assert (x, y, v) == (0, 0, 0), j
        else:
            assert x == pytest.approx(u)
            if x < 0:
                assert v == 0  # kept with its negative coordinate, but not visible
    assert (gt.keypoints[:, 0] < 0).any() and (person.uv[0, :NUM_JOINTS, 0] < -margin).any()


def test_left_limbs_carry_the_band_and_the_left_shoe_is_light():
    """The left-side cue exists in the pixels: the middle of a visible left upper arm/thigh has
    the band colour, the right one the clothing colour; the left shoe is lighter."""
    left_hits = right_hits = n = 0
    for seed in range(4):
        plan = plan_sequence(seed=100 + seed, frames=3, height=288, width=384, preset="easy")
        for t in range(plan.frames):
            fr = render_planned_frame(plan, t, degrade=False, with_labels=True)
            for idx, person in enumerate(plan.people):
                band = np.array(person.look.band, float)
                if np.abs(np.array(person.look.shirt, float) - band).sum() < 120:
                    continue
                for (a, b), part, is_left in (((5, 7), P.L_UPPER_ARM, True), ((6, 8), P.R_UPPER_ARM, False)):
                    mid = person.uv[t, a] + 0.49 * (person.uv[t, b] - person.uv[t, a])
                    xi, yi = int(round(mid[0])), int(round(mid[1]))
                    if not (0 <= xi < 384 and 0 <= yi < 288) or fr.labels[yi, xi] != P.person_label(idx, part):
                        continue
                    if np.linalg.norm(person.uv[t, a] - person.uv[t, b]) < 12:
                        continue
                    close = np.abs(fr.image[yi, xi].astype(float) - band).sum() < 60
                    if is_left:
                        left_hits += close
                        n += 1
                    else:
                        right_hits += close
    assert n >= 5 and left_hits / n > 0.8 and right_hits <= 1
