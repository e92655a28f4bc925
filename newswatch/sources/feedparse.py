"""Feed documents (RSS 0.9x/1.0/2.0, Atom, JSON Feed) to items, through feedparser.

Clean RSS 2.0 and Atom 1.0 documents take a fast path (``fastfeed``, ElementTree) that
yields exactly what feedparser would; everything else goes through feedparser.
``parse_feed`` is a pure function of bytes, so it can run in a worker process."""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import io
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
import orjson

from newswatch.models import Item
from newswatch.sources.fastfeed import parse_fast
from newswatch.sources.html import html_to_text, looks_like_html, tidy_text

TITLE_MAX = 200  # a first line longer than this is not a headline
DERIVED_TITLE_MAX = 120  # a headline cut from the first sentence


@dataclass(slots=True)
class ParsedFeed:
    items: list[Item] = field(default_factory=list)
    error: str | None = None  # the document is not a usable feed
    skipped: list[str] = field(default_factory=list)
    title: str = ""


def iso_z(moment: datetime) -> str:
    """A UTC datetime as ISO 8601 with Z; four-digit years (strftime writes year 999 as
    "999", which is no ISO 8601)."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def iso_utc(value: time.struct_time | None) -> str | None:
    """A UTC struct_time (as feedparser gives) to ISO 8601 with Z, or None."""
    if value is None:
        return None
    try:
        stamp = calendar.timegm(value)
        return iso_z(datetime.fromtimestamp(stamp, UTC))
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def parse_feed(data: bytes, source: str, location: str = "",
               content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document. Never raises for bad input: problems land in ``error``."""
    if data.lstrip()[:1] == b"{":
        return parse_json_feed(data, source)
    fast = parse_fast(data, location, content_type)
    if fast is not None:
        return _feed_from_entries(fast.title, fast.entries, source)
    return parse_with_feedparser(data, source, location, content_type)


def parse_with_feedparser(data: bytes, source: str, location: str = "",
                          content_type: str | None = None) -> ParsedFeed:
    """``parse_feed`` without the fast path: feedparser reads every XML document."""
    headers = {"content-location": location}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=False,
                                  resolve_relative_uris=False)
    except Exception as exc:  # feedparser is defensive, but a parser bug must not kill ingest
        return ParsedFeed(error=f"feed parser failed: {type(exc).__name__}: {exc}")
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        return ParsedFeed(error=_not_a_feed_reason(data, parsed))
    return _feed_from_entries(parsed.get("feed", {}).get("title", ""), entries, source)


def _feed_from_entries(title: str, entries: list[Any], source: str) -> ParsedFeed:
    out = ParsedFeed(title=tidy_text(title or ""))
    for index, entry in enumerate(entries):
        item = _entry_to_item(entry, source, index)
        if item is None:
            out.skipped.append(f"entry {index + 1}: no title, text or link")
        else:
            out.items.append(item)
    return out


def parse_json_feed(data: bytes, source: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (feedparser 6 does not read it; the format is small and exact)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return ParsedFeed(error=f"not a feed: invalid JSON ({exc})")
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
            "https://jsonfeed.org/version/"):
        return ParsedFeed(error="not a feed: JSON without a JSON Feed version")
    out = ParsedFeed(title=tidy_text(str(doc.get("title") or "")))
    entries = doc.get("items")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            out.skipped.append(f"item {index + 1}: not an object")
            continue
        text = _plain(_string(entry.get("content_html")) or _string(entry.get("content_text"))
                      or _string(entry.get("summary")))
        title = _plain(_string(entry.get("title")))
        link = _string(entry.get("url")) or _string(entry.get("external_url")) or None
        if not (title or text or link):
            out.skipped.append(f"item {index + 1}: no title, text or link")
            continue
        title = title or derive_title(text) or str(link)
        guid = entry.get("id") or link or _digest(f"{title}\0{text}")
        published = iso_from_text(entry.get("date_published") or entry.get("date_modified"))
        out.items.append(Item(source=source, guid=str(guid), title=title, text=text or title,
                              url=str(link) if link else None, published=published))
    return out


def _string(value: object) -> str:
    """A JSON Feed string field; anything else (a list, a number) counts as absent, as
    the format says these are strings."""
    return value if isinstance(value, str) else ""


def iso_from_text(value: object) -> str | None:
    """An ISO 8601 / RFC 3339 (or an RFC 822 email-style) timestamp to ISO 8601 UTC with
    Z, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:  # "Tue, 18 Mar 2025 20:01:00 GMT", as RSS writes dates
            moment = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_z(moment.astimezone(UTC))


def _not_a_feed_reason(data: bytes, parsed: feedparser.FeedParserDict) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        return "not a feed: got an HTML page"
    if not data.strip():
        return "not a feed: empty document"
    exc = parsed.get("bozo_exception")
    if exc is not None and "Content-type" not in str(exc):  # no HTTP header for a file
        return f"not a feed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return "not a feed: no RSS, Atom or JSON Feed content"


def _entry_to_item(entry: Mapping[str, Any], source: str, index: int) -> Item | None:
    title = _plain(entry.get("title", "") or "")
    body = ""
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        if len(value) > len(body):
            body = value
    summary = entry.get("summary", "") or ""
    if len(summary) > len(body):
        body = summary
    text = _plain(body)
    link = entry.get("link") or None
    if not (title or text or link):
        return None
    if not title:
        title = derive_title(text) or (link or "")
    guid = entry.get("id") or link or _digest(f"{title}\0{text}") or f"entry-{index}"
    published = iso_utc(entry.get("published_parsed") or entry.get("updated_parsed")
                        or entry.get("created_parsed"))
    return Item(source=source, guid=str(guid), title=title, text=text or title, url=link,
                published=published)


def _plain(value: str) -> str:
    return html_to_text(value) if looks_like_html(value) else tidy_text(value)


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=10).hexdigest() if value.strip() else ""


def derive_title(text: str) -> str:
    """A headline for text that has none: its first sentence, cut at a word boundary."""
    text = " ".join(text.split())
    if not text:
        return ""
    sentence = text[:_sentence_end(text)].strip()
    if len(sentence) <= DERIVED_TITLE_MAX:
        return sentence
    cut = sentence[:DERIVED_TITLE_MAX].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


# A sentence ends at . ? or ! (and any closing quotes) before a space and a capital letter,
# unless the period closes an abbreviation: "U.S. President", "Mr. Putin", "Mar. 18".
_SENTENCE_END = re.compile(r"[.?!][\"'\u201d\u2019)\]]*(?= [\"'\u201c\u2018(\[]*(\w))")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")
_ABBREVIATIONS = frozenset([
    "Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "Gen", "Sen", "Rep", "Gov", "Lt", "Col",
    "Capt", "Sgt", "Adm", "Maj", "Rev", "Hon", "Pres", "Amb", "Jan", "Feb", "Mar", "Apr", "Jun",
    "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "No", "Nos", "Vol", "vs", "approx",
])


def _sentence_end(text: str) -> int:
    """Where the first sentence of single-spaced ``text`` ends (its length if it has one)."""
    for match in _SENTENCE_END.finditer(text):
        if not match.group(1).isupper():
            continue
        if match.group()[0] == ".":
            word = text[:match.start()].rsplit(" ", 1)[-1].lstrip("\"'\u201c\u2018([")
            if word in _ABBREVIATIONS or _INITIALS.fullmatch(word):
                continue
        return match.end()
    return len(text)
