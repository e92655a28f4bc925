"""Story text to clustering features: hashed stemmed words, capitalised names and their
pairs, numbers and the years a story mentions (see :mod:`newswatch.cluster`)."""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, compress, pairwise, repeat
from operator import itemgetter, methodcaller
from typing import TYPE_CHECKING

import Stemmer

from newswatch.cluster_text import NUMBER_WORDS, STOP, read_slots, words_of
from newswatch.cluster_types import PackedFeatures, StoryFeatures
from newswatch.gcpause import paused_gc
from newswatch.numeric import np

if TYPE_CHECKING:
    from newswatch.cluster_params import Params

NBITS = 20
NB = 1 << NBITS
MASK = NB - 1

_L = "a-z\u00e0-\u00f6\u00f8-\u00ff"
_U = "A-Z\u00c0-\u00d6\u00d8-\u00de"
_CW = f"[{_U}][{_L}{_U}]*(?:['\\-][{_L}{_U}]+)*"  # a capitalised word
_CAPS = re.compile(f"{_CW}(?: {_CW})*")  # runs of capitalised words
_INIT = re.compile(f"[.!?:;\\n\"] *[\"']? *({_CW})")  # sentence-initial capitalised words
_U_START = re.compile(f"[{_U}]")  # a part starting with a capitalised word (starts a run)
_STEM = Stemmer.Stemmer("english")
_MULTI = -2  # cache value of a token with several (bucket, weight) pairs, or a number word
_LINE_BREAK = methodcaller("replace", "\n", " \x00 ")  # a token, one without features
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
# a capitalised word's id: serial number << _BUCKET_BITS | its stem bucket + 1; a key of one
# (part, word): part << _PART_SHIFT | the word's id
_BUCKET_BITS = NBITS + 1
_BUCKET_FIELD = (1 << _BUCKET_BITS) - 1
_PART_SHIFT = 40


def _h(key: str) -> int:
    return zlib.crc32(key.encode()) & MASK


def _clean(s: str) -> str:
    return s.replace("\u2019", "'").replace("\u2018", "'").replace("\u00a0", " ")


def _key(p: Params) -> tuple[float, float, float, float, int]:
    """The params a story's features depend on."""
    return (p.title_weight, p.cap_boost, p.num_boost, p.ent_weight, p.max_body_chars)


