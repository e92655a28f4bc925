"""Match documents against compiled watchlists; spans point into the original text.

How a document is matched, cheapest step first:

1. Each field is split into byte chunks (``text.Field``, a few C calls).  Every distinct
   chunk is analysed once per matcher and cached: which *term keys* its tokens and hyphen
   compounds provide (stems, norms and prefixes that some rule term uses, each interned
   to a small int) and which rules/entities those keys trigger (presearch).
2. The union of the keys of a field's chunks is the field's *presence set*.  Every
   candidate rule is first evaluated over presence alone (compiled to a Python
   expression): single-token terms are decided exactly; phrases, hyphenated words and
   NEAR are only "maybe" (all their words are present).  A rule that is false here costs
   nothing more.
3. Only for rules that are true or maybe, token positions are computed -- for the
   chunks that carry keys, not for every token -- and the rule is evaluated exactly.
4. Character offsets are computed only for the spans of rules that hit.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from itertools import accumulate, chain, filterfalse, repeat
from typing import Any

from newswatch.models import EntityMention
from newswatch.watch.model import FIELDS, MatchInput, MatchResult, Rule, RuleHit, Span, Watchlist
from newswatch.watch.presearch import Key, PresearchIndex, required_keys
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
Range = tuple[int, int]
# A chunk that provides term keys: (all key ids, triggered targets,
#   ((token offset in chunk, key ids), ...), ((first, last, key ids) of compounds, ...)).
_Entry = tuple[
    frozenset[int], tuple[int, ...], tuple[tuple[int, tuple[int, ...]], ...],
    tuple[tuple[int, int, tuple[int, ...]], ...],
]
_CHUNK_CACHE_MAX = 200_000
# Occurrences of a NEAR chain are combinations: "(a OR b) NEAR/1000 (a OR b) NEAR/1000
# (a OR b)" over a text dense in a and b has billions. So a document may examine at most
# _NEAR_BUDGET pairs (real stories use a few thousand); past it each occurrence is paired
# only with its nearest partners (see _nearest), which still decides the rule. And one
# NEAR keeps at most _NEAR_MAX_OCC occurrences (the first in the text), so a chain cannot
# grow from level to level. Together they bound a document's NEAR work to about 0.2 s
# plus ~10 ms per NEAR node.
_NEAR_BUDGET = 200_000
_NEAR_MAX_OCC = 5_000
_MAX_CODEGEN_DEPTH = 24
_EMPTY: frozenset[int] = frozenset()


class _Index:
    """Token positions of term keys in one field, computed per key on demand."""

    __slots__ = ("f", "rel", "relc", "_kchunks", "pos", "comp", "_sets")

    def __init__(self, f: Field, relc: set[bytes], rel: dict[bytes, _Entry]) -> None:
        self.f, self.rel, self.relc = f, rel, relc
        self._kchunks: dict[int, list[bytes]] | None = None
        self.pos: dict[int, list[int]] = {}
        self.comp: dict[int, list[Range]] = {}
        self._sets: dict[int, set[int]] = {}

    def _fill(self, x: int) -> None:
        kc = self._kchunks
        if kc is None:  # key -> the relevant chunks that provide it
            kc = self._kchunks = {}
            rel = self.rel
            for c in self.relc:
                for y in rel[c][0]:
                    lst = kc.get(y)
                    if lst is None:
                        kc[y] = [c]
                    else:
                        lst.append(c)
        pos: list[int] = []
        comp: list[Range] = []
        f = self.f
        ts = f.tokstart
        for c in kc.get(x, ()):
            _fs, _t, toks, comps = self.rel[c]
            cps = f.chunk_positions(c)
            for k, ids in toks:
                if x in ids:
                    pos += [ci + k for ci in cps] if ts is None else [ts[ci] + k for ci in cps]
            for a, b, ids in comps:
                if x in ids:
                    comp += [(ts[ci] + a, ts[ci] + b) for ci in cps]  # type: ignore[index]
        if len(kc.get(x, ())) > 1:
            pos.sort()
            comp.sort()
        self.pos[x] = pos
        self.comp[x] = comp

    def positions(self, x: int) -> list[int]:
        p = self.pos.get(x)
        if p is None:
            self._fill(x)
            p = self.pos[x]
        return p

    def compounds(self, x: int) -> list[Range]:
        p = self.comp.get(x)
        if p is None:
            self._fill(x)
            p = self.comp[x]
        return p

    def posset(self, x: int) -> set[int]:
        s = self._sets.get(x)
        if s is None:
            s = self._sets[x] = set(self.positions(x))
        return s

    def seq(self, ids: tuple[int, ...]) -> list[Range]:
        """Token ranges where the keys ``ids`` occur on consecutive tokens."""
        first = self.positions(ids[0])
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


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A query term in key-id space.

    ``seqs``: alternatives, each a sequence of key ids on consecutive tokens;
    ``comps``: key ids whose hyphen-compound occurrences also count.
    """

    seqs: tuple[tuple[int, ...], ...]
    comps: tuple[int, ...]
    firsts: frozenset[int]  # keys of which one must be present for the term to occur

    def ranges(self, ix: _Index) -> list[Range]:
        found: list[Range] = []
        for s in self.seqs:
            found += ix.seq(s)
        for x in self.comps:
            found += ix.compounds(x)
        return sorted(set(found))

    def presence(self) -> tuple[str, bool]:
        """Python expression over the presence set ``F``, and whether it is exact."""
        exact = [s[0] for s in self.seqs if len(s) == 1] + list(self.comps)
        exact = list(dict.fromkeys(exact))
        inexact = [s for s in self.seqs if len(s) > 1]
        ex = " or ".join(f"{x} in F" for x in exact) or "False"
        if not inexact:
            return f"({ex})", True
        maybe = " or ".join(
            "(" + " and ".join(f"{x} in F" for x in dict.fromkeys(s)) + ")" for s in inexact)
        return f"(2 if ({ex}) else 1 if ({maybe}) else 0)", False

    def tri(self, present: frozenset[int] | set[int]) -> int:
        for s in self.seqs:
            if len(s) == 1 and s[0] in present:
                return 2
        if any(x in present for x in self.comps):
            return 2
        if any(len(s) > 1 and all(x in present for x in s) for s in self.seqs):
            return 1
        return 0


