"""Hostile config files, watchlists and queries: every input gives a usable model or
``path:line:col: message`` lines (``path: message`` for file-level problems), never a
traceback, and pathological queries are refused or evaluated in bounded time.

What tests/test_config.py and tests/watch/test_properties.py already fuzz: random text and
random YAML structures, asserting that errors start with the file's path. What they do not
check, and this does: the exact line shape, strings that are not valid Unicode (a
``"\\uD800"`` escape passed both loaders and crashed ingest later), that a model which
loads is usable (its names can be hashed and stored, its rules matched), YAML nested
10,000 deep, alias bombs, and queries at and past the parser's limits, timed."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from newswatch.config import SOURCE_KEYS, TOP_KEYS, ConfigError, Settings, parse_settings
from newswatch.models import story_id
from newswatch.watch import (
    Matcher,
    MatchInput,
    QueryError,
    Rule,
    Watchlist,
    WatchlistError,
    load_watchlist,
    parse,
)
from newswatch.watch.loader import RULE_KEYS
from newswatch.watch.loader import TOP_KEYS as WATCH_KEYS
from newswatch.watch.query import MAX_DEPTH, MAX_QUERY_LEN, MAX_TERMS
from newswatch.watching import Watcher, load_watchset
from tests.reliability.helpers import FILE_LEVEL, POSITIONED, cli

# hypothesis writes anchors twice ("&a &a"): ruamel warns, the loaders report an error
pytestmark = pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")

_yaml = YAML(typ="safe")
# any code point, lone surrogates included (hypothesis leaves them out by default)
_any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=12)
_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | _any_text
            | st.sampled_from(["10m", "http://h/f", "https://h:1/x", "\ud800", "a\udce9",
                               "ceasefire", "NOT x", "@e", "bbc-*", "title", "high"]))


def _dump(data: object) -> str:
    out = io.StringIO()
    _yaml.dump(data, out)
    return out.getvalue()


def _one_line_errors(errors: list[str], path: Path, positioned: bool) -> None:
    assert errors
    for line in errors:
        assert "\n" not in line and line.startswith(f"{path}:"), line
        assert POSITIONED.match(line) or (not positioned and FILE_LEVEL.match(line)), line


def _storable(*texts: str) -> None:
    """Names a model hands to ingest must hash (story and alert ids) and store (orjson)."""
    for text in texts:
        text.encode("utf-8")
        orjson.dumps(text)


# --------------------------------------------------------------------- config files

_config_fragments = st.lists(st.sampled_from([
    "db: ", "watchlists: ", "interval: ", "sources:", "\n", "  - ", "{", "}", "[", "]", ", ",
    "name: ", "url: ", "path: ", "opml: ", "urls: ", "tags: ", '"\\ud800"', '"\\uDCE9x"',
    "'http://h/f'", "10m", "0", "-1", "1e400", "&a ", "*a", "!!binary ", "~", "\t", ":",
    "? ", "%YAML 1.2\n---\n", "\ufeff", "\x00", "#", "|", ">", "'", '"',
]), max_size=25).map("".join)


def _config_outcome(path: Path, text: str) -> None:
    try:
        result = parse_settings(path, text)
    except ConfigError as exc:
        _one_line_errors(exc.errors, path, positioned=True)
    else:
        assert isinstance(result, Settings)
        _storable(str(result.db), *(str(w) for w in result.watchlists))
        for spec in result.sources:
            _storable(spec.name, spec.location, *spec.tags)
            story_id(spec.name, "guid")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_config_fragments)
def test_config_fragments(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _config_outcome(tmp_path_factory.getbasetemp() / "hostile" / "c.yaml", text)


_keys = st.sampled_from(TOP_KEYS + SOURCE_KEYS) | _any_text
_nested = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_keys, inner, max_size=5), max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.fixed_dictionaries({}, optional={
    "db": _scalars, "interval": _scalars, "watchlists": _nested,
    "sources": st.lists(st.dictionaries(st.sampled_from(SOURCE_KEYS), _scalars, max_size=4),
                        max_size=4)}))
def test_config_structures_with_any_code_point(tmp_path_factory: pytest.TempPathFactory,
                                               data: dict) -> None:
    _config_outcome(tmp_path_factory.getbasetemp() / "hostile" / "c.yaml", _dump(data))


# --------------------------------------------------------------------- watchlists

_watch_fragments = st.lists(st.sampled_from([
    "watchlist: ", "rules:", "entities:", "\n", "  - id: r", "    query: ", "    any: ",
    "    all: ", "    not: ", "    sources: ", "    fields: ", "  e: {name: ", "aliases: ",
    "}", "[", "]", ", ", '"\\ud800"', '"\\uDCE9"', "'a NEAR/5 b'", "ceasefire", "@e",
    '"x AND"', "severity: high", "&a ", "*a", "\t", ":", "'", '"', "- ", "{", "~",
]), max_size=25).map("".join)


def _watchlist_outcome(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        wl = load_watchlist(path)
    except WatchlistError as exc:
        _one_line_errors(exc.errors, path, positioned=True)
        return
    _storable(wl.name, wl.description)
    for entity in wl.entities:
        _storable(entity.id, entity.name, *entity.aliases)
    for rule in wl.rules:
        _storable(rule.id, rule.query or "", *rule.any, *rule.all, *rule.not_, *rule.sources)
        story_id(wl.name, rule.id)
    started = time.monotonic()
    Matcher([wl]).match(MatchInput("src", "Ceasefire talks", "a b ceasefire x " * 50))
    assert time.monotonic() - started < 2


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=_watch_fragments)
def test_watchlist_fragments(tmp_path: Path, text: str) -> None:
    _watchlist_outcome(tmp_path / "w.yaml", text)


_watch_keys = st.sampled_from(WATCH_KEYS + RULE_KEYS) | _any_text


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.fixed_dictionaries({}, optional={
    "watchlist": _scalars, "severity": _scalars,
    "entities": st.dictionaries(_any_text, st.dictionaries(
        st.sampled_from(["name", "aliases", "type"]), _scalars | st.lists(_scalars)),
        max_size=3),
    "rules": st.lists(st.dictionaries(
        st.sampled_from(RULE_KEYS), _scalars | st.lists(_scalars, max_size=3), max_size=5),
        max_size=4)}))
def test_watchlist_structures_with_any_code_point(tmp_path: Path, data: dict) -> None:
    _watchlist_outcome(tmp_path / "w.yaml", _dump(data))


def test_a_lone_surrogate_is_refused_where_it_stands(tmp_path: Path) -> None:
    wl = tmp_path / "w.yaml"
    wl.write_text('watchlist: "w\\ud800"\nrules:\n  - id: r\n    query: "a \\udce9"\n')
    with pytest.raises(WatchlistError) as exc:
        load_watchlist(wl)
    assert exc.value.errors == [
        f"{wl}:1:12: not valid Unicode: 'w\\ud800' holds a lone surrogate",
        f"{wl}:4:12: not valid Unicode: 'a \\udce9' holds a lone surrogate"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text('sources:\n  - {name: "caf\\udce9", path: x}\n')
    with pytest.raises(ConfigError) as cexc:
        parse_settings(cfg, cfg.read_text())
    assert cexc.value.errors == [
        f"{cfg}:2:12: not valid Unicode: 'caf\\udce9' holds a lone surrogate"]
    # through the CLI: one line, exit 1, not the traceback it was
    done = cli("--config", str(cfg), "run", "--headless", "--once")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"newswatch: {cexc.value.errors[0]}"]


def test_files_that_are_not_text(tmp_path: Path) -> None:
    for name, data in {"bin.yaml": bytes(range(256)), "latin1.yaml": b"watchlist: caf\xe9\n",
                       "bom16.yaml": "watchlist: x\n".encode("utf-16")}.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(WatchlistError) as exc:
            load_watchlist(path)
        _one_line_errors(exc.value.errors, path, positioned=True)
        with pytest.raises(ConfigError) as cexc:
            from newswatch.config import load_settings
            load_settings(path)
        _one_line_errors(cexc.value.errors, path, positioned=False)


# --------------------------------------------------------------------- deep and explosive

DEEP = 10_000


@pytest.mark.parametrize("body", [
    "rules: " + "[" * DEEP + "]" * DEEP,
    "rules: " + "{a: " * DEEP + "x" + "}" * DEEP,
    "rules:\n" + "".join("  " * i + "- \n" for i in range(1, 1500)),
    "rules: &r [*r]\n",
], ids=["10,000 nested lists", "10,000 nested maps", "1,500 nested blocks", "cycle"])
def test_yaml_nested_deep_or_cyclic(tmp_path: Path, body: str) -> None:
    started = time.monotonic()
    wl = tmp_path / "w.yaml"
    wl.write_text(body)
    with pytest.raises(WatchlistError) as exc:
        load_watchlist(wl)
    _one_line_errors(exc.value.errors, wl, positioned=True)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(body.replace("rules:", "sources:"))
    with pytest.raises(ConfigError) as cexc:
        parse_settings(cfg, cfg.read_text())
    _one_line_errors(cexc.value.errors, cfg, positioned=True)
    # ruamel's scanner is quadratic in flow nesting until the parser's recursion limit
    # stops it: about 2.5 s per file however deep, so bounded
    assert time.monotonic() - started < 15


def _alias_bomb(key: str) -> str:
    lines = ['a0: &a0 ["ceasefire", "ceasefire", "ceasefire", "ceasefire", "ceasefire"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 5) + "]")
    return "\n".join(lines) + f"\n{key}: *a9\n"


def test_alias_bombs_stay_small(tmp_path: Path) -> None:
    """5^10 strings if expanded; the loaders walk references, not copies."""
    wl = tmp_path / "w.yaml"
    wl.write_text(_alias_bomb("rules"))
    started = time.monotonic()
    with pytest.raises(WatchlistError) as exc:
        load_watchlist(wl)
    _one_line_errors(exc.value.errors, wl, positioned=True)
    rule = tmp_path / "r.yaml"
    rule.write_text(_alias_bomb("x").replace("x: *a9", "rules:\n  - id: r\n    any: *a9"))
    with pytest.raises(WatchlistError):
        load_watchlist(rule)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(_alias_bomb("sources"))
    with pytest.raises(ConfigError) as cexc:
        parse_settings(cfg, cfg.read_text())
    _one_line_errors(cexc.value.errors, cfg, positioned=True)
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------- pathological queries

DENSE = "The ceasefire talks between Kyiv and Moscow resumed as envoys said a truce held. "
STORY = DENSE * 1500  # ~120 KB, every term below occurs thousands of times


def _timed(query: str) -> tuple[str, float]:
    """Parse and, when it parses, match a dense 120 KB story: 'refused' or 'matched'."""
    started = time.monotonic()
    try:
        node = parse(query)
    except QueryError as exc:
        assert 1 <= exc.column <= len(query) + 1
        return "refused", time.monotonic() - started
    Matcher([Watchlist("w", rules=(Rule("r", node, query),))]).match(
        MatchInput("src", "Ceasefire", STORY))
    return "matched", time.monotonic() - started


GROUP = "(ceasefire OR talks OR truce OR envoys)"


PATHOLOGICAL = [
    ("10,000 nested parentheses", "(" * DEEP + "ceasefire" + ")" * DEEP, "refused"),
    ("10,000 NOTs", "NOT " * DEEP + "ceasefire", "refused"),
    ("10,000 terms", " ".join(f"w{i}" for i in range(DEEP)), "refused"),
    ("10,000 ORed terms", " OR ".join(["ceasefire"] * DEEP), "refused"),
    ("1 MB query", "ceasefire " * 100_000, "refused"),
    ("1 MB word", "c" * 1_000_000, "refused"),
    ("1,000-link NEAR chain", " NEAR/5 ".join(["ceasefire"] * MAX_TERMS), "refused"),
    ("NEAR chain one link too deep", " NEAR/5 ".join(["talks"] * (MAX_DEPTH + 2)), "refused"),
    ("limit: 64 nested parentheses", "(" * (MAX_DEPTH - 1) + "ceasefire" + ")" * (MAX_DEPTH - 1),
     "matched"),
    ("limit: 1,000 ORed terms", " OR ".join(f"ceasefire{i} OR talks" for i in range(500)),
     "matched"),
    ("limit: longest query", 'talks OR "' + "ceasefire talks " * (MAX_QUERY_LEN // 16 - 1)
     + '"', "matched"),
    ("limit: 63-link NEAR chain of OR groups (64 levels)",
     " NEAR/1000 ".join([GROUP] * MAX_DEPTH), "matched"),
    ("64-link NEAR chain of OR groups (65 levels)",
     " NEAR/1000 ".join([GROUP] * (MAX_DEPTH + 1)), "refused"),
    ("3-link NEAR/1000 chain of OR groups", " NEAR/1000 ".join([GROUP] * 3), "matched"),
    ("50 NEAR pairs of OR groups, ORed",
     " OR ".join(f"({GROUP} NEAR/1000 {GROUP})" for _ in range(50)), "matched"),
    ("1,000 prefixes", " OR ".join(["ce*", "ta*", "tr*", "en*"] * 250), "matched"),
    ("phrase of 10,000 words", '"' + " ".join(["ceasefire talks"] * 5000) + '"', "matched"),
]


@pytest.mark.parametrize(("label", "query", "outcome"), PATHOLOGICAL,
                         ids=[case[0] for case in PATHOLOGICAL])
def test_pathological_queries_are_refused_or_bounded(label: str, query: str,
                                                     outcome: str) -> None:
    got, seconds = _timed(query)
    assert got == outcome, label
    assert seconds < 2, f"{label}: {seconds:.2f} s"


def test_a_pathological_watchlist_loads_with_positions_and_matches_in_bounded_time(
        tmp_path: Path) -> None:
    """The same queries in a watchlist file: refused ones are path:line:col errors, the
    rest load and match a dense story through the Watcher within a bound."""
    lines = ["watchlist: hostile", "rules:"]
    for i, (query, _) in enumerate([
            ("(" * DEEP + "a" + ")" * DEEP, "refused"),
            (" NEAR/5 ".join(["a"] * 500), "refused"),
            (" NEAR/1000 ".join([GROUP] * 3), "ok"),
            (" OR ".join(["ce*", "ta*"] * 400), "ok")]):
        lines += [f"  - id: r{i}", f"    query: '{query}'"]
    wl = tmp_path / "w.yaml"
    wl.write_text("\n".join(lines) + "\n")
    with pytest.raises(WatchlistError) as exc:
        load_watchlist(wl)
    assert [e.split(": ", 1)[1] for e in exc.value.errors] == [
        "rule 'r0' query: query nested too deeply (max 64)",
        "rule 'r1' query: query nested too deeply (max 64)"]
    _one_line_errors(exc.value.errors, wl, positioned=True)
    good = tmp_path / "good"
    good.mkdir()
    (good / "w.yaml").write_text("\n".join(lines[:2] + lines[6:]) + "\n")
    watcher = Watcher(load_watchset([good]))
    assert not watcher.watchset.errors
    started = time.monotonic()
    result = watcher.matcher.match(MatchInput("src", "Ceasefire", STORY))
    assert {h.rule for h in result.hits} == {"r2", "r3"}
    assert time.monotonic() - started < 2
