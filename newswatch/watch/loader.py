"""Load and validate watchlist YAML files; every error is ``path:line:col: message``."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from newswatch.textfiles import read_small
from newswatch.watch.model import FIELDS, SEVERITIES, Entity, Rule, Watchlist
from newswatch.watch.query import And, Node, Not, Or, QueryError, has_positive, parse
from newswatch.watch.text import words
from newswatch.yamltext import YamlSyntaxError, load_yaml

TOP_KEYS = ("watchlist", "description", "severity", "entities", "rules")
ENTITY_KEYS = ("name", "type", "aliases")
RULE_KEYS = ("id", "query", "any", "all", "not", "severity", "fields", "sources")
_ID_RE = re.compile(r"[\w.-]+")
_SUFFIXES = (".yaml", ".yml")


class WatchlistError(Exception):
    """A watchlist file that cannot be used; ``errors`` are ``path:line:col: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _did_you_mean(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(allowed)})"


def _lc(node: Any, key: Any, value: bool) -> tuple[int, int] | None:
    """0-based (line, col) of a mapping key/value or a sequence item, if ruamel knows it."""
    try:
        data = node.lc.data[key]
        return (data[2], data[3]) if value and len(data) > 2 else (data[0], data[1])
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _own(node: Any) -> tuple[int, int]:
    try:
        return int(node.lc.line), int(node.lc.col)
    except (AttributeError, TypeError, ValueError):
        return (0, 0)


def _col_in_scalar(line: str, col: int, value: str, offset: int) -> int | None:
    """Column in ``line`` of char ``offset`` of a one-line scalar starting at ``col``."""
    raw = line[col:]
    if not raw or raw[0] in "|>":
        return None
    if raw[0] not in "'\"":
        return col + offset if raw.startswith(value) else None
    quote, i, vi, target = raw[0], 1, 0, None
    while vi < len(value):
        if vi == offset:
            target = col + i
        if i >= len(raw):
            return None
        ch = raw[i]
        if quote == "'" and ch == "'":
            if raw[i + 1 : i + 2] != "'":
                return None
            i += 2
        elif quote == '"' and ch == "\\":
            nxt = raw[i + 1 : i + 2]
            i += {"x": 4, "u": 6, "U": 10}.get(nxt, 2)
        elif quote == '"' and ch == '"':
            return None
        else:
            if ch != value[vi]:
                return None
            i += 1
        vi += 1
    return col + i if target is None and offset >= len(value) else target


class _Checker:
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.lines = source.splitlines()
        self._errors: list[tuple[int, int, str]] = []
        self._warnings: list[tuple[int, int, str]] = []

    @property
    def errors(self) -> list[str]:
        """Every error so far, in file order."""
        return self._lines(self._errors)

    @property
    def warnings(self) -> list[str]:
        return self._lines(self._warnings)

    def _lines(self, found: list[tuple[int, int, str]]) -> list[str]:
        return [f"{self.path}:{ln + 1}:{col + 1}: {msg}" for ln, col, msg in sorted(
            found, key=lambda e: (e[0], e[1]))]

    def warn(self, pos: tuple[int, int] | None, msg: str) -> None:
        line, col = pos or (0, 0)
        self._warnings.append((line, col, msg))

    def err(self, pos: tuple[int, int] | None, msg: str) -> None:
        line, col = pos or (0, 0)
        self._errors.append((line, col, msg))

    def keys(self, m: Any, allowed: Sequence[str], what: str) -> None:
        for k in m:
            if not isinstance(k, str) or k not in allowed:
                hint = _did_you_mean(k, allowed) if isinstance(k, str) else ""
                self.err(_lc(m, k, False) or _own(m), f"unknown key {str(k)!r} in {what}{hint}")

    def string(self, m: Any, key: str, what: str) -> str | None:
        v = m.get(key)
        if v is None or isinstance(v, str):
            return v
        self.err(_lc(m, key, True), f"{what}: expected a string, got {_type(v)}")
        return None

    def severity(self, m: Any, default: str) -> str:
        v = m.get("severity", default)
        if isinstance(v, str) and v in SEVERITIES:
            return v
        allowed = ", ".join(SEVERITIES)
        self.err(_lc(m, "severity", True), f"bad severity {v!r}; use one of: {allowed}")
        return default

    def str_list(self, m: Any, key: str, what: str) -> list[tuple[str, tuple[int, int] | None]]:
        v = m.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            self.err(_lc(m, key, True), f"{what}: expected a list of strings, got {_type(v)}")
            return []
        out = []
        for i, item in enumerate(v):
            pos = _lc(v, i, False) or _lc(m, key, True)
            if isinstance(item, str):
                out.append((item, pos))
            else:
                self.err(pos, f"{what}: expected a string, got {_type(item)}")
        return out

    def query(self, text: str, pos: tuple[int, int] | None, what: str, ents: Any) -> Node | None:
        try:
            return parse(text, ents)
        except QueryError as e:
            if pos is not None and 0 <= pos[0] < len(self.lines):
                col = _col_in_scalar(self.lines[pos[0]], pos[1], text, e.column - 1)
                pos = (pos[0], col) if col is not None else pos
            self.err(pos, f"{what}: {e.message}")
            return None


