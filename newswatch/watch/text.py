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
from bisect import bisect_left, bisect_right
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
# Fast path: the UTF-8 bytes are translated (one C call) so that every byte which can never
# be part of a word becomes a space, then split on spaces.  Each resulting *chunk* is a
# run of ASCII letters/digits, apostrophes, hyphens and non-ASCII bytes; no WORD_RE token
# (nor a hyphen compound) ever spans two chunks, so re-tokenizing each distinct chunk with
# WORD_RE once (cached by ``chunk_info``) yields exactly WORD_RE over the original text.
_KEEP = frozenset(
    b"'-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + bytes(range(128, 256))
)
CHUNK_TABLE = bytes(c if c in _KEEP else 0x20 for c in range(256))


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
    if chunk.isalnum():  # ASCII letters/digits only: one token, the whole chunk
        s = chunk.decode()
        norm, st = analyze(s)
        info = Chunk((norm,), (st,), ((0, len(s)),), ())
        if len(_chunks) > _CACHE_MAX:
            _chunks.clear()
        _chunks[chunk] = info
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
    """One field (title or text) of a document, split into chunks once.

    Token indices count WORD_RE tokens over the whole field.  ``tokstart`` maps chunk
    index -> index of its first token (``None`` while every chunk holds exactly one
    token, i.e. chunk index == token index); the matcher sets it, and ``relevant``, the
    distinct chunks whose positions it may ask for.  Positions of a chunk and character
    offsets are computed lazily, only for what is asked.
    """

    __slots__ = (
        "name", "text", "_bytes", "_flat", "_padded", "chunks", "tokstart", "relevant",
        "_cpos", "_scans", "_bpos", "_ckb", "_ckc",
    )

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self._bytes = text.encode("utf-8", "surrogatepass")
        self._flat = self._bytes.translate(CHUNK_TABLE)
        self._padded: bytes | None = None
        self.chunks: list[bytes] = self._flat.split()
        self.tokstart: list[int] | None = None
        self.relevant: set[bytes] | frozenset[bytes] = frozenset()
        self._cpos: dict[bytes, list[int]] = {}  # chunk -> its indices in ``chunks``
        self._scans = 0
        self._bpos: dict[bytes, list[int]] = {}  # chunk -> its byte offsets
        self._ckb: list[int] = [0]  # byte -> char offset checkpoints (non-ASCII texts)
        self._ckc: list[int] = [0]

    def chunk_positions(self, c: bytes) -> list[int]:
        """Indices of chunk ``c`` in ``chunks``, ascending."""
        p = self._cpos.get(c)
        if p is not None:
            return p
        chunks = self.chunks
        if self._scans < 6 or c not in self.relevant:  # a few C-speed scans of the list
            self._scans += 1
            p = []
            try:
                i = chunks.index(c)
                while True:
                    p.append(i)
                    i = chunks.index(c, i + 1)
            except ValueError:
                pass
            self._cpos[c] = p
            return p
        cpos: dict[bytes, list[int]] = {}  # many asked for: one pass for all relevant
        rel = self.relevant
        for i, x in enumerate(chunks):
            if x in rel:
                lst = cpos.get(x)
                if lst is None:
                    cpos[x] = [i]
                else:
                    lst.append(i)
        self._cpos = cpos
        self.relevant = frozenset()
        return cpos.get(c, [])

    def _byte_start(self, ci: int) -> int:
        """Byte offset of chunk ``ci``: the k-th space-delimited occurrence of its bytes."""
        c = self.chunks[ci]
        starts = self._bpos.get(c)
        if starts is None:
            if self._padded is None:
                self._padded = b" " + self._flat + b" "
            padded, pat, step = self._padded, b" " + c + b" ", len(c) + 1
            starts = []
            p = padded.find(pat)
            while p >= 0:  # padded[p] is the space before the chunk: chunk at p in text
                starts.append(p)
                p = padded.find(pat, p + step)
            self._bpos[c] = starts
        if len(starts) == 1:
            return starts[0]
        return starts[bisect_left(self.chunk_positions(c), ci)]

    def _char(self, bo: int) -> int:
        """Character offset of byte offset ``bo`` (which is at a character boundary)."""
        if len(self._bytes) == len(self.text):
            return bo
        ckb = self._ckb
        i = bisect_right(ckb, bo) - 1
        cb = ckb[i]
        if cb == bo:
            return self._ckc[i]
        cc = self._ckc[i] + len(self._bytes[cb:bo].decode("utf-8", "surrogatepass"))
        ckb.insert(i + 1, bo)
        self._ckc.insert(i + 1, cc)
        return cc

    def _locate(self, tok: int) -> tuple[int, int]:
        ts = self.tokstart
        if ts is None:
            return tok, 0
        ci = bisect_right(ts, tok) - 1
        return ci, tok - ts[ci]

    def spans(self, ranges: set[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int]]:
        """Original character offsets of many token ranges at once."""
        locate, bstart, chunks = self._locate, self._byte_start, self.chunks
        where = []  # (byte offset of the token's chunk, token, char offsets in the chunk)
        for t in {t for r in ranges for t in r}:
            ci, k = locate(t)
            where.append((bstart(ci), t, chunk_info(chunks[ci]).offs[k]))
        where.sort()
        ascii_ = len(self._bytes) == len(self.text)
        char = self._char
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        for bo, t, (s0, e0) in where:
            co = bo if ascii_ else char(bo)
            starts[t], ends[t] = co + s0, co + e0
        return {(a, b): (starts[a], ends[b]) for a, b in ranges}

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original character offsets covering tokens first..last."""
        ca, ka = self._locate(first)
        cb, kb = self._locate(last)
        chunks = self.chunks
        start = self._char(self._byte_start(ca)) + chunk_info(chunks[ca]).offs[ka][0]
        end = self._char(self._byte_start(cb)) + chunk_info(chunks[cb]).offs[kb][1]
        return start, end
