"""Feed lists to source specs: OPML files and newsboat-style ``urls`` files.

OPML is read with expat and refuses DOCTYPE and entity declarations, so a hostile file
cannot expand entities or reach outside resources. A ``urls`` file holds one feed per
line: ``URL [tag ...]`` where a tag may be quoted, ``"~Name"`` names the feed (as a slug, like
OPML titles), ``"!"``
(hidden) is ignored, ``#`` starts a comment, and ``query:``/``exec:``/``filter:`` lines
(newsboat-only feeds) are skipped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit
from xml.parsers import expat

from newswatch.sources import SourceSpec
from newswatch.textfiles import read_small

NEWSBOAT_ONLY = ("query:", "exec:", "filter:")
_SLUG_JUNK = re.compile(r"[^\w]+")


class FeedListError(Exception):
    """A feed list that cannot be read; the message is one line, ``path: reason``."""


class _Refused(Exception):
    pass


def read_feed_list(path: Path) -> list[SourceSpec]:
    """Every feed in an OPML or newsboat ``urls`` file, in file order, names made unique."""
    try:
        data = read_small(path)
    except (OSError, ValueError) as exc:
        raise FeedListError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<" or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        entries = _read_opml(path, data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FeedListError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        entries = _read_urls(path, text)
    return _to_specs(entries)


def default_feed_name(url: str) -> str:
    """A source name for a feed with none: host[:port] + path, no scheme, query or slash."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.strip()
    if not host:
        return url.strip().rstrip("/")
    return f"{host}{port}{parts.path}".rstrip("/")


def slug(title: str) -> str:
    """A title as a source name: lowercase words joined by hyphens (Unicode letters kept)."""
    return _SLUG_JUNK.sub("-", title.casefold()).strip("-_")


# --- OPML ---------------------------------------------------------------------------------

def _read_opml(path: Path, data: bytes) -> list[tuple[str, str, list[str]]]:
    """(url, name, tags) for every outline with an xmlUrl; tags are the parent titles."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    entries: list[tuple[str, str, list[str]]] = []
    folders: list[str | None] = []  # one per open element: a folder title, or None
    root: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if not root:
            root.append(tag)
        if tag.rsplit(":", 1)[-1].lower() != "outline":
            folders.append(None)
            return
        lowered = {key.lower(): value for key, value in attrs.items()}
        title = " ".join((lowered.get("text") or lowered.get("title") or "").split())
        url = (lowered.get("xmlurl") or "").strip()
        if url:
            entries.append((url, slug(title), [f for f in folders if f]))
        folders.append(None if url else title or None)

    def end(tag: str) -> None:
        folders.pop()

    def refuse_doctype(*_: object) -> None:
        raise _Refused("DOCTYPE not allowed in OPML")

    def refuse_entity(*_: object) -> None:
        raise _Refused("entity declarations not allowed in OPML")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise FeedListError(f"{path}: {exc}") from None
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise FeedListError(f"{path}:{exc.lineno}:{exc.offset + 1}: invalid XML: {reason}") \
            from None
    if root and root[0].rsplit(":", 1)[-1].lower() != "opml":
        raise FeedListError(f"{path}: not an OPML file (root element <{root[0]}>)")
    return [(url, name, tags) for url, name, tags in entries if _is_http(url)]


# --- newsboat urls -------------------------------------------------------------------------

def _read_urls(path: Path, text: str) -> list[tuple[str, str, list[str]]]:
    entries: list[tuple[str, str, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            tokens = _tokens(line)
        except ValueError as exc:
            raise FeedListError(f"{path}:{lineno}: {exc}") from None
        if not tokens:
            continue
        url, *rest = tokens
        if url.startswith(NEWSBOAT_ONLY):
            continue
        if not _is_http(url):
            shown = url if len(url) <= 60 else url[:59] + "…"
            raise FeedListError(f"{path}:{lineno}: not an http(s) feed URL: {shown}")
        name = ""
        tags: list[str] = []
        for tag in rest:
            if tag.startswith("~"):
                name = slug(tag[1:])
            elif tag != "!" and tag:
                tags.append(tag)
        entries.append((url, name, tags))
    return entries


def _tokens(line: str) -> list[str]:
    """Split a urls line into words; "double quotes" group, # outside quotes starts a comment."""
    tokens: list[str] = []
    i, n = 0, len(line)
    while i < n:
        char = line[i]
        if char.isspace():
            i += 1
        elif char == "#":
            break
        elif char == '"':
            out: list[str] = []
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(line[i])
                i += 1
            if i >= n:
                raise ValueError("unclosed quote")
            tokens.append("".join(out))
            i += 1
        else:
            start = i
            while i < n and not line[i].isspace() and line[i] != '"':
                i += 1
            tokens.append(line[start:i])
    return tokens


# --- shared ------------------------------------------------------------------------------

def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _to_specs(entries: Iterable[tuple[str, str, list[str]]]) -> list[SourceSpec]:
    """Drop repeated URLs (merging their tags) and make names unique with -2, -3, …"""
    by_url: dict[str, tuple[str, list[str]]] = {}
    for url, name, tags in entries:
        if url in by_url:
            by_url[url][1].extend(t for t in tags if t not in by_url[url][1])
        else:
            by_url[url] = (name or default_feed_name(url), list(dict.fromkeys(tags)))
    used: set[str] = set()
    specs: list[SourceSpec] = []
    for url, (name, tags) in by_url.items():
        unique, count = name, 1
        while unique in used:
            count += 1
            unique = f"{name}-{count}"
        used.add(unique)
        specs.append(SourceSpec(name=unique, url=url, tags=tuple(tags)))
    return specs
