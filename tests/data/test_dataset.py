import cv2
import numpy as np
import pytest
import torch

from pstpose import preprocess
from pstpose.config import DataConfig
from pstpose.data.dataset import PoseTrackClipDataset
from pstpose.data.frames import FrameFileError
from pstpose.engine.loader import build_loader
from pstpose.keypoints import JOINT_INDEX, flip_permutation
from tests.data.clip_builders import make_person, make_sequence, write_frames

W, H = 320, 240


def _noise_frames(nframes, seed=0):
    rng = np.random.default_rng(seed)
    return {i: rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for i in range(nframes)}


@pytest.fixture
def jpeg_dataset(tmp_path):
    persons = [
        make_person(center=(150.0, 120.0), height=150.0, track_id=3),
        make_person(center=(250.0, 130.0), height=120.0, track_id=4),
    ]
    seq = make_sequence(nframes=4, labeled=(0, 2), persons=persons, width=W, height=H)
    write_frames(tmp_path, seq, _noise_frames(4), width=W, height=H)
    return tmp_path, seq


def test_eval_item_from_jpegs_matches_an_independent_crop(jpeg_dataset):
    root, seq = jpeg_dataset
    ds = PoseTrackClipDataset([seq], root, DataConfig(), train=False)
    assert len(ds) == 4
    item = ds[3]  # keyframe 2, second person
    clip, target, weight, meta = item["clip"], item["target"], item["target_weight"], item["meta"]
    assert clip.shape == (3, 3, 256, 192) and clip.dtype == torch.float32
    assert target.shape == (17, 64, 48) and target.dtype == torch.float32
    assert weight.shape == (17,) and weight.dtype == torch.float32
    assert (meta["sequence"], meta["frame_index"], meta["track_id"], meta["image_id"]) == ("000001_test", 2, 4, 1002)
    assert meta["flip"] is False and meta["box_score"] == 1.0
    person = seq.frames[1].persons[1]
    np.testing.assert_allclose(meta["box"].numpy(), person.bbox)
    np.testing.assert_allclose(meta["joints"].numpy(), person.keypoints)
    # Independent crop: box -> CropBox -> matrix, then warp each decoded JPEG (frames 1, 2, 3).
    m = preprocess.crop_matrix(preprocess.box_xywh_to_crop(person.bbox))
    np.testing.assert_allclose(meta["matrix"].numpy(), m, atol=1e-12)
    for t, index in enumerate((1, 2, 3)):
        bgr = cv2.imread(str(root / f"images/val/000001_test/{index:06d}.jpg"))
        expected = preprocess.normalize_rgb(cv2.warpAffine(bgr[..., ::-1].copy(), m, (192, 256)))
        np.testing.assert_allclose(clip[t].numpy(), expected, atol=1e-5)
    # Target of the left wrist peaks at its heatmap coordinate.
    lw = JOINT_INDEX["left_wrist"]
    hm_xy = preprocess.crop_to_heatmap(preprocess.apply_affine(person.keypoints[lw, :2], m))
    ys, xs = np.mgrid[0:64, 0:48]
    tw = target[lw].double().numpy()
    np.testing.assert_allclose([(tw * xs).sum() / tw.sum(), (tw * ys).sum() / tw.sum()], hm_xy, atol=1e-3)
    assert weight[JOINT_INDEX["left_ear"]] == 0 and weight[lw] == 1


def test_first_keyframe_replicates_the_first_frame(jpeg_dataset):
    root, seq = jpeg_dataset
    item = PoseTrackClipDataset([seq], root, DataConfig(), train=False)[0]
    assert torch.equal(item["clip"][0], item["clip"][1])
    assert not torch.equal(item["clip"][1], item["clip"][2])


