from collections import Counter

import numpy as np
import pytest

from pstpose import preprocess
from pstpose.config import DataConfig
from pstpose.data.clips import (
    check_frame_files,
    clip_file_names,
    clip_frame_indices,
    detection_samples,
    ground_truth_samples,
    keypoint_extent_box,
    video_length,
)
from pstpose.data.frames import FrameFileError, FrameNamingError, neighbour_file_name
from pstpose.data.records import Frame
from pstpose.data.transforms import NO_AUGMENTATION, sample_crop
from tests.data.clip_builders import make_person, make_sequence


@pytest.mark.parametrize(
    "key, nframes, side, dil, expected",
    [
        (5, 10, 1, 1, [4, 5, 6]),
        (0, 10, 1, 1, [0, 0, 1]),  # first frame replicated
        (9, 10, 1, 1, [8, 9, 9]),  # last frame replicated
        (1, 10, 2, 1, [0, 0, 1, 2, 3]),
        (5, 10, 2, 3, [0, 2, 5, 8, 9]),  # dilated span, clamped at both ends
        (0, 1, 2, 1, [0, 0, 0, 0, 0]),
        (4, 10, 0, 1, [4]),
    ],
)
def test_clip_indices_replicate_edges(key, nframes, side, dil, expected):
    assert clip_frame_indices(key, nframes, side, dil) == expected


def test_clip_indices_refuse_bad_arguments():
    with pytest.raises(ValueError, match="outside"):
        clip_frame_indices(10, 10)
    with pytest.raises(ValueError, match="dilation"):
        clip_frame_indices(1, 10, 1, 0)


def test_pt18_neighbour_paths_are_zero_based_six_digits():
    name = "images/val/009473_mpii_test/000000.jpg"
    assert neighbour_file_name(name, 0, 1, "pt18") == "images/val/009473_mpii_test/000001.jpg"
    assert neighbour_file_name(name, 0, 100, "pt18") == "images/val/009473_mpii_test/000100.jpg"
    assert neighbour_file_name("a/000041.jpg", 41, 40, "pt21") == "a/000040.jpg"


def test_pt17_neighbour_paths_are_one_based_eight_digits():
    name = "images/bonn_mpii_test_5sec/00098_mpii/00000001.jpg"  # frame index 0
    assert neighbour_file_name(name, 0, 1, "pt17") == "images/bonn_mpii_test_5sec/00098_mpii/00000002.jpg"
    assert neighbour_file_name("x/00000010.jpg", 9, 8, "pt17") == "x/00000009.jpg"


def test_neighbour_naming_follows_the_file_not_the_format_and_keeps_unpadded_numbers():
    # Width and base come from the name itself: a 0-based %06d name stays so even if called pt17.
    assert neighbour_file_name("s/000003.jpg", 3, 4, "pt17") == "s/000004.jpg"
    assert neighbour_file_name("s/frame9.png", 9, 10, None) == "s/frame10.png"
    assert neighbour_file_name("s/frame10.png", 10, 9, None) == "s/frame9.png"
    assert neighbour_file_name("s/000003.jpg", 3, 3, "pt18") == "s/000003.jpg"


def test_neighbour_naming_fails_clearly():
    with pytest.raises(FrameNamingError, match="no frame number"):
        neighbour_file_name("s/keyframe.jpg", 0, 1)
    with pytest.raises(FrameNamingError, match="does not fit"):
        neighbour_file_name("s/000002.jpg", 5, 6)


def test_listed_frames_keep_their_names_others_are_derived():
    seq = make_sequence(nframes=6, labeled=(2,))
    seq.frames.append(
        Frame(file_name="images/val/000001_test/odd_name.jpg", frame_index=3, persons=[], is_labeled=False)
    )
    names = clip_file_names(seq, seq.frames[0], [1, 2, 3], "pt18")
    assert names == (
        "images/val/000001_test/000001.jpg",
        "images/val/000001_test/000002.jpg",
        "images/val/000001_test/odd_name.jpg",
    )


def test_video_length_uses_nframes_beyond_the_listed_frames():
    seq = make_sequence(nframes=101, labeled=(0,))  # like the real fixture: frame 0 of 101 listed
    assert video_length(seq) == 101
    seq.nframes = None
    assert video_length(seq) == 1


def test_training_samples_one_per_person_with_enough_joints():
    few = make_person(track_id=7)
    few.present[:] = False
    few.present[[5, 6]] = True
    seq = make_sequence(nframes=101, labeled=(0, 50), persons=[make_person(track_id=1), few])
    skipped = Counter()
    samples = ground_truth_samples([seq], DataConfig(min_joints=3), skipped)
    assert [(s.frame_index, s.track_id) for s in samples] == [(0, 1), (50, 1)]
    assert skipped == {"too_few_joints": 2}
    assert samples[0].frame_indices == (0, 0, 1)
    assert samples[0].frame_files == ("images/val/000001_test/000000.jpg",) * 2 + ("images/val/000001_test/000001.jpg",)
    assert samples[1].frame_indices == (49, 50, 51)
    assert len(ground_truth_samples([seq], DataConfig(min_joints=2))) == 4