@dataclass(slots=True)
class _Compiled:
    watchlist: str
    rule: Rule
    node: Node
    fields: tuple[str, ...]
    source_re: re.Pattern[str] | None
    check: Any  # presence set -> falsy (cannot match) / truthy (true or maybe)


class _Doc:
    """Per-match-call state: fields split once, positions and occurrences cached."""

    def __init__(self, m: Matcher, doc: MatchInput) -> None:
        self.m = m
        self.fields = {"title": Field("title", doc.title), "text": Field("text", doc.text)}
        self.relc: dict[str, set[bytes]] = {}
        self.present: dict[str, frozenset[int]] = {}
        self.targets: set[int] = set()
        for fn, f in self.fields.items():
            self.relc[fn], self.present[fn], t = m._scan(f)
            self.targets.update(t)
        self._both: frozenset[int] | None = None
        # Fields without any key-carrying chunk cannot contain any term: skip them.
        self.active = {fs: tuple(fn for fn in fs if self.relc[fn])
                       for fs in (FIELDS, ("title",), ("text",))}
        self.ix: dict[str, _Index] = {}
        self.cache: dict[tuple[int, str], list[Occ]] = {}
        self.near_budget = _NEAR_BUDGET

    def presence(self, fields: tuple[str, ...]) -> frozenset[int]:
        if len(fields) == 1:
            return self.present[fields[0]]
        if self._both is None:
            self._both = self.present["title"] | self.present["text"]
        return self._both

    def index(self, fname: str) -> _Index:
        ix = self.ix.get(fname)
        if ix is None:
            f = self.fields[fname]
            relc = self.relc[fname]
            m = self.m
            if not m._irregular.isdisjoint(f.chunks):
                f.tokstart = list(accumulate(map(m._ntok.get, f.chunks, repeat(1)), initial=0))
            f.relevant = relc
            ix = self.ix[fname] = _Index(f, relc, m._rel)
        return ix

    def ranges(self, node: Term, fname: str) -> list[Range]:
        leaf = self.m._leaves[id(node)]
        if leaf.firsts.isdisjoint(self.present[fname]):
            return []
        return leaf.ranges(self.index(fname))

    def occ(self, node: Node, fname: str) -> list[Occ]:
        key = (id(node), fname)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if isinstance(node, Or):
            out = sorted({o for c in node.children for o in self.occ(c, fname)})
        elif isinstance(node, Near):
            out = self._near(node, fname)
        else:
            out = [(a, b, ((a, b),)) for a, b in self.ranges(node, fname)]  # type: ignore[arg-type]
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
            if hi - lo <= self.near_budget:
                self.near_budget -= hi - lo
                partners = right[lo:hi]
            else:  # over budget: only the nearest partner on each side
                partners = _nearest(right, starts, a, lo, hi)
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

    def eval(self, node: Node, fields: tuple[str, ...]) -> list[tuple[str, Occ]] | None:
        """Occurrences that make ``node`` true, or None when it is false."""
        if isinstance(node, And):
            acc: list[tuple[str, Occ]] = []
            for c in _unique(node.children):
                sub = self.eval(c, fields)
                if sub is None:
                    return None
                acc += sub
            return acc
        if isinstance(node, Or):
            acc = []
            ok = False
            for c in _unique(node.children):
                sub = self.eval(c, fields)
                if sub is not None:
                    ok = True
                    acc += sub
            return acc if ok else None
        if isinstance(node, Not):
            return None if self.eval(node.child, fields) is not None else []
        found = [(fn, o) for fn in fields for o in self.occ(node, fn)]
        return found or None

    def spans(self, found: list[tuple[str, Occ]]) -> list[tuple[str, Range]]:
        """Token ranges to report (resolved to character offsets by ``resolve``)."""
        ranges = {(fn, r) for fn, o in found for r in o[2]}
        kept = []
        last: tuple[str, int] = ("", -1)  # (field, furthest end so far)
        for fn, (a, b) in sorted(ranges, key=lambda x: (x[0], x[1][0], -x[1][1])):
            if fn == last[0] and b <= last[1]:
                continue  # inside a longer range ("Putin" within "Vladimir Putin")
            kept.append((fn, (a, b)))
            last = (fn, max(b, last[1]) if fn == last[0] else b)
        return kept

    def resolve(self, pending: list[list[tuple[str, Range]]]) -> list[list[Span]]:
        """Character offsets of the token ranges of every hit, one batch per field."""
        need: dict[str, set[Range]] = {}
        for kept in pending:
            for fn, r in kept:
                need.setdefault(fn, set()).add(r)
        offs = {fn: self.fields[fn].spans(rs) for fn, rs in need.items()}
        out = []
        for kept in pending:
            spans = set()
            for fn, r in kept:
                s, e = offs[fn][r]
                spans.add(Span(fn, s, e, self.fields[fn].text[s:e]))
            out.append(sorted(spans, key=lambda sp: (FIELDS.index(sp.field), sp.start, sp.end)))
        return out


