"""Settings from the YAML config file, env and flags; every error is ``path:line:col: message``.

The config file is found as: the explicit path, else ``$NEWSWATCH_CONFIG``, else the user
config dir. Without any config file the bundled ``seeds/`` and ``watchlists/`` are used."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml.scalarbool import ScalarBoolean

from newswatch.errors import UserError
from newswatch.locations import bundled, default_config_path, default_db_path, env_path
from newswatch.sources import SourceSpec
from newswatch.sources.feedlists import FeedListError, default_feed_name, read_feed_list
from newswatch.textfiles import read_small
from newswatch.watch.loader import lone_surrogates
from newswatch.yamltext import YamlSyntaxError, load_yaml

TOP_KEYS = ("db", "watchlists", "interval", "sources")
SOURCE_KEYS = ("name", "path", "url", "opml", "urls", "interval", "tags")
KINDS = ("path", "url", "opml", "urls")
DEFAULT_INTERVAL_S = 600.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_TERM = re.compile(rf"({_NUMBER})\s*([smhd])", re.IGNORECASE)
_DURATION = re.compile(rf"(?:{_NUMBER}\s*[smhd]\s*)+", re.IGNORECASE)

Pos = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Settings:
    db: Path
    watchlists: tuple[Path, ...]
    sources: tuple[SourceSpec, ...]
    default_interval_s: float = DEFAULT_INTERVAL_S
    config_path: Path | None = None  # None when running without a config file
    is_default: bool = False  # True when no config file exists: bundled seeds + watchlists


class ConfigError(UserError):
    """A config that cannot be used; ``errors`` are ``path:line:col: message`` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``10m``, ``2h``, ``1d``, ``1h30m`` or a plain number of seconds."""
    s = text.strip() if isinstance(text, str) else ""
    shown = repr(s if len(s) <= 40 else s[:39] + "…")
    if re.fullmatch(_NUMBER, s):
        seconds = float(s)
    elif _DURATION.fullmatch(s):
        seconds = sum(float(n) * _UNITS[u.lower()] for n, u in _TERM.findall(s))
    else:
        raise ValueError(f"bad duration {shown}; use e.g. 90s, 10m, 2h, 1d")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"bad duration {shown}; must be more than 0 and finite")
    return seconds


def load_settings(config: Path | None = None, *, db: Path | None = None,
                  watchlists: list[Path] | None = None,
                  interval_s: float | None = None) -> Settings:
    """Read the config file (see the module doc); ``db``/``watchlists``/``interval_s`` win."""
    given = config if config is not None else env_path("NEWSWATCH_CONFIG")
    path = given if given is not None else default_config_path()
    try:
        path = path.expanduser()
        exists = path.exists()
    except (RuntimeError, OSError, ValueError) as e:
        raise ConfigError([f"{path}: cannot use this path: {e}"]) from None
    if exists:
        settings = parse_settings(path, _read(path))
    elif given is not None:
        raise ConfigError([f"{path}: no such file"])
    else:
        seeds = SourceSpec(name="seeds", path=bundled("seeds"))
        settings = Settings(default_db_path(), (bundled("watchlists"),), (seeds,), is_default=True)
    over = {"db": db, "watchlists": None if watchlists is None else tuple(watchlists),
            "default_interval_s": interval_s}
    return replace(settings, **{k: v for k, v in over.items() if v is not None})


def _read(path: Path) -> str:
    try:
        return read_small(path).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path}: not UTF-8 text (byte {e.start})"]) from None
    except (OSError, ValueError) as e:
        reason = getattr(e, "strerror", None) or e
        raise ConfigError([f"{path}: cannot read: {reason}"]) from None


def parse_settings(path: Path, text: str) -> Settings:
    """Validate config YAML ``text`` read from ``path`` (relative paths resolve beside it)."""
    c = _Checker(str(path))
    try:
        top = load_yaml(text)
    except YamlSyntaxError as e:
        c.err(e.pos, e.message)
        raise ConfigError(c.errors) from None
    for pos, bad in lone_surrogates(top):
        c.err(pos, f"not valid Unicode: {bad!r} holds a lone surrogate")
    if c.errors:
        raise ConfigError(c.errors)
    base = path.absolute().parent
    settings = Settings(default_db_path(), (bundled("watchlists"),), (), DEFAULT_INTERVAL_S,
                        base / path.name)
    if top is None:
        return settings
    if not isinstance(top, Mapping):
        c.err(_own(top), f"the config must be a mapping, got {_type(top)}")
        raise ConfigError(c.errors)
    c.keys(top, TOP_KEYS, "the config")
    db = (c.path(top, "db", "db", base) if "db" in top else None) or settings.db
    lists = settings.watchlists
    if isinstance(top.get("watchlists"), list):
        raw = top["watchlists"]
        found = [c.path(raw, i, f"watchlists[{i}]", base) for i in range(len(raw))]
        lists = tuple(p for p in found if p is not None)
    elif "watchlists" in top:
        lists = (c.path(top, "watchlists", "watchlists", base) or base,)
    interval = c.interval(top, "interval", "interval") if "interval" in top else None
    sources = _sources(c, top, base)
    if c.errors:
        raise ConfigError(c.errors)
    return replace(settings, db=db, watchlists=lists, sources=tuple(sources),
                   default_interval_s=interval or DEFAULT_INTERVAL_S)


def _sources(c: _Checker, top: Any, base: Path) -> list[SourceSpec]:
    raw = top.get("sources")
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.err(_at(top, "sources", True), f"sources: expected a list, got {_type(raw)}")
        return []
    entries = [(_entry(c, m, i, raw, base), (_at(m, "name", True) if isinstance(m, Mapping)
                else None) or _at(raw, i, False) or _own(raw)) for i, m in enumerate(raw)]
    first: dict[str, int] = {}  # explicit names first: imported feeds yield to them
    urls: set[str] = set()
    for spec, pos in entries:
        if isinstance(spec, SourceSpec):
            if spec.name in first:
                line = first[spec.name]
                c.err(pos, f"duplicate source name {spec.name!r} (first at line {line})")
            first.setdefault(spec.name, pos[0] + 1)
            urls.add(spec.url or "")
    out: list[SourceSpec] = []
    for spec, _ in entries:
        if isinstance(spec, SourceSpec):
            out.append(spec)
            continue
        for feed in spec or ():  # from a feed list: skip known URLs, make names unique
            if feed.url in urls:
                continue
            name, n = feed.name, 1
            while name in first:
                n += 1
                name = f"{feed.name}-{n}"
            first[name] = 0
            urls.add(feed.url or "")
            out.append(replace(feed, name=name))
    return out


def _entry(c: _Checker, m: Any, i: int, seq: Any, base: Path
           ) -> SourceSpec | list[SourceSpec] | None:
    what = f"sources[{i}]"
    if not isinstance(m, Mapping):
        c.err(_at(seq, i, False) or _own(seq), f"{what}: expected a mapping, got {_type(m)}")
        return None
    c.keys(m, SOURCE_KEYS, what)
    interval = c.interval(m, "interval", f"{what}.interval") if "interval" in m else None
    tags = c.tags(m, f"{what}.tags")
    name = c.string(m, "name", f"{what}.name") if "name" in m else None
    kinds = [k for k in KINDS if k in m]
    if len(kinds) != 1:
        pos = _at(m, kinds[1], False) if kinds else _at(seq, i, False)
        c.err(pos, f"{what}: needs exactly one of 'path', 'url', 'opml' or 'urls'"
              + (f", got {' and '.join(map(repr, kinds))}" if kinds else ""))
        return None
    kind = kinds[0]
    if kind == "url":
        url = (c.string(m, "url", f"{what}.url") or "").strip()
        if url and _is_http(url):
            return SourceSpec(name or default_feed_name(url), url=url, interval_s=interval,
                              tags=tags)
        if url:
            shown = url if len(url) <= 60 else url[:59] + "…"
            c.err(_at(m, "url", True), f"{what}.url: not an http(s) URL: {shown!r}")
        return None
    path = c.path(m, kind, f"{what}.{kind}", base)
    if kind == "path":
        return None if path is None else SourceSpec(name or path.name or str(path), path=path,
                                                    interval_s=interval, tags=tags)
    if name is not None:
        c.err(_at(m, "name", False), f"{what}: 'name' does not apply to '{kind}' entries "
              "(the list names its feeds)")
    if path is None:
        return None
    try:
        if not path.is_file():
            raise FeedListError(f"{path}: no such file" if not path.exists() else
                                f"{path}: not a regular file")
        feeds = read_feed_list(path)
    except (FeedListError, OSError, ValueError) as e:
        c.err(_at(m, kind, True), f"{what}.{kind}: {e}")
        return None
    return [replace(f, interval_s=interval, tags=tuple(dict.fromkeys(f.tags + tags)))
            for f in feeds]


class _Checker:
    def __init__(self, path: str) -> None:
        self.file = path
        self._errors: list[tuple[int, int, str]] = []

    @property
    def errors(self) -> list[str]:
        return [f"{self.file}:{ln + 1}:{col + 1}: {msg}" for ln, col, msg in sorted(
            self._errors, key=lambda e: (e[0], e[1]))]

    def err(self, pos: Pos | None, msg: str) -> None:
        # one line each, even when a path in the message holds a line break
        msg = msg.replace("\r", "\\r").replace("\n", "\\n")
        self._errors.append((*(pos or (0, 0)), msg))

    def keys(self, m: Any, allowed: Sequence[str], what: str) -> None:
        for k in m:
            if not isinstance(k, str) or k not in allowed:
                close = difflib.get_close_matches(k, allowed, n=1) if isinstance(k, str) else []
                hint = (f"; did you mean {close[0]!r}?" if close
                        else f" (allowed: {', '.join(allowed)})")
                self.err(_at(m, k, False) or _own(m), f"unknown key {str(k)!r} in {what}{hint}")

    def string(self, m: Any, key: Any, what: str) -> str | None:
        v = m[key]
        if isinstance(v, str) and v.strip():
            return v
        got = "an empty string" if isinstance(v, str) else _type(v)
        self.err(_at(m, key, True), f"{what}: expected a non-empty string, got {got}")
        return None

    def path(self, m: Any, key: Any, what: str, base: Path) -> Path | None:
        v = self.string(m, key, what)
        if v is not None and "\0" in v:  # no file name can hold one
            self.err(_at(m, key, True), f"{what}: bad path {v!r}: it holds a NUL character")
            return None
        try:
            return None if v is None else Path(os.path.normpath(base / Path(v).expanduser()))
        except (RuntimeError, ValueError) as e:  # ~nosuchuser, or a NUL in the path
            self.err(_at(m, key, True), f"{what}: bad path {v!r}: {e}")
            return None

    def interval(self, m: Any, key: str, what: str) -> float | None:
        v = m[key]
        msg = f"expected a duration like 10m, got {_type(v)}"
        if isinstance(v, str):
            try:
                return parse_duration(v)
            except ValueError as e:
                msg = str(e)
        elif isinstance(v, int | float) and not isinstance(v, bool | ScalarBoolean):
            if 0 < v < 1e18:  # also keeps float() of a huge int from overflowing
                return float(v)
            msg = "bad duration; must be more than 0 and finite"
        self.err(_at(m, key, True), f"{what}: {msg}")
        return None

    def tags(self, m: Any, what: str) -> tuple[str, ...]:
        if "tags" not in m:
            return ()
        v = m["tags"]
        if not isinstance(v, list):
            self.err(_at(m, "tags", True), f"{what}: expected a list of strings, got {_type(v)}")
            return ()
        return tuple(dict.fromkeys(t for i, t in enumerate(v) if self.string(v, i, what)))


def _at(node: Any, key: Any, value: bool) -> Pos | None:
    """0-based (line, col) of a mapping key/value or a sequence item, if ruamel knows it."""
    try:
        data = node.lc.data[key]
        return (data[2], data[3]) if value and len(data) > 2 else (data[0], data[1])
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _own(node: Any) -> Pos:
    try:
        return int(node.lc.line), int(node.lc.col)
    except (AttributeError, TypeError, ValueError):
        return (0, 0)


def _type(v: Any) -> str:
    for kind, name in ((Mapping, "a mapping"), (list, "a list"), (str, "a string")):
        if isinstance(v, kind):
            return name
    return "null" if v is None else type(v).__name__.lower().removeprefix("scalar")


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and (
            parts.port != 0)
    except ValueError:  # e.g. a bad port or IPv6 address
        return False
