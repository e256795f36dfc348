"""The column reader (``SequenceTable``) and the evaluator's fast path against plain per-person references.

``_reference_pt18`` / ``_reference_pt17`` read a file the straightforward way: ``json`` from the
standard library, one dict per person, field by field as the format documents it. The package
must give the same records (``load_sequence``), the same tables when asked to leave out the
persons of unscored frames, and the same evaluation — arrays, counts, warnings, AP — whether it
reads files (tables, unscored predictions skipped) or is handed records built by the references.
The AP is also checked against the brute-force evaluator of ``conftest.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pstpose.data.posetrack import load_sequence, load_sequence_table, load_sequences
from pstpose.data.posetrack_common import PoseTrackFormatError
from pstpose.data.records import Frame, Person, Sequence
from pstpose.keypoints import JOINT_INDEX, JOINT_NAMES, PT17_TO_SLOT
from pstpose.metrics import EvaluationInputError, evaluate
from pstpose.metrics.diagnostics import Diagnostics
from pstpose.metrics.posetrack_eval import read_tables
from pstpose.metrics.posetrack_inputs import counted_frames, prepare, prepare_tracking

TRACK_FIX = "write an integer track_id, unique within the frame, for every predicted person (they do not change AP)"
ORDER_FIX = "frames are paired by position (as the official tool does); list them in the GT order"


# --- references: one person at a time ----------------------------------------------------------


def _frame_number(name: str, first: int) -> int | None:
    stem = name.split("/")[-1].split(".")[0]
    digits = ""
    for ch in reversed(stem):
        if not ch.isdigit():
            break
        digits = ch + digits
    return int(digits) - first if digits else None


def _reference_pt18(path: Path) -> Sequence:
    doc = json.loads(path.read_text())
    images, anns = doc["images"], doc["annotations"]
    fmt = "pt21" if any("person_id" in a for a in anns) or any("has_labeled_person" in i for i in images) else "pt18"
    names = doc["categories"][0]["keypoints"] if doc.get("categories") else list(JOINT_NAMES)
    slots = [JOINT_INDEX[n] for n in names]
    frames, position = [], {}
    for i, img in enumerate(images):
        image_id = img["id"] if "id" in img else img["frame_id"]
        position[image_id] = i
        xs, ys = img.get("ignore_regions_x") or [], img.get("ignore_regions_y") or []
        polygons = [np.array([[x, y] for x, y in zip(px, py)], dtype=float).reshape(-1, 2) for px, py in zip(xs, ys)]
        number = _frame_number(img["file_name"], 0)
        frames.append(
            Frame(
                file_name=img["file_name"],
                frame_index=i if number is None else number,
                persons=[],
                is_labeled=img.get("is_labeled"),
                image_id=image_id,
                ignore_regions=polygons,
                width=img.get("width"),
                height=img.get("height"),
            )
        )
    for k, ann in enumerate(anns):
        keypoints = np.zeros((17, 3))
        present = np.zeros(17, dtype=bool)
        given = bool(ann["keypoints"])
        for j, slot in enumerate(slots):
            if given:
                x, y, v = ann["keypoints"][3 * j : 3 * j + 3]
                keypoints[slot] = (x, y, v)
                present[slot] = (x > 0 and y > 0) if fmt == "pt21" else not (x == 0 and y == 0 and v == 0)
        scores = None
        if ann.get("scores"):
            scores = np.zeros(17)
            for j, slot in enumerate(slots):
                scores[slot] = ann["scores"][j]
        head = None
        if ann.get("bbox_head"):
            x, y, w, h = ann["bbox_head"]
            head = np.array([x, y, x + w, y + h], dtype=float)
        score = ann.get("score")
        person = Person(
            keypoints=keypoints,
            present=present,
            scores=scores,
            bbox=np.array(ann["bbox"], dtype=float) if ann.get("bbox") else None,
            head_box=head,
            score=float(score) if type(score) in (int, float) else None,
        )
        if type(ann.get("track_id")) is int:
            person.track_id = ann["track_id"]
        elif "track_id" in ann:
            person.extra["invalid_track_id"] = ann["track_id"]
        for key in ("id", "person_id"):
            if key in ann:
                person.extra[key] = ann[key]
        person.extra["where"] = f"{path}: annotations[{k}]"
        frames[position[ann["image_id"]]].persons.append(person)
    for frame in frames:
        frame.is_labeled = bool(frame.persons) if frame.is_labeled is None else bool(frame.is_labeled)
    nframes = images[0].get("nframes") if images else None
    vid = images[0].get("vid_id") if images else None
    return Sequence(
        name=path.stem,
        frames=frames,
        format=fmt,
        source=path,
        nframes=nframes,
        vid_id=None if vid is None else str(vid),
    )


def _one(value):
    return value[0] if isinstance(value, list) else value


def _reference_pt17(path: Path) -> Sequence:
    frames = []
    for i, entry in enumerate(json.loads(path.read_text())["annolist"]):
        name = _one(entry["image"])["name"]
        name = _one(name)
        persons = []
        for k, rect in enumerate(entry.get("annorect") or []):
            keypoints, present, scores = np.zeros((17, 3)), np.zeros(17, dtype=bool), np.full(17, np.nan)
            scored = 0
            for point in rect["annopoints"][0]["point"]:
                slot = PT17_TO_SLOT[_one(point["id"])]
                keypoints[slot] = (_one(point["x"]), _one(point["y"]), _one(point.get("is_visible", [1])))
                present[slot] = True
                if "score" in point:
                    scores[slot] = _one(point["score"])
                    scored += 1
            if scored:
                scores[~present] = 0.0
            head = None
            if all(c in rect for c in ("x1", "y1", "x2", "y2")):
                head = np.array([float(_one(rect[c])) for c in ("x1", "y1", "x2", "y2")])
            person = Person(
                keypoints=keypoints,
                present=present,
                scores=scores if scored else None,
                head_box=head,
                score=float(_one(rect["score"])) if "score" in rect else None,
            )
            if "track_id" in rect:
                tid = _one(rect["track_id"])
                if type(tid) is int:
                    person.track_id = tid
                else:
                    person.extra["invalid_track_id"] = tid
            person.extra["where"] = f"{path}: annolist[{i}].annorect[{k}]"
            persons.append(person)
        regions = [
            np.array([[float(_one(p["x"])), float(_one(p["y"]))] for p in r["point"]]).reshape(-1, 2)
            for r in entry.get("ignore_regions") or []
        ]
        number = _frame_number(name, 1)
        frames.append(
            Frame(
                file_name=name,
                frame_index=i if number is None else number,
                persons=persons,
                is_labeled=bool(_one(entry["is_labeled"])) if "is_labeled" in entry else bool(persons),
                image_id=_one(entry["imgnum"]) if "imgnum" in entry else None,
                ignore_regions=regions,
            )
        )
    return Sequence(name=path.stem, frames=frames, format="pt17", source=path)


def _reference_dir(folder: Path) -> list[Sequence]:
    read = _reference_pt17 if "annolist" in json.loads(next(folder.glob("*.json")).read_text()) else _reference_pt18
    return [read(p) for p in sorted(folder.glob("*.json"))]


# --- comparisons ------------------------------------------------------------------------------


def _same_array(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a.astype(float), b.astype(float), equal_nan=True)


def _assert_same_person(got: Person, want: Person) -> None:
    for field in ("keypoints", "present", "scores", "bbox", "head_box"):
        assert _same_array(getattr(got, field), getattr(want, field)), (field, want.extra.get("where"))
    assert got.keypoints.dtype == np.float64 and got.present.dtype == bool
    assert (got.track_id, type(got.track_id), got.score) == (want.track_id, type(want.track_id), want.score)
    assert got.extra == want.extra


def _assert_same_sequence(got: Sequence, want: Sequence) -> None:
    assert (got.name, got.format, got.source, got.nframes, got.vid_id) == (
        want.name,
        want.format,
        want.source,
        want.nframes,
        want.vid_id,
    )
    assert len(got.frames) == len(want.frames)
    for g, w in zip(got.frames, want.frames):
        assert (g.file_name, g.frame_index, g.is_labeled, g.image_id, g.width, g.height) == (
            w.file_name,
            w.frame_index,
            w.is_labeled,
            w.image_id,
            w.width,
            w.height,
        )
        assert len(g.ignore_regions) == len(w.ignore_regions)
        assert all(_same_array(a, b) for a, b in zip(g.ignore_regions, w.ignore_regions))
        assert len(g.persons) == len(w.persons)
        for p, q in zip(g.persons, w.persons):
            _assert_same_person(p, q)


def _assert_same_arrays(a, b) -> None:
    for field, value in vars(a).items():
        other = getattr(b, field)
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and np.array_equal(value, other, equal_nan=True), field
        else:
            assert value == other, field


# --- generated files -----------------------------------------------------------------------------


def _pt18_pair(
    rng: np.random.Generator, name: str, n_frames: int, reorder_joints: bool, track_problems: bool = True
) -> tuple[dict, dict]:
    """GT and predictions of one sequence with the cases a reader must get right: joints mapped by
    category names, negative coordinates, persons listed out of frame order, frames without
    ``is_labeled``, ``frame_id`` instead of ``id``, ignore polygons, persons without joints or
    head box, predictions without scores, missing / non-integer / repeated track ids, extra fields."""
    names = list(JOINT_NAMES)
    if reorder_joints:
        rng.shuffle(names)
    images, gt_anns, pr_anns = [], [], []
    for f in range(n_frames):
        image_id = 1000 * (int(name[:6]) + 1) + f
        img = {"file_name": f"images/val/{name}/{f:06d}.jpg", "width": 640, "height": 360}
        img["id" if f % 5 else "frame_id"] = image_id
        if f % 4 != 3:
            img["is_labeled"] = bool(rng.random() < 0.6)
        if rng.random() < 0.3:
            x0, y0 = rng.uniform(0, 400, 2).round(1)
            img["ignore_regions_x"] = [[x0, x0 + 150, x0 + 150, x0]]
            img["ignore_regions_y"] = [[y0, y0, y0 + 120, y0 + 120]]
        images.append(img)
        labeled = img.get("is_labeled", True)
        n_gt = int(rng.integers(0, 4)) if labeled else 0
        for k in range(n_gt):
            cx, cy = 150.0 * k + 60, rng.uniform(-20, 300)
            xy = np.column_stack([cx + rng.normal(0, 30, 17), cy + rng.normal(0, 30, 17)]).round(1)
            vis = rng.random(17) < 0.8
            kp = np.where(vis[:, None], np.column_stack([xy, np.ones(17)]), 0.0)
            if f < 2 and k == 0:  # at the origin but visible: present in PoseTrack18, absent in PoseTrack21
                kp[0] = (0.0, 0.0, 1.0)
            ann = {"image_id": image_id, "track_id": k, "id": image_id * 10 + k, "keypoints": kp.ravel().tolist()}
            if vis.any():
                ann["bbox_head"] = [cx, cy, 20.0 + k, 25.0]
                ann["bbox"] = [cx - 40, cy - 40, 80.0, 120.0]
            gt_anns.append(ann)
            if rng.random() < 0.85:
                jitter = np.where(vis[:, None], rng.normal(0, 4, (17, 2)), 0.0)
                pk = kp.copy()
                pk[:, :2] += jitter
                pr = {"image_id": image_id, "track_id": k, "keypoints": pk.round(2).ravel().tolist(), "score": 0.9}
                if rng.random() < 0.9:
                    pr["scores"] = rng.random(17).round(3).tolist()
                pr_anns.append(pr)
        for k in range(int(rng.integers(0, 3))):  # strays, also in unlabeled frames
            kp = np.column_stack([rng.uniform(-10, 600, 17), rng.uniform(-10, 350, 17), np.ones(17)])
            pr_anns.append(
                {
                    "image_id": image_id,
                    "track_id": 50 + k,
                    "keypoints": kp.round(1).ravel().tolist(),
                    "scores": rng.random(17).round(3).tolist(),
                }
            )
    for ann in pr_anns if track_problems else []:  # track id problems here and there
        u = rng.random()
        if u < 0.04:
            del ann["track_id"]
        elif u < 0.07:
            ann["track_id"] = str(ann["track_id"])
        elif u < 0.1:
            ann["track_id"] = 0
    order = rng.permutation(len(pr_anns))  # files need not list persons frame by frame
    pr_anns = [pr_anns[i] for i in order]

    def remap(anns: list[dict], field: str, width: int) -> None:
        for ann in anns:
            if field in ann:
                rows = np.asarray(ann[field], dtype=float).reshape(17, width)
                ann[field] = rows[[JOINT_INDEX[n] for n in names]].ravel().tolist()

    remap(gt_anns, "keypoints", 3)
    remap(pr_anns, "keypoints", 3)
    remap(pr_anns, "scores", 1)
    categories = [{"id": 1, "name": "person", "keypoints": names}]
    gt = {"images": images, "annotations": gt_anns, "categories": categories}
    pred_images = [{k: v for k, v in img.items() if k in ("file_name", "id", "frame_id")} for img in images]
    return gt, {"images": pred_images, "annotations": pr_anns, "categories": categories}


def _write_pair(
    root: Path, seed: int, n_seq: int = 3, n_frames: int = 12, track_problems: bool = True
) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    for sub in ("gt", "pred"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for s in range(n_seq):
        name = f"{s:06d}_mpii_test"
        gt, pred = _pt18_pair(rng, name, n_frames, s % 2 == 1, track_problems)
        (root / "gt" / f"{name}.json").write_text(json.dumps(gt))
        (root / "pred" / f"{name}.json").write_text(json.dumps(pred))
    return root / "gt", root / "pred"


def _to_annolist(doc: dict) -> dict:
    """The same sequence as a PoseTrack17 annolist (ears dropped: PoseTrack17 has no ear ids)."""
    names = doc["categories"][0]["keypoints"]
    pt17_id = {slot: i for i, slot in enumerate(PT17_TO_SLOT)}
    by_image: dict[int, list[dict]] = {}
    for ann in doc["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    annolist = []
    for img in doc["images"]:
        image_id = img.get("id", img.get("frame_id"))
        rects = []
        for ann in by_image.get(image_id, []):
            points = []
            for j, n in enumerate(names):
                x, y, v = ann["keypoints"][3 * j : 3 * j + 3]
                if JOINT_INDEX[n] in pt17_id and not (x == 0 and y == 0 and v == 0):
                    point = {"id": [pt17_id[JOINT_INDEX[n]]], "x": [x], "y": [y], "is_visible": [v]}
                    if "scores" in ann:
                        point["score"] = [ann["scores"][j]]
                    points.append(point)
            rect = {"annopoints": [{"point": points}]}
            if "track_id" in ann:
                rect["track_id"] = [ann["track_id"]]
            if "bbox_head" in ann:
                x, y, w, h = ann["bbox_head"]
                rect.update(x1=[x], y1=[y], x2=[x + w], y2=[y + h])
            rects.append(rect)
        frame_number = int(img["file_name"][-10:-4]) + 1
        entry = {"image": [{"name": f"{img['file_name'].rsplit('/', 2)[1]}/{frame_number:08d}.jpg"}], "annorect": rects}
        if "is_labeled" in img:
            entry["is_labeled"] = [int(img["is_labeled"])]
        if "ignore_regions_x" in img:
            entry["ignore_regions"] = [
                {"point": [{"x": [x], "y": [y]} for x, y in zip(px, py)]}
                for px, py in zip(img["ignore_regions_x"], img["ignore_regions_y"])
            ]
        annolist.append(entry)
    return {"annolist": annolist}


def _write_pt17(root: Path, seed: int, track_problems: bool = True) -> tuple[Path, Path]:
    gt18, pred18 = _write_pair(root / "pt18", seed, track_problems=track_problems)
    for src, sub in ((gt18, "gt"), (pred18, "pred")):
        (root / "pt17" / sub).mkdir(parents=True)
        for path in sorted(src.glob("*.json")):
            doc = _to_annolist(json.loads(path.read_text()))
            (root / "pt17" / sub / path.name).write_text(json.dumps(doc))
    return root / "pt17" / "gt", root / "pt17" / "pred"


# --- the reader -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pt18_records_equal_the_per_person_reference(tmp_path, seed):
    gt, pred = _write_pair(tmp_path, seed)
    for folder in (gt, pred):
        want = _reference_dir(folder)
        got = load_sequences(folder)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same_sequence(g, w)


def test_pt21_presence_rule_and_ids(tmp_path):
    gt, _ = _write_pair(tmp_path, 3, n_seq=1)
    path = next(gt.glob("*.json"))
    doc = json.loads(path.read_text())
    for k, ann in enumerate(doc["annotations"]):
        ann["person_id"] = 500 + k
    path.write_text(json.dumps(doc))
    got, want = load_sequence(path), _reference_pt18(path)
    assert got.format == want.format == "pt21"
    _assert_same_sequence(got, want)


def test_pt17_records_equal_the_per_person_reference(tmp_path):
    gt, pred = _write_pt17(tmp_path, 4)
    for folder in (gt, pred):
        for g, w in zip(load_sequences(folder), _reference_dir(folder)):
            _assert_same_sequence(g, w)


def test_real_posetrack18_file_equals_the_reference(shared_data):
    path = shared_data / "posetrack18_sample" / "annotations" / "val" / "009473_mpii_test.json"
    _assert_same_sequence(load_sequence(path), _reference_pt18(path))
    table = load_sequence_table(path)
    assert table.n_listed.tolist() == [2] and table.persons.label(1) == f"{path}: annotations[1]"
    assert table.persons.head_box[0].tolist() == [648, 253, 648 + 138, 253 + 103]


@pytest.mark.parametrize("fmt", ["pt18", "pt17"])
def test_tables_leave_out_unscored_frames_and_count_them(tmp_path, fmt):
    _, pred = _write_pair(tmp_path, 5) if fmt == "pt18" else _write_pt17(tmp_path, 5)
    for path in sorted(pred.glob("*.json")):
        want = _reference_dir(path.parent)[sorted(pred.glob("*.json")).index(path)]
        keep = np.arange(len(want.frames)) % 3 == 0
        table = load_sequence_table(path, keep=keep, for_records=True)
        fast = load_sequence_table(path, keep=keep)  # what evaluation reads: the same arrays
        for field in ("frame", "keypoints", "present", "scores", "head_box", "track_id", "track_state"):
            assert np.array_equal(getattr(fast.persons, field), getattr(table.persons, field), equal_nan=True)
        assert table.n_listed.tolist() == [len(f.persons) for f in want.frames]
        kept = [(i, p) for i, f in enumerate(want.frames) if keep[i] for p in f.persons]
        rows = sorted(range(len(table.persons)), key=lambda r: (table.persons.frame[r], r))
        assert len(rows) == len(kept)
        for r, (i, person) in zip(rows, kept):
            assert table.persons.frame[r] == i
            _assert_same_person(table.persons.person(r), person)
        assert table.file_names == [f.file_name for f in want.frames]


def test_persons_of_unscored_frames_get_structure_checks_only(tmp_path):
    _, pred = _write_pair(tmp_path, 6, n_seq=1)
    path = next(pred.glob("*.json"))
    doc = json.loads(path.read_text())
    skipped = 0
    image_ids = [img.get("id", img.get("frame_id")) for img in doc["images"]]
    keep = np.asarray(image_ids) != doc["annotations"][skipped]["image_id"]
    doc["annotations"][skipped]["keypoints"][4] = "7"  # a value: not read in a frame left out
    path.write_text(json.dumps(doc))
    load_sequence_table(path, keep=keep)
    with pytest.raises(PoseTrackFormatError, match=rf"annotations\[{skipped}\]\.keypoints must be a flat list"):
        load_sequence_table(path)
    doc["annotations"][skipped]["keypoints"] = [1.0] * 48  # the layout: checked everywhere
    path.write_text(json.dumps(doc))
    with pytest.raises(PoseTrackFormatError, match=rf"annotations\[{skipped}\]\.keypoints has 48 values, expected 51"):
        load_sequence_table(path, keep=keep)


# --- evaluation: files (fast path) against reference records -----------------------------------


@pytest.mark.parametrize("fmt", ["pt18", "pt17"])
@pytest.mark.parametrize("mode", ["posetrack", "posetrack21"])
def test_evaluation_of_files_equals_that_of_reference_records(tmp_path, fmt, mode, pt):
    # The PoseTrack21 kit refuses track id problems (tested below); here they are left out in that mode.
    problems = mode == "posetrack"
    gt, pred = _write_pair(tmp_path, 7, 4, 12, problems) if fmt == "pt18" else _write_pt17(tmp_path, 7, problems)
    ref_gt, ref_pred = _reference_dir(gt), _reference_dir(pred)

    tables_gt = read_tables(gt, "auto", "GT")
    keep = {s.name: counted_frames(s, mode) for s in tables_gt}
    tables_pred = read_tables(pred, "auto", "prediction", keep)
    assert sum(len(t.persons) for t in tables_pred) < sum(len(f.persons) for s in ref_pred for f in s.frames)
    diag_fast, diag_ref = Diagnostics(), Diagnostics()
    arrays, stats = prepare(tables_gt, tables_pred, mode, diag_fast)
    ref_arrays, ref_stats = prepare(ref_gt, ref_pred, mode, diag_ref)
    _assert_same_arrays(arrays, ref_arrays)
    assert stats == ref_stats and diag_fast.lines() == diag_ref.lines()
    assert stats.ignored_pred_persons > 0

    from_files, from_records = evaluate(gt, pred, mode=mode), evaluate(ref_gt, ref_pred, mode=mode)
    for field in ("ap", "precision", "recall", "n_gt", "n_pred"):
        assert np.array_equal(getattr(from_files.joints, field), getattr(from_records.joints, field), equal_nan=True)
    assert from_files.warnings == from_records.warnings and from_files.stats == from_records.stats
    brute = pt.brute_force(ref_gt, ref_pred, mode=mode)
    np.testing.assert_allclose(from_files.joints.ap, brute.ap, atol=1e-9)
    np.testing.assert_allclose(from_files.joints.recall, brute.recall, atol=1e-9)


# --- warnings and errors in the order a frame-by-frame pass meets them ------------------------


def _expected_track_lines(gt: list[Sequence], pred: list[Sequence], strict: bool) -> list[str]:
    """The track-id and frame-order warnings, by a plain pass over sequences, frames and persons."""
    diag = Diagnostics()
    for g, p in zip(gt, pred):
        for gf, pf in zip(g.frames, p.frames):
            if gf.file_name.rsplit("/", 1)[-1] != pf.file_name.rsplit("/", 1)[-1]:
                diag.warn(
                    "frame order differs from GT",
                    f"{p.source}: frame {pf.file_name} sits where the GT has {gf.file_name}",
                    ORDER_FIX,
                )
                break
        for gf, pf in zip(g.frames, p.frames):
            if not (gf.is_labeled if strict else gf.persons):
                continue
            ids = []
            for person in pf.persons:
                where = person.extra["where"]
                if "invalid_track_id" in person.extra:
                    example = f"{where}: track_id is {person.extra['invalid_track_id']!r}, not an integer"
                    diag.warn("track_id not an integer", example, TRACK_FIX)
                elif person.track_id is None:
                    diag.warn("track_id missing", f"{where}: frame {pf.file_name}", TRACK_FIX)
                else:
                    ids.append(person.track_id)
            repeated = [i for i in ids if ids.count(i) > 1]
            if repeated:
                example = f"{p.source}: frame {pf.file_name} has track_id {repeated[0]} twice"
                diag.warn("duplicate track_id in a frame", example, TRACK_FIX)
    return diag.lines()


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_track_id_warnings_come_in_pass_order(tmp_path, seed):
    gt, pred = _write_pair(tmp_path, seed, n_seq=4)
    rng = np.random.default_rng(seed)
    for path in sorted(pred.glob("*.json"))[1:3]:  # swap two frame names in two sequences
        doc = json.loads(path.read_text())
        a, b = rng.choice(len(doc["images"]), 2, replace=False)
        doc["images"][a]["file_name"], doc["images"][b]["file_name"] = (
            doc["images"][b]["file_name"],
            doc["images"][a]["file_name"],
        )
        path.write_text(json.dumps(doc))
    ref_gt, ref_pred = _reference_dir(gt), _reference_dir(pred)
    result = evaluate(gt, pred)
    expected = _expected_track_lines(ref_gt, ref_pred, strict=False)
    assert len(expected) >= 3
    kinds = ("warning: track_id", "warning: duplicate track_id", "warning: frame order")
    assert [w for w in result.warnings if w.startswith(kinds)] == expected


def _frames_doc(name: str, frames: list[list], scores: bool = True) -> dict:
    """A PoseTrack18 document; ``frames``: per frame, the persons' track ids (``...`` for none)."""
    images, anns = [], []
    for f, ids in enumerate(frames):
        images.append({"file_name": f"images/val/{name}/{f:06d}.jpg", "id": f, "is_labeled": True})
        for k, tid in enumerate(ids):
            kp = [0.0] * 51
            kp[30:33] = [100.0 + 200 * k, 100.0, 1.0]
            ann = {"image_id": f, "keypoints": kp, "bbox_head": [100.0 + 200 * k, 90.0, 30, 40]}
            if tid is not ...:
                ann["track_id"] = tid
            if scores:
                ann["scores"] = [0.5] * 17
            anns.append(ann)
    return {"images": images, "annotations": anns}


