"""Word-level facts the clustering features share: how a token splits into words (any
alphabet; Chinese and Japanese by character pairs), stop words, and the reading of event
slots (see :mod:`newswatch.cluster_slots`) around a token with digits or a number word."""

from __future__ import annotations

import re

from newswatch.charclasses import CJK

_STOPWORDS = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further had hadn't has hasn't have haven't
having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll
i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
not of off on once only or other ought our ours ourselves out over own same shan't she she'd
she'll she's should shouldn't so some such than that that's the their theirs them themselves
then there there's these they they'd they'll they're they've this those through to too under
until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where
where's which while who who's whom why why's with won't would wouldn't you you'd you'll
you're you've your yours yourself yourselves said says say told tell according just like
will one two new also may might would could last first year years time mr mrs ms s t
monday tuesday wednesday thursday friday saturday sunday today yesterday week day
"""
STOP = frozenset(_STOPWORDS.split())

# event slots, read around the tokens with digits and number words (lowercased): a number
# and the word after it ("23 pirates", "33-year-old", "11th doctor", "three sailors"), a day
# of a month ("dec. 14", "14 december")
_NUM_NOUN = re.compile(r"\b(\d+(?:[.,]\d+)?)[ -]([a-z]+)")
_MON = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?"
_DAY_A = re.compile(f"\\b{_MON} (\\d{{1,2}})(?:st|nd|rd|th)?\\b")
_DAY_B = re.compile(f"\\b(\\d{{1,2}})(?:st|nd|rd|th)? {_MON}(?![a-z])")
_MONTH_IN = re.compile(_MON)
# number words before a noun are event slots too ("three sailors", "eleventh doctor"); not
# "one" and "first", which mostly count nothing ("one of the", "for the first time")
NUMBER_WORDS = {w: str(k) for words in (
    "_ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty",
    "_ second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth",
) for k, w in enumerate(words.split(), 1) if w != "_"}
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")
_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
_WORD_END = frozenset(_ASCII_LOWER + ".")  # how a month word ends
_MONTHS = frozenset(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                     "nov", "dec"))


def read_slots(prev: str, tok: str, nxt: str, out: set[str]) -> None:
    """Add the event slots read at a token with digits (``prev`` and ``nxt``: the tokens
    around it in its part, or "") to ``out``: "#pirat 23" (a number and the first five
    letters of the word after it, not a stop word) and "@dec 14" (a day of a month).
    A number word ("three", "eleventh") before a word counts as its number."""
    if tok in NUMBER_WORDS:
        w = nxt[: len(nxt) - len(nxt.lstrip(_ASCII_LOWER))]
        if w and w not in STOP:
            out.add(f"#{w[:5]} {NUMBER_WORDS[tok]}")
        return
    if "a" <= nxt[:1] <= "z" and tok.isdigit() and tok.isascii():  # "23 sailors"
        w = nxt[: len(nxt) - len(nxt.lstrip(_ASCII_LOWER))]
        if w not in STOP:
            out.add(f"#{w[:5]} {tok}")
        if len(tok) <= 2 and nxt[:3] in _MONTHS:
            for d, m in _DAY_B.findall(f"{tok} {nxt}"):
                out.add(f"@{m} {int(d)}")
    elif nxt[:1].isalpha() or "-" in tok:  # a word after the number, or inside the token
        pair = f"{tok} {nxt}"
        if (m := _ORDINAL.fullmatch(tok)) and "a" <= nxt[:1] <= "z":  # "11th doctor"
            w = nxt[: len(nxt) - len(nxt.lstrip(_ASCII_LOWER))]
            if w not in STOP:
                out.add(f"#{w[:5]} {m[1]}")
        for n, w in _NUM_NOUN.findall(pair):
            if w not in STOP:
                out.add(f"#{w[:5]} {n}")
        if nxt[:3] in _MONTHS:
            for d, m in _DAY_B.findall(pair):
                out.add(f"@{m} {int(d)}")
    if (tok[:1].isdigit() and prev[-1:] in _WORD_END
            and (prev[:3] in _MONTHS or not prev.isalpha()) and _MONTH_IN.search(prev)):
        for m, d in _DAY_A.findall(f"{prev} {tok}"):
            out.add(f"@{m} {int(d)}")


# A word on lowercased text: letters of any script (Cyrillic, Greek, Arabic...) with the
# combining marks inside them (not letters to `re`: vowel signs of Indic scripts, Arabic and
# Hebrew points, Thai vowels), or a number.
_MARKS = ("\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
          "\u06d6-\u06ed\u0900-\u0963\u0966-\u0dff\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
          "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f")
_LETTER = f"(?:[^\\W\\d_]|[{_MARKS}])"
_WORD = re.compile(f"{_LETTER}+(?:['\\-]{_LETTER}+)*|\\d+(?:[.,]\\d+)*")
# Chinese and Japanese put no spaces between words: their runs count as character bigrams
_CJK = re.compile(f"[{CJK}]+")


def words_of(token: str) -> list[str]:
    """The words and numbers of a token; a run of Chinese or Japanese characters gives
    its overlapping character pairs ("四川发生" -> 四川, 川发, 发生)."""
    words = _WORD.findall(token)
    if token.isascii() or not _CJK.search(token):
        return words
    out = []
    for w in words:
        at = 0
        for m in _CJK.finditer(w):
            out += _WORD.findall(w[at:m.start()])
            run = m.group()
            # a lone character is mostly a counter or a date's 年/月/日: no word
            out += [run[k:k + 2] for k in range(len(run) - 1)]
            at = m.end()
        out += _WORD.findall(w[at:])
    return out
