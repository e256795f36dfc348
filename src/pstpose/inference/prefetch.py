"""Run the front of a pipeline (decode, detect, crop) in a background thread.

``prefetch(items, depth)`` yields what ``items`` yields, in order, while a thread produces up to
``depth`` items ahead. The model runs in the caller's thread meanwhile; decoding (PyAV, OpenCV),
HOG and torch all release the GIL in their heavy parts, so the stages overlap and wall time
approaches the slowest stage instead of the sum.

An exception raised by the producer is raised in the consumer at the position it happened;
closing the consumer's generator (a ``break``) stops the producer and closes ``items`` in the
thread that iterated it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """``items``, produced by a background thread at most ``depth`` items ahead."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:
            put(_Raised(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="pstpose-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()
