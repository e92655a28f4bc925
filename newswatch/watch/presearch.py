"""Presearch: which rules could possibly match a document, from the terms it contains.

Every rule gets a set of *required term alternatives*: keys of which at least one
must occur in a document for the rule to be true.  Keys are ``("s", stem)`` (a token
or hyphen compound with that stem), ``("n", norm)`` (a token or compound with that
normalized form) and ``("p", prefix)`` (a token or compound starting with it).

``ChunkIndex`` computes, once per distinct chunk of text (``text.split_chunks``), which
keys the chunk provides (as small int ids) and which targets (rules, entities) those
keys trigger, and caches it on its owner (a matcher), bounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, compress, count
from operator import itemgetter, not_
from typing import Any

from newswatch.watch.query import (
    And,
    EntityRef,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Word,
    joined_forms,
)
from newswatch.watch.text import Chunk, analyze_chunks, new_stemmer

Key = tuple[str, str]
# What a special chunk provides: (all its key ids, the targets they trigger,
#   ((token offset in chunk, key ids), ...), ((first, last, key ids) of compounds, ...),
#   token count, char offsets of its tokens inside the chunk).
Entry = tuple[
    frozenset[int], tuple[int, ...], tuple[tuple[int, tuple[int, ...]], ...],
    tuple[tuple[int, int, tuple[int, ...]], ...], int, tuple[tuple[int, int], ...],
]
_EMPTY: frozenset[int] = frozenset()


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
    if isinstance(node, Phrase):  # its first word, or that of a form with words joined
        return frozenset({("n", node.words[0])} | {("n", f[0]) for f in joined_forms(node)})
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


class ChunkIndex:
    """Term keys and triggered targets of distinct chunks, analysed once and cached.

    ``keys`` maps every term key some rule or entity uses to its id; ``by_key`` maps key
    ids to the targets they trigger.  ``info`` maps every chunk seen to an ``Entry`` if it
    is *special* -- it provides keys or has other than one token (those shift token
    numbers) -- else to None (most chunks), so one lookup per chunk tells both whether it
    is new and what it provides.  The cache is dropped as a whole (between documents, see
    ``trim``) once it holds more than ``max_chunks`` chunks.
    """

    def __init__(self, keys: dict[Key, int], by_key: dict[int, tuple[int, ...]],
                 max_chunks: int = 200_000) -> None:
        by_kind: dict[str, dict[str, int]] = {"s": {}, "n": {}, "p": {}}
        for (kind, value), kid in keys.items():
            by_kind[kind][value] = kid
        self._skeys, self._nkeys, self._pkeys = (by_kind[k] for k in "snp")
        self._plens = sorted({len(p) for p in self._pkeys})
        self._by_key = by_key
        self._stem_words = new_stemmer().stemWords
        self.max_chunks = max_chunks
        self.info: dict[bytes, Entry | None] = {}

    def trim(self) -> None:
        if len(self.info) > self.max_chunks:
            self.info.clear()

    def scan(self, chunks: list[bytes]) -> tuple[list[Any], list[Entry | None],
                                                  frozenset[int], set[int]]:
        """Look up every chunk (analysing the new ones) in one pass over the big table.

        Returns ``found``: per chunk its entry if special, None if not, or the chunk
        itself if it was new (so truthy exactly for the special and the new chunks);
        ``entries``: the entries of those, in order (None for a new chunk that is not
        special); the key ids present; the targets triggered.
        """
        found = list(map(self.info.get, chunks, chunks))
        entries = list(filter(None, found))
        new = [e for e in entries if e.__class__ is bytes]
        keyed = entries
        if new:
            self._add(list(set(new)))
            entries = self.entries(entries)
            keyed = [e for e in entries if e is not None]
        if not keyed:
            return found, entries, _EMPTY, set()
        present = frozenset().union(*[e[0] for e in keyed])
        targets = set().union(*[e[1] for e in keyed])
        return found, entries, present, targets

    def entries(self, found: list[Any]) -> list[Entry | None]:
        """The entries of the truthy items of (part of) ``found`` from ``scan``."""
        get = self.info.get
        return [get(e) if e.__class__ is bytes else e for e in filter(None, found)]

    def _add(self, new: list[bytes]) -> None:
        self.info.update(dict.fromkeys(new))
        flags = list(map(bytes.isalnum, new))
        plain = list(compress(new, flags))  # ASCII letters/digits: one token, the chunk
        if plain:  # most new chunks: stem in one batch, find the few with keys in C
            norms = b" ".join(plain).lower().decode().split(" ")
            stems = self._stem_words(norms)
            hits = set(compress(count(), map(self._skeys.__contains__, stems)))
            hits.update(compress(count(), map(self._nkeys.__contains__, norms)))
            for n in self._plens:
                heads = map(itemgetter(slice(0, n)), norms)
                hits.update(compress(count(), map(self._pkeys.__contains__, heads)))
            by_key = self._by_key
            for i in hits:
                ids = self._feats(norms[i], stems[i])
                targets = tuple(sorted({t for x in ids for t in by_key.get(x, ())}))
                c = plain[i]
                self.info[c] = (frozenset(ids), targets, ((0, ids),), (), 1, ((0, len(c)),))
        if len(plain) < len(new):
            other = list(compress(new, map(not_, flags)))
            for c, info in zip(other, analyze_chunks(other, self._stem_words), strict=True):
                self._entry(c, info)

    def _entry(self, c: bytes, info: Chunk) -> None:
        """Record chunk ``c`` if it is special."""
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
            self.info[c] = (allk, targets, toks, comps, len(info.norms), info.offs)
        elif len(info.norms) != 1:
            self.info[c] = (_EMPTY, (), (), (), len(info.norms), info.offs)

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