def test_pt17_sequence_samples_use_one_based_names():
    seq = make_sequence(name="00098_mpii", nframes=30, labeled=(0, 29), fmt="pt17")
    samples = ground_truth_samples([seq], DataConfig(frames_per_side=2, dilation=2))
    assert samples[0].frame_files == ("images/00098_mpii/00000001.jpg",) * 3 + (
        "images/00098_mpii/00000003.jpg",
        "images/00098_mpii/00000005.jpg",
    )
    assert samples[1].frame_files[-1] == "images/00098_mpii/00000030.jpg"
    assert samples[1].frame_files[0] == "images/00098_mpii/00000026.jpg"


def test_ground_truth_box_is_the_annotation_bbox_clipped_else_the_enlarged_joint_extent():
    person = make_person(center=(100.0, 240.0), height=200.0)  # bbox x from 50 to 150
    person.bbox = np.array([-30.0, 140.0, 180.0, 200.0])  # sticks out of the image on the left
    no_box = make_person(center=(400.0, 240.0), height=200.0, bbox=False)
    seq = make_sequence(persons=[person, no_box])
    a, b = ground_truth_samples([seq], DataConfig(keypoint_box_enlarge=1.2))
    np.testing.assert_allclose(a.box, [0.0, 140.0, 150.0, 200.0])
    pts = no_box.keypoints[no_box.present, :2]
    lo, hi = pts.min(0), pts.max(0)
    size = (hi - lo) * 1.2
    np.testing.assert_allclose(b.box, [*((lo + hi) / 2 - size / 2), *size])


def test_keypoint_extent_needs_two_distinct_joints():
    kps = np.zeros((17, 3))
    kps[:, :2] = 5.0
    assert keypoint_extent_box(kps, np.ones(17, bool), 1.2) is None
    kps[3, 0] = 15.0  # a horizontal line of joints still gets a box (1 px tall before padding)
    np.testing.assert_allclose(keypoint_extent_box(kps, np.ones(17, bool), 1.0), [5.0, 4.5, 10.0, 1.0])


def test_box_enlargement_pads_to_the_aspect_then_adds_25_percent():
    seq = make_sequence(persons=[make_person(center=(300.0, 250.0), height=200.0)])
    (sample,) = ground_truth_samples([seq], DataConfig())
    crop = sample_crop(sample.box, NO_AUGMENTATION, DataConfig())
    # bbox 100 x 200, aspect 192/256 = 0.75: width padded to 150, then x1.25.
    assert crop.center == pytest.approx((300.0, 250.0))
    assert crop.size == pytest.approx((150 * 1.25, 200 * 1.25))
    m = preprocess.crop_matrix(crop)
    # The enlarged box's corners land exactly on the crop's outer pixel edges.
    corners = np.array([[300 - 93.75, 250 - 125.0], [300 + 93.75, 250 + 125.0]])
    np.testing.assert_allclose(preprocess.apply_affine(corners, m), [[-0.5, -0.5], [191.5, 255.5]])


def test_detection_samples_threshold_and_key_lookup():
    seq = make_sequence(nframes=10, labeled=(2, 3, 4))
    boxes = {
        1002: np.array([[10, 10, 50, 100, 0.9], [0, 0, 20, 20, 0.1], [5, 5, 0, 10, 0.99]]),
        "images/val/000001_test/000003.jpg": [[30, 40, 60, 120, 0.5]],
        1004: np.zeros((0, 5)),
    }
    skipped = Counter()
    samples = detection_samples([seq], DataConfig(box_score_threshold=0.2), boxes, skipped)
    assert [(s.frame_index, s.box_score) for s in samples] == [(2, 0.9), (3, 0.5)]
    assert skipped == {"low_score": 1, "invalid_box": 1}
    np.testing.assert_allclose(samples[1].box, [30, 40, 60, 120])
    assert samples[0].keypoints is None and samples[0].frame_indices == (1, 2, 3)


def test_detection_mapping_errors_name_the_problem():
    seq = make_sequence(nframes=10, labeled=(2,))
    with pytest.raises(ValueError, match="none of the 1 labeled frames"):
        detection_samples([seq], DataConfig(), {"other.jpg": [[0, 0, 1, 1, 1]]})
    with pytest.raises(ValueError, match=r"image 1002.*\(N, 5\)"):
        detection_samples([seq], DataConfig(), {1002: [[0, 0, 1, 1]]})


def test_missing_frames_are_named(tmp_path):
    seq = make_sequence(nframes=3, labeled=(1,))
    samples = ground_truth_samples([seq], DataConfig())
    with pytest.raises(FrameFileError, match=r"3 clip frame file\(s\) missing: .*000000\.jpg"):
        check_frame_files(samples, tmp_path)
