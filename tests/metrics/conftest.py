"""Builders and an independent brute-force evaluator for the PoseTrack AP tests.

``brute_force`` is a deliberately plain transcription of the protocol (loops over frames,
persons and joints; its own point-in-polygon by winding number), sharing no code with
``pstpose.metrics`` beyond the record types, so agreement between the two is evidence.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from pstpose.data.records import Frame, Person, Sequence
from pstpose.keypoints import JOINT_INDEX, PT17_JOINT_NAMES

SLOTS = [JOINT_INDEX[n] for n in PT17_JOINT_NAMES]


def make_person(joints: dict, head=None, scores: dict | None = None, track_id=None, v: float = 1.0) -> Person:
    """joints: name -> (x, y); head: (x1, y1, x2, y2); scores: name -> score."""
    kp = np.zeros((17, 3))
    present = np.zeros(17, dtype=bool)
    sc = None if scores is None else np.zeros(17)
    for name, (x, y) in joints.items():
        k = JOINT_INDEX[name]
        kp[k] = (x, y, v)
        present[k] = True
        if sc is not None:
            sc[k] = scores[name]
    return Person(
        keypoints=kp,
        present=present,
        scores=sc,
        track_id=track_id,
        head_box=None if head is None else np.asarray(head, dtype=float),
    )


def make_sequence(name: str, frames_persons: list[list[Person]], polygons=None, labeled=None, fmt="pt18") -> Sequence:
    frames = []
    for i, persons in enumerate(frames_persons):
        frames.append(
            Frame(
                file_name=f"images/val/{name}/{i:06d}.jpg",
                frame_index=i,
                persons=list(persons),
                image_id=i,
                ignore_regions=[np.asarray(p, float) for p in (polygons or {}).get(i, [])],
                is_labeled=True if labeled is None else labeled[i],
            )
        )
    return Sequence(name=name, frames=frames, format=fmt)


# --- brute force ------------------------------------------------------------------------------


def _on_segment(px, py, ax, ay, bx, by) -> bool:
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    return cross == 0 and min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


def _winding_inside(px, py, poly) -> bool:
    """Strictly inside by non-zero winding number; boundary points are outside."""
    n = len(poly)
    if n < 3:
        return False
    wn = 0
    for i in range(n):
        ax, ay = poly[i]
        bx, by = poly[(i + 1) % n]
        if _on_segment(px, py, ax, ay, bx, by):
            return False
        is_left = (bx - ax) * (py - ay) - (px - ax) * (by - ay)
        if ay <= py < by and is_left > 0:
            wn += 1
        elif by <= py < ay and is_left < 0:
            wn -= 1
    return wn != 0


def _joints(person: Person, mode: str, polygons) -> dict[int, tuple[float, float]]:
    out = {}
    for j, slot in enumerate(SLOTS):
        if not person.present[slot]:
            continue
        x, y = float(person.keypoints[slot, 0]), float(person.keypoints[slot, 1])
        if mode == "posetrack21" and not (x > 0 and y > 0):
            continue
        if any(_winding_inside(x, y, [tuple(map(float, v)) for v in poly]) for poly in polygons):
            continue
        out[j] = (x, y)
    return out


def _voc(scores: list[float], labels: list[int], n_gt: int, mode: str):
    if not scores:
        return 0.0, 0.0, 0.0
    order = list(np.argsort(np.asarray(scores, dtype=float))[::-1])
    tp = 0
    prec, rec = [], []
    for rank, i in enumerate(order, start=1):
        tp += labels[i]
        prec.append(tp / rank)
        denom = max(n_gt, 1) if mode == "posetrack21" else n_gt
        rec.append(tp / denom if denom else math.nan)
    mpre = [0.0] + prec + [0.0]
    mrec = [0.0] + rec + [1.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:  # NaN != anything: a NaN recall makes AP NaN, as in the tool
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
    return 100 * ap, 100 * prec[-1], 100 * rec[-1]


def brute_force(gt: list[Sequence], pred: list[Sequence], mode: str = "posetrack", report_ties: bool = False):
    """Per-joint (ap, precision, recall) arrays in PoseTrack17 id order, by the protocol's words."""
    by_name = {s.name: s for s in pred}
    scores = [[] for _ in range(15)]
    labels = [[] for _ in range(15)]
    n_gt = [0] * 15
    ties = False
    assignments = []  # per counted frame: {prediction index: GT index}
    for g in gt:
        p = by_name[g.name]
        for gf, pf in zip(g.frames, p.frames):
            counts = gf.is_labeled if mode == "posetrack21" else len(gf.persons) > 0
            if not counts:
                continue
            gts = []
            for person in gf.persons:
                joints = _joints(person, mode, gf.ignore_regions)
                if joints:
                    x1, y1, x2, y2 = person.head_box
                    gts.append((joints, 0.6 * math.sqrt((x2 - x1) ** 2 + (y2 - y1) ** 2)))
            prs = []
            for person in pf.persons:
                joints = _joints(person, mode, gf.ignore_regions)
                if joints:
                    sc = person.scores
                    prs.append((joints, {j: (-9999.0 if sc is None else float(sc[SLOTS[j]])) for j in joints}))
            for joints, _ in gts:
                for j in joints:
                    n_gt[j] += 1

            def match(pi, gi, j, prs=prs, gts=gts):
                pj, gj = prs[pi][0], gts[gi][0]
                if j not in pj or j not in gj:
                    return False
                d = math.sqrt((pj[j][0] - gj[j][0]) ** 2 + (pj[j][1] - gj[j][1]) ** 2)
                return d / gts[gi][1] <= 0.5 if gts[gi][1] > 0 else False

            pck = [
                [sum(match(pi, gi, j) for j in range(15)) / len(gts[gi][0]) for gi in range(len(gts))]
                for pi in range(len(prs))
            ]
            best = {}
            for pi in range(len(prs)):
                if gts:
                    top = max(pck[pi])
                    firsts = [gi for gi in range(len(gts)) if pck[pi][gi] == top]
                    ties |= top > 0 and len(firsts) > 1
                    best[pi] = firsts[0]
            assigned = {}
            for gi in range(len(gts)):
                cands = [pi for pi in range(len(prs)) if best.get(pi) == gi and pck[pi][gi] > 0]
                if cands:
                    top = max(pck[pi][gi] for pi in cands)
                    winners = [pi for pi in cands if pck[pi][gi] == top]
                    ties |= len(winners) > 1
                    assigned[winners[0]] = gi
            assignments.append(assigned)
            for pi, (joints, sc) in enumerate(prs):
                for j in sorted(joints):
                    scores[j].append(sc[j])
                    labels[j].append(int(match(pi, assigned[pi], j)) if pi in assigned else 0)
    res = [_voc(scores[j], labels[j], n_gt[j], mode) for j in range(15)]
    out = SimpleNamespace(
        ap=np.array([r[0] for r in res]),
        precision=np.array([r[1] for r in res]),
        recall=np.array([r[2] for r in res]),
        n_gt=np.array(n_gt),
        assignments=assignments,
    )
    return (out, ties) if report_ties else out