def test_all_frames_share_one_matrix_under_augmentation(tmp_path):
    # A marker at the same image spot on three different backgrounds must land on the same crop
    # pixel in all three crops, whatever the draw (lossless PNG to compare exactly).
    marker = (140.0, 100.0)
    images = {}
    for i, bg in enumerate((30, 90, 150)):
        img = np.full((H, W, 3), bg, np.uint8)
        cv2.circle(img, (int(marker[0]), int(marker[1])), 4, (255, 255, 255), -1)
        images[i] = img
    seq = make_sequence(
        nframes=3,
        labeled=(1,),
        persons=[make_person(center=(150.0, 120.0), height=150.0)],
        ext="png",
        width=W,
        height=H,
    )
    write_frames(tmp_path, seq, images, width=W, height=H)
    cfg = DataConfig(rotation_prob=1.0, flip_prob=1.0, half_body_prob=0.0)
    ds = PoseTrackClipDataset([seq], tmp_path, cfg, train=True)
    for epoch in range(3):
        item = ds[(epoch, 0)]
        assert item["meta"]["flip"] is True and item["meta"]["rotation"] != 0.0
        crops = preprocess.denormalize_rgb(item["clip"].numpy()).astype(np.float64)
        expected = preprocess.apply_affine(marker, item["meta"]["matrix"].numpy())
        spots = []
        for t, bg in enumerate((30, 90, 150)):
            excess = np.clip(crops[t, ..., 0] - bg, 0, None)
            ys, xs = np.nonzero(excess > 0.5 * (255 - bg))
            w = excess[ys, xs]
            spots.append(((xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()))
        np.testing.assert_allclose(spots[0], spots[1], atol=0.05)
        np.testing.assert_allclose(spots[0], spots[2], atol=0.05)
        np.testing.assert_allclose(spots[0], expected, atol=1.0)


def test_flip_item_moves_left_wrist_into_right_wrist_channel(jpeg_dataset):
    root, seq = jpeg_dataset
    plain = PoseTrackClipDataset(
        [seq],
        root,
        DataConfig(flip_prob=0.0, rotation_prob=0.0, half_body_prob=0.0, scale_range=(1.2, 1.2)),
        train=True,
    )
    flip = PoseTrackClipDataset(
        [seq],
        root,
        DataConfig(flip_prob=1.0, rotation_prob=0.0, half_body_prob=0.0, scale_range=(1.2, 1.2)),
        train=True,
    )
    a, b = plain[1], flip[1]
    lw, rw = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]
    torch.testing.assert_close(b["target"][rw], a["target"][lw].flip(-1), atol=1e-6, rtol=0)
    torch.testing.assert_close(b["target_weight"], a["target_weight"][flip_permutation()])
    torch.testing.assert_close(b["clip"], a["clip"].flip(-1), atol=1e-5, rtol=0)
    # meta joints stay in image coordinates and the person's own slot order
    torch.testing.assert_close(b["meta"]["joints"], a["meta"]["joints"])


def test_items_are_reproducible_from_seed_epoch_and_index(jpeg_dataset):
    root, seq = jpeg_dataset
    cfg = DataConfig(seed=7)
    ds = PoseTrackClipDataset([seq], root, cfg, train=True)
    ds.set_epoch(2)
    first = ds[1]
    again = PoseTrackClipDataset([seq], root, cfg, train=True)[(2, 1)]
    for key in ("clip", "target", "target_weight"):
        assert torch.equal(first[key], again[key])
    assert torch.equal(first["meta"]["matrix"], again["meta"]["matrix"])
    other_epoch = ds[(3, 1)]
    assert not torch.equal(first["meta"]["matrix"], other_epoch["meta"]["matrix"])


def test_batches_do_not_depend_on_the_worker_count(jpeg_dataset):
    root, seq = jpeg_dataset
    ds = PoseTrackClipDataset([seq], root, DataConfig(seed=1), train=True)
    ds.set_epoch(4)
    batches = {}
    for workers in (0, 2):
        loader = build_loader(ds, batch_size=2, shuffle=False, workers=workers)
        batches[workers] = list(loader)
    for b0, b2 in zip(batches[0], batches[2]):
        assert torch.equal(b0["clip"], b2["clip"]) and torch.equal(b0["target"], b2["target"])
        assert torch.equal(b0["meta"]["matrix"], b2["meta"]["matrix"])
    batch = batches[0][0]
    assert batch["clip"].shape == (2, 3, 3, 256, 192)
    assert batch["meta"]["matrix"].shape == (2, 2, 3) and batch["meta"]["matrix"].dtype == torch.float64
    assert batch["meta"]["joints"].shape == (2, 17, 3) and batch["meta"]["sequence"] == ["000001_test"] * 2
    assert batch["meta"]["epoch"].tolist() == [4, 4] and batch["meta"]["flip"].dtype == torch.bool


def test_eval_with_detection_boxes(jpeg_dataset):
    root, seq = jpeg_dataset
    boxes = {
        1000: np.array([[100, 50, 80, 150, 0.8], [0, 0, 30, 30, 0.05]]),
        "images/val/000001_test/000002.jpg": np.array([[200, 60, 60, 130, 0.3]]),
    }
    ds = PoseTrackClipDataset([seq], root, DataConfig(), train=False, boxes=boxes)
    assert [(s.frame_index, s.box_score) for s in ds.samples] == [(0, 0.8), (2, 0.3)]
    item = ds[1]
    assert item["meta"]["box_score"] == pytest.approx(0.3) and item["meta"]["track_id"] == -1
    assert not item["target_weight"].any() and not item["target"].any()
    np.testing.assert_allclose(item["meta"]["box"].numpy(), [200, 60, 60, 130])
    with pytest.raises(ValueError, match="ground-truth boxes"):
        PoseTrackClipDataset([seq], root, DataConfig(), train=True, boxes=boxes)


