"""Presearch: which rules could possibly match a document, from the terms it contains.

Every rule gets a set of *required term alternatives*: keys of which at least one
must occur in a document for the rule to be true.  Keys are ``("s", stem)`` (a token
or hyphen compound with that stem), ``("n", norm)`` (a token or compound with that
normalized form) and ``("p", prefix)`` (a token or compound starting with it).  The
matcher computes, once per distinct chunk of text, which keys the chunk provides.
"""

from __future__ import annotations

from collections.abc import Iterable

from newswatch.watch.query import And, EntityRef, Near, Node, Not, Or, Phrase, Prefix, Word

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
        return frozenset({("n", node.words[0])})
    if isinstance(node, Prefix):
        return frozenset({("p", node.prefix)})
    if isinstance(node, EntityRef):
        return frozenset(("n", a[0]) for a in node.aliases)
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
    """Maps term keys to candidate target ids (rules and entities)."""

    def __init__(self) -> None:
        self.by_key: dict[Key, list[int]] = {}
        self.always: list[int] = []  # targets without a usable key (never for valid rules)

    def add(self, target: int, keys: frozenset[Key] | None) -> None:
        if keys is None or not keys:
            self.always.append(target)
            return
        for key in keys:
            self.by_key.setdefault(key, []).append(target)
