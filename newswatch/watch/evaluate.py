"""Evaluating compiled rules on one document: token positions, occurrences and spans.

A document's title and text are one sequence of chunks and tokens: text tokens are
numbered from ``TEXT_BASE`` on, so no phrase or NEAR can reach from one field into the
other, sorting token ranges puts title spans first, and a rule over both fields (the
default) looks each term up once.  Positions are computed only when some rule needs
them, and only for the chunks that carry term keys (plus the chunks with other than one
token, which shift token numbers); character offsets only for the spans of rules that
hit.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import compress
from operator import itemgetter
from typing import Any

from newswatch.watch.compiler import TEXT, TITLE, Leaf, Range
from newswatch.watch.model import FIELDS, Span
from newswatch.watch.presearch import ChunkIndex, Entry
from newswatch.watch.query import And, Near, Node, Not, Or, Term
from newswatch.watch.text import split_chunks

# An occurrence: first token, last token, and the leaf token ranges to highlight.
Occ = tuple[int, int, tuple[Range, ...]]
# Token number of the first text token; title tokens are below it.
TEXT_BASE = 1 << 40
# Occurrences of a NEAR chain are combinations: "(a OR b) NEAR/1000 (a OR b) NEAR/1000
# (a OR b)" over a text dense in a and b has billions. So one NEAR examines at most
# _NEAR_BUDGET pairs in a document (a real story's NEARs use a few hundred); past it each
# occurrence is paired only with its nearest partners (see _nearest). And one NEAR keeps
# at most _NEAR_MAX_OCC occurrences (the first in the text), so a chain cannot grow from
# level to level. Together they bound a NEAR's work in a document to about 20 ms. Both
# bounds are the NEAR's own: what it finds never depends on which other rules were
# evaluated first (nor whether spans were asked for). Whether a NEAR holds is decided
# exactly from its sides' occurrences (``holds``).
_NEAR_BUDGET = 20_000
_END = itemgetter(1)
_NEAR_MAX_OCC = 5_000


class Positions:
    """Token positions of the term keys in a document, and where those tokens are."""

    __slots__ = ("pos", "comp", "occs", "firsts", "_sets")

    def __init__(self, chunks: list[bytes], found: list[Any], entries: list[Entry | None],
                 ntitle: int) -> None:
        self.pos: dict[int, list[int]] = {}  # key id -> token numbers, ascending
        self.comp: dict[int, list[Range]] = {}  # key id -> compound token ranges
        # Per field, the key-carrying chunk occurrences in order, and the token number of
        # each one's first token (ascending: ``where`` finds a token's occurrence).
        self.occs: tuple[list[bytes], list[bytes]] = ([], [])
        self.firsts: tuple[list[int], list[int]] = ([], [])
        self._sets: dict[int, set[int]] = {}
        # Python only visits the special chunks (what ``ChunkIndex.scan`` found).
        where = list(compress(range(len(chunks)), found))
        which = list(compress(chunks, found))
        split = bisect_left(where, ntitle)
        self._walk(where[:split], which[:split], entries[:split], 0, 0)
        self._walk(where[split:], which[split:], entries[split:], TEXT_BASE - ntitle, 1)

    def _walk(self, where: list[int], which: list[bytes], entries: list[Entry | None],
              shift: int, field: int) -> None:
        pos, comp = self.pos, self.comp
        occs, firsts = self.occs[field], self.firsts[field]
        for ci, c, e in zip(where, which, entries, strict=True):
            if e is None:  # a chunk new in this document, not special after all
                continue
            if not e[0]:  # no keys, only a token count other than one
                shift += e[4] - 1
                continue
            t0 = ci + shift
            occs.append(c)
            firsts.append(t0)
            for k, ids in e[2]:
                for x in ids:
                    lst = pos.get(x)
                    if lst is None:
                        pos[x] = [t0 + k]
                    else:
                        lst.append(t0 + k)
            for a, b, ids in e[3]:
                for x in ids:
                    comp.setdefault(x, []).append((t0 + a, t0 + b))
            shift += e[4] - 1

    def where(self, t: int) -> tuple[int, int, int]:
        """Token number ``t`` as (field, occurrence number, token number in its chunk)."""
        fi = int(t >= TEXT_BASE)
        firsts = self.firsts[fi]
        j = bisect_right(firsts, t) - 1
        return fi, j, t - firsts[j]

    def posset(self, x: int) -> set[int]:
        s = self._sets.get(x)
        if s is None:
            s = self._sets[x] = set(self.pos.get(x, ()))
        return s

    def seq(self, ids: tuple[int, ...]) -> list[Range]:
        """Token ranges where the keys ``ids`` occur on consecutive tokens; a key may also
        be a hyphen compound's joined form ("ceasefire" in "cease-fire talks")."""
        comp = self.comp
        if comp and any(x in comp for x in ids):
            return self._seq_with_compounds(ids)
        first = self.pos.get(ids[0])
        if not first:
            return []
        n = len(ids)
        if n == 1:
            return [(i, i) for i in first]
        rest = []
        for x in ids[1:]:
            s = self.posset(x)
            if not s:
                return []
            rest.append(s)
        return [(i, i + n - 1) for i in first
                if all(i + k in s for k, s in enumerate(rest, 1))]


    def _seq_with_compounds(self, ids: tuple[int, ...]) -> list[Range]:
        comp = self.comp
        cur = [(i, i) for i in self.pos.get(ids[0], ())] + list(comp.get(ids[0], ()))
        for x in ids[1:]:
            if not cur:
                return []
            tokens = self.posset(x)
            after: dict[int, list[int]] = {}  # a compound of x: its first token -> last
            for a, b in comp.get(x, ()):
                after.setdefault(a, []).append(b)
            nxt = [(a, e + 1) for a, e in cur if e + 1 in tokens]
            nxt += [(a, b) for a, e in cur for b in after.get(e + 1, ())]
            cur = nxt
        return sorted(set(cur))


