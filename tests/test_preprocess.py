import numpy as np
import pytest

from pstpose import preprocess as pp


def test_box_is_padded_to_the_aspect_and_enlarged():
    crop = pp.box_xywh_to_crop([10, 20, 30, 120])  # tall box: width padded to 0.75 * height
    assert crop.center == (25.0, 80.0)
    assert crop.size == pytest.approx((120 * 0.75 * 1.25, 120 * 1.25))
    crop = pp.box_xywh_to_crop([0, 0, 300, 100])  # wide box: height padded
    assert crop.size == pytest.approx((300 * 1.25, 400 * 1.25))


@pytest.mark.parametrize("box", [[0, 0, 0, 10], [0, 0, 10, -1], [0, np.nan, 10, 10]])
def test_degenerate_boxes_are_refused(box):
    with pytest.raises(ValueError, match="box"):
        pp.box_xywh_to_crop(box)


def test_crop_matrix_maps_centre_and_corners():
    crop = pp.CropBox(center=(100.0, 200.0), size=(96.0, 128.0))
    m = pp.crop_matrix(crop)
    assert pp.apply_affine([100.0, 200.0], m) == pytest.approx([95.5, 127.5])
    # Scale 2: a point 10 px right of the centre lands 20 px right of the crop centre.
    assert pp.apply_affine([110.0, 200.0], m) == pytest.approx([115.5, 127.5])


def test_rotation_turns_content_counter_clockwise():
    crop = pp.CropBox(center=(0.0, 0.0), size=(192.0, 256.0), rotation=90.0)
    m = pp.crop_matrix(crop)
    # A point to the right of the centre (image x+) appears above the centre (crop y-) after a
    # 90 degree counter-clockwise turn of the content.
    x, y = pp.apply_affine([10.0, 0.0], m)
    assert x == pytest.approx(95.5) and y == pytest.approx(127.5 - 10.0)


def test_points_round_trip_through_crop_heatmap_and_back(rng):
    crop = pp.CropBox(center=(321.0, 123.0), size=(150.0, 200.0), rotation=-33.0)
    for flip in (False, True):
        m = pp.crop_matrix(crop, flip=flip)
        pts = rng.uniform(0, 500, size=(17, 2))
        hm = pp.crop_to_heatmap(pp.apply_affine(pts, m))
        back = pp.apply_affine(pp.heatmap_to_crop(hm), pp.invert_affine(m))
        np.testing.assert_allclose(back, pts, atol=1e-9)


def test_flip_of_crop_equals_flip_of_heatmap_array():
    w_crop = pp.INPUT_SIZE[1]
    w_hm = pp.HEATMAP_SIZE[1]
    x = np.array([0.0, 17.3, 191.0])
    flipped_crop = (w_crop - 1) - x
    np.testing.assert_allclose(pp.crop_to_heatmap(flipped_crop), (w_hm - 1) - pp.crop_to_heatmap(x))


def test_warp_frame_samples_the_pixel_the_matrix_says():
    img = np.zeros((400, 600, 3), np.uint8)
    img[150, 250] = (255, 0, 0)
    crop = pp.CropBox(center=(250.0, 150.0), size=(192.0, 256.0))  # scale 1, no rotation
    out = pp.warp_frame(img, pp.crop_matrix(crop))
    assert out.shape == (256, 192, 3)
    # centre lands at (95.5, 127.5): with scale 1 the pixel shows up as a 2x2 blend around it.
    ys, xs = np.nonzero(out[..., 0])
    assert set(xs) <= {95, 96} and set(ys) <= {127, 128}


def test_normalize_round_trip(rng):
    crops = rng.integers(0, 256, size=(2, 8, 6, 3), dtype=np.uint8)
    x = pp.normalize_rgb(crops)
    assert x.shape == (2, 3, 8, 6)
    np.testing.assert_array_equal(pp.denormalize_rgb(x), crops)
