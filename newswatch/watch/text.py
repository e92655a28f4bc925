"""Text normalization and tokenization shared by the query parser and the matcher.

A *surface* is a word exactly as it appears in the original text (one match of
``WORD_RE``).  Its *norm* is NFKC + case-folded with curly quotes folded and a
trailing possessive ``'s`` removed; its *stem* is the Snowball English stem of
the norm.  Tokens keep their offsets in the original text so spans can always be
mapped back to original character offsets, whatever NFKC does to lengths.

Nothing here caches: the matcher keeps its own bounded caches (``presearch.ChunkIndex``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import Stemmer

from newswatch.charclasses import CJK

# Letters/digits (any script), optionally joined by apostrophes: don't, Putin’s. Chinese
# and Japanese are written without spaces between words: each of their characters is a
# word of its own, so "地震" is the two words 地 震 and is found inside "四川发生地震".
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LETTER = rf"[^\W_{CJK}]"
_LETTERS = rf"{_LETTER}++(?:[{_MARKS}]++{_LETTER}*+)*+"
_WORD = rf"[{CJK}]|{_LETTERS}(?:['’‘ʼ＇]{_LETTERS})*+"
WORD_RE = re.compile(_WORD)
# Dash variants that join the parts of a hyphenated word (incl. soft hyphen).
DASHES = "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
COMPOUND_RE = re.compile(rf"{_WORD}(?:[{DASHES}]{_WORD})+")
_QUOTE_FOLD = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "＇": "'", "`": "'"})
_ASCII_LOWER = str.maketrans({c: c + 32 for c in range(65, 91)})

def new_stemmer() -> Stemmer.Stemmer:
    """A Snowball English stemmer for one owner (one thread at a time may use it).

    Without PyStemmer's cache: the matcher stems each distinct word once, so nearly every
    word it stems is new, and a cache would make stemming 3x slower."""
    return Stemmer.Stemmer("english", 0)


def normalize(s: str) -> str:
    """NFKC, case-fold and fold curly quotes (no tokenization).

    ASCII letters are lowered first, so that lowering them never changes the result
    (documents are split into chunks with ASCII already lowered): without it, a few
    letters followed by two combining marks ("J̣̌") would fold differently in upper and
    lower case, NFKC composing one and not the other."""
    if s.isascii():
        return s.lower()
    return unicodedata.normalize("NFKC", s.translate(_ASCII_LOWER)).casefold().translate(
        _QUOTE_FOLD)


def stem(norm: str) -> str:
    """Snowball English stem of an already normalized word (for query words: a stemmer
    costs less to make than a word to stem, and none is shared between threads)."""
    return new_stemmer().stemWord(norm)


def norm_of(surface: str) -> str:
    """Norm of one surface word: normalized, possessive ``'s`` removed."""
    norm = normalize(surface)
    if norm.endswith("'s") and len(norm) > 2:
        norm = norm[:-2]
    return norm


def words(text: str) -> list[str]:
    """Normalized words of a short string (query words and phrases, aliases)."""
    return [norm_of(w) for w in WORD_RE.findall(text)]


# --- documents -------------------------------------------------------------------------
# Fast path: the UTF-8 bytes are translated (one C call) so that every byte which can never
# be part of a word becomes a space and ASCII letters are lowered (matching ignores case,
# and "The" and "the" are then one chunk to analyse and look up), then split on spaces.
# Each resulting *chunk* is a run of ASCII letters/digits, apostrophes, hyphens and
# non-ASCII bytes; no WORD_RE token (nor a hyphen compound) ever spans two chunks, so
# re-tokenizing each distinct chunk with WORD_RE (``analyze_chunks``) yields exactly
# WORD_RE over the original text.
_KEEP = frozenset(
    b"'-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + bytes(range(128, 256))
)
CHUNK_TABLE = bytes((c | 0x20 if 65 <= c <= 90 else c) if c in _KEEP else 0x20
                    for c in range(256))


def split_chunks(text: str) -> tuple[bytes, bytes, list[bytes]]:
    """(UTF-8 bytes, the bytes blanked and lowered by ``CHUNK_TABLE``, chunks) of a field.
    The blanked bytes decode to a string of the same length as ``text``."""
    raw = text.encode("utf-8", "surrogatepass")
    flat = raw.translate(CHUNK_TABLE)
    return raw, flat, flat.split()


@dataclass(frozen=True, slots=True)
class Chunk:
    """Analysis of one byte chunk: its tokens and hyphen compounds."""

    norms: tuple[str, ...]
    stems: tuple[str, ...]
    offs: tuple[tuple[int, int], ...]  # char offsets of each token inside the chunk
    compounds: tuple[tuple[int, int, str, str], ...]  # (first, last, joined norm, stem)


def analyze_chunks(chunks: list[bytes], stem_words: Callable[[list[str]], list[str]]
                   ) -> list[Chunk]:
    """Tokens and compounds of each chunk; stems of all their words in one batch."""
    norms: list[str] = []
    layout = []  # per chunk: (first norm index, token count, token offsets, compounds)
    for c in chunks:
        if c.isalnum():  # ASCII letters/digits only: one token, the whole chunk
            layout.append((len(norms), 1, ((0, len(c)),), ()))
            norms.append(c.decode().lower())
            continue
        s = c.decode("utf-8", "surrogatepass")
        ms = list(WORD_RE.finditer(s))
        first = len(norms)
        norms += [norm_of(m.group()) for m in ms]
        spans = []
        i = 0
        while i < len(ms):
            j = i
            while j + 1 < len(ms) and ms[j + 1].start() - ms[j].end() == 1 and (
                s[ms[j].end()] in DASHES
            ):
                j += 1
            if j > i:
                spans.append((i, j, len(norms)))
                norms.append("".join(norms[first + i : first + j + 1]))
            i = j + 1
        layout.append((first, len(ms), tuple(m.span() for m in ms), tuple(spans)))
    stems = stem_words(norms)
    out = []
    for first, n, offs, spans in layout:
        out.append(Chunk(
            tuple(norms[first : first + n]),
            tuple(stems[first : first + n]),
            offs,
            tuple((i, j, norms[k], stems[k]) for i, j, k in spans),
        ))
    return out
