"""Watchlist query language: lexer and recursive-descent parser.

Grammar (precedence NOT > NEAR > AND > OR; adjacency means AND)::

    or    := and ("OR" and)*
    and   := near (["AND"] near)*
    near  := unary ("NEAR/n" unary)*
    unary := "NOT" unary | "(" or ")" | word | prefix* | "phrase" | @entity

Operators are upper case; lower-case ``and``/``or``/``not`` are plain words.
Columns in :class:`QueryError` are 1-based offsets into the query string.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from newswatch.charclasses import CJK
from newswatch.watch.text import DASHES, WORD_RE, normalize, stem, words

MAX_DEPTH = 64
MAX_TERMS = 1000
MAX_NEAR = 1000
MAX_QUERY_LEN = 100_000


class QueryError(ValueError):
    """A query that cannot be parsed; ``column`` is 1-based in the query string."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


@dataclass(frozen=True, slots=True)
class Word:
    col: int
    text: str
    parts: tuple[str, ...]  # normalized parts; >1 for hyphenated words
    stems: tuple[str, ...]
    joined_stem: str  # stem of the parts written together (cease-fire -> ceasefir)


@dataclass(frozen=True, slots=True)
class Phrase:
    col: int
    text: str
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prefix:
    col: int
    text: str
    prefix: str


@dataclass(frozen=True, slots=True)
class EntityRef:
    col: int
    id: str
    aliases: tuple[tuple[str, ...], ...]  # each alias as normalized words


@dataclass(frozen=True, slots=True)
class Not:
    col: int
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    col: int
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    col: int
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Near:
    col: int
    left: Node
    right: Node
    n: int


Term = Word | Phrase | Prefix | EntityRef
Node = Word | Phrase | Prefix | EntityRef | Not | And | Or | Near
TERM_TYPES = (Word, Phrase, Prefix, EntityRef)

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)|(?P<lp>\()|(?P<rp>\))|(?P<phrase>"[^"]*"?)"""
    r"""|(?P<near>NEAR(?:/[^\s()"]*)?(?=[\s()"]|$))|(?P<op>(?:AND|OR|NOT)(?=[\s()"]|$))"""
    r"""|(?P<ent>@[^\s()"]*)|(?P<word>[^\s()"]+)"""
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "＂": '"'})
_ENTITY_ID_RE = re.compile(r"[\w.-]+")
_CJK_CHAR = re.compile(f"[{CJK}]")
_BAD_WORD_CHAR = re.compile("[^\\w'’‘ʼ＇.&/+" + re.escape(DASHES) + "\u0300-\u036f]")


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str
    col: int  # 1-based


def _lex(q: str) -> list[_Tok]:
    toks = []
    for m in _TOKEN_RE.finditer(q.translate(_QUOTES)):
        kind = m.lastgroup or "word"
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), m.start() + 1))
    return toks


def _is_near_operand(node: Node) -> bool:
    if isinstance(node, (*TERM_TYPES, Near)):
        return True
    return isinstance(node, Or) and all(_is_near_operand(c) for c in node.children)