class _Field:
    """One field's text, and the character offsets of its key-carrying chunks."""

    __slots__ = ("text", "flat", "_offsets")

    def __init__(self, text: str, flat: bytes) -> None:
        self.text, self.flat = text, flat
        self._offsets: list[int] | None = None

    def offsets(self, occs: list[bytes]) -> list[int]:
        """Character offsets of the chunk occurrences ``occs`` (all occurrences of those
        chunks, in text order), found in one sweep: each search starts where the last
        one ended, and no other occurrence of the chunk lies in between."""
        found = self._offsets
        if found is None:
            # The blanked bytes decode to a string as long as the original text (only
            # ASCII bytes were replaced), so offsets found in it are the text's.
            padded = f" {self.flat.decode('utf-8', 'surrogatepass')} "
            pats: dict[bytes, str] = {}
            found = self._offsets = []
            p = 0
            for c in occs:
                pat = pats.get(c)
                if pat is None:
                    pat = pats[c] = f" {c.decode('utf-8', 'surrogatepass')} "
                p = padded.find(pat, p)  # padded[p] is the space before the chunk
                found.append(p)
                p += len(pat) - 1
        return found


class Doc:
    """Per-match-call state: chunks scanned once, positions and occurrences cached."""

    def __init__(self, title: str, text: str, ix: ChunkIndex, leaves: dict[int, Leaf]
                 ) -> None:
        self.ix, self.leaves = ix, leaves
        _r, tflat, tchunks = split_chunks(title)
        _r, xflat, xchunks = split_chunks(text)
        self.fields = (_Field(title, tflat), _Field(text, xflat))
        self._split = (tchunks, xchunks)
        self.chunks = tchunks + xchunks
        self._found, self._entries, both, self.targets = ix.scan(self.chunks)
        self._present: list[frozenset[int] | None] = [both, None, None, frozenset()]
        self._pos: Positions | None = None
        self.cache: dict[tuple[int, int], list[Occ]] = {}
        self.hits: dict[tuple[int, int], list[Range]] = {}

    def presence(self, scope: int) -> frozenset[int]:
        """Key ids present in the fields of ``scope``."""
        p = self._present[scope]
        if p is None:
            nt = len(self._split[0])
            part = self._found[:nt] if scope == TITLE else self._found[nt:]
            p = self._present[scope] = frozenset().union(
                *[e[0] for e in self.ix.entries(part) if e is not None])
        return p

    @property
    def positions(self) -> Positions:
        p = self._pos
        if p is None:
            p = self._pos = Positions(self.chunks, self._found, self._entries,
                                      len(self._split[0]))
        return p

    def ranges(self, node: Term | Or, scope: int) -> list[Range]:
        """Token ranges where a term (or an OR of terms, see ``Compiler.group``) occurs."""
        leaf = self.leaves[id(node)]
        if leaf.firsts.isdisjoint(self.presence(scope)):
            return []
        found = leaf.ranges(self.positions)
        if scope == TITLE:
            return [r for r in found if r[0] < TEXT_BASE]
        if scope == TEXT:
            return [r for r in found if r[0] >= TEXT_BASE]
        return found

    def occ(self, node: Node, scope: int) -> list[Occ]:
        key = (id(node), scope)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if isinstance(node, Or) and id(node) not in self.leaves:
            out = sorted({o for c in node.children for o in self.occ(c, scope)})
        elif isinstance(node, Near):
            out = self._near(node, scope)
        else:
            out = [(a, b, ((a, b),)) for a, b in self.ranges(node, scope)]  # type: ignore[arg-type]
        self.cache[key] = out
        return out

    def _near(self, node: Near, scope: int) -> list[Occ]:
        left, right = self.occ(node.left, scope), self.occ(node.right, scope)
        if not left or not right:
            return []
        n = node.n
        starts = [o[0] for o in right]
        longest = max(o[1] - o[0] for o in right)
        out = set()
        by_end: tuple[list[int], list[Occ]] | None = None  # right by end, when over budget
        budget = _NEAR_BUDGET
        for a in left:
            lo = bisect_left(starts, a[0] - n - longest)
            hi = bisect_right(starts, a[1] + n)
            if hi - lo <= budget:
                budget -= hi - lo
                partners = right[lo:hi]
            else:  # over budget: only the nearest partner on each side
                if by_end is None:
                    by_end = _by_end(right)
                partners = _nearest(right, starts, by_end, a)
            for b in partners:
                if b[0] > a[1]:
                    gap = b[0] - a[1]
                elif b[1] < a[0]:
                    gap = a[0] - b[1]
                else:
                    continue  # overlapping occurrences do not count
                if gap <= n:
                    out.add((min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2]))
            if len(out) >= _NEAR_MAX_OCC:
                break
        return sorted(out)

    def holds(self, node: Node, scope: int) -> bool:
        """Whether ``node`` is true (``eval`` is not None), found with the least work: a
        term decided by presence needs no positions, and a NEAR stops at its first pair."""
        t = type(node)
        if t is And:
            return all(self.holds(c, scope) for c in node.children)  # type: ignore[union-attr]
        if t is Or and id(node) not in self.leaves:
            return any(self.holds(c, scope) for c in node.children)  # type: ignore[union-attr]
        if t is Not:
            return not self.holds(node.child, scope)  # type: ignore[union-attr]
        if t is Near:
            return self._near_holds(node, scope)  # type: ignore[arg-type]
        leaf = self.leaves[id(node)]
        if leaf.by_presence:
            return not leaf.firsts.isdisjoint(self.presence(scope))
        return bool(self.ranges(node, scope))  # type: ignore[arg-type]

    def _near_holds(self, node: Near, scope: int) -> bool:
        """Whether an occurrence of one side lies within n tokens of one of the other, not
        overlapping it. Exact and without a budget, in O(log n) per occurrence: the nearest
        partners of an occurrence are the first to start after it and the last to end
        before it. (A NEAR inside it gives its occurrences as ``occ`` does, bounded.)"""
        left, right = self.occ(node.left, scope), self.occ(node.right, scope)
        if not left or not right:
            return False
        n = node.n
        starts, ends = [o[0] for o in right], _by_end(right)  # right is sorted by start
        for a in left:
            for b in _nearest(right, starts, ends, a):
                if 0 < b[0] - a[1] <= n or 0 < a[0] - b[1] <= n:
                    return True
        return False

    def eval(self, node: Node, scope: int) -> list[Range] | None:
        """Leaf token ranges that make ``node`` true, or None when it is false."""
        t = type(node)
        if t is And:
            acc: list[Range] = []
            for c in node.children:  # type: ignore[union-attr]
                sub = self.eval(c, scope)
                if sub is None:
                    return None
                acc += sub
            return acc
        if t is Or and id(node) not in self.leaves:
            acc = []
            ok = False
            for c in node.children:  # type: ignore[union-attr]
                sub = self.eval(c, scope)
                if sub is not None:
                    ok = True
                    acc += sub
            return acc if ok else None
        if t is Not:
            return None if self.eval(node.child, scope) is not None else []  # type: ignore[union-attr]
        key = (id(node), scope)
        found = self.hits.get(key)
        if found is None:
            if t is Near:
                found = [r for o in self.occ(node, scope) for r in o[2]]
            else:  # a term, or an OR of terms
                found = self.ranges(node, scope)  # type: ignore[arg-type]
            self.hits[key] = found
        return found or None

    @staticmethod
    def spans(found: list[Range]) -> list[Range]:
        """Token ranges to report, title first and in text order, none inside another."""
        kept = []
        reach = -1  # furthest end so far
        for a, nb in sorted({(a, -b) for a, b in found}):
            if -nb > reach:  # else inside a longer range ("Putin" in "Vladimir Putin")
                kept.append((a, -nb))
                reach = -nb
        return kept

    def char_spans(self, ranges: set[Range]) -> dict[Range, tuple[int, int, int]]:
        """(field number, start, end) in the original text of many token ranges."""
        ps, info = self.positions, self.ix.info
        occs, where = ps.occs, ps.where
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        chunk_at: list[list[int] | None] = [None, None]  # per field, when first needed
        for t in {t for r in ranges for t in r}:
            fi, j, k = where(t)
            c = occs[fi][j]
            at = chunk_at[fi]
            if at is None:
                at = chunk_at[fi] = self.fields[fi].offsets(occs[fi])
            s0, e0 = info[c][5][k]  # type: ignore[index]
            starts[t], ends[t] = at[j] + s0, at[j] + e0
        return {(a, b): (a >= TEXT_BASE, starts[a], ends[b]) for a, b in ranges}

    def make_spans(self, hits: list[list[Range]], offs: dict[Range, tuple[int, int, int]]
                   ) -> list[list[Span]]:
        """The spans of the kept token ranges of every hit (already in order)."""
        made: dict[Range, Span] = {}  # hits share spans: one object each
        out = []
        for kept in hits:
            spans = []
            for r in kept:
                sp = made.get(r)
                if sp is None:
                    fi, s, e = offs[r]
                    sp = made[r] = Span(FIELDS[fi], s, e, self.fields[fi].text[s:e])
                spans.append(sp)
            out.append(spans)
        return out


def _by_end(right: list[Occ]) -> tuple[list[int], list[Occ]]:
    """The ends of ``right``, ascending, and its occurrences in that order."""
    ordered = sorted(right, key=_END)
    return [o[1] for o in ordered], ordered


def _nearest(right: list[Occ], starts: list[int], by_end: tuple[list[int], list[Occ]],
             a: Occ) -> list[Occ]:
    """The occurrence of ``right`` that starts first after ``a`` and the one that ends
    last before it (``by_end``: right's ends, ascending, and right in that order): its
    closest partners, so a NEAR over budget still finds whether (and where) it holds, in
    O(log n) per occurrence instead of O(window)."""
    found = []
    after = bisect_right(starts, a[1])
    if after < len(right):
        found.append(right[after])
    ends, ordered = by_end
    before = bisect_left(ends, a[0])
    if before:
        found.append(ordered[before - 1])
    return found
