"""The clustering's data at its seams: a story's features as computed in a fetch worker
(:class:`StoryFeatures`, many of them packed for the trip as :class:`PackedFeatures`), what
the clusterer is given (:class:`ClusterInput`) and what it answers (:class:`Assignment`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from newswatch.numeric import np


@dataclass(frozen=True, slots=True)
class StoryFeatures:
    """A story's entity-free features (picklable): sorted unique buckets, their raw summed
    weights before sublinear tf (float64, so entities fold in exactly), the sublinear tf of
    those weights (what folding no entities gives, computed here to spare the clustering
    process), which buckets occur in the title, the years 1950-2049 mentioned, the params
    they were computed with and the story's event ``slots`` (see
    ``cluster_text.read_slots``), sorted."""

    ids: np.ndarray  # intp (what numpy indexes with fastest), sorted unique
    # float64; None when shipped slim (``PackedFeatures.slim``): then only ``entities``
    # are folded in, and other entities need the story featurised again
    raw: np.ndarray | None
    intitle: np.ndarray  # bool
    years: tuple[int, ...]
    key: tuple[float, float, float, float, int]
    tf: np.ndarray  # float32, _sublinear(raw)
    slots: tuple[str, ...] = ()
    # the watchlist entities already folded in (``Features.stories(pairs, entities)``):
    # then ids, raw, tf and intitle are what folding them in gives
    entities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PackedFeatures:
    """Many stories' :class:`StoryFeatures` in a few flat arrays: what a parse worker sends
    back for a feed (one numpy array pickles in microseconds; four per story cost more than
    computing them). ``None`` entries stay ``None``; ``unpack`` gives views, no copies."""

    ends: tuple[int, ...]  # where each story's features end in the flat arrays; -1: None
    ids: np.ndarray  # intp; int32 when slim
    raw: np.ndarray | None  # None when slim
    intitle: np.ndarray
    tf: np.ndarray
    years: tuple[tuple[int, ...], ...]
    keys: tuple[tuple[float, float, float, float, int], ...]
    slots: tuple[tuple[str, ...], ...] = ()
    entities: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def pack(cls, features: list[StoryFeatures | None]) -> PackedFeatures:
        real = [f for f in features if f is not None]
        ends, k = [], 0
        for f in features:
            if f is None:
                ends.append(-1)
            else:
                k += len(f.ids)
                ends.append(k)
        if not real:
            empty = np.zeros(0, np.intp)
            return cls(tuple(ends), empty, empty.astype(np.float64), empty.astype(bool),
                       empty.astype(np.float32), (), ())
        return cls(tuple(ends), np.concatenate([f.ids for f in real]),
                   np.concatenate([f.raw for f in real]),
                   np.concatenate([f.intitle for f in real]),
                   np.concatenate([f.tf for f in real]),
                   tuple(f.years for f in real), tuple(f.key for f in real),
                   tuple(f.slots for f in real), tuple(f.entities for f in real))

    def slim(self) -> PackedFeatures:
        """The same features for the trip from a parse worker, in less than half the bytes:
        bucket ids as int32 (they fit in 20 bits) and no raw weights, which only folding
        other entities than those folded in already needs (rare: the story is then
        featurised again where it is clustered)."""
        return replace(self, ids=self.ids.astype(np.int32), raw=None)

    def unpack(self) -> list[StoryFeatures | None]:
        out: list[StoryFeatures | None] = []
        start, j = 0, 0
        ids, raw, intitle, tf = self.ids, self.raw, self.intitle, self.tf
        if ids.dtype != np.intp:  # slim: one conversion for every story
            ids = ids.astype(np.intp)
        for end in self.ends:
            if end < 0:
                out.append(None)
                continue
            out.append(StoryFeatures(ids[start:end],
                                     None if raw is None else raw[start:end],
                                     intitle[start:end],
                                     self.years[j], self.keys[j], tf[start:end],
                                     self.slots[j] if self.slots else (),
                                     self.entities[j] if self.entities else ()))
            start, j = end, j + 1
        return out


@dataclass(frozen=True, slots=True)
class ClusterInput:
    story_id: str
    title: str
    text: str
    source: str
    published: str | None
    fetched: str
    entities: tuple[str, ...] = ()
    # precomputed ``story_features(title, text, params)`` (e.g. in a worker process); used
    # instead of featurising title and text when computed with the clusterer's params
    features: StoryFeatures | None = None


@dataclass(slots=True)
class Assignment:
    cluster_id: str
    merged: list[str] = field(default_factory=list)
