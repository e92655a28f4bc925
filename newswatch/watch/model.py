"""Typed records of the watch step: watchlists as loaded, and match results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from newswatch.models import EntityMention
from newswatch.watch.query import Node

SEVERITIES = ("info", "low", "medium", "high", "critical")
Severity = Literal["info", "low", "medium", "high", "critical"]
FIELDS = ("title", "text")


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    type: str = "other"
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    node: Node = field(repr=False, compare=False)  # the combined, parsed query
    query: str | None = None
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    not_: tuple[str, ...] = ()
    severity: Severity = "medium"
    fields: tuple[str, ...] = FIELDS
    sources: tuple[str, ...] = ()  # source-name globs; empty means every source


@dataclass(frozen=True, slots=True)
class Watchlist:
    name: str
    description: str = ""
    severity: Severity = "medium"
    entities: tuple[Entity, ...] = ()
    rules: tuple[Rule, ...] = ()
    path: str | None = None
    # what can never match (an entity without a word, a rule of empty lists): reported by
    # ``check`` and when loaded, but the rest of the watchlist works
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchInput:
    source: str
    title: str
    text: str


class Span(NamedTuple):
    """Where a rule matched (a named tuple: a story has dozens, and they cross process
    boundaries by the thousand)."""

    field: str  # "title" or "text"
    start: int  # offsets into the ORIGINAL field text
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    watchlist: str
    rule: str
    severity: Severity
    matches: list[Span]


@dataclass(slots=True)
class MatchResult:
    hits: list[RuleHit] = field(default_factory=list)
    entities: list[EntityMention] = field(default_factory=list)
