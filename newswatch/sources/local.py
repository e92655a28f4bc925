"""Local sources: one file or a directory tree of text, Markdown, HTML, JSON, JSONL and feeds.

``read_local`` never raises for bad input: a source that cannot be opened at all gives
``SourceResult.error``; a file or record that is left out gives one line in ``skipped``."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import orjson

from newswatch.controls import CONTROLS
from newswatch.models import Item
from newswatch.sources import SourceResult, SourceSpec
from newswatch.sources.feedparse import TITLE_MAX, derive_title, iso_from_text, parse_feed
from newswatch.sources.html import html_title, html_to_text, tidy_text

MAX_FILE_BYTES = 20 * 1024 * 1024
SNIFF_BYTES = 8192
TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom"})
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES | {".json", ".jsonl"}
_MD_HEADING = re.compile(r"^#{1,6}(?:\s+|$)")
_MD_CLOSING = re.compile(r"\s+#+$")


class _Skip(Exception):
    """One file (or record) is left out; the message is the reason, without the path."""


def read_local(spec: SourceSpec) -> SourceResult:
    """Read a local file or directory (recursively) into items under ``spec.name``."""
    if spec.path is None:
        return SourceResult(spec, error=f"{spec.name}: no path given")
    root = Path(spec.path)
    try:
        mode = os.stat(root).st_mode
        if stat.S_ISDIR(mode):
            with os.scandir(root):
                pass
    except OSError as exc:
        return SourceResult(spec, error=f"{root}: {_os_reason(exc)}")
    result = SourceResult(spec)
    if stat.S_ISDIR(mode):
        for path in _walk(root, result.skipped):
            _read_file(path, unicode_name(path.relative_to(root).as_posix()), spec, result)
    elif not stat.S_ISREG(mode):
        result.error = f"{root}: not a regular file or directory"
    elif root.suffix.lower() not in SUFFIXES:
        result.error = f"{root}: unsupported file type ({root.suffix or 'no extension'})"
    else:
        _read_file(root, unicode_name(root.name), spec, result)
    return result


def unicode_name(name: str) -> str:
    """A file name as storable text: bytes that are not UTF-8 (which Python keeps as lone
    surrogates) become ``\\xNN``, so distinct names stay distinct and can be hashed."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a byte
        raw = name.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


# beside a store file (see newswatch.store)
_STORE_PARTS = ("tables", "texts", "blobs", "lock", "emit.lock")