def has_positive(node: Node) -> bool:
    """True if the node can only match when some positive term occurs."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(has_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(has_positive(c) for c in node.children)
    return True


class _Parser:
    def __init__(self, q: str, entities: Callable[[str], Sequence[str] | None] | None) -> None:
        self.q = q
        self.toks = _lex(q)
        self.i = 0
        self.depth = 0
        self.terms = 0
        self.entities = entities

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def end_col(self) -> int:
        return len(self.q) + 1

    def parse(self) -> Node:
        if not self.toks:
            raise QueryError("empty query", 1)
        node = self.or_expr()
        tok = self.peek()
        if tok is not None:
            msg = "unbalanced ')'" if tok.kind == "rp" else f"unexpected {tok.text!r}"
            raise QueryError(msg, tok.col)
        if not has_positive(node):
            raise QueryError("query needs at least one positive term", 1)
        return node

    def _enter(self, col: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"query nested too deeply (max {MAX_DEPTH})", col)

    def or_expr(self) -> Node:
        first = self.peek()
        col = first.col if first else self.end_col()
        children = [self.and_expr()]
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text == "OR":
            self.i += 1
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(col, tuple(children))

    def and_expr(self) -> Node:
        first = self.peek()
        col = first.col if first else self.end_col()
        children = [self.near_expr()]
        while (tok := self.peek()) is not None:
            if tok.kind == "op" and tok.text == "AND":
                self.i += 1
            elif tok.kind in ("rp", "near") or (tok.kind == "op" and tok.text == "OR"):
                break
            children.append(self.near_expr())
        return children[0] if len(children) == 1 else And(col, tuple(children))

    def near_expr(self) -> Node:
        left = self.unary()
        links = 0
        while (tok := self.peek()) is not None and tok.kind == "near":
            self.i += 1
            self._enter(tok.col)  # each link nests the chain one level deeper
            links += 1
            n_text = tok.text[5:] if tok.text.startswith("NEAR/") else ""
            if not n_text.isascii() or not n_text.isdigit():
                raise QueryError("NEAR needs a distance, e.g. NEAR/5", tok.col)
            n = int(n_text)
            if not 1 <= n <= MAX_NEAR:
                raise QueryError(f"NEAR distance must be 1..{MAX_NEAR}", tok.col + 5)
            right = self.unary()
            for side in (left, right):
                if not _is_near_operand(side):
                    raise QueryError(
                        "NEAR operands must be words, phrases, prefixes, @entities "
                        "or OR groups of them",
                        tok.col,
                    )
            left = Near(tok.col, left, right, n)
        self.depth -= links
        return left

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("query ends where a term was expected", self.end_col())
        if tok.kind == "op" and tok.text == "NOT":
            self.i += 1
            self._enter(tok.col)
            child = self.unary()
            self.depth -= 1
            return Not(tok.col, child)
        if tok.kind == "lp":
            self.i += 1
            self._enter(tok.col)
            if (nxt := self.peek()) is not None and nxt.kind == "rp":
                raise QueryError("empty parentheses", tok.col)
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != "rp":
                raise QueryError("unclosed '('", tok.col)
            self.i += 1
            self.depth -= 1
            return node
        self.i += 1
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"too many terms in query (max {MAX_TERMS})", tok.col)
        return self.term(tok)

    def term(self, tok: _Tok) -> Node:
        kind, text, col = tok.kind, tok.text, tok.col
        if kind == "rp":
            raise QueryError("unexpected ')'", col)
        if kind in ("op", "near"):
            raise QueryError(f"{text.split('/')[0]} needs a term before and after it", col)
        if kind == "phrase":
            if len(text) < 2 or not text.endswith('"'):
                raise QueryError("unterminated phrase (missing closing quote)", col)
            ws = tuple(words(text[1:-1]))
            if not ws:
                raise QueryError("empty phrase", col)
            return Phrase(col, text, ws)
        if kind == "ent":
            ident = text[1:]
            if not ident or not _ENTITY_ID_RE.fullmatch(ident):
                raise QueryError("'@' must be followed by an entity id", col)
            aliases: tuple[tuple[str, ...], ...] = ()
            if self.entities is not None:
                found = self.entities(ident)
                if found is None:
                    raise QueryError(f"unknown entity @{ident}", col)
                aliases = tuple(a for a in (tuple(words(s)) for s in found) if a)
            return EntityRef(col, ident, aliases)
        return self.word(text, col)

    def word(self, text: str, col: int) -> Node:
        star = text.endswith("*")
        body = text[:-1] if star else text
        if "*" in body:
            raise QueryError("'*' is only allowed at the end of a word", col + body.index("*"))
        for m in _BAD_WORD_CHAR.finditer(body):
            raise QueryError(f"unexpected character {m.group()!r}", col + m.start())
        parts = tuple(words(body))
        if not parts:
            raise QueryError(f"{text!r} has no letters or digits", col)
        if star and all(len(p) == 1 and _CJK_CHAR.match(p) for p in parts):
            star = False  # 東京*: each character is a word already, so the word is 東京
        if star:
            if len(parts) != 1:
                raise QueryError("a prefix* must be a single word", col)
            if len(parts[0]) < 2:
                raise QueryError("a prefix* needs at least 2 letters", col)
            return Prefix(col, text, parts[0])
        stems = tuple(stem(p) for p in parts)
        return Word(col, text, parts, stems, stem("".join(parts)))


def parse(
    query: str,
    entities: Mapping[str, Sequence[str]] | Callable[[str], Sequence[str] | None] | None = None,
) -> Node:
    """Parse ``query``; with ``entities`` (id -> aliases) @refs are resolved and checked."""
    if not isinstance(query, str):
        raise QueryError("query must be a string", 1)
    if len(query) > MAX_QUERY_LEN:
        raise QueryError(f"query too long (max {MAX_QUERY_LEN} characters)", 1)
    lookup: Callable[[str], Sequence[str] | None] | None
    lookup = entities.get if isinstance(entities, Mapping) else entities
    return _Parser(query, lookup).parse()


_MAX_JOINED_FORMS = 8


def joined_forms(node: Phrase) -> list[tuple[str, ...]]:
    """A phrase's other word sequences with its hyphenated words joined ("cease-fire
    talks" also as "ceasefire talks"), at most _MAX_JOINED_FORMS of them."""
    options: list[list[tuple[str, ...]]] = []
    for piece in node.text.strip('"').split():
        split = tuple(words(piece))
        joined = tuple(words(piece.replace("-", ""))) if "-" in piece else split
        options.append([split, joined] if len(split) > 1 and len(joined) == 1 else [split])
    if all(len(o) == 1 for o in options) or tuple(
            w for o in options for w in o[0]) != node.words:
        return []  # nothing hyphenated, or words that do not split on spaces alone
    forms = [tuple(w for part in combo for w in part) for combo in itertools.product(*options)]
    return forms[1:_MAX_JOINED_FORMS + 1]


def term_label(node: Term) -> str:
    """The text of a term as written in the query."""
    return f"@{node.id}" if isinstance(node, EntityRef) else node.text


__all__ = [
    "And", "EntityRef", "Near", "Node", "Not", "Or", "Phrase", "Prefix", "QueryError",
    "Term", "Word", "has_positive", "joined_forms", "normalize", "parse", "WORD_RE",
]

