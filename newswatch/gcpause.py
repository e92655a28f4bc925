"""Pausing Python's cyclic garbage collector around bulk work that makes no cycles."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collections inside the block; the collector's state is restored after.

    For bulk work that allocates many container objects and makes no reference cycles
    (tokenising a batch of stories, reading or writing the clusterer's state): each
    collection would traverse every one of them, in vain."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