def _walk(root: Path, skipped: list[str]) -> Iterator[Path]:
    """Files with a known suffix under ``root``: sorted, depth first, hidden names left out.

    Symlinked directories are followed, but each real directory is entered once, so a
    symlink loop ends. Directories that cannot be listed give a line in ``skipped``."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            skipped.append(f"{directory}: {_os_reason(exc)}")
            continue
        subdirs: list[Path] = []
        names = {entry.name for entry in entries}
        # a newswatch store kept in the folder: its file and its folders are not stories
        stores = {n for n in names if f"{n}.tables" in names}
        store_parts = stores | {f"{n}.{part}" for n in stores for part in _STORE_PARTS}
        for entry in entries:
            if entry.name.startswith(".") or entry.name in store_parts:
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(Path(entry.path))
            elif Path(entry.name).suffix.lower() in SUFFIXES:
                yield Path(entry.path)
        stack.extend(reversed(subdirs))


def _read_file(path: Path, guid: str, spec: SourceSpec, result: SourceResult) -> None:
    """Append the items of one file to ``result``, or one reason to ``result.skipped``."""
    suffix = path.suffix.lower()
    try:
        data = _read_bytes(path)
        if not data.strip():
            raise _Skip("empty file")
        if suffix in FEED_SUFFIXES:
            _add_feed(data, path, spec, result)
            return
        # one bad byte in a JSON Lines file spoils its line only, not the others' decoding
        text = _decode(data) if suffix != ".jsonl" else _decode_lines(data)
        if not text.strip():
            raise _Skip("empty file")
        if suffix in TEXT_SUFFIXES:
            result.items.append(_text_item(text, guid, spec.name, markdown=suffix == ".md"))
        elif suffix in HTML_SUFFIXES:
            result.items.append(_html_item(text, guid, spec.name))
        elif suffix == ".jsonl":
            _add_jsonl(text, path, spec, result)
        else:
            _add_json(text, path, guid, spec, result)
    except _Skip as skip:
        result.skipped.append(f"{path}: {skip}")
    except OSError as exc:
        result.skipped.append(f"{path}: {_os_reason(exc)}")
    except Exception as exc:  # a parser bug in one file must not stop the rest of the source
        result.skipped.append(f"{path}: failed: {type(exc).__name__}: {exc}".splitlines()[0])


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing non-regular files (a FIFO would block) and huge files."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Skip("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise _Skip(f"file too large ({info.st_size} bytes, limit {MAX_FILE_BYTES})")
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Skip(f"file too large (over {MAX_FILE_BYTES} bytes)")
    return data


def _decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped); else cp1252, else Latin-1; control characters dropped.
    NUL bytes mean a binary file."""
    if b"\0" in data[:SNIFF_BYTES]:
        raise _Skip("not UTF-8 text (binary file)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    # control characters (ESC above all) would reach the terminal with every listing
    return CONTROLS.sub("", text) if CONTROLS.search(text) else text


def _decode_lines(data: bytes) -> str:
    """``_decode`` line by line, unless the whole file is UTF-8 (the usual case)."""
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "\n".join(_decode(line) if line else "" for line in data.split(b"\n"))
    return _decode(data)


def _text_item(text: str, guid: str, source: str, *, markdown: bool) -> Item:
    """A .txt/.md story: a short first line without a final period is the headline."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = next(index for index, line in enumerate(lines) if line.strip())
    headline = lines[first].strip()
    if markdown and _MD_HEADING.match(headline):
        headline = _MD_CLOSING.sub("", _MD_HEADING.sub("", headline))
    lines[first] = headline = " ".join(headline.split())
    if headline and len(headline) < TITLE_MAX and not headline.endswith("."):
        body = tidy_text("\n".join(lines[first + 1:]))
        return Item(source=source, guid=guid, title=headline, text=body or headline)
    body = tidy_text("\n".join(lines[first:]))
    if not body:
        raise _Skip("no text")
    return Item(source=source, guid=guid, title=derive_title(body), text=body)


def _html_item(markup: str, guid: str, source: str) -> Item:
    text = html_to_text(markup)
    title = html_title(markup) or derive_title(text)
    if not (title or text):
        raise _Skip("no text")
    return Item(source=source, guid=guid, title=title, text=text or title)


def _add_feed(data: bytes, path: Path, spec: SourceSpec, result: SourceResult) -> None:
    # No location: feedparser would resolve relative guids against the file's path, so the
    # same entry would get another guid (a duplicate story) whenever the path is spelled
    # differently or the folder moves.
    parsed = parse_feed(data, spec.name)
    if parsed.error:
        raise _Skip(parsed.error)
    if not parsed.items and not parsed.skipped:
        raise _Skip("feed has no entries")
    result.items.extend(parsed.items)
    result.skipped.extend(f"{path}: {reason}" for reason in parsed.skipped)


def _add_jsonl(text: str, path: Path, spec: SourceSpec, result: SourceResult) -> None:
    # Split on "\n" only: U+2028 and friends may stand unescaped inside JSON strings.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            result.skipped.append(f"{path}:{lineno}: invalid JSON")
            continue
        item = _record_item(record, spec.name)
        if isinstance(item, Item):
            result.items.append(item)
        else:
            result.skipped.append(f"{path}:{lineno}: {item}")


def _add_json(text: str, path: Path, guid: str, spec: SourceSpec, result: SourceResult) -> None:
    """A JSON Feed document, one story object, or a list of story objects."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _Skip(f"invalid JSON ({exc})") from None
    if isinstance(doc, dict) and str(doc.get("version", "")).startswith(
            "https://jsonfeed.org/version/"):
        _add_feed(text.encode(), path, spec, result)
        return
    if isinstance(doc, dict):
        # A lone story object may leave out its id: the file path then names it.
        item = _record_item(doc if doc.get("id") not in (None, "") else {**doc, "id": guid},
                            spec.name)
        if not isinstance(item, Item):
            raise _Skip(item)
        result.items.append(item)
        return
    if not isinstance(doc, list):
        raise _Skip("JSON is neither a JSON Feed, a story object nor a list of them")
    for index, record in enumerate(doc, start=1):
        item = _record_item(record, spec.name)
        if isinstance(item, Item):
            result.items.append(item)
        else:
            result.skipped.append(f"{path}: item {index}: {item}")


def _record_item(record: object, source: str) -> Item | str:
    """A JSON story object (id, title, text, url?, published?, source?) to an item, or why not."""
    if not isinstance(record, dict):
        return "not a JSON object"
    guid = record.get("id")
    if guid is None or isinstance(guid, bool | dict | list) or not str(guid).strip():
        return "missing id"
    for key in ("title", "text", "url", "published", "source"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"{key} is not a string"
    title = " ".join(CONTROLS.sub("", record.get("title") or "").split())
    text = tidy_text(record.get("text") or "")  # tidy_text drops control characters
    if not (title or text):
        return "missing both title and text"
    return Item(source=(record.get("source") or "").strip() or source, guid=str(guid),
                title=title or derive_title(text), text=text or title,
                url=(record.get("url") or "").strip() or None,
                published=iso_from_text(record.get("published")))


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()