def _nearest(right: list[Occ], starts: list[int], a: Occ, lo: int, hi: int) -> list[Occ]:
    """Of ``right[lo:hi]``, the first occurrence after ``a`` and the last one before it
    (looking back at most 64): the closest partners, so a NEAR over budget still finds
    whether (and where) it holds, in O(log n) per occurrence instead of O(window)."""
    found = []
    after = bisect_right(starts, a[1], lo, hi)
    if after < hi:
        found.append(right[after])
    before = bisect_left(starts, a[0], lo, hi) - 1
    for k in range(before, max(lo, before - 64) - 1, -1):
        if right[k][1] < a[0]:
            found.append(right[k])
            break
    return found


def _unique(children: tuple[Node, ...]) -> list[Node]:
    """Children without repeats: interned subtrees make "x OR x" the same object twice,
    and evaluating it again would only copy its occurrences."""
    return list({id(c): c for c in children}.values())


def _intern(node: Node, seen: dict[Node, Node]) -> Node:
    """Share identical subtrees so per-document occurrence caches are shared."""
    if isinstance(node, And | Or):
        node = type(node)(node.col, tuple(_intern(c, seen) for c in node.children))
    elif isinstance(node, Not):
        node = Not(node.col, _intern(node.child, seen))
    elif isinstance(node, Near):
        node = Near(node.col, _intern(node.left, seen), _intern(node.right, seen), node.n)
    return seen.setdefault(replace(node, col=0), node)


