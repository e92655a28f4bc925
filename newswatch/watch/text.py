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

import Stemmer

# Letters/digits (any script), optionally joined by apostrophes: don't, Putin’s.
_WORD = r"[^\W_]+(?:['’‘ʼ＇][^\W_]+)*"
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
    out: list[str] = []
    for w in WORD_RE.findall(text):
        out.extend(WORD_RE.findall(analyze(w)[0]) or [analyze(w)[0]])
    return out
