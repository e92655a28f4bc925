"""Presearch: which rules could possibly match a document, from its distinct words.

Every rule gets a set of *required term alternatives*: keys of which at least one
must occur in a document for the rule to be true.  ``("s", stem)`` keys are looked
up in a dict; ``("p", prefix)`` keys are checked against each distinct word.
"""

from __future__ import annotations

from collections.abc import Iterable

from newswatch.watch.query import And, EntityRef, Near, Node, Not, Or, Phrase, Prefix, Word
from newswatch.watch.text import Chunk, stem

Key = tuple[str, str]


def _key_cost(key: Key) -> float:
    kind, value = key
    base = 1.0 if len(value) >= 6 else 2.0 if len(value) >= 4 else 6.0
    return base * (4.0 if kind == "p" else 1.0)


def _cost(keys: frozenset[Key]) -> float:
    return sum(_key_cost(k) for k in keys)


def required_keys(node: Node) -> frozenset[Key] | None:
    """Keys of which one must be present for ``node`` to match; None = no constraint."""
    if isinstance(node, Word):
        return frozenset({("s", node.stems[0]), ("s", node.joined_stem)})
    if isinstance(node, Phrase):
        return frozenset({("s", stem(node.words[0]))})
    if isinstance(node, Prefix):
        return frozenset({("p", node.prefix)})
    if isinstance(node, EntityRef):
        return frozenset(("s", stem(a[0])) for a in node.aliases)
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        out: set[Key] = set()
        for c in node.children:
            sub = required_keys(c)
            if sub is None:
                return None
            out |= sub
        return frozenset(out)
    children: Iterable[Node] = node.children if isinstance(node, And) else (
        (node.left, node.right) if isinstance(node, Near) else ()
    )
    best: frozenset[Key] | None = None
    for c in children:
        sub = required_keys(c)
        if sub is not None and (best is None or _cost(sub) < _cost(best)):
            best = sub
    return best


class PresearchIndex:
    """Maps document words to candidate target ids (rules and entities)."""

    def __init__(self) -> None:
        self.by_stem: dict[str, list[int]] = {}
        self.by_prefix: dict[str, list[int]] = {}
        self.prefix_lengths: list[int] = []
        self.always: list[int] = []  # targets without a usable key (never for valid rules)

    def add(self, target: int, keys: frozenset[Key] | None) -> None:
        if keys is None or not keys:
            self.always.append(target)
            return
        for kind, value in keys:
            table = self.by_stem if kind == "s" else self.by_prefix
            table.setdefault(value, []).append(target)
        self.prefix_lengths = sorted({len(p) for p in self.by_prefix})

    def lookup(self, info: Chunk) -> tuple[int, ...]:
        """Candidate targets triggered by one chunk's tokens (cached by the caller)."""
        found: set[int] = set()
        by_stem, by_prefix, lengths = self.by_stem, self.by_prefix, self.prefix_lengths
        for s in info.stems:
            hit = by_stem.get(s)
            if hit:
                found.update(hit)
        for _a, _b, jn, js in info.compounds:
            hit = by_stem.get(js)
            if hit:
                found.update(hit)
            for n in lengths:
                if n <= len(jn) and (hit := by_prefix.get(jn[:n])):
                    found.update(hit)
        if lengths:
            for norm in info.norms:
                for n in lengths:
                    if n > len(norm):
                        break
                    hit = by_prefix.get(norm[:n])
                    if hit:
                        found.update(hit)
        return tuple(sorted(found))
