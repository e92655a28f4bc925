"""One active cluster's state inside the online clusterer (:mod:`newswatch.cluster`)."""

from __future__ import annotations

from typing import Any

import orjson

from newswatch import cluster_slots as slot
from newswatch.numeric import np


class ActiveCluster:
    """One active cluster as the clusterer keeps it: its centroid (top terms and summed
    member weights), size, last story time, years and event slots named by its members."""

    __slots__ = ("cid", "ids", "vals", "n", "last", "years", "_slots", "saved_slots",
                 "strong", "passed")

    def __init__(self, cid, ids, vals, n, last, years, slots=None, saved_slots=None,
                 passed=0):
        self.cid: str = cid
        self.ids: np.ndarray = ids  # intp buckets, by weight at last update (desc)
        self.vals: np.ndarray = vals  # float32 summed member tf / member tf-idf norm
        self.n: int = n
        self.last: float | None = last
        self.years: dict[int, int] = years
        # the slot counts (see ``slots``), None until first read when loaded as bytes
        self._slots: slot.Counts | None = (
            None if saved_slots is not None else {} if slots is None else slots)
        # the slot counts as orjson, valid until they change (``slots_changed``): a
        # reloaded state parses only the clusters used again, and saving reuses the bytes
        # of every cluster whose counts did not change
        self.saved_slots: bytes | None = saved_slots
        # per slot key, its values named by enough members (see cluster_slots.agreement)
        self.strong: dict[str, Any] = {}
        # while alone: how often it was a candidate and the story went elsewhere (capped
        # at ``late_pass``)
        self.passed: int = passed

    @property
    def slots(self) -> slot.Counts:
        """Per slot key, how many members name each value (see cluster_slots). Whoever
        changes them in place calls ``slots_changed``."""
        if self._slots is None:
            self._slots = orjson.loads(self.saved_slots) if self.saved_slots else {}
        return self._slots

    @slots.setter
    def slots(self, value: slot.Counts) -> None:
        self._slots, self.saved_slots = value, None

    def slots_changed(self) -> None:
        self.saved_slots = None

    def slot_json(self) -> bytes:
        """The slot counts as orjson (b"" for none), kept until they change."""
        if self.saved_slots is None:
            self.saved_slots = orjson.dumps(self._slots) if self._slots else b""
        return self.saved_slots