def _dirs(tmp_path: Path, gt: dict[str, dict], pred: dict[str, dict]) -> tuple[Path, Path]:
    for sub, docs in (("gt", gt), ("pred", pred)):
        (tmp_path / sub).mkdir(exist_ok=True)
        for name, doc in docs.items():
            (tmp_path / sub / f"{name}.json").write_text(json.dumps(doc))
    return tmp_path / "gt", tmp_path / "pred"


def test_posetrack21_reports_the_first_track_id_problem(tmp_path):
    gt_doc = _frames_doc("a", [[0, 1], [0, 1], [0, 1]])
    # Frame 0 repeats an id, frame 1 has a string id: the repeat comes first.
    gt, pred = _dirs(tmp_path, {"a": gt_doc}, {"a": _frames_doc("a", [[4, 4], ["x", 1], [0, 1]])})
    with pytest.raises(
        EvaluationInputError, match=r"frame images/val/a/000000\.jpg has track_id 4 twice.*refuses duplicates"
    ):
        evaluate(gt, pred, mode="posetrack21")
    # In one frame the person with the string id comes before the frame's repeat.
    (pred / "a.json").write_text(json.dumps(_frames_doc("a", [[0, 1], ["x", 7, 7], [0, 1]])))
    with pytest.raises(EvaluationInputError, match=r"annotations\[2\]: track_id is 'x', not an integer.*needs integer"):
        evaluate(gt, pred, mode="posetrack21")


