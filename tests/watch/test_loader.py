from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from newswatch.watch import WatchlistError, check_paths, load_watchlist
from newswatch.watch.loader import load_paths

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, body: str, name: str = "w.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return p


def errors(tmp_path: Path, body: str) -> list[str]:
    p = write(tmp_path, body)
    with pytest.raises(WatchlistError) as e:
        load_watchlist(p)
    return [err.removeprefix(f"{p}:") for err in e.value.errors]


def test_loads_typed_watchlist(tmp_path: Path) -> None:
    p = write(tmp_path, """
        description: d
        severity: low
        entities:
          putin: {name: Vladimir Putin, type: person}
        rules:
          - id: a
            query: '@putin'
          - id: b
            any: [truce, ceasefire]
            not: [football]
            severity: critical
            fields: [title]
            sources: [bbc-*]
        """, "my-list.yaml")
    wl = load_watchlist(p)
    assert wl.name == "my-list" and wl.severity == "low"
    assert wl.entities[0].aliases == ("Vladimir Putin",)
    a, b = wl.rules
    assert (a.severity, a.fields) == ("low", ("title", "text"))
    assert (b.severity, b.fields, b.sources, b.any, b.not_) == (
        "critical", ("title",), ("bbc-*",), ("truce", "ceasefire"), ("football",))


def test_all_errors_with_positions(tmp_path: Path) -> None:
    errs = errors(tmp_path, """
        watchlist: x
        severty: high
        entities:
          putin: {name: Putin, alias: [P]}
        rules:
          - id: a
            query: 'truce AND @zelensky'
            severity: urgent
          - id: a
            query: "x OR"
          - id: c
            query: ceasefire NEAR b
          - id: d
            any: [ok, 'a  (b']
          - id: e
            query: |
              a OR
            fields: [body]
        """)
    assert errs == [
        "2:1: unknown key 'severty' in watchlist; did you mean 'severity'?",
        "4:24: unknown key 'alias' in entity 'putin'; did you mean 'aliases'?",
        "7:23: rule 'a' query: unknown entity @zelensky",
        "8:15: bad severity 'urgent'; use one of: info, low, medium, high, critical",
        "9:9: duplicate rule id 'a' (first at line 6)",
        "10:17: rule 'a' query: query ends where a term was expected",
        "12:22: rule 'c' query: NEAR needs a distance, e.g. NEAR/5",
        "14:19: rule 'd' any: unclosed '('",
        "16:12: rule 'e' query: query ends where a term was expected",
        "18:13: rule 'e' fields: unknown field 'body' (use title, text)",
    ]


def test_single_quote_escapes_and_double_quote_escapes(tmp_path: Path) -> None:
    errs = errors(tmp_path, """
        rules:
          - id: a
            query: 'it''s AND @nope'
          - id: b
            query: "\\u0041 AND @nope"
        """)
    assert errs == [
        "3:23: rule 'a' query: unknown entity @nope",
        "5:24: rule 'b' query: unknown entity @nope",
    ]


def test_type_errors(tmp_path: Path) -> None:
    errs = errors(tmp_path, """
        rules:
          - id: 3
            query: [a]
          - just a string
          - query: a
          - id: n
            not: [a]
        """)
    assert errs == [
        "2:9: rules[0].id: expected a string, got int",
        "3:12: rules[0] query: expected a string, got a list",
        "4:5: rules[1]: expected a mapping, got str",
        "5:5: rules[2]: missing 'id'",
        "6:5: rule 'n': query needs at least one positive term ('query', 'any' or 'all')",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("rules: [\n", "2:1: YAML syntax error"),
        ("a: b\n  c: d\n", "2:4: YAML syntax error"),
        ("", "1:1: empty watchlist file"),
        ("- a\n", "1:1: a watchlist must be a mapping, got a list"),
        ("a: 1\na: 2\n", "2:1: YAML syntax error"),
    ],
)
def test_yaml_errors(tmp_path: Path, body: str, expected: str) -> None:
    errs = errors(tmp_path, body)
    assert len(errs) == 1 and errs[0].startswith(expected), errs


def test_check_paths_over_directories(tmp_path: Path) -> None:
    write(tmp_path, "rules: [{id: a, query: ok}]\n", "good.yaml")
    write(tmp_path, "rules: [{id: a, query: 'NOT x'}]\n", "bad.yml")
    write(tmp_path, "not yaml at all: [", "ignored.txt")
    errs = check_paths([tmp_path])
    assert errs == [f"{tmp_path / 'bad.yml'}:1:25: rule 'a' query: "
                    "query needs at least one positive term"]
    assert check_paths([tmp_path / "missing.yaml"]) == [
        f"{tmp_path / 'missing.yaml'}: no such watchlist file or directory"]


def test_bundled_watchlists_are_valid() -> None:
    assert check_paths([ROOT / "watchlists"]) == []


def test_what_can_never_match_fails_check_but_the_rest_still_works(tmp_path: Path) -> None:
    path = write(tmp_path, "entities:\n  a: {name: A, aliases: []}\n"
                           "  b: {name: B, aliases: ['', '!!']}\n"
                           "rules:\n  - id: r\n    any: []\n  - id: s\n    query: 'x OR y'\n",
                 )
    assert check_paths([path]) == [
        f"{path}:2:25: entity 'a' aliases: none has a word to match, it never matches",
        f"{path}:3:25: entity 'b' aliases: none has a word to match, it never matches",
        f"{path}:5:5: rule 'r': 'query', 'any' and 'all' are all empty, it never matches"]
    [loaded] = load_paths([path])[0]
    assert [r.id for r in loaded.rules] == ["s"] and len(loaded.warnings) == 3