def _unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)`` in fewer numpy calls (small arrays, hot path);
    a big array (a whole batch's keys) is sorted by index instead of searched back."""
    order = a.argsort() if len(a) > 1_000 else None
    s = np.sort(a) if order is None else a.take(order)
    first = np.empty(len(s), bool)
    first[:1] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    u = s[first]
    if order is None:
        return u, u.searchsorted(a)
    inv = np.empty(len(a), np.intp)
    inv[order] = first.cumsum() - 1
    return u, inv


def _lookup(table: dict[str, int], keys: list[str], fill: Callable[[list[str]], None]
            ) -> list[int]:
    """``table[k]`` for every key, after ``fill`` has added the keys missing (each once)."""
    got = list(map(table.get, keys))
    if None in got:
        at = []  # where the misses are: found by C scans, a step per miss (they are few)
        k = -1
        find = got.index
        with contextlib.suppress(ValueError):
            while True:
                k = find(None, k + 1)
                at.append(k)
        miss = list(map(keys.__getitem__, at))
        fill(list(set(miss)))
        for k, key in zip(at, miss, strict=True):
            got[k] = table[key]
    return got


def _sublinear(raw: np.ndarray) -> np.ndarray:
    """float32 term frequency, 1 + log(weight) from a weight of 1 on."""
    tf = raw.astype(np.float32)
    return np.where(tf >= 1.0, 1.0 + np.log(np.maximum(tf, 1.0)), tf)


class Features:
    """Text -> (sorted unique feature ids, sublinear tf, title mask, years mentioned), in two
    steps: ``story(title, text)`` (pure, picklable result) then ``fold(features, entities)``."""

    __slots__ = ("p", "key", "cache", "words", "multi", "year", "digits", "pairs", "wid",
                 "entity_ids")

    def __init__(self, p: Params) -> None:
        self.p = p
        self.key = _key(p)
        # Pure-function caches (rebuilt on demand, never persisted):
        self.cache: dict[str, int] = {}  # raw lowercase token -> bucket; -1 none; -2 see multi
        self.words: dict[str, int] = {}  # lowercase word -> stem bucket, -1 for stop words
        # token -> its (buckets, weights)
        self.multi: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {}
        self.year: dict[str, int] = {}  # token -> year 1950-2049 it mentions
        self.digits: set[str] = set()  # tokens with digits, number words (slots read there)
        self.pairs: dict[str, list[int]] = {}  # run of capitalised words -> its name bigrams
        # capitalised word (lowercased) -> a serial number, then its stem bucket + 1
        self.wid: dict[str, int] = {}
        self.entity_ids: dict[tuple[str, ...], list[int]] = {}  # entities -> their buckets

    def _fill(self, miss: list[str]) -> None:
        """Tokenise whitespace-split tokens the caches have not seen."""
        cache, words, multi, nb = self.cache, self.words, self.multi, self.p.num_boost
        # a token of ASCII letters (lowercase already) is one word: no regex needed
        parts = [[t] if t.isalpha() and t.isascii() else words_of(t) for t in miss]
        new = list({w for ws in parts for w in ws if w[0] > "9" and w not in words})
        for w, st in zip(new, _STEM.stemWords(new), strict=True):
            words[w] = -1 if w in STOP or st in STOP else _h(st)
        for t, ws in zip(miss, parts, strict=True):
            if len(ws) == 1 and ws[0][0] > "9":
                if t not in NUMBER_WORDS:
                    cache[t] = words[ws[0]]
                    continue
                # a number word: the same feature, but its token is visited for slots
                self.digits.add(t)
                b = words[t]
                cache[t] = _MULTI
                multi[t] = ((b,), (1.0,)) if b >= 0 else ((), ())
                continue
            out = []
            if any(w[0] <= "9" for w in ws):
                self.digits.add(t)
            for w in ws:
                if w[0] > "9":
                    if words[w] >= 0:
                        out.append((words[w], 1.0))
                else:  # numbers count num_boost times
                    out.append((_h("# " + (w.replace(",", "").lstrip("0") or "0")), nb))
                    if len(w) == 4 and w.isdecimal() and 1950 <= int(w) <= 2049:
                        self.year[t] = int(w)
            if out:
                cache[t] = _MULTI
                multi[t] = (tuple(i for i, _ in out), tuple(w for _, w in out))
            else:
                cache[t] = -1

    def story(self, title: str, text: str) -> StoryFeatures:
        """The entity-free features of one story (pure: depends only on params and text)."""
        features = self.stories(((title, text),)).unpack()[0]
        assert features is not None
        return features

    def stories(self, pairs: Iterable[tuple[str, str]],
                entities: Sequence[tuple[str, ...]] | None = None) -> PackedFeatures:
        """``story(title, text)`` of many stories, packed. Their text parts (title, body,
        title, ...) are tokenised, looked up and counted in bulk: C loops over the whole
        batch and one numpy pass, not Python work per story. ``entities``, one tuple per
        story, are folded in as ``fold`` would (their weights added after all others)."""
        # hundreds of thousands of token strings in a few lists and no cycles: a
        # collection mid-way would traverse them all (8% of clustering time, measured)
        with paused_gc():
            return self._stories(pairs, entities)

    def _stories(self, pairs: Iterable[tuple[str, str]],
                 entities: Sequence[tuple[str, ...]] | None) -> PackedFeatures:
        p = self.p
        parts: list[str] = []
        for title, text in pairs:
            title = _clean(title or "")
            text = _clean(text or "")
            if title and text.startswith(title):
                text = text[len(title):]
            parts += (title, text[: p.max_body_chars])
        n = len(parts) // 2
        years: list[set[int]] = [set() for _ in range(n)]
        slots: list[set[str]] = [set() for _ in range(n)]
        ids, weights, where = self._words(parts, years, slots)
        runs = list(map(_CAPS.findall, parts))  # runs of capitalised words, per part
        flat = list(chain.from_iterable(runs))
        if flat:
            run_part = np.repeat(np.arange(len(parts)), list(map(len, runs)))
            spaces = np.fromiter(map(str.count, flat, repeat(" ")), np.int64, len(flat))
            self._names(flat, run_part, spaces, ids, weights, where)
            self._caps(parts, runs, flat, run_part, spaces, ids, weights, where)
        folded = tuple(entities) if entities is not None else ((),) * n
        if any(folded):  # in the body part: never title-weighted
            eb = [self._entity_buckets(e) for e in folded]
            ids.append(np.fromiter(chain.from_iterable(eb), np.int64))
            weights.append(np.full(len(ids[-1]), 2.0 * p.ent_weight, np.float32))
            where.append(np.repeat(np.arange(1, 2 * n, 2), list(map(len, eb))))
        part = np.concatenate(where)  # 2i: story i's title, 2i + 1: its body
        va = np.concatenate(weights)
        intitle_pair = (part & 1) == 0
        va[intitle_pair] *= p.title_weight
        ia = np.concatenate(ids)
        keep = ia >= 0  # negative: no feature (a stop word, a token of several parts)
        # one key per (story, bucket): sorting the keys orders stories, then buckets
        key = ((part[keep] >> 1) << NBITS) | ia[keep]
        u, inv = _unique_inverse(key)
        raw = np.bincount(inv, weights=va[keep], minlength=len(u))
        intitle = np.zeros(len(u), bool)
        intitle[inv[intitle_pair[keep]]] = True
        ends = (u >> NBITS).searchsorted(np.arange(n), side="right")
        return PackedFeatures(tuple(ends.tolist()), (u & MASK).astype(np.intp, copy=False),
                              raw, intitle, _sublinear(raw),
                              tuple(tuple(sorted(y)) for y in years), (self.key,) * n,
                              tuple(tuple(sorted(s)) for s in slots), folded)

    def _words(self, parts: list[str], years: list[set[int]], slots: list[set[str]]
               ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Every whitespace-split token of the parts: its bucket (weight 1 per occurrence),
        or the several (bucket, weight) pairs of a token with numbers, hyphens or
        punctuation inside, whose years go to ``years`` and event slots to ``slots``.
        Returns (buckets, weights, part index) arrays to concatenate; negative buckets are
        dropped later."""
        cache = self.cache
        if len(cache) > 500_000:  # bounded: cleared between batches, never inside one
            cache.clear()
            self.words.clear()
            self.multi.clear()
            self.year.clear()
            self.digits.clear()
        # a line break stays a token: event slots never span it
        split = list(map(str.split, map(_LINE_BREAK, map(str.lower, parts))))
        tokens = list(chain.from_iterable(split))
        got = _lookup(cache, tokens, self._fill)
        ia = np.array(got, np.int64)
        part = np.repeat(np.arange(len(parts)), list(map(len, split)))
        ids, weights, where = [ia], [np.ones(len(ia), np.float32)], [part]
        if _MULTI in got:  # weights are whole numbers of halves: sums are exact in any order
            at = (ia == _MULTI).nonzero()[0]
            mt = list(map(tokens.__getitem__, at.tolist()))
            exp = list(map(self.multi.__getitem__, mt))
            first = list(map(_FIRST, exp))
            ids.append(np.fromiter(chain.from_iterable(first), np.int64))
            weights.append(np.fromiter(chain.from_iterable(map(_SECOND, exp)), np.float32))
            pm = part[at]
            where.append(np.repeat(pm, list(map(len, first))))
            self._specifics(tokens, part, at, mt, pm, years, slots)
        return ids, weights, where

    def _specifics(self, tokens: list[str], part: np.ndarray, at: np.ndarray,
                   mt: list[str], pm: np.ndarray, years: list[set[int]],
                   slots: list[set[str]]) -> None:
        """The years and event slots of the tokens ``mt`` (at positions ``at`` of
        ``tokens``, in parts ``pm``) into their stories' ``years`` and ``slots``."""
        year, digits = self.year, self.digits
        pl = pm.tolist()
        for t, pk in compress(zip(mt, pl, strict=True), map(year.__contains__, mt)):
            years[pk >> 1].add(year[t])
        has = list(map(digits.__contains__, mt))
        if not any(has):
            return
        # slots are read around each token with digits or a number word: "" across a part's edge
        n = len(tokens)
        before = part[np.maximum(at - 1, 0)].tolist()
        after = part[np.minimum(at + 1, n - 1)].tolist()
        rows = zip(at.tolist(), mt, pl, before, after, strict=True)
        for k, t, pk, pb, pa in compress(rows, has):
            prev = tokens[k - 1] if k and pb == pk else ""
            nxt = tokens[k + 1] if k + 1 < n and pa == pk else ""
            read_slots(prev, t, nxt, slots[pk >> 1])

    def _names(self, flat: list[str], run_part: np.ndarray, spaces: np.ndarray, ids: list,
               weights: list, where: list) -> None:
        """Name bigrams of runs of several capitalised words (stop words excluded), at
        ``ent_weight`` each. ``flat``: every part's runs; ``run_part``: the part of each;
        ``spaces``: the spaces in each."""
        pairs = self.pairs
        if len(pairs) > 100_000:
            pairs.clear()
        multiword = spaces > 0
        keys = list(compress(flat, multiword.tolist()))
        if not keys:
            return
        for run in set(keys).difference(pairs.keys()):
            ws = run.lower().split(" ")
            pairs[run] = [_h("p " + a + " " + b) for a, b in pairwise(ws)
                          if a not in STOP and b not in STOP]
        got = list(map(pairs.__getitem__, keys))
        bigrams = np.fromiter(chain.from_iterable(got), np.int64)
        ids.append(bigrams)
        weights.append(np.full(len(bigrams), self.p.ent_weight, np.float32))
        where.append(np.repeat(run_part[multiword], list(map(len, got))))

    def _caps(self, parts: list[str], runs: list[list[str]], flat: list[str],
              run_part: np.ndarray, spaces: np.ndarray, ids: list, weights: list,
              where: list) -> None:
        """Capitalised words not at a sentence start count ``cap_boost`` times (names): per
        part, each word's count in the runs minus its sentence-initial uses (and the
        part's first word when a run starts the part), where that is positive."""
        caps = " ".join(flat).lower().split(" ")  # the runs' words
        inits = list(map(_INIT.findall, parts))  # sentence-initial capitalised words
        iw = list(chain.from_iterable(inits))
        first = [k for k, s in enumerate(parts) if _U_START.match(s)]
        starts = [runs[k][0].partition(" ")[0] for k in first]
        words = caps + (" ".join(iw + starts).lower().split(" ") if iw or starts else [])
        sign = np.full(len(words), -1.0)
        sign[: len(caps)] = 1.0  # a run's words +1, the others -1
        part = np.concatenate((np.repeat(run_part, spaces + 1),
                               np.repeat(np.arange(len(parts)), list(map(len, inits))),
                               np.array(first, np.int64)))
        wid = self.wid
        if len(wid) > 200_000:  # bounded: cleared between batches, never inside one
            wid.clear()
        # one key per (part, word); the word's stem bucket rides in its id's low bits
        key = (part << _PART_SHIFT) | np.array(_lookup(wid, words, self._intern), np.int64)
        u, inv = _unique_inverse(key)
        net = np.bincount(inv, weights=sign, minlength=len(u))
        pos = net > 0
        ids.append((u[pos] & _BUCKET_FIELD) - 1)
        weights.append((net[pos] * (self.p.cap_boost - 1.0)).astype(np.float32))
        where.append(u[pos] >> _PART_SHIFT)

    def _intern(self, new: list[str]) -> None:
        """Give capitalised words (lowercased) ids that carry their stem buckets.
        A word inside a token ("Assad" in "al-Assad") may not be a word of its own yet:
        it is stemmed now, so the result never depends on what this instance saw."""
        words, wid = self.words, self.wid
        unseen = [w for w in new if w not in words]
        for w, st in zip(unseen, _STEM.stemWords(unseen), strict=True):
            words[w] = -1 if w in STOP or st in STOP else _h(st)
        n = len(wid)
        for k, w in enumerate(new, n):  # bucket + 1 (0: a stop word) under a serial number
            wid[w] = (k << _BUCKET_BITS) | (words[w] + 1)

    def fold(self, sf: StoryFeatures, entities: tuple[str, ...] = ()):
        """Add the entity features to ``sf`` and apply sublinear tf: (ids, tf, intitle, years),
        exactly what featurising title, text and entities at once gives."""
        if sf.entities == entities:  # none, or folded in already
            return sf.ids, sf.tf, sf.intitle, sf.years
        if sf.entities or sf.raw is None:
            raise ValueError("features folded with other entities, or shipped slim")
        u, raw, intitle = sf.ids, sf.raw, sf.intitle
        eids = self._entity_buckets(entities)
        if not eids:
            return u, sf.tf, intitle, sf.years
        # raw sums come first, then each entity weight in order: the same float64
        # additions as one bincount over all the story's (bucket, weight) pairs; the
        # unique ids and inverse as np.unique gives them, in fewer numpy calls
        u2, inv = _unique_inverse(np.concatenate((u, np.array(eids, np.intp))))
        raw = np.bincount(inv, weights=np.concatenate(
            (raw, np.full(len(eids), np.float32(2.0 * self.p.ent_weight)))), minlength=len(u2))
        it = np.zeros(len(u2), bool)
        it[inv[: len(u)]] = intitle
        return u2, _sublinear(raw), it, sf.years

    def _entity_buckets(self, entities: tuple[str, ...]) -> list[int]:
        eids = self.entity_ids.get(entities)
        if eids is None:
            if len(self.entity_ids) > 10_000:
                self.entity_ids.clear()
            eids = self.entity_ids[entities] = [
                _h("p " + " ".join(ws)) for ws in (_clean(str(e)).lower().split()
                                                   for e in entities) if ws]
        return eids

    def __call__(self, title: str, text: str, entities: tuple[str, ...] = ()):
        return self.fold(self.story(title, text), entities)


def story_features(title: str, text: str, params: Params | None = None) -> StoryFeatures:
    """Features of one story without its entities, for computing in worker processes. This
    builds a fresh :class:`Features` (empty caches) per call; a worker handling many stories
    should keep one ``Features(params)`` and call its ``story`` method instead."""
    if params is None:
        from newswatch.cluster_params import Params

        params = Params()
    return Features(params).story(title, text)