def _depth(node: Node) -> int:
    if isinstance(node, And | Or):
        return 1 + max(_depth(c) for c in node.children)
    if isinstance(node, Not):
        return 1 + _depth(node.child)
    if isinstance(node, Near):
        return 1 + max(_depth(node.left), _depth(node.right))
    return 0


class Matcher:
    """All rules of some watchlists, compiled once; ``match`` is cheap per document."""

    def __init__(self, watchlists: list[Watchlist]) -> None:
        self.watchlists = list(watchlists)
        self._rules: list[_Compiled] = []
        self._keys: dict[Key, int] = {}  # term key -> small int id
        self._leaves: dict[int, _Leaf] = {}  # id(term node) -> compiled term
        self._terms: list[Term] = []  # keeps the nodes behind ``_leaves`` alive
        seen: dict[Node, Node] = {}
        index = PresearchIndex()
        for wl in self.watchlists:
            for rule in wl.rules:
                src = None
                if rule.sources:
                    pats = "|".join(fnmatch.translate(g) for g in rule.sources)
                    src = re.compile(pats)
                node = _intern(rule.node, seen)
                index.add(len(self._rules), required_keys(node))
                check = self._compile(node)
                self._rules.append(_Compiled(wl.name, rule, node, rule.fields, src, check))
        self._entities: list[tuple[str, str, EntityRef]] = []
        merged: dict[str, tuple[str, list[str]]] = {}
        for wl in self.watchlists:
            for ent in wl.entities:
                name, aliases = merged.setdefault(ent.id, (ent.name, []))
                aliases.extend(a for a in ent.aliases if a not in aliases)
        for eid, (name, aliases) in merged.items():
            ref = EntityRef(0, eid, tuple(a for a in (tuple(words(s)) for s in aliases) if a))
            if ref.aliases:
                self._leaf(ref)
                index.add(len(self._rules) + len(self._entities), required_keys(ref))
                self._entities.append((eid, name, ref))
        self._always = tuple(index.always)
        self._by_key: dict[int, tuple[int, ...]] = {
            self._key(k): tuple(v) for k, v in index.by_key.items()}
        self._by_kind: dict[str, dict[str, int]] = {"s": {}, "n": {}, "p": {}}
        for (kind, value), kid in self._keys.items():
            self._by_kind[kind][value] = kid
        self._skeys, self._nkeys, self._pkeys = (self._by_kind[k] for k in "snp")
        self._plens = sorted({len(p) for p in self._pkeys})
        # Per distinct chunk (bytes): every chunk seen, those with >1 or 0 tokens (and
        # their token count), and those that provide keys (with their entry).
        self._known: set[bytes] = set()
        self._irregular: set[bytes] = set()
        self._ntok: dict[bytes, int] = {}
        self._rel: dict[bytes, _Entry] = {}
        self._relset: set[bytes] = set()
        self.stats_candidates = 0  # total candidate targets evaluated (for benchmarks)

    # --- compiling ---------------------------------------------------------------------

    def _key(self, key: Key) -> int:
        kid = self._keys.get(key)
        if kid is None:
            kid = self._keys[key] = len(self._keys)
        return kid

    def _leaf(self, node: Term) -> _Leaf:
        leaf = self._leaves.get(id(node))
        if leaf is not None:
            return leaf
        k = self._key
        if isinstance(node, Word):
            seqs = [tuple(k(("s", s)) for s in node.stems)]
            if len(node.stems) > 1:
                seqs.append((k(("s", node.joined_stem)),))
            leaf = _Leaf(tuple(seqs), (k(("s", node.joined_stem)),), frozenset())
        elif isinstance(node, Phrase):
            ids = tuple(k(("n", w)) for w in node.words)
            leaf = _Leaf((ids,), ids if len(ids) == 1 else (), frozenset())
        elif isinstance(node, Prefix):
            kid = k(("p", node.prefix))
            leaf = _Leaf(((kid,),), (kid,), frozenset())
        else:
            seqs = [tuple(k(("n", w)) for w in alias) for alias in node.aliases]
            leaf = _Leaf(tuple(seqs), tuple(s[0] for s in seqs if len(s) == 1), frozenset())
        leaf = replace(leaf, firsts=frozenset(s[0] for s in leaf.seqs) | set(leaf.comps))
        self._leaves[id(node)] = leaf
        self._terms.append(node)
        return leaf

    def _compile(self, node: Node) -> Any:
        """Presence check of a rule: a function of the presence set, falsy = no match."""
        stack = [node]
        while stack:  # compile every term (iteratively: rules may be deep)
            n = stack.pop()
            if isinstance(n, And | Or):
                stack.extend(n.children)
            elif isinstance(n, Not):
                stack.append(n.child)
            elif isinstance(n, Near):
                stack += (n.left, n.right)
            else:
                self._leaf(n)
        if _depth(node) <= _MAX_CODEGEN_DEPTH:
            expr, _exact = self._expr(node)
            try:
                return eval(compile(f"lambda F: {expr}", "<rule>", "eval"))  # noqa: S307
            except (RecursionError, SyntaxError, MemoryError):  # pragma: no cover
                pass
        return lambda present: self._tri(node, present)

    def _expr(self, node: Node) -> tuple[str, bool]:
        """(expression, exact): exact ones are boolean, others 0 (no), 1 (maybe), 2 (yes)."""
        if isinstance(node, Word | Phrase | Prefix | EntityRef):
            return self._leaf(node).presence()
        if isinstance(node, Near):
            (le, lx), (re_, rx) = self._expr(node.left), self._expr(node.right)
            return f"(1 if {_tri(le, lx)} and {_tri(re_, rx)} else 0)", False
        if isinstance(node, Not):
            e, x = self._expr(node.child)
            return (f"(not {e})", True) if x else (f"(2 - {e})", False)
        assert isinstance(node, And | Or)
        subs = [self._expr(c) for c in node.children]
        if all(x for _e, x in subs):
            op = " and " if isinstance(node, And) else " or "
            return "(" + op.join(e for e, _x in subs) + ")", True
        fn = "min" if isinstance(node, And) else "max"
        return f"{fn}(" + ", ".join(_tri(e, x) for e, x in subs) + ")", False

    def _tri(self, node: Node, present: frozenset[int]) -> int:
        """Interpreted presence check (for rules nested too deeply to compile)."""
        if isinstance(node, Word | Phrase | Prefix | EntityRef):
            return self._leaves[id(node)].tri(present)
        if isinstance(node, Near):
            return min(1, self._tri(node.left, present), self._tri(node.right, present))
        if isinstance(node, Not):
            return 2 - self._tri(node.child, present)
        vals = (self._tri(c, present) for c in node.children)  # type: ignore[union-attr]
        return min(vals) if isinstance(node, And) else max(vals)

    # --- per document ------------------------------------------------------------------

    def _analyze(self, c: bytes) -> None:
        self._known.add(c)
        info = chunk_info(c)
        n = len(info.norms)
        if n == 1:
            if not self._feats(info.norms[0], info.stems[0]):
                return  # the common case: a single token no rule term uses
        else:
            self._irregular.add(c)
            self._ntok[c] = n
        feats = self._feats
        toks = tuple((k, ids) for k, (nm, st) in enumerate(zip(info.norms, info.stems,
                                                               strict=True))
                     if (ids := feats(nm, st)))
        comps = tuple((a, b, ids) for a, b, jn, js in info.compounds if (ids := feats(jn, js)))
        if toks or comps:
            allk = frozenset(chain.from_iterable(
                chain((ids for _k, ids in toks), (ids for _a, _b, ids in comps))))
            by_key = self._by_key
            targets = tuple(sorted({t for x in allk for t in by_key.get(x, ())}))
            self._rel[c] = (allk, targets, toks, comps)
            self._relset.add(c)

    def _feats(self, norm: str, st: str) -> tuple[int, ...]:
        """Key ids provided by one token (or compound) with this norm and stem."""
        out = []
        if (x := self._skeys.get(st)) is not None:
            out.append(x)
        if (x := self._nkeys.get(norm)) is not None:
            out.append(x)
        if self._plens:
            pk = self._pkeys
            for n in self._plens:
                if n > len(norm):
                    break
                if (x := pk.get(norm[:n])) is not None:
                    out.append(x)
        return tuple(out)

    def _scan(self, f: Field) -> tuple[set[bytes], frozenset[int], set[int]]:
        """Key-carrying distinct chunks, presence set and triggered targets of a field."""
        chunks = f.chunks
        known = self._known
        if not known.issuperset(chunks):  # no set of all chunks: hashing 500 is slow
            for c in set(filterfalse(known.__contains__, chunks)):
                self._analyze(c)
        relc = self._relset.intersection(chunks)
        if not relc:
            return relc, _EMPTY, set()
        rel = self._rel
        entries = [rel[c] for c in relc]
        present = frozenset().union(*[e[0] for e in entries])
        targets = set().union(*[e[1] for e in entries])
        return relc, present, targets

    def match(self, doc: MatchInput) -> MatchResult:
        if len(self._known) > _CHUNK_CACHE_MAX:
            for cache in (self._known, self._irregular, self._ntok, self._rel, self._relset):
                cache.clear()
        d = _Doc(self, doc)
        result = MatchResult()
        targets = d.targets
        if self._always:
            targets.update(self._always)
        if not targets:
            return result
        nrules = len(self._rules)
        cands = sorted(targets)
        self.stats_candidates += len(cands)
        rules = self._rules
        pending: list[list[tuple[str, Range]]] = []
        for t in cands:
            if t >= nrules:
                self._entity(d, t - nrules, result)
                continue
            cr = rules[t]
            if cr.source_re is not None and not cr.source_re.match(doc.source):
                continue
            if not cr.check(d.presence(cr.fields)):
                continue
            fields = d.active.get(cr.fields)
            if fields is None:
                fields = tuple(fn for fn in cr.fields if d.relc[fn])
            found = d.eval(cr.node, fields)
            if found is not None:
                result.hits.append(RuleHit(cr.watchlist, cr.rule.id, cr.rule.severity, []))
                pending.append(d.spans(found))
        if pending:
            for hit, spans in zip(result.hits, d.resolve(pending), strict=True):
                hit.matches.extend(spans)
        return result

    def _entity(self, d: _Doc, k: int, result: MatchResult) -> None:
        eid, name, ref = self._entities[k]
        raw = [(fn, s, e) for fn, f in d.fields.items() for a, b in d.ranges(ref, fn)
               for s, e in [f.span(a, b)]]
        # Drop spans inside a longer alias match ("Putin" within "Vladimir Putin"). Sorted
        # by start, longest first, a span lies inside another exactly when an earlier span
        # of its field reaches at least as far: one pass, not all pairs (a long text can
        # mention an entity tens of thousands of times).
        spans = []
        reach: dict[str, int] = {}
        for sp in sorted(set(raw), key=lambda sp: (sp[0], sp[1], -sp[2])):
            if reach.get(sp[0], -1) < sp[2]:
                spans.append(sp)
            reach[sp[0]] = max(reach.get(sp[0], -1), sp[2])
        spans.sort(key=lambda sp: (FIELDS.index(sp[0]), sp[1]))
        if spans:
            result.entities.append(EntityMention(eid, name, len(spans), spans))


def _tri(expr: str, exact: bool) -> str:
    """A presence expression as 0/1/2."""
    return f"(2 if {expr} else 0)" if exact else expr


__all__ = ["Matcher"]
