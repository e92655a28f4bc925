"""Match documents against compiled watchlists; spans point into the original text."""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace

from newswatch.models import EntityMention
from newswatch.watch.model import FIELDS, MatchInput, MatchResult, Rule, RuleHit, Span, Watchlist
from newswatch.watch.presearch import PresearchIndex, required_keys
from newswatch.watch.query import (
    And,
    EntityRef,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
    Word,
)
from newswatch.watch.text import Field, chunk_info, words

# An occurrence: first token, last token, and the leaf token ranges to highlight.
Occ = tuple[int, int, tuple[tuple[int, int], ...]]
_CHUNK_CACHE_MAX = 200_000


def _seq(f: Field, items: tuple[str, ...], by_stem: bool) -> list[tuple[int, int]]:
    """Token ranges where ``items`` occur consecutively (compared by stem or norm)."""
    toks = f.stems if by_stem else f.norms
    first = f.stem_positions(items[0]) if by_stem else f.norm_positions(items[0])
    n = len(items)
    if n == 1:
        return [(i, i) for i in first]
    out = []
    for i in first:
        if i + n <= len(toks) and all(toks[i + k] == items[k] for k in range(1, n)):
            out.append((i, i + n - 1))
    return out


def term_ranges(term: Term, f: Field) -> list[tuple[int, int]]:
    """All token ranges of ``f`` where a query term occurs."""
    if isinstance(term, Word):
        found = _seq(f, term.stems, True)
        if len(term.stems) > 1:
            found += _seq(f, (term.joined_stem,), True)
        found += [(a, b) for a, b, _n, s in f.compounds if s == term.joined_stem]
    elif isinstance(term, Phrase):
        found = _seq(f, term.words, False)
        if len(term.words) == 1:
            found += [(a, b) for a, b, n, _s in f.compounds if n == term.words[0]]
    elif isinstance(term, Prefix):
        p = term.prefix
        found = [(i, i) for n in f.distinct_norms() if n.startswith(p) for i in f.norm_positions(n)]
        found += [(a, b) for a, b, n, _s in f.compounds if n.startswith(p)]
    else:
        found = []
        for alias in term.aliases:
            found += _seq(f, alias, False)
            if len(alias) == 1:
                found += [(a, b) for a, b, n, _s in f.compounds if n == alias[0]]
    return sorted(set(found))


@dataclass(slots=True)
class _Compiled:
    watchlist: str
    rule: Rule
    node: Node
    fields: tuple[str, ...]
    source_re: re.Pattern[str] | None


class _Doc:
    """Per-match-call state: fields tokenized once, term occurrences cached."""

    def __init__(self, doc: MatchInput) -> None:
        self.fields = {"title": Field("title", doc.title), "text": Field("text", doc.text)}
        self.cache: dict[tuple[int, str], list[Occ]] = {}

    def occ(self, node: Node, fname: str) -> list[Occ]:
        key = (id(node), fname)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        f = self.fields[fname]
        if isinstance(node, Or):
            out = sorted({o for c in node.children for o in self.occ(c, fname)})
        elif isinstance(node, Near):
            out = self._near(node, fname)
        else:
            out = [(a, b, ((a, b),)) for a, b in term_ranges(node, f)]  # type: ignore[arg-type]
        self.cache[key] = out
        return out

    def _near(self, node: Near, fname: str) -> list[Occ]:
        left, right = self.occ(node.left, fname), self.occ(node.right, fname)
        if not left or not right:
            return []
        n = node.n
        starts = [o[0] for o in right]
        longest = max(o[1] - o[0] for o in right)
        out = set()
        for a in left:
            lo = bisect_left(starts, a[0] - n - longest)
            hi = bisect_right(starts, a[1] + n)
            for b in right[lo:hi]:
                if b[0] > a[1]:
                    gap = b[0] - a[1]
                elif b[1] < a[0]:
                    gap = a[0] - b[1]
                else:
                    continue  # overlapping occurrences do not count
                if gap <= n:
                    out.add((min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2]))
        return sorted(out)

    def eval(self, node: Node, fields: tuple[str, ...]) -> list[tuple[str, Occ]] | None:
        """Occurrences that make ``node`` true, or None when it is false."""
        if isinstance(node, And):
            acc: list[tuple[str, Occ]] = []
            for c in node.children:
                sub = self.eval(c, fields)
                if sub is None:
                    return None
                acc += sub
            return acc
        if isinstance(node, Or):
            acc = []
            ok = False
            for c in node.children:
                sub = self.eval(c, fields)
                if sub is not None:
                    ok = True
                    acc += sub
            return acc if ok else None
        if isinstance(node, Not):
            return None if self.eval(node.child, fields) is not None else []
        found = [(fn, o) for fn in fields for o in self.occ(node, fn)]
        return found or None

    def spans(self, found: list[tuple[str, Occ]]) -> list[Span]:
        ranges = {(fn, r) for fn, o in found for r in o[2]}
        kept = []
        last: tuple[str, int] = ("", -1)  # (field, furthest end so far)
        for fn, (a, b) in sorted(ranges, key=lambda x: (x[0], x[1][0], -x[1][1])):
            if fn == last[0] and b <= last[1]:
                continue  # inside a longer range ("Putin" within "Vladimir Putin")
            kept.append((fn, (a, b)))
            last = (fn, max(b, last[1]) if fn == last[0] else b)
        out = set()
        for fn, (a, b) in kept:
            f = self.fields[fn]
            s, e = f.span(a, b)
            out.add(Span(fn, s, e, f.text[s:e]))
        return sorted(out, key=lambda sp: (FIELDS.index(sp.field), sp.start, sp.end))


