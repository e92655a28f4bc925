"""Event slots: the specifics that tell two events of the same kind apart.

A story's slots (read by :mod:`newswatch.cluster_features`) are "key value" strings: a
number with the word after it ("#pirat 23": 23 pirates) and a day of a month ("@dec 14").
A cluster counts, per key, how many of its members name each value. A story agrees with a
cluster on a key both have when it names a value that at least a share of the members
name (days: within two days), and conflicts with it when it names none of them: two
reports of "23 pirates" freed agree, "23 pirates" and "8 pirates" do not.
"""

from __future__ import annotations

from typing import Any

Counts = dict[str, dict[str, int]]  # slot key -> value -> members naming it
Grouped = dict[str, list[str]]  # one story's slot key -> the values it names


def group(slots: tuple[str, ...]) -> Grouped:
    """A story's slot strings by key."""
    out: Grouped = {}
    for s in slots:
        k, _, v = s.partition(" ")
        vs = out.get(k)
        if vs is None:
            out[k] = [v]
        else:
            vs.append(v)
    return out


MAX_VALUES = 128  # per key and cluster; then the least named half is dropped


def count(counts: Counts, mine: Grouped) -> None:
    """Count a new member's slots into its cluster's counts."""
    for k, vs in mine.items():
        d = counts.get(k)
        if d is None:
            counts[k] = dict.fromkeys(vs, 1)
        else:
            for v in vs:
                d[v] = d.get(v, 0) + 1
            if len(d) > MAX_VALUES:
                counts[k] = _top(d)


def merge(dst: Counts, src: Counts) -> None:
    """Add an absorbed cluster's counts to those of the cluster absorbing it."""
    for k, vs in src.items():
        d = dst.setdefault(k, {})
        for v, m in vs.items():
            d[v] = d.get(v, 0) + m
        if len(d) > MAX_VALUES:
            dst[k] = _top(d)


def _top(d: dict[str, int]) -> dict[str, int]:
    """The ``MAX_VALUES // 2`` values named most (first named first among equals): a big
    cluster's counts stay bounded, and a value named by few of its members is never one
    that agreement looks at (those need a share of them)."""
    keep = sorted(d.items(), key=lambda vm: -vm[1])[: MAX_VALUES // 2]
    return dict(keep)


def agreement(mine: Grouped, counts: Counts, least: float,
              cache: dict[str, Any]) -> tuple[int, int]:
    """(keys agreeing, keys conflicting) between a story and a cluster: for every key
    both have, among the cluster's values named by at least ``least`` members (kept in
    ``cache`` per key until the cluster changes; days as numbers)."""
    match = conf = 0
    for k in filter(counts.__contains__, mine):
        strong = cache.get(k)
        if strong is None:
            d = counts[k]
            if k[0] == "@":
                strong = [int(v) for v, m in d.items() if m >= least]
            elif least <= 1.0:  # a small cluster: every value it names is named enough
                strong = d.keys()
            else:
                strong = frozenset([v for v, m in d.items() if m >= least])
            cache[k] = strong
        if not strong:
            continue
        if k[0] == "@":
            ok = any(abs(a - b) <= 2 for a in map(int, mine[k]) for b in strong)
        else:
            ok = not strong.isdisjoint(mine[k])
        if ok:
            match += 1
        else:
            conf += 1
    return match, conf