def test_a_missing_neighbour_frame_is_reported_at_construction(jpeg_dataset):
    root, seq = jpeg_dataset
    (root / "images/val/000001_test/000003.jpg").unlink()
    with pytest.raises(FrameFileError, match=r"000003\.jpg"):
        PoseTrackClipDataset([seq], root, DataConfig(), train=False)
    ds = PoseTrackClipDataset([seq], root, DataConfig(check_files=False), train=False)
    with pytest.raises(FrameFileError, match=r"000003\.jpg: no such image file"):
        ds[2]


def test_index_out_of_range(jpeg_dataset):
    root, seq = jpeg_dataset
    with pytest.raises(IndexError):
        PoseTrackClipDataset([seq], root, DataConfig(), train=False)[4]


def test_frame_cache_serves_overlapping_clips(jpeg_dataset):
    root, seq = jpeg_dataset
    ds = PoseTrackClipDataset([seq], root, DataConfig(cache_frames=8), train=False)
    for i in range(len(ds)):
        ds[i]
    # Keyframe 0 clips read frames {0, 1} (0 replicated, warped once), keyframe 2 clips {1, 2, 3}:
    # 10 reads for 2 persons each, of which only the 4 distinct frames are decoded.
    assert ds.cache.misses == 4 and ds.cache.hits == 6


def test_data_config_validates_and_takes_overrides():
    from pstpose.config import ConfigError, apply_overrides, from_dict

    cfg = apply_overrides(DataConfig(), ["frames_per_side=2", "scale_range=[0.7, 1.3]", "dilation=3"])
    assert (cfg.num_frames, cfg.scale_range, cfg.dilation) == (5, (0.7, 1.3), 3)
    for bad, key in [
        ({"format": "coco"}, "data.format"),
        ({"heatmap_size": [64, 64]}, "data.heatmap_size"),
        ({"flip_prob": 1.5}, "data.flip_prob"),
        ({"dilation": 0}, "data.dilation"),
    ]:
        with pytest.raises(ConfigError, match=key):
            from_dict(DataConfig, bad)


def test_predictions_map_back_to_image_persons(jpeg_dataset):
    from pstpose.data.dataset import prediction_to_person

    root, seq = jpeg_dataset
    ds = PoseTrackClipDataset([seq], root, DataConfig(), train=False)
    item = ds[2]
    sample = ds.samples[item["meta"]["sample_index"]]
    # Peaks read off the target (its centroid) are the joints' heatmap coordinates.
    t = item["target"].double().numpy()
    ys, xs = np.mgrid[0:64, 0:48]
    mass = t.sum(axis=(1, 2)).clip(1e-12)
    peaks = np.stack([(t * xs).sum(axis=(1, 2)) / mass, (t * ys).sum(axis=(1, 2)) / mass], axis=1)
    person = prediction_to_person(sample, item["meta"]["matrix"].numpy(), peaks, np.full(17, 0.9))
    supervised = item["target_weight"].numpy() > 0
    np.testing.assert_allclose(person.keypoints[supervised, :2], sample.keypoints[supervised, :2], atol=5e-3)
    assert person.track_id == 3 and person.score == 1.0 and person.scores.tolist() == [0.9] * 17
    np.testing.assert_allclose(person.bbox, sample.box)


@pytest.mark.shared_data
def test_real_posetrack18_keyframe(shared_data):
    """The real fixture lists frame 0 of 101 and ships only that image: a 1-frame clip loads,
    a 3-frame clip names the missing neighbour. Records are built here by hand (no reader)."""
    import json

    from pstpose.data.records import Frame, Person, Sequence

    root = shared_data / "posetrack18_sample"
    data = json.loads((root / "annotations/val/009473_mpii_test.json").read_text())
    (image,) = data["images"]
    persons = []
    for ann in data["annotations"]:
        kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        persons.append(
            Person(
                keypoints=kps,
                present=kps[:, 2] > 0,
                track_id=ann["track_id"],
                bbox=np.asarray(ann["bbox"], dtype=np.float64),
            )
        )
    frame = Frame(
        file_name=image["file_name"],
        frame_index=0,
        persons=persons,
        image_id=image["id"],
        width=image["width"],
        height=image["height"],
    )
    seq = Sequence(name="009473_mpii_test", frames=[frame], format="pt18", nframes=image["nframes"])
    with pytest.raises(FrameFileError, match=r"009473_mpii_test/000001\.jpg"):
        PoseTrackClipDataset([seq], root, DataConfig(), train=False)
    ds = PoseTrackClipDataset([seq], root, DataConfig(frames_per_side=0), train=False)
    assert len(ds) == 2
    item = ds[0]
    assert item["clip"].shape == (1, 3, 256, 192) and item["meta"]["image_id"] == 10094730000
    # Every annotated joint inside the crop is supervised; ears never are.
    w = item["target_weight"].numpy()
    assert w[[3, 4]].sum() == 0 and w.sum() >= 10