def _intern(node: Node, seen: dict[Node, Node]) -> Node:
    """Share identical subtrees so per-document occurrence caches are shared."""
    if isinstance(node, And | Or):
        node = type(node)(node.col, tuple(_intern(c, seen) for c in node.children))
    elif isinstance(node, Not):
        node = Not(node.col, _intern(node.child, seen))
    elif isinstance(node, Near):
        node = Near(node.col, _intern(node.left, seen), _intern(node.right, seen), node.n)
    return seen.setdefault(replace(node, col=0), node)


class Matcher:
    """All rules of some watchlists, compiled once; ``match`` is cheap per document."""

    def __init__(self, watchlists: list[Watchlist]) -> None:
        self.watchlists = list(watchlists)
        self._rules: list[_Compiled] = []
        seen: dict[Node, Node] = {}
        self._index = PresearchIndex()
        for wl in self.watchlists:
            for rule in wl.rules:
                src = None
                if rule.sources:
                    pats = "|".join(fnmatch.translate(g) for g in rule.sources)
                    src = re.compile(pats)
                node = _intern(rule.node, seen)
                self._index.add(len(self._rules), required_keys(node))
                self._rules.append(_Compiled(wl.name, rule, node, rule.fields, src))
        self._entities: list[tuple[str, str, EntityRef]] = []
        merged: dict[str, tuple[str, list[str]]] = {}
        for wl in self.watchlists:
            for ent in wl.entities:
                name, aliases = merged.setdefault(ent.id, (ent.name, []))
                aliases.extend(a for a in ent.aliases if a not in aliases)
        for eid, (name, aliases) in merged.items():
            ref = EntityRef(0, eid, tuple(a for a in (tuple(words(s)) for s in aliases) if a))
            if ref.aliases:
                self._index.add(len(self._rules) + len(self._entities), required_keys(ref))
                self._entities.append((eid, name, ref))
        self._chunk_targets: dict[bytes, tuple[int, ...]] = {}
        self.stats_candidates = 0  # total candidate targets evaluated (for benchmarks)

    def _candidates(self, f: Field) -> set[int]:
        cache = self._chunk_targets
        lookup = self._index.lookup
        found: set[int] = set(self._index.always)
        for c in set(f.chunks):
            t = cache.get(c)
            if t is None:
                if len(cache) > _CHUNK_CACHE_MAX:
                    cache.clear()
                t = cache[c] = lookup(chunk_info(c))
            if t:
                found.update(t)
        return found

    def match(self, doc: MatchInput) -> MatchResult:
        d = _Doc(doc)
        per_field = {fn: self._candidates(f) for fn, f in d.fields.items()}
        result = MatchResult()
        nrules = len(self._rules)
        cands = sorted(per_field["title"] | per_field["text"])
        self.stats_candidates += len(cands)
        for t in cands:
            if t >= nrules:
                self._entity(d, t - nrules, result)
                continue
            cr = self._rules[t]
            if cr.source_re is not None and not cr.source_re.match(doc.source):
                continue
            fields = tuple(fn for fn in cr.fields if t in per_field[fn])
            if not fields:
                continue
            found = d.eval(cr.node, fields)
            if found is not None:
                sev = cr.rule.severity
                result.hits.append(RuleHit(cr.watchlist, cr.rule.id, sev, d.spans(found)))
        return result

    def _entity(self, d: _Doc, k: int, result: MatchResult) -> None:
        eid, name, ref = self._entities[k]
        raw = [(fn, s, e) for fn, f in d.fields.items() for a, b in term_ranges(ref, f)
               for s, e in [f.span(a, b)]]
        # Drop spans inside a longer alias match ("Putin" within "Vladimir Putin").
        spans = sorted(
            sp for sp in set(raw)
            if not any(o != sp and o[0] == sp[0] and o[1] <= sp[1] and sp[2] <= o[2] for o in raw)
        )
        spans.sort(key=lambda sp: (FIELDS.index(sp[0]), sp[1]))
        if spans:
            result.entities.append(EntityMention(eid, name, len(spans), spans))
