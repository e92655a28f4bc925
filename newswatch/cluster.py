"""Online story clustering: one pass, no k, bounded cost per story, compact persistable state.

Each story is turned into a sparse TF-IDF vector over hashed features (stable crc32 hashes
into 2**20 buckets): stemmed words (title counts x2, capitalised mid-sentence words x3),
numbers (x2) and bigrams of capitalised-name runs ("betty ford", "ford center") plus any
entities the caller supplies. Document frequencies are counted online in a fixed numpy
array, so IDF keeps sharpening as the stream grows.

Candidate clusters come only from an inverted index (term -> the most recently updated
clusters having that term among their top centroid terms, at most ``posting_cap`` each),
looked up with the story's top terms, so the cost per story does not grow with the number
of stored clusters. Each candidate gets a linear score (``WEIGHTS``/``BIAS``, tuned for
B-cubed F1 on the ECB+ train and dev splits with ``benchmarks/cluster_eval.py --tune``)
over: cosine to the centroid (summed member tf vectors, truncated, IDF re-applied at
scoring time), title-vs-centroid cosine, agreement of the years mentioned (1950-2049), and
the share of the centroid's weight the story covers, plus the agreement of event slots
(numbers with their noun, days of a month; :mod:`newswatch.cluster_slots`). The story
joins the best candidate if its score is >= ``join_logit``, else it starts a new cluster
named after the story. If a second candidate also scores >= ``merge_logit`` and its
centroid is close to the chosen one (cosine + year term >= ``merge_cos``), the two merge:
the smaller is absorbed and ``Assignment.merged`` lists its id. A cluster of
``cover_size`` stories or more takes a story only if its centroid's terms carry at least
``min_cover`` of the story's (squared, normalised) weight: otherwise stories written from
one template (quake reports, results) that differ only in their names and numbers would
all end in one cluster that grows for ever, its centroid all template. A story that started its
own cluster and is still alone after being passed over ``late_pass`` times (a candidate of
stories that went elsewhere) joins the same way, at the lower ``late_cos``, once a cluster
it is close to grows: what was too early to join when it came (its event's cluster still
small) is joined later, while a new lone story keeps the time to gather its own event.

Only ACTIVE clusters are kept: last story within ``window_days`` of the newest story time
seen (by ``published``, else ``fetched``) and at most ``max_active`` (least recently
updated evicted). A story never joins a cluster whose last story is more than
``window_days`` older than it; late stories may join active clusters (an older cluster
not yet swept out too: a backfill of old stories clusters them by their own times). Two
clusters whose last stories are more than ``window_days`` apart never merge, so a late
story cannot bridge events the window keeps apart. A ``published`` time
more than a day after ``fetched`` is not trusted (``fetched`` is used), so one bad date
cannot push the clock forward and evict everything.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from itertools import chain

from newswatch import cluster_slots as slot
from newswatch.cluster_entry import ActiveCluster
from newswatch.cluster_features import NB, Features, story_features
from newswatch.cluster_index import Postings, post, repost, unpost
from newswatch.cluster_params import Params
from newswatch.cluster_types import Assignment, ClusterInput, StoryFeatures
from newswatch.models import FUTURE_SLACK_DAYS, days_of
from newswatch.numeric import np

__all__ = ["Assignment", "ClusterInput", "Clusterer", "Params", "StoryFeatures", "story_features"]

_NO = object()


class Clusterer:
    """Online clusterer. ``add(ClusterInput) -> Assignment`` for each story in arrival order;
    ``to_bytes()`` / ``Clusterer.from_bytes(b)`` persist and restore the whole state (params
    included), and continuing after a reload gives exactly the assignments an uninterrupted
    run would. Not thread-safe: one writer."""

    def __init__(self, params: Params | None = None, **overrides) -> None:
        p = params or Params()
        if overrides:
            p = replace(p, **overrides)
        self.p = p
        self.df = np.zeros(NB, np.uint32)
        self.N = 0
        self.added = 0
        self.clock: float | None = None  # newest story time seen (days)
        self.clusters: dict[str, ActiveCluster] = {}  # LRU order: least recently updated first
        self.postings: Postings = {}  # see cluster_index
        self._feat = Features(p)
        self._logdf = np.zeros(NB, np.float32)
        self._w = np.asarray(p.weights, np.float64)
        # scratch, all zero between calls: story weights by bucket, summed centroid weights,
        # bucket marks
        self._q = np.zeros(NB, np.float32)
        self._acc = np.zeros(NB, np.float32)
        self._mark = np.zeros(NB, np.intp)
        self._ramp = np.arange(p.centroid_terms + 1, dtype=np.intp)
        self._logtab = np.log(np.arange(1 << 16, dtype=np.float32) + 1.0)  # log(df + 1)
        self._days_memo: dict[str | None, float | None] = {}

    # ------------------------------------------------------------------ index
    def _terms(self, c: ActiveCluster) -> list[int]:
        """The key terms c is posted under: its top centroid terms."""
        return c.ids[: self.p.key_terms].tolist()

    def _touch(self, c: ActiveCluster) -> None:
        """Mark c most recently updated (end of LRU order and of posting lists)."""
        self.clusters.pop(c.cid, None)
        self.clusters[c.cid] = c

    def _evict(self, c: ActiveCluster) -> None:
        unpost(self.postings, c.cid, self._terms(c))
        del self.clusters[c.cid]

    def _sweep(self) -> None:
        if self.clock is not None:
            old = self.clock - self.p.window_days
            for c in [c for c in self.clusters.values() if c.last is not None and c.last < old]:
                self._evict(c)

    # ------------------------------------------------------------------ core
    def _day(self, ts: str | None) -> float | None:
        """``days_of(ts)``, remembering recent strings (a batch shares one fetch time)."""
        memo = self._days_memo
        v = memo.get(ts, _NO)
        if v is _NO:
            if len(memo) >= 256:
                memo.clear()
            v = memo[ts] = days_of(ts)
        return v

    def _idf(self, ids: np.ndarray) -> np.ndarray:
        return np.float32(math.log(self.N + 1.0) + 1.0) - self._logdf.take(ids)

    def _centroid(self, aids: np.ndarray, avals: np.ndarray, bids: np.ndarray,
                  bvals: np.ndarray):
        """Sum two (unique ids, vals) vectors, keep the top centroid_terms by current tf-idf
        weight (ties: lower id first). Returns ids, vals and the tf-idf weights."""
        acc, mark = self._acc, self._mark
        mark[aids] = 1
        new = bids[mark.take(bids) == 0]
        mark[aids] = 0
        acc[aids] = avals
        acc[bids] = acc.take(bids) + bvals  # float32 a + b: as float64 sums, rounded
        u = np.concatenate((aids, new))
        u.sort()
        s = acc.take(u)
        acc[u] = 0.0
        x = s * self._idf(u)
        order = (-x).argsort(kind="stable")[: self.p.centroid_terms]
        return u.take(order), s.take(order), x.take(order)

    def featurise(self, pairs: list[tuple[str, str]]) -> list[StoryFeatures | None]:
        """The features of many (title, text) pairs computed at once (cheaper than one by
        one in ``add``), to pass as ``ClusterInput.features``."""
        return self._feat.stories(pairs).unpack()

    def add(self, inp: ClusterInput) -> Assignment:
        """Assign one story to a cluster (new or existing); never raises on odd input."""
        p = self.p
        feat, sf = self._feat, inp.features
        if (sf is None or sf.key != feat.key
                or (sf.entities != inp.entities and (sf.entities or sf.raw is None))):
            sf = feat.story(inp.title, inp.text)  # not computed, or other entities folded
        ids, tf, intitle, years = feat.fold(sf, inp.entities)
        mine = slot.group(sf.slots)
        day, fetched = self._day(inp.published), self._day(inp.fetched)
        if day is None or (fetched is not None and day > fetched + FUTURE_SLACK_DAYS):
            day = fetched  # no date, or a date in the future: trust the fetch time
        if day is None:
            day = self.clock
        elif self.clock is None or day > self.clock:
            self.clock = day
        self.added += 1
        self.N += 1
        if self.added % p.sweep_every == 0:
            self._sweep()

        # ---- document vector (df counted before weighting, as the story is now seen)
        if len(ids):
            d = self.df.take(ids)
            d += 1
            self.df[ids] = d
            tab = self._logtab
            # log(df + 1), from a table while every count (<= N) is in it
            ld = tab.take(d) if len(tab) > self.N else np.log(d.astype(np.float32) + 1.0)
            self._logdf[ids] = ld
            w = tf * (np.float32(math.log(self.N + 1.0) + 1.0) - ld)
            if len(ids) > p.doc_terms:
                top = np.argpartition(-w, p.doc_terms)[: p.doc_terms]
                ids, tf, w, intitle = ids[top], tf[top], w[top], intitle[top]
            order = (-w).argsort(kind="stable")
            ids, w = ids.take(order), w.take(order)
            dn = np.float32(math.sqrt(float(w.dot(w))) or 1.0)
            wn = w / dn
            tfn = tf.take(order) / dn
        else:
            order = wn = tfn = np.zeros(0, np.float32)
            ids = ids.astype(np.intp)

        # ---- candidates through the index only
        postings = self.postings
        pls = [pl for pl in map(postings.get, ids[: p.query_terms].tolist()) if pl]
        cands = []
        if pls:
            hits = Counter(chain.from_iterable(pls))  # clusters sharing most query terms
            clusters, p_win = self.clusters, p.window_days
            # most hits first, ties in first-seen order (as Counter.most_common)
            for cid in sorted(hits, key=hits.__getitem__, reverse=True)[: p.max_candidates]:
                c = clusters[cid]
                if day is not None and c.last is not None and day - c.last > p_win:
                    continue
                cands.append(c)
        if cands:
            z, x, starts = self._score(cands, ids, wn, intitle, order, years, mine)
        else:
            z = []

        # ---- decide
        best = None
        if z:
            bi = max(range(len(z)), key=z.__getitem__)  # the first best, as argmax
            if z[bi] >= p.join_logit:
                best = cands[bi]
        merged: list[str] = []
        for o in cands:
            if o is not best and o.n == 1 and o.passed < p.late_pass:
                o.passed += 1
        if best is None:
            cid = inp.story_id
            k = 1
            while cid in self.clusters:
                k += 1
                cid = f"{inp.story_id}~{k}"
            c = ActiveCluster(cid, ids.copy(), tfn, 1, day, {})
            self.clusters[cid] = c
            post(self.postings, c.cid, self._terms(c), p.posting_cap)
            if len(self.clusters) > p.max_active:
                self._evict(next(iter(self.clusters.values())))
        else:
            c = best
            old = self._terms(c)
            c.ids, c.vals, cx = self._centroid(c.ids, c.vals, ids, tfn)
            c.n += 1
            if day is not None:
                c.last = day if c.last is None else max(c.last, day)
            self._touch(c)
            repost(self.postings, c.cid, old, self._terms(c), p.posting_cap)
        for y in years:
            c.years[y] = c.years.get(y, 0) + 1
        if mine:
            slot.count(c.slots, mine)
            c.slots_changed()
        c.strong = {}  # its size changed, if not its slots

        # ---- merge: a second strong candidate whose centroid is close to the chosen one,
        # or a lone story passed over often enough whose centroid is near enough
        if best is not None and len(z) > 1:
            for j in sorted(range(len(z)), key=lambda j: -z[j]):  # stable, as argsort
                o = cands[j]
                late = o.n == 1 and o.passed >= p.late_pass
                if z[j] < p.merge_logit and not late:
                    continue
                if o is best or o.cid not in self.clusters or c.cid not in self.clusters:
                    continue
                if (c.last is not None and o.last is not None
                        and abs(c.last - o.last) > p.window_days):
                    continue  # a late story between events the window keeps apart
                # o is unchanged since scoring: its tf-idf weights are a slice of x
                ox = x[starts[j] : starts[j] + len(o.ids)]
                if self._ccos(c, cx, o, ox) >= (p.late_cos if late else p.merge_cos):
                    big, small = (c, o) if c.n >= o.n else (o, c)
                    cx = self._merge(small, big)
                    merged.append(small.cid)
                    c = big
        return Assignment(c.cid, merged)

    def _score(self, cands, ids, wn, intitle, order, years, mine):
        """Scores of the candidate clusters for a story (ids, wn: its terms by weight,
        normalised; intitle[order]: their title mask; mine: its event slots); also the
        candidates' concatenated tf-idf weights and where each starts."""
        q, wts = self._q, self.p.weights
        starts, k = [], 0
        for c in cands:
            starts.append(k)
            k += len(c.ids)
        sa = np.array(starts)
        cid = np.concatenate([c.ids for c in cands])
        x = np.concatenate([c.vals for c in cands]) * self._idf(cid)
        x2 = x * x
        n2 = np.add.reduceat(x2, sa) + 1e-12
        q[ids] = wn
        g = q.take(cid)
        q[ids] = 0.0
        # the linear score, column by column (FEATS); a weight of 0 costs nothing
        z64 = (np.add.reduceat(g * x, sa) / np.sqrt(n2)).astype(np.float64) * wts[0]
        if wts[1]:  # title cosine: the title's terms only
            tw = wn * intitle[order]
            tn = float(np.sqrt(np.dot(tw, tw)))
            if tn:
                q[ids] = tw / tn
                gt = q.take(cid)
                q[ids] = 0.0
                z64 += (np.add.reduceat(gt * x, sa) / np.sqrt(n2)).astype(np.float64) * wts[1]
        if wts[3]:
            z64 += (np.add.reduceat(x2 * (g > 0), sa) / n2).astype(np.float64) * wts[3]
        z = z64.tolist()
        if years and wts[2]:
            for j, c in enumerate(cands):
                cy = c.years
                if cy:
                    z[j] += wts[2] * (2.0 * sum(cy.get(y, 0) for y in years)
                                      / sum(cy.values()) - 1.0)
        p = self.p
        bias = p.bias
        z = [v + bias for v in z]
        if any(c.n >= p.cover_size for c in cands):
            # share of the story's weight on the cluster's terms: a big cluster takes a
            # story only if it covers enough of it (not merely its template words)
            cover = np.add.reduceat(g * g, sa).tolist()
            z = [-math.inf if c.n >= p.cover_size and cv < p.min_cover else v
                 for v, cv, c in zip(z, cover, cands, strict=True)]
        if mine and (p.slot_match or p.slot_conf):
            keys = mine.keys()
            for j, c in enumerate(cands):
                if not c.slots.keys().isdisjoint(keys):
                    m, k = slot.agreement(mine, c.slots, p.slot_share * c.n, c.strong)
                    z[j] += p.slot_match * min(m, p.slot_cap) - p.slot_conf * min(k, p.slot_cap)
        return z, x, starts

    def _ccos(self, a: ActiveCluster, xa: np.ndarray, b: ActiveCluster, xb: np.ndarray) -> float:
        """Cosine of two centroids (xa, xb: their current tf-idf weights) + a year term."""
        # positions of the shared ids, in increasing id order (as np.intersect1d gives)
        mark = self._mark
        mark[a.ids] = self._ramp[1 : len(a.ids) + 1]
        m = mark.take(b.ids)
        mark[a.ids] = 0
        ib = m.nonzero()[0]
        ib = ib.take(b.ids.take(ib).argsort())
        d = float(np.dot(xa.take(m.take(ib) - 1), xb.take(ib)))
        cs = d / (float(np.sqrt(np.dot(xa, xa)) * np.sqrt(np.dot(xb, xb))) + 1e-9)
        if a.years and b.years:
            ta, tb = sum(a.years.values()), sum(b.years.values())
            ov = sum(min(v / ta, b.years.get(y, 0) / tb) for y, v in a.years.items())
            cs += 0.1 * (2.0 * ov - 1.0)
        return cs

    def _merge(self, src: ActiveCluster, dst: ActiveCluster) -> np.ndarray:
        """Absorb src into dst; returns dst's new tf-idf weights."""
        self._evict(src)
        old = self._terms(dst)
        dst.ids, dst.vals, x = self._centroid(dst.ids, dst.vals, src.ids, src.vals)
        dst.n += src.n
        if src.last is not None:
            dst.last = src.last if dst.last is None else max(dst.last, src.last)
        for y, v in src.years.items():
            dst.years[y] = dst.years.get(y, 0) + v
        slot.merge(dst.slots, src.slots)
        dst.slots_changed()
        dst.strong = {}
        self._touch(dst)
        repost(self.postings, dst.cid, old, self._terms(dst), self.p.posting_cap)
        return x

    # ------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        """Compact snapshot of the whole state, params included (see cluster_state)."""
        from newswatch.cluster_state import dump

        return dump(self)

    @classmethod
    def from_bytes(cls, b: bytes, thresholds: Params | None = None) -> Clusterer:
        """The clusterer ``to_bytes`` saved; ValueError if ``b`` is not one. With
        ``thresholds``, it decides joins and merges with those parameters instead of the
        saved ones (see ``cluster_params.resumed``)."""
        from newswatch.cluster_state import load

        return load(b, thresholds)
