"""Watchlists: YAML loading and validation, the query language, and the matcher."""

from newswatch.watch.loader import WatchlistError, check_paths, load_paths, load_watchlist
from newswatch.watch.matcher import Matcher
from newswatch.watch.model import (
    SEVERITIES,
    Entity,
    MatchInput,
    MatchResult,
    Rule,
    RuleHit,
    Span,
    Watchlist,
)
from newswatch.watch.query import QueryError, parse

__all__ = [
    "SEVERITIES", "Entity", "MatchInput", "MatchResult", "Matcher", "QueryError", "Rule",
    "RuleHit", "Span", "Watchlist", "WatchlistError", "check_paths", "load_paths",
    "load_watchlist", "parse",
]
