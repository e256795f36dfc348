import cv2
import numpy as np
import pytest

from pstpose.data.frames import FrameCache


def _write(path, rgb):
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_cache_is_lru_and_read_only(tmp_path):
    for i in range(3):
        _write(tmp_path / f"{i}.png", np.full((2, 2, 3), i, np.uint8))
    cache = FrameCache(capacity=2)
    a = cache.get(tmp_path / "0.png")
    assert cache.get(tmp_path / "0.png") is a
    cache.get(tmp_path / "1.png")
    cache.get(tmp_path / "0.png")  # 0 is now most recent, 1 least
    cache.get(tmp_path / "2.png")  # evicts 1
    assert len(cache) == 2 and (cache.hits, cache.misses) == (2, 3)
    cache.get(tmp_path / "0.png")
    cache.get(tmp_path / "1.png")
    assert (cache.hits, cache.misses) == (3, 4)
    with pytest.raises(ValueError):
        a[0, 0, 0] = 5


def test_cache_of_capacity_zero_decodes_every_time(tmp_path):
    _write(tmp_path / "0.png", np.zeros((2, 2, 3), np.uint8))
    cache = FrameCache(0)
    cache.get(tmp_path / "0.png")
    cache.get(tmp_path / "0.png")
    assert len(cache) == 0 and cache.misses == 2