def lone_surrogates(top: Any) -> list[tuple[tuple[int, int] | None, str]]:
    """Keys and values of a loaded YAML tree that are not valid Unicode, with positions.

    Only a ``\\uD800``-style escape makes one; it would pass every check here and then
    fail where the text is hashed or stored."""
    found: list[tuple[tuple[int, int] | None, str]] = []
    seen: set[int] = set()
    stack = [top]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # anchors and aliases can make a tree a graph
            continue
        seen.add(id(node))
        pairs = ([(k, k, False) for k in node] + [(k, node[k], True) for k in node]
                 if isinstance(node, Mapping) else
                 [(i, v, False) for i, v in enumerate(node)] if isinstance(node, list) else [])
        for key, value, is_value in pairs:
            if isinstance(value, str):
                if not _encodable(value):
                    found.append((_lc(node, key, is_value), value))
            elif isinstance(value, Mapping | list):
                stack.append(value)
    return found


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type(v: Any) -> str:
    if isinstance(v, Mapping):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return "null" if v is None else type(v).__name__.lower().removeprefix("scalar")


def _entities(c: _Checker, top: Any) -> tuple[list[Entity], dict[str, list[str]]]:
    raw = top.get("entities")
    out: list[Entity] = []
    known: dict[str, list[str]] = {}
    if raw is None:
        return out, known
    if not isinstance(raw, Mapping):
        c.err(_lc(top, "entities", True), f"entities: expected a mapping, got {_type(raw)}")
        return out, known
    for eid, body in raw.items():
        kpos = _lc(raw, eid, False)
        if not isinstance(eid, str) or not _ID_RE.fullmatch(eid):
            c.err(kpos, f"entity id {str(eid)!r} must be letters, digits, '_', '-' or '.'")
            continue
        if not isinstance(body, Mapping):
            c.err(_lc(raw, eid, True), f"entity {eid!r}: expected a mapping, got {_type(body)}")
            known[eid] = []
            continue
        c.keys(body, ENTITY_KEYS, f"entity {eid!r}")
        name = c.string(body, "name", f"entity {eid!r} name") or eid
        etype = c.string(body, "type", f"entity {eid!r} type") or "other"
        aliases = [a for a, _ in c.str_list(body, "aliases", f"entity {eid!r} aliases")]
        if "aliases" not in body:
            aliases = [name]
        elif not any(words(a) for a in aliases):  # [] or ["", "!!"]: it could never match
            c.warn(_lc(body, "aliases", True),
                   f"entity {eid!r} aliases: none has a word to match, it never matches")
        known[eid] = aliases
        out.append(Entity(eid, name, etype, tuple(aliases)))
    return out, known


def _rule(c: _Checker, r: Any, i: int, rules: Any, default_sev: str, ents: Any) -> Rule | None:
    pos = _lc(rules, i, False) or _own(rules)
    if not isinstance(r, Mapping):
        c.err(pos, f"rules[{i}]: expected a mapping, got {_type(r)}")
        return None
    rid = c.string(r, "id", f"rules[{i}].id")
    if rid is None and "id" not in r:
        c.err(pos, f"rules[{i}]: missing 'id'")
    what = f"rule {rid!r}" if rid else f"rules[{i}]"
    c.keys(r, RULE_KEYS, what)
    sev = c.severity(r, default_sev)
    parts: list[Node | None] = []
    query = c.string(r, "query", f"{what} query")
    if query is not None:
        parts.append(c.query(query, _lc(r, "query", True), f"{what} query", ents))
    lists = {k: c.str_list(r, k, f"{what} {k}") for k in ("any", "all", "not")}
    nodes = {k: [c.query(t, p, f"{what} {k}", ents) for t, p in v] for k, v in lists.items()}
    if nodes["any"]:
        parts.append(Or(1, tuple(nodes["any"])) if len(nodes["any"]) > 1 else nodes["any"][0])  # type: ignore[arg-type]
    parts.extend(nodes["all"])
    parts.extend(Not(1, n) if n is not None else None for n in nodes["not"])
    fields = tuple(f for f, _ in c.str_list(r, "fields", f"{what} fields"))
    for f in fields:
        if f not in FIELDS:
            c.err(_lc(r, "fields", True), f"{what} fields: unknown field {f!r} (use title, text)")
    if "fields" in r and not fields:
        c.err(_lc(r, "fields", True), f"{what} fields: must name title and/or text")
    sources = tuple(s for s, _ in c.str_list(r, "sources", f"{what} sources"))
    if not parts:
        if not any(k in r for k in ("query", "any", "all", "not")):
            c.err(pos, f"{what}: needs 'query', 'any' or 'all'")
        elif "query" not in r and all(isinstance(r[k], list) and not r[k]
                                      for k in ("any", "all", "not") if k in r):
            # `any: []` and the like: a rule that could never match
            c.warn(pos, f"{what}: 'query', 'any' and 'all' are all empty, it never matches")
        return None
    if any(p is None for p in parts) or rid is None:
        return None
    node: Node = parts[0] if len(parts) == 1 else And(1, tuple(parts))  # type: ignore[arg-type]
    if not has_positive(node):
        c.err(pos, f"{what}: query needs at least one positive term ('query', 'any' or 'all')")
        return None
    return Rule(
        rid, node, query, tuple(t for t, _ in lists["any"]), tuple(t for t, _ in lists["all"]),
        tuple(t for t, _ in lists["not"]), sev, fields or FIELDS, sources,  # type: ignore[arg-type]
    )


