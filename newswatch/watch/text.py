"""Text normalization and tokenization shared by the query parser and the matcher.

A *surface* is a word exactly as it appears in the original text (one match of
``WORD_RE``).  Its *norm* is NFKC + case-folded with curly quotes folded and a
trailing possessive ``'s`` removed; its *stem* is the Snowball English stem of
the norm.  Tokens keep their index in the original text so spans can always be
mapped back to original character offsets, whatever NFKC does to lengths.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import Stemmer

# Letters/digits (any script), optionally joined by apostrophes: don't, Putin’s.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LETTERS = rf"[^\W_]++(?:[{_MARKS}]++[^\W_]*+)*+"
_WORD = rf"{_LETTERS}(?:['’‘ʼ＇]{_LETTERS})*+"
WORD_RE = re.compile(_WORD)
# Dash variants that join the parts of a hyphenated word (incl. soft hyphen).
DASHES = "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
COMPOUND_RE = re.compile(rf"{_WORD}(?:[{DASHES}]{_WORD})+")
_QUOTE_FOLD = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "＇": "'", "`": "'"})

_stemmer = Stemmer.Stemmer("english")
_CACHE_MAX = 500_000
# surface -> (norm, stem)
_cache: dict[str, tuple[str, str]] = {}
_stem_cache: dict[str, str] = {}


def normalize(s: str) -> str:
    """NFKC, case-fold and fold curly quotes (no tokenization)."""
    if s.isascii():
        return s.lower()
    return unicodedata.normalize("NFKC", s).casefold().translate(_QUOTE_FOLD)


def stem(norm: str) -> str:
    """Snowball English stem of an already normalized word (cached)."""
    st = _stem_cache.get(norm)
    if st is None:
        if len(_stem_cache) > _CACHE_MAX:
            _stem_cache.clear()
        st = _stemmer.stemWord(norm)
        _stem_cache[norm] = st
    return st


def analyze(surface: str) -> tuple[str, str]:
    """(norm, stem) of one surface word, cached."""
    hit = _cache.get(surface)
    if hit is not None:
        return hit
    norm = normalize(surface)
    if norm.endswith("'s") and len(norm) > 2:
        norm = norm[:-2]
    hit = (norm, stem(norm))
    if len(_cache) > _CACHE_MAX:
        _cache.clear()
    _cache[surface] = hit
    return hit


def analyze_many(surfaces: set[str]) -> None:
    """Fill the cache for many surfaces at once (batch stemming is faster)."""
    missing = [s for s in surfaces if s not in _cache]
    if not missing:
        return
    if len(_cache) + len(missing) > _CACHE_MAX:
        _cache.clear()
    norms = []
    for s in missing:
        n = normalize(s)
        if n.endswith("'s") and len(n) > 2:
            n = n[:-2]
        norms.append(n)
    for s, n, st in zip(missing, norms, _stemmer.stemWords(norms), strict=True):
        _cache[s] = (n, st)


def words(text: str) -> list[str]:
    """Normalized words of a short string (query words and phrases, aliases)."""
    return [analyze(w)[0] for w in WORD_RE.findall(text)]


# --- documents -------------------------------------------------------------------------
# Fast path: tokenize the UTF-8 bytes with an ASCII regex (several times faster than a
# Unicode regex over str); any chunk holding non-ASCII bytes is re-tokenized with WORD_RE
# once and cached, so the token sequence equals WORD_RE over the original text.
_BW = rb"[A-Za-z0-9\x80-\xff]++(?:'[A-Za-z0-9\x80-\xff]++)*+"
CHUNK_RE = re.compile(rb"%s(?:-%s)*+" % (_BW, _BW))


@dataclass(frozen=True, slots=True)
class Chunk:
    """Analysis of one byte chunk: its tokens and hyphen compounds."""

    norms: tuple[str, ...]
    stems: tuple[str, ...]
    offs: tuple[tuple[int, int], ...]  # char offsets of each token inside the chunk
    compounds: tuple[tuple[int, int, str, str], ...]  # (first, last, joined norm, stem)


_chunks: dict[bytes, Chunk] = {}


def chunk_info(chunk: bytes) -> Chunk:
    info = _chunks.get(chunk)
    if info is not None:
        return info
    s = chunk.decode("utf-8", "surrogatepass")
    ms = list(WORD_RE.finditer(s))
    pairs = [analyze(m.group()) for m in ms]
    compounds = []
    i = 0
    while i < len(ms):
        j = i
        while j + 1 < len(ms) and ms[j + 1].start() - ms[j].end() == 1 and (
            s[ms[j].end()] in DASHES
        ):
            j += 1
        if j > i:
            joined = "".join(p[0] for p in pairs[i : j + 1])
            compounds.append((i, j, joined, stem(joined)))
        i = j + 1
    info = Chunk(
        tuple(p[0] for p in pairs),
        tuple(p[1] for p in pairs),
        tuple(m.span() for m in ms),
        tuple(compounds),
    )
    if len(_chunks) > _CACHE_MAX:
        _chunks.clear()
    _chunks[chunk] = info
    return info


class Field:
    """One field (title or text) of a document, tokenized once and indexed lazily."""

    __slots__ = (
        "name", "text", "_bytes", "chunks", "_norms", "_stems", "_stem_pos",
        "_compounds", "_offsets",
    )

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self._bytes = text.encode("utf-8", "surrogatepass")
        self.chunks: list[bytes] = CHUNK_RE.findall(self._bytes)
        self._norms: list[str] | None = None
        self._stems: list[str] = []
        self._stem_pos: dict[str, list[int]] = {}
        self._compounds: list[tuple[int, int, str, str]] = []
        self._offsets: list[tuple[int, int]] | None = None

    def _build(self) -> None:
        norms: list[str] = []
        stems: list[str] = []
        compounds = self._compounds
        get = _chunks.get
        add_n, add_s = norms.append, stems.append
        for c in self.chunks:
            info = get(c) or chunk_info(c)
            if len(info.norms) == 1:
                add_n(info.norms[0])
                add_s(info.stems[0])
                continue
            if info.compounds:
                base = len(norms)
                compounds.extend((base + a, base + b, n, s) for a, b, n, s in info.compounds)
            norms.extend(info.norms)
            stems.extend(info.stems)
        sp: dict[str, list[int]] = {}
        for i, s in enumerate(stems):
            lst = sp.get(s)
            if lst is None:
                sp[s] = [i]
            else:
                lst.append(i)
        self._norms, self._stems, self._stem_pos = norms, stems, sp

    @property
    def norms(self) -> list[str]:
        if self._norms is None:
            self._build()
        return self._norms  # type: ignore[return-value]

    @property
    def stems(self) -> list[str]:
        if self._norms is None:
            self._build()
        return self._stems

    def stem_positions(self, s: str) -> list[int]:
        if self._norms is None:
            self._build()
        return self._stem_pos.get(s, [])

    def norm_positions(self, n: str) -> list[int]:
        if self._norms is None:
            self._build()
        norms = self._norms
        return [i for i in self._stem_pos.get(stem(n), ()) if norms[i] == n]

    @property
    def compounds(self) -> list[tuple[int, int, str, str]]:
        if self._norms is None:
            self._build()
        return self._compounds

    def distinct_norms(self) -> list[str]:
        if self._norms is None:
            self._build()
        return list(set(self._norms))  # type: ignore[arg-type]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original character offsets covering tokens first..last."""
        if self._offsets is None:
            self._offsets = self._char_offsets()
        return self._offsets[first][0], self._offsets[last][1]

    def _char_offsets(self) -> list[tuple[int, int]]:
        if self._norms is None:
            self._build()
        starts = [m.start() for m in CHUNK_RE.finditer(self._bytes)]
        if not self.text.isascii():
            b = self._bytes
            conv: dict[int, int] = {}
            prev_b = prev_c = 0
            for bs in starts:  # byte offset -> char offset, incrementally
                prev_c += len(b[prev_b:bs].decode("utf-8", "surrogatepass"))
                prev_b = bs
                conv[bs] = prev_c
            starts = [conv[bs] for bs in starts]
        out = []
        for ci, c in enumerate(self.chunks):
            for a, z in (_chunks.get(c) or chunk_info(c)).offs:
                out.append((starts[ci] + a, starts[ci] + z))
        return out
