"""The background producer keeps order, forwards errors where they happened and stops on close."""

from __future__ import annotations

import threading
import time

import pytest

from pstpose.inference.prefetch import prefetch


def test_yields_every_item_in_order():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))
    assert list(prefetch([], depth=1)) == []


def test_runs_at_most_depth_items_ahead():
    produced = []

    def items():
        for i in range(50):
            produced.append(i)
            yield i

    stream = prefetch(items(), depth=2)
    assert next(stream) == 0
    time.sleep(0.2)  # give the producer every chance to run ahead
    # one item consumed, ``depth`` queued, and at most one more held by a blocked put
    assert len(produced) <= 1 + 2 + 1
    stream.close()


def test_error_is_raised_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("frame 3 of clip.mp4 is truncated")

    got = []
    with pytest.raises(OSError, match="frame 3 of clip.mp4"):
        for item in prefetch(items(), depth=4):
            got.append(item)
    assert got == [1, 2]


def test_closing_the_consumer_stops_and_closes_the_producer():
    closed = threading.Event()
    produced = []

    def items():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    stream = prefetch(items(), depth=2)
    for item in stream:
        if item == 3:
            break
    stream.close()
    assert closed.wait(2.0), "the producer's generator was not closed"
    count = len(produced)
    time.sleep(0.1)
    assert len(produced) == count < 10_000
    assert not any(t.name == "pstpose-prefetch" and t.is_alive() for t in threading.enumerate())


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        list(prefetch([1], depth=0))