def _validate(c: _Checker, top: Any, stem: str) -> Watchlist | None:
    if top is None:
        c.err((0, 0), "empty watchlist file")
        return None
    if not isinstance(top, Mapping):
        c.err(_own(top), f"a watchlist must be a mapping, got {_type(top)}")
        return None
    c.keys(top, TOP_KEYS, "watchlist")
    name = c.string(top, "watchlist", "watchlist") or stem
    desc = c.string(top, "description", "description") or ""
    sev = c.severity(top, "medium")
    entities, known = _entities(c, top)
    rules_raw = top.get("rules")
    rules: list[Rule] = []
    if rules_raw is not None and not isinstance(rules_raw, list):
        c.err(_lc(top, "rules", True), f"rules: expected a list, got {_type(rules_raw)}")
    elif rules_raw:
        seen: dict[str, int] = {}
        for i, r in enumerate(rules_raw):
            rid = r.get("id") if isinstance(r, Mapping) else None
            if isinstance(rid, str):
                if rid in seen:
                    msg = f"duplicate rule id {rid!r} (first at line {seen[rid]})"
                    c.err(_lc(r, "id", True), msg)
                else:
                    seen[rid] = (_lc(r, "id", True) or (0, 0))[0] + 1
            rule = _rule(c, r, i, rules_raw, sev, known)
            if rule is not None:
                rules.append(rule)
    if c.errors:
        return None
    return Watchlist(name, desc, sev, tuple(entities), tuple(rules), c.path,  # type: ignore[arg-type]
                     tuple(c.warnings))


def load_watchlist(path: str | Path) -> Watchlist:
    """Load one watchlist file; raise :class:`WatchlistError` listing every problem."""
    p = Path(path)
    try:
        source = read_small(p).decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise WatchlistError([f"{p}:1:1: cannot read file: {e}"]) from None
    return parse_watchlist(p, source)


def parse_watchlist(path: str | Path, source: str) -> Watchlist:
    """Validate watchlist YAML text as if read from ``path`` (used for names and errors)."""
    p = Path(path)
    c = _Checker(str(p), source)
    try:
        top = load_yaml(source)
    except YamlSyntaxError as e:
        c.err(e.pos, e.message)
        raise WatchlistError(c.errors) from None
    bad = lone_surrogates(top)
    for pos, text in bad:
        c.err(pos, f"not valid Unicode: {text!r} holds a lone surrogate")
    if bad:
        raise WatchlistError(c.errors)
    try:
        wl = _validate(c, top, p.stem)
    except RecursionError:
        c.err((0, 0), "watchlist nested too deeply")
        wl = None
    if wl is None:
        raise WatchlistError(c.errors)
    return wl


def watchlist_files(paths: Iterable[str | Path], problems: list[str] | None = None
                    ) -> list[Path]:
    """Expand files and directories (``*.yaml``/``*.yml``, sorted) into files; a dangling
    symlink is kept (reading it fails, with an error). ``problems`` collects the paths that
    cannot be looked at: missing ones and directories that cannot be listed."""
    out: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            if problems is not None:
                for _ in os.walk(p, onerror=lambda e: problems.append(
                        f"{e.filename}: cannot list directory: {e.strerror or e}")):
                    pass
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in _SUFFIXES
                              and (f.is_file() or f.is_symlink() and not f.exists())))
        else:
            if problems is not None and not p.exists() and not p.is_symlink():
                problems.append(f"{p}: no such watchlist file or directory")
            out.append(p)
    return out


def load_paths(paths: Iterable[str | Path]) -> tuple[list[Watchlist], list[str]]:
    """Load every watchlist under ``paths``; return the valid ones and all errors."""
    lists: list[Watchlist] = []
    errors: list[str] = []
    names: dict[str, str] = {}
    for f in watchlist_files(paths, errors):
        if not f.exists() and not f.is_symlink():
            continue  # reported as missing
        try:
            wl = load_watchlist(f)
        except WatchlistError as e:
            errors.extend(e.errors)
            continue
        if wl.name in names:
            errors.append(f"{f}:1:1: duplicate watchlist name {wl.name!r} (also {names[wl.name]})")
            continue
        names[wl.name] = str(f)
        errors.extend(wl.warnings)  # for ``check``: a file that cannot match is not valid
        lists.append(wl)
    return lists, errors


def check_paths(paths: Iterable[str | Path]) -> list[str]:
    """All errors of the watchlist files/directories in ``paths`` (empty when valid)."""
    return load_paths(paths)[1]
