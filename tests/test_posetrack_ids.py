"""PoseTrack's video and image ids, declared once (``pstpose.posetrack_ids``)."""

from __future__ import annotations

import pytest

from pstpose.posetrack_ids import leading_video_id, posetrack_image_id, video_id_text


def test_the_video_id_is_the_six_digits_a_name_starts_with():
    assert leading_video_id("009473_mpii_test") == "009473"
    assert leading_video_id("0094731_x") == "009473"  # the first six digits, as PoseTrack names them
    assert leading_video_id("clip_009473") is None and leading_video_id("12345_short") is None
    assert video_id_text(9473) == "009473"
    with pytest.raises(ValueError, match="video id must have at most 6 digits, got 1000000"):
        video_id_text(1_000_000)


def test_image_ids_follow_the_real_files():
    assert posetrack_image_id(9473, 0) == 10094730000  # frame 0 of 009473 in the PoseTrack18 release
    assert posetrack_image_id(9473, 12) == 10094730012
    assert posetrack_image_id(999_999, 9999) == 19999999999
    with pytest.raises(ValueError, match=r"frame number 10000 does not fit the 4-digit frame field .*0\.\.9999"):
        posetrack_image_id(9473, 10_000)  # would alias frame 0 of video 009474
    with pytest.raises(ValueError, match="at most 6 digits"):
        posetrack_image_id(-1, 0)


def test_generator_reader_and_prediction_writer_agree(tmp_path):
    """The synthetic files, and a prediction for the same frame, carry the same image id."""
    from pstpose.data.synthetic.writer import sequence_json
    from pstpose.inference.results import PoseResult
    from pstpose.inference.writers import result_to_frame

    gt = sequence_json(9473, "val", [[], [], []], width=64, height=48, label_every=1)
    assert [im["id"] for im in gt["images"]] == [10094730000, 10094730001, 10094730002]
    assert {im["vid_id"] for im in gt["images"]} == {"009473"}
    result = PoseResult.empty(2, (64, 48), file_name=tmp_path / "009473_mpii_test" / "000002.jpg")
    assert result_to_frame(result, "009473_mpii_test").image_id == gt["images"][2]["id"]
    assert result_to_frame(PoseResult.empty(5, (64, 48)), "myclip").image_id == 5  # not a PoseTrack name
