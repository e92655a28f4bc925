"""Compiling watchlist queries for the matcher.

Every query term becomes a ``Leaf`` in *key-id* space (the small ints that
``presearch.ChunkIndex`` reports per chunk of text).  Every rule gets a *presence
check*: its query compiled to one Python expression over the set ``F`` of key ids
present in the document.  Single-token terms are decided exactly by presence; phrases,
hyphenated words and NEAR are only "maybe" (all their words are present), so the check
answers 0 (cannot match), 1 (maybe) or 2 / True (matches).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from newswatch.watch.model import FIELDS, Rule
from newswatch.watch.presearch import Key
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
    joined_forms,
)

if TYPE_CHECKING:
    from newswatch.watch.evaluate import Positions

Range = tuple[int, int]
# Which fields a rule looks at.
BOTH, TITLE, TEXT, NONE = 0, 1, 2, 3
_SCOPES = {frozenset(FIELDS): BOTH, frozenset({"title"}): TITLE, frozenset({"text"}): TEXT}
_MAX_CODEGEN_DEPTH = 24


@dataclass(frozen=True, slots=True)
class Leaf:
    """A query term in key-id space.

    ``seqs``: alternatives, each a sequence of key ids on consecutive tokens;
    ``comps``: key ids whose hyphen-compound occurrences also count.
    """

    seqs: tuple[tuple[int, ...], ...]
    comps: tuple[int, ...]
    firsts: frozenset[int]  # keys of which one must be present for the term to occur
    single: int = -1  # the one key, for a term that is one token with it (or a compound)
    ones: tuple[int, ...] = ()  # the keys of the one-token alternatives (see ``finished``)
    longer: tuple[tuple[int, ...], ...] = ()  # the alternatives of several tokens
    # whether the term occurs exactly when one of ``firsts`` is present: no alternative of
    # several tokens, and every one-token key also counts as a compound (presence does not
    # tell a token from a compound)
    by_presence: bool = False

    def finished(self) -> Leaf:
        """This leaf with its derived fields (firsts, single, ones, longer, by_presence)
        filled in."""
        single = self.seqs[0][0] if len(self.seqs) == 1 and len(self.seqs[0]) == 1 else -1
        if set(self.comps) - {single}:
            single = -1
        ones = tuple(s[0] for s in self.seqs if len(s) == 1)
        longer = tuple(s for s in self.seqs if len(s) > 1)
        return replace(self, firsts=frozenset(s[0] for s in self.seqs) | set(self.comps),
                       single=single, ones=ones, longer=longer,
                       by_presence=not longer and set(ones) <= set(self.comps))

    def ranges(self, ix: Positions) -> list[Range]:
        """Token ranges where the term occurs in the document, sorted."""
        x = self.single
        if x >= 0:
            found = [(i, i) for i in ix.pos.get(x, ())]
            comp = ix.comp.get(x)
            return sorted(found + comp) if comp and self.comps else found
        pos, comp = ix.pos, ix.comp
        found = [(i, i) for x in self.ones if (at := pos.get(x)) for i in at]
        for s in self.longer:
            found += ix.seq(s)
        for x in self.comps:
            if (c := comp.get(x)):
                found += c
        return sorted(set(found))

    def presence(self) -> tuple[str, bool]:
        """Python expression over the presence set ``F``, and whether it is exact.

        Presence does not tell a token from a hyphen compound with the same key: only the
        keys of ``comps`` (whose compounds count) decide the term; a one-token key whose
        compounds do not count (the joined form of a phrase, "ceasefire" for
        "cease-fire", found in "cea-se-fire") is only a maybe."""
        exact = list(dict.fromkeys(self.comps))
        inexact = [s for s in self.seqs if len(s) > 1 or s[0] not in self.comps]
        ex = " or ".join(f"{x} in F" for x in exact) or "False"
        if not inexact:
            return f"({ex})", True
        maybe = " or ".join(
            "(" + " and ".join(f"{x} in F" for x in dict.fromkeys(s)) + ")" for s in inexact)
        return f"(2 if ({ex}) else 1 if ({maybe}) else 0)", False

    def tri(self, present: frozenset[int]) -> int:
        """``presence`` interpreted: 0 no, 1 maybe, 2 yes."""
        if any(x in present for x in self.comps):
            return 2
        if any(all(x in present for x in s) for s in self.seqs):
            return 1
        return 0


@dataclass(slots=True)
class Compiled:
    watchlist: str
    rule: Rule
    node: Node
    scope: int  # BOTH, TITLE, TEXT or NONE (no field: never matches)
    source_re: re.Pattern[str] | None
    check: Any  # presence set -> falsy (cannot match) / truthy (true or maybe)


class Compiler:
    """Key ids, leaves and presence checks shared by all rules of one matcher.

    An OR of terms only ("exchange OR swap OR release OR repatriat*") gets a leaf of its
    own, the union of its terms' alternatives (``group_terms``): the evaluator then finds
    where any of them occurs in one pass, not one lookup and merge per term."""

    def __init__(self, group_terms: bool = True) -> None:
        self.group_terms = group_terms
        self.keys: dict[Key, int] = {}  # term key -> small int id
        self.leaves: dict[int, Leaf] = {}  # id(term node) -> compiled term
        self._terms: list[Term] = []  # keeps the nodes behind ``leaves`` alive
        self._seen: dict[Node, Node] = {}

    def rule(self, watchlist: str, rule: Rule) -> Compiled:
        src = None
        if rule.sources:
            # case-insensitive: "BBC*" is meant to find "bbc-world" (feed names from OPML
            # titles are slugs)
            src = re.compile("|".join(fnmatch.translate(g) for g in rule.sources), re.I)
        node = _intern(rule.node, self._seen)
        scope = _SCOPES.get(frozenset(rule.fields), NONE)
        return Compiled(watchlist, rule, node, scope, src, self._check(node))

    def key(self, key: Key) -> int:
        kid = self.keys.get(key)
        if kid is None:
            kid = self.keys[key] = len(self.keys)
        return kid

    def leaf(self, node: Term) -> Leaf:
        leaf = self.leaves.get(id(node))
        if leaf is not None:
            return leaf
        k = self.key
        if isinstance(node, Word):
            seqs = [tuple(k(("s", s)) for s in node.stems)]
            if len(node.stems) > 1:
                seqs.append((k(("s", node.joined_stem)),))
            leaf = Leaf(tuple(seqs), (k(("s", node.joined_stem)),), frozenset())
        elif isinstance(node, Phrase):
            ids = tuple(k(("n", w)) for w in node.words)
            seqs = [ids] + [tuple(k(("n", w)) for w in alt) for alt in joined_forms(node)]
            leaf = Leaf(tuple(seqs), ids if len(ids) == 1 else (), frozenset())
        elif isinstance(node, Prefix):
            kid = k(("p", node.prefix))
            leaf = Leaf(((kid,),), (kid,), frozenset())
        else:
            seqs = [tuple(k(("n", w)) for w in alias) for alias in node.aliases]
            leaf = Leaf(tuple(seqs), tuple(s[0] for s in seqs if len(s) == 1), frozenset())
        leaf = self.leaves[id(node)] = leaf.finished()
        self._terms.append(node)
        return leaf

    def group(self, node: Or) -> Leaf:
        """The leaf of an OR whose children are all terms: where any of them occurs."""
        leaf = self.leaves.get(id(node))
        if leaf is not None:
            return leaf
        parts = [self.leaf(c) for c in node.children]  # type: ignore[arg-type]
        seqs = tuple(dict.fromkeys(s for p in parts for s in p.seqs))
        comps = tuple(dict.fromkeys(x for p in parts for x in p.comps))
        leaf = self.leaves[id(node)] = Leaf(seqs, comps, frozenset()).finished()
        return leaf

    def _check(self, node: Node) -> Any:
        """Presence check of a rule: a function of the presence set, falsy = no match."""
        stack = [node]
        while stack:  # compile every term (iteratively: rules may be deep)
            n = stack.pop()
            if isinstance(n, And | Or):
                stack.extend(n.children)
                if (self.group_terms and isinstance(n, Or) and len(n.children) > 1
                        and all(isinstance(c, Word | Phrase | Prefix | EntityRef)
                                for c in n.children)):
                    self.group(n)
            elif isinstance(n, Not):
                stack.append(n.child)
            elif isinstance(n, Near):
                stack += (n.left, n.right)
            else:
                self.leaf(n)
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
            return self.leaf(node).presence()
        if isinstance(node, Near):
            (le, lx), (re_, rx) = self._expr(node.left), self._expr(node.right)
            return f"(1 if {_tri(le, lx)} and {_tri(re_, rx)} else 0)", False
        if isinstance(node, Not):
            e, x = self._expr(node.child)
            return (f"(not {e})", True) if x else (f"(2 - {e})", False)
        assert isinstance(node, And | Or)
        if len(node.children) == 1:  # "x OR x", once interned
            return self._expr(node.children[0])
        subs = [self._expr(c) for c in node.children]
        if all(x for _e, x in subs):
            op = " and " if isinstance(node, And) else " or "
            return "(" + op.join(e for e, _x in subs) + ")", True
        fn = "min" if isinstance(node, And) else "max"
        return f"{fn}(" + ", ".join(_tri(e, x) for e, x in subs) + ")", False

    def _tri(self, node: Node, present: frozenset[int]) -> int:
        """Interpreted presence check (for rules nested too deeply to compile)."""
        if isinstance(node, Word | Phrase | Prefix | EntityRef):
            return self.leaves[id(node)].tri(present)
        if isinstance(node, Near):
            return min(1, self._tri(node.left, present), self._tri(node.right, present))
        if isinstance(node, Not):
            return 2 - self._tri(node.child, present)
        vals = (self._tri(c, present) for c in node.children)  # type: ignore[union-attr]
        return min(vals) if isinstance(node, And) else max(vals)


def _tri(expr: str, exact: bool) -> str:
    """A presence expression as 0/1/2."""
    return f"(2 if {expr} else 0)" if exact else expr


def _intern(node: Node, seen: dict[Node, Node]) -> Node:
    """Share identical subtrees (so per-document occurrence caches are shared) and drop
    repeated children of AND/OR ("x OR x" is x): evaluating one again only copies."""
    if isinstance(node, And | Or):
        kids = tuple({id(c): c for c in (_intern(c, seen) for c in node.children)}.values())
        node = type(node)(node.col, kids)
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
