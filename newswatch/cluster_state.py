"""Persisting a :class:`~newswatch.cluster.Clusterer`: one compact byte string (magic,
header length, orjson header, then raw numpy sections) that restores the exact state, so
continuing after a reload gives the assignments an uninterrupted run would."""

from __future__ import annotations

import struct
from dataclasses import asdict

import orjson

from newswatch.cluster import Clusterer, Params
from newswatch.cluster_entry import ActiveCluster
from newswatch.cluster_params import resumed
from newswatch.gcpause import paused_gc
from newswatch.numeric import np

_MAGIC = b"NWCL4\0"
_MAGIC_V3 = b"NWCL3\0"  # slot counts in the header: read, then saved as version 4


def dump(state: Clusterer) -> bytes:
    """Compact snapshot: magic, header length, orjson header, then raw numpy sections."""
    with paused_gc():  # ~100k short-lived lists: no collections over the caller's big heap
        return _dump(state)


def _dump(state: Clusterer) -> bytes:
    cl = list(state.clusters.values())
    pos = {c.cid: k for k, c in enumerate(cl)}
    slot_json = [c.slot_json() for c in cl]  # bytes kept from the last save if unchanged
    post = state.postings
    nz = np.flatnonzero(state.df).astype(np.int32)
    sections = {
        "n": np.array([c.n for c in cl], np.int64),
        "passed": np.array([c.passed for c in cl], np.int32),
        "last": np.array([np.nan if c.last is None else c.last for c in cl], np.float64),
        "len": np.array([len(c.ids) for c in cl], np.int32),
        "df_at": nz,
        "df": state.df[nz],
        "logdf": state._logdf[nz],  # stored, not recomputed: bit-exact resume
        "ids": np.concatenate([c.ids for c in cl] or [np.zeros(0, np.intp)]).astype(np.int32),
        "vals": np.concatenate([c.vals for c in cl] or [np.zeros(0, np.float32)]),
        "pkeys": np.fromiter(post, np.int32, len(post)),
        "plens": np.fromiter(map(len, post.values()), np.int32, len(post)),
        "pmem": np.array([pos[cid] for pl in post.values() for cid in pl], np.int32),
        "slot_len": np.fromiter(map(len, slot_json), np.int32, len(cl)),
        "slot_data": np.frombuffer(b"".join(slot_json), np.uint8),
    }
    head = {
        "params": asdict(state.p),
        "N": state.N,
        "added": state.added,
        "clock": state.clock,
        "cid": [c.cid for c in cl],
        "years": [[k, *[v for yc in sorted(c.years.items()) for v in yc]]
                  for k, c in enumerate(cl) if c.years],
        "sections": [[k, str(a.dtype), len(a)] for k, a in sections.items()],
    }
    hb = orjson.dumps(head)
    return b"".join([_MAGIC, struct.pack("<I", len(hb)), hb,
                     *(a.tobytes() for a in sections.values())])


def load(b: bytes, thresholds: Params | None = None) -> Clusterer:
    """The clusterer `dump` saved; ValueError if ``b`` is not one. ``thresholds``: see
    ``cluster_params.resumed``."""
    if b[: len(_MAGIC)] not in (_MAGIC, _MAGIC_V3) or len(b) < len(_MAGIC) + 4:
        raise ValueError("not a newswatch clusterer state")
    with paused_gc():  # ~150k new lists/objects: skip pointless collections over a big heap
        return _load(b, thresholds)


def _load(b: bytes, thresholds: Params | None) -> Clusterer:
    off = len(_MAGIC)
    (hl,) = struct.unpack_from("<I", b, off)
    off += 4
    head = orjson.loads(b[off : off + hl])
    off += hl
    sec = {}
    at = {}  # where each section starts in b
    for name, dtype, count in head["sections"]:
        a = np.frombuffer(b, dtype, count, off)
        sec[name], at[name] = a, off
        off += a.nbytes
    if off != len(b):
        raise ValueError("clusterer state has the wrong length")
    pd = head["params"]
    pd["weights"] = tuple(pd["weights"])
    o = Clusterer(Params(**pd) if thresholds is None else resumed(pd, thresholds))
    o.N, o.added, o.clock = head["N"], head["added"], head["clock"]
    nz = sec["df_at"]
    o.df[nz] = sec["df"]
    o._logdf[nz] = sec["logdf"]
    names = head["cid"]
    lens = sec["len"]
    if len(lens):
        cuts = np.cumsum(lens)[:-1]
        idl = np.split(sec["ids"].astype(np.intp), cuts)
        vall = np.split(sec["vals"].copy(), cuts)
        lasts = [None if x != x else x for x in sec["last"].tolist()]
        saved: list[bytes | None] = [None] * len(names)
        if "slot_len" in sec:  # version 4: each cluster's slot counts, parsed when first used
            start = at["slot_data"]
            for k, m in enumerate(sec["slot_len"].tolist()):
                if m:
                    saved[k] = b[start : start + m]
                    start += m
        # saved before late joins existed: nobody was passed over yet
        passed = sec["passed"].tolist() if "passed" in sec else [0] * len(names)
        clusters = o.clusters
        for cid, n, last, ids, vals, sj, pa in zip(names, sec["n"].tolist(), lasts, idl,
                                                   vall, saved, passed, strict=True):
            clusters[cid] = ActiveCluster(cid, ids, vals, n, last, {}, saved_slots=sj, passed=pa)
        for row in head["years"]:
            it = iter(row[1:])
            o.clusters[names[row[0]]].years = dict(zip(it, it, strict=True))
        for k, cs in head.get("slots", ()):  # version 3
            o.clusters[names[k]].slots = cs
    pmem = [names[k] for k in sec["pmem"].tolist()]
    post = o.postings
    k = 0
    for t, m in zip(sec["pkeys"].tolist(), sec["plens"].tolist(), strict=True):
        post[t] = pmem[k : k + m]
        k += m
    return o