def random_dataset(
    rng: np.random.Generator,
    n_seq=3,
    n_frames=6,
    max_gt=4,
    max_pred=5,
    overlap=False,
    polygons=True,
    negative=True,
    joint_prob=0.75,
    head_range=(8, 30),
    spread=40.0,
    duplicates=0.0,
):
    """GT persons with random joints and head boxes; predictions jittered copies plus strays,
    distinct random scores. ``overlap`` puts persons close together (ties and contention)."""
    gts, preds = [], []
    for s in range(n_seq):
        g_frames, p_frames, polys = [], [], {}
        for f in range(n_frames):
            n_g = int(rng.integers(0, max_gt + 1))
            g_persons = []
            for k in range(n_g):
                cx = rng.uniform(0, 120) if overlap else 400.0 * k + 100.0
                cy = rng.uniform(-20 if negative else 50, 300)
                head = rng.uniform(*head_range)
                joints = {}
                for name in PT17_JOINT_NAMES:
                    if rng.random() < joint_prob:
                        joints[name] = (round(cx + rng.normal(0, spread), 1), round(cy + rng.normal(0, spread), 1))
                g_persons.append(make_person(joints, head=(cx, cy, cx + head, cy + head * 0.8), track_id=k))
            p_persons = []
            copies = [(k, gp) for k, gp in enumerate(g_persons) for _ in range(1 + (rng.random() < duplicates))]
            for _k, gp in copies:
                if rng.random() < 0.8:
                    joints = {}
                    for j, name in enumerate(PT17_JOINT_NAMES):
                        slot = SLOTS[j]
                        if gp.present[slot] and rng.random() < 0.9:
                            x, y = gp.keypoints[slot, :2]
                            joints[name] = (x + rng.normal(0, 6), y + rng.normal(0, 6))
                    if joints:
                        p_persons.append(
                            make_person(joints, scores={n: rng.random() for n in joints}, track_id=len(p_persons))
                        )
            for k in range(int(rng.integers(0, max(1, max_pred - len(p_persons)) + 1))):
                joints = {
                    n: (rng.uniform(-10, 1300), rng.uniform(-10, 400)) for n in PT17_JOINT_NAMES if rng.random() < 0.6
                }
                if joints:
                    p_persons.append(make_person(joints, scores={n: rng.random() for n in joints}, track_id=100 + k))
            rng.shuffle(p_persons)
            if polygons and rng.random() < 0.3:
                x0, y0 = rng.uniform(0, 800), rng.uniform(0, 200)
                polys[f] = [[(x0, y0), (x0 + 250, y0), (x0 + 250, y0 + 150), (x0, y0 + 150)]]
            g_frames.append(g_persons)
            p_frames.append(p_persons)
        gts.append(make_sequence(f"seq{s:03d}", g_frames, polygons=polys))
        preds.append(make_sequence(f"seq{s:03d}", p_frames))
    return gts, preds


@pytest.fixture(scope="session")
def pt() -> SimpleNamespace:
    """The helpers above, for tests (session scope so hypothesis tests may use them)."""
    return SimpleNamespace(
        make_person=make_person,
        make_sequence=make_sequence,
        brute_force=brute_force,
        random_dataset=random_dataset,
        SLOTS=SLOTS,
        winding_inside=_winding_inside,
    )