def test_tracking_reports_the_first_track_id_problem_frame_by_frame(tmp_path):
    # GT misses an id in frame 2; predictions repeat one in frame 1: frame 1 is met first.
    gt, pred = _dirs(
        tmp_path,
        {"a": _frames_doc("a", [[0, 1], [0, 1], [0, ...]])},
        {"a": _frames_doc("a", [[0, 1], [3, 3], [0, 1]])},
    )
    with pytest.raises(EvaluationInputError, match=r"frame images/val/a/000001\.jpg has predicted track_id 3 twice"):
        evaluate(gt, pred, tracking=True)
    # Both in frame 1: the GT's persons are checked before the predictions.
    (gt / "a.json").write_text(json.dumps(_frames_doc("a", [[0, 1], [0, "b"], [0, 1]])))
    with pytest.raises(EvaluationInputError, match=r"gt/a\.json: annotations\[3\]: GT track_id is 'b', not an integer"):
        evaluate(gt, pred, tracking=True)


def test_tracking_inputs_from_files_equal_those_from_reference_records(tmp_path):
    gt_doc = _frames_doc("a", [[0, 1], [0, 1, 2], [], [2, 0]])
    pred_doc = _frames_doc("a", [[1, 0], [0, 2], [5], [2, 0, 9]])
    gt, pred = _dirs(
        tmp_path, {"a": gt_doc, "b": _frames_doc("b", [[3], [3]])}, {"a": pred_doc, "b": _frames_doc("b", [[], [8]])}
    )
    files = prepare_tracking(read_tables(gt, "auto", "GT"), read_tables(pred, "auto", "prediction"), Diagnostics())
    records = prepare_tracking(_reference_dir(gt), _reference_dir(pred), Diagnostics())
    for a, b in zip(files, records):
        _assert_same_arrays(a, b)
    assert files[2].pr_track.tolist() == [1, 0, 0, 2, 2, 0, 9, 8]


def test_eval_does_not_import_torch(tmp_path):
    gt, pred = _dirs(tmp_path, {"a": _frames_doc("a", [[0]])}, {"a": _frames_doc("a", [[0]])})
    code = (
        "import sys; from pstpose.cli import main; "
        f"assert main(['eval', '--gt', {str(gt)!r}, '--pred', {str(pred)!r}]) == 0; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
