"""Write the tracking test cases: three short sequences, as PoseTrack18 and PoseTrack17 files.

Run from this folder: ``python make_cases.py`` (deterministic; rewrites pt18/ and pt17/).

Every person has 15 joints on a 3 x 5 grid, 40 px apart around its centre, so a predicted joint
can only be close to the same joint of a GT person. Head boxes of 30 x 40 px give a head size
of 30 px: a joint matches within 15 px.

* 000001_mpii_test: two people cross (frames 3-4 four pixels apart, so both predictions are
  within reach of both people); the tracker keeps its ids through the crossing, then swaps them
  (identity switches on every joint); one track lacks its wrists in frames 1-2.
* 000002_mpii_test: a partially annotated person (no ankles, no left wrist), a far-away false
  track, a frame with no prediction at all, a second person with elbows 20 px off and no knees
  predicted, an unlabeled frame with predictions (not counted).
* 000003_mpii_test: ignore polygons: one hides a person and a false detection, one hides
  everyone (the GT side is then empty); afterwards one track id moves to the other person and a
  new id takes its place.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pstpose.keypoints import JOINT_NAMES

HERE = Path(__file__).resolve().parent
# PoseTrack18 joint names in file order (ears never annotated).
NAMES = list(JOINT_NAMES)
# PoseTrack17 ids of the 15 evaluated joints.
PT17_IDS = {
    "right_ankle": 0,
    "right_knee": 1,
    "right_hip": 2,
    "left_hip": 3,
    "left_knee": 4,
    "left_ankle": 5,
    "right_wrist": 6,
    "right_elbow": 7,
    "right_shoulder": 8,
    "left_shoulder": 9,
    "left_elbow": 10,
    "left_wrist": 11,
    "head_bottom": 12,
    "nose": 13,
    "head_top": 14,
}
JOINTS = list(PT17_IDS)  # the 15 joints, grid order
OFFSETS = {name: (((k % 3) - 1) * 40.0, ((k // 3) - 2) * 40.0) for k, name in enumerate(JOINTS)}


def person(tid, cx, cy, missing=(), shift=None, jitter=0.0, rng=None, score=0.9):
    """A person as {name: (x, y)} plus its track id; ``shift`` moves given joints by (dx, dy)."""
    joints = {}
    for name in JOINTS:
        if name in missing:
            continue
        dx, dy = OFFSETS[name]
        x, y = cx + dx, cy + dy
        if shift and name in shift:
            x, y = x + shift[name][0], y + shift[name][1]
        if jitter:
            x += float(np.round(rng.uniform(-jitter, jitter), 1))
            y += float(np.round(rng.uniform(-jitter, jitter), 1))
        joints[name] = (round(x, 1), round(y, 1))
    return {"track_id": tid, "joints": joints, "head": (cx - 15.0, cy - 120.0, 30.0, 40.0), "score": score}


def frame(gt, pred, labeled=True, polygons=()):
    return {"gt": gt, "pred": pred, "labeled": labeled, "polygons": [list(p) for p in polygons]}


def box(x1, y1, x2, y2):
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def sequence_1(rng):
    a_x = [100, 150, 200, 238, 242, 300, 350, 400]
    b_x = [400, 350, 300, 242, 238, 200, 150, 100]
    frames = []
    for i, (ax, bx) in enumerate(zip(a_x, b_x)):
        gt = [person(1, ax, 300), person(2, bx, 300)]
        # Track 7 follows A and 9 follows B up to frame 3; from frame 4 (still within reach of both) they swap.
        on_a, on_b = (7, 9) if i <= 3 else (9, 7)
        no_wrists = ("left_wrist", "right_wrist") if i in (1, 2) else ()
        pred = [
            person(on_a, ax, 300, jitter=1.5, rng=rng, missing=no_wrists if on_a == 9 else ()),
            person(on_b, bx, 300, jitter=1.5, rng=rng, missing=no_wrists if on_b == 9 else ()),
        ]
        frames.append(frame(gt, pred))
    return "000001_mpii_test", frames


def sequence_2(rng):
    frames = []
    partial = ("left_ankle", "right_ankle", "left_wrist")
    for i in range(7):
        cx = 150 + 10 * i
        gt = [person(0, cx, 300, missing=partial)]
        if i >= 2:
            gt.append(person(5, 450 + 5 * i, 320))
        pred = [person(0, cx, 300, jitter=2.0, rng=rng)]
        if i in (1, 2):
            pred.append(person(4, 700, 500, jitter=2.0, rng=rng))
        if i >= 2:
            off = {"left_elbow": (20.0, 0.0), "right_elbow": (0.0, -20.0)}
            pred.append(
                person(3, 450 + 5 * i, 320, shift=off, missing=("left_knee", "right_knee"), jitter=2.0, rng=rng)
            )
        if i == 3:
            pred = []  # nothing detected in this frame
        if i == 5:
            frames.append(frame([], pred, labeled=False))  # unlabeled: its predictions do not count
            continue
        frames.append(frame(gt, pred))
    return "000002_mpii_test", frames


def sequence_3(rng):
    frames = []
    for i in range(6):
        ex, fx = 200 + 8 * i, 500 - 8 * i
        gt = [person(3, ex, 300), person(4, fx, 300)]
        polygons = []
        if i <= 1:
            pred = [person(1, ex, 300, jitter=2.0, rng=rng), person(2, fx, 300, jitter=2.0, rng=rng)]
        elif i == 2:  # F and a false detection near it lie inside an ignore polygon
            pred = [
                person(1, ex, 300, jitter=2.0, rng=rng),
                person(2, fx, 300, jitter=2.0, rng=rng),
                person(8, fx + 10, 330, jitter=2.0, rng=rng),
            ]
            polygons = [box(fx - 100, 150, fx + 100, 450)]
        elif i == 3:  # one polygon hides everyone: the GT side is empty after the ignore rule
            pred = [person(1, ex, 300, jitter=2.0, rng=rng), person(2, fx, 300, jitter=2.0, rng=rng)]
            polygons = [box(50, 100, 700, 500)]
        else:  # track 1 moves to F, a new id 6 takes over E
            pred = [person(6, ex, 300, jitter=2.0, rng=rng), person(1, fx, 300, jitter=2.0, rng=rng)]
        frames.append(frame(gt, pred, polygons=polygons))
    return "000003_mpii_test", frames


def _keypoints17(joints):
    flat = []
    for name in NAMES:
        if name in joints:
            flat += [joints[name][0], joints[name][1], 1]
        else:
            flat += [0, 0, 0]
    return flat


def write_pt18(name, frames, root):
    for side in ("gt", "pred"):
        images, annotations = [], []
        for i, fr in enumerate(frames):
            image_id = 10_000 * int(name.split("_")[0]) + i
            image = {
                "id": image_id,
                "file_name": f"images/val/{name}/{i:06d}.jpg",
                "frame_id": image_id,
                "vid_id": name.split("_")[0],
                "nframes": len(frames),
                "is_labeled": fr["labeled"],
                "has_no_densepose": True,
            }
            if side == "gt" and fr["polygons"]:
                image["ignore_regions_x"] = [[p[0] for p in poly] for poly in fr["polygons"]]
                image["ignore_regions_y"] = [[p[1] for p in poly] for poly in fr["polygons"]]
            images.append(image)
            for p in fr[side]:
                ann = {
                    "id": len(annotations),
                    "image_id": image_id,
                    "category_id": 1,
                    "track_id": p["track_id"],
                    "keypoints": _keypoints17(p["joints"]),
                }
                if side == "gt":
                    ann["bbox_head"] = list(p["head"])
                else:
                    ann["scores"] = [p["score"] if n in p["joints"] else 0.0 for n in NAMES]
                    ann["score"] = p["score"]
                annotations.append(ann)
        doc = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": NAMES}],
        }
        out = root / "pt18" / side / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc) + "\n")


def write_pt17(name, frames, root):
    for side in ("gt", "pred"):
        annolist = []
        for i, fr in enumerate(frames):
            rects = []
            for p in fr[side] if fr["labeled"] or side == "pred" else []:
                points = []
                for jname, (x, y) in p["joints"].items():
                    pt = {"id": [PT17_IDS[jname]], "x": [x], "y": [y]}
                    pt["score" if side == "pred" else "is_visible"] = [p["score"] if side == "pred" else 1]
                    points.append(pt)
                rect = {"track_id": [p["track_id"]], "annopoints": [{"point": points}]}
                if side == "gt":
                    hx, hy, hw, hh = p["head"]
                    rect.update({"x1": [hx], "y1": [hy], "x2": [hx + hw], "y2": [hy + hh]})
                else:
                    rect["score"] = [p["score"]]
                rects.append(rect)
            entry = {"image": [{"name": f"images/val/{name}/{i + 1:08d}.jpg"}], "imgnum": [i + 1], "annorect": rects}
            if side == "gt" and fr["polygons"]:
                entry["ignore_regions"] = [
                    {"point": [{"x": [x], "y": [y]} for x, y in poly]} for poly in fr["polygons"]
                ]
            annolist.append(entry)
        out = root / "pt17" / side / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"annolist": annolist}) + "\n")


def main() -> None:
    rng = np.random.default_rng(17)
    for build in (sequence_1, sequence_2, sequence_3):
        name, frames = build(rng)
        write_pt18(name, frames, HERE)
        write_pt17(name, frames, HERE)


if __name__ == "__main__":
    main()
