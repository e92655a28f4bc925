"""A fast path for clean RSS 2.0 and Atom 1.0 feeds: ElementTree (expat, in C) instead of
feedparser's per-element Python SAX handlers.

``parse_fast`` rebuilds exactly the entry fields ``parse_feed`` reads from feedparser 6.0
(strict parser, no sanitizing, no relative-URI resolution in content), replaying the quirks
of feedparser's handlers that reach them. Whenever equality is not certain (a DTD, xml:base,
RSS 1.0, Atom 0.3, base64 or odd content, a handler not replayed here) it returns None and
the caller asks feedparser. Pure: module constants are built at import and never changed.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import feedparser
from feedparser.api import StrictFeedParser
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

from newswatch.sources.feedvalues import join_uri, parse_date

_ENABLED = feedparser.__version__.startswith("6.0.")  # the quirks replayed are 6.0's
ATOM = "http://www.w3.org/2005/Atom"
XHTML = "http://www.w3.org/1999/xhtml"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XHTML_T = "application/xhtml+xml"
_TYPES = frozenset({"text/plain", "text/html", _XHTML_T})
_SHORT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": _XHTML_T}
_CANON = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_CANON_NAMES = frozenset(prefix.lower() for prefix in _CANON.values() if prefix)
_RSS_VERSION_URIS = ("http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/")
_ENDS = frozenset(n[5:] for n in dir(StrictFeedParser) if n.startswith("_end_"))
_METHODS = _ENDS | frozenset(n[7:] for n in dir(StrictFeedParser) if n.startswith("_start_"))


def _kinds(**groups: str) -> dict[str, str]:
    return {key: kind for kind, keys in groups.items() for key in keys.split()}


# What feedparser's handler for an element does, by handler suffix ("dc_title" for dc:title).
# "prose": text parse_feed never reads; "inert": touches no field parse_feed reads and
# cannot raise, so only its children matter. Any other handler makes the fast path decline.
_KIND = _kinds(
    title="title dc_title", mtitle="media_title", summary="summary itunes_summary",
    desc="description dc_description media_description", content="content", link="link",
    encoded="content_encoded fullitem", body="body xhtml_body", guid="guid id", source="source",
    leaf="width height", created="created dcterms_created",
    published="published issued pubdate dcterms_issued",
    updated="updated modified lastbuilddate dc_date dcterms_modified",
    prose="subtitle tagline itunes_subtitle rights copyright dc_rights info "
          "feedburner_browserfriendly",
    inert="author managingeditor dc_author dc_creator itunes_author contributor dc_contributor "
          "name itunes_name email itunes_email url homepage uri language dc_language webmaster "
          "dc_publisher generator category keywords dc_subject media_category itunes_category "
          "itunes_keywords media_keywords tags enclosure cloud expirationdate itunes_owner "
          "itunes_image itunes_block itunes_explicit media_group media_rating media_credit "
          "media_restriction media_license media_content media_thumbnail media_player "
          "dcterms_valid newlocation",
)
_IMAGE_CHILDREN = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_TEXTINPUT_CHILDREN = frozenset({"title", "link", "description", "name"})
# Keys an unhandled element could write over (directly or through FeedParserDict.keymap).
_READ = frozenset({"published_parsed", "updated_parsed", "created_parsed", "date_parsed",
                   "modified_parsed", "issued_parsed"})
_CONTENT_TYPES = {"encoded": "text/html", "body": "application/xhtml+xml"}  # default: text
_AMP_REF = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")


class _Decline(Exception):
    """Only feedparser can tell what this document means."""


@dataclass(slots=True)
class FastFeed:
    title: str  # the feed title, before tidying
    entries: list[dict[str, Any]]  # title/summary/content/link/id/*_parsed, as feedparser's


def parse_fast(data: bytes, location: str = "", content_type: str | None = None) -> FastFeed | None:
    """The feed as feedparser would read it, or None to say "ask feedparser"."""
    if not _ENABLED:
        return None
    headers = {"content-location": location}
    if content_type:
        headers["content-type"] = content_type
    info: dict[str, Any] = {}
    try:
        data = convert_to_utf8(headers, data, info)  # feedparser's own decoding, byte for byte
        if not info.get("encoding") or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            return None
        return _Walker(location).run(data)
    except Exception:  # a parse error, a decline, or a case not foreseen: feedparser decides
        return None


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _base(uri: str) -> str:
    """What feedparser's per-element base tracking makes of the Content-Location."""
    return (make_safe_absolute_uri(uri, uri) or uri) if uri else _urljoin(uri, uri)


class _Walker:
    """Replays feedparser's handler state over an ElementTree, for the handled subset."""

    def __init__(self, location: str) -> None:
        self.base = _base(location)
        if _base(self.base) != self.base:
            raise _Decline
        self.keys: dict[str, tuple[str, str]] = {}
        self.unknown: dict[str, str] = {}  # undeclared-by-feedparser namespace -> its prefix
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.entry: dict[str, Any] | None = None
        self.depths: dict[str, int] = {}  # feedparser's property_depth_map for the entry
        self.box: dict[str, Any] | None = None  # source, image or textinput context
        self.insource = self.has_content = self.guidislink = self.atom10 = False
        self.title_depth = -1

    def run(self, data: bytes) -> FastFeed:
        pull = ET.XMLPullParser(events=("start-ns", "start"))
        pull.feed(data)
        pull.close()
        root: ET.Element | None = None
        decls: list[tuple[str, str]] = []
        root_decls = 0  # how many of decls are on the root element
        for event, obj in pull.read_events():
            if event == "start-ns":
                decls.append(obj)
            elif root is None:
                root, root_decls = obj, len(decls)
        if root is None:
            raise _Decline
        self.namespaces(decls)
        for el in root.iter():
            if any(k.rpartition("}")[2].lower() == "base" for k in el.attrib):
                raise _Decline  # xml:base (or any *:base) moves feedparser's base URI
        if root.tag == "rss" and len(root) == 1 and root[0].tag == "channel":
            if {"lastmod", "href"} & self.attrs(root[0]).keys():
                raise _Decline  # CDF attributes
            self.children(root[0], 2)
        elif root.tag == f"{{{ATOM}}}feed" and not any(
                uri.lower() in _RSS_VERSION_URIS for _, uri in decls[:root_decls]):
            self.atom10 = True
            self.children(root, 1)
        else:
            raise _Decline
        return FastFeed(self.feed.get("title") or "", self.entries)

    def namespaces(self, decls: list[tuple[str, str]]) -> None:
        """Refuse declarations under which feedparser's global, unscoped prefix maps
        (namespacemap, namespaces_in_use) could name an element unlike ``key``."""
        seen: dict[str, str] = {}
        canons: set[str] = set()
        renamed: set[str] = set()  # prefixes a document gives known namespaces, if not canonical
        for prefix, uri in decls:
            if any(c in uri for c in " \t\r\n}") or prefix and seen.setdefault(prefix, uri) != uri:
                raise _Decline
            low = uri.lower()
            canon = "" if "backend.userland.com/rss" in low else _CANON.get(low)
            if canon is None:
                if self.unknown.setdefault(uri, prefix) != prefix:
                    raise _Decline  # one unknown namespace under two prefixes
            else:
                canons.add(canon)
                if prefix and prefix != canon:
                    renamed.add(prefix.lower())
                    if prefix.lower() in _CANON_NAMES:
                        raise _Decline  # e.g. xmlns:dc bound to another known namespace
        for prefix in self.unknown.values():
            if prefix and (prefix in canons or prefix.lower() in renamed):
                raise _Decline

    def key(self, tag: str) -> tuple[str, str]:
        """(feedparser handler suffix, lower-case local name) of an element tag."""
        found = self.keys.get(tag)
        if found is None:
            uri, _, local = tag[1:].partition("}") if tag[:1] == "{" else ("", "", tag)
            low = uri.lower()
            prefix = "" if "backend.userland.com/rss" in low else _CANON.get(low)
            if prefix is None:
                prefix = self.unknown.get(uri, "")
            local = local.lower()
            found = self.keys[tag] = (f"{prefix.lower()}_{local}" if prefix else local, local)
        return found

    @staticmethod
    def attrs(el: ET.Element) -> dict[str, str]:
        """Attributes as feedparser's strict parser hands them to a handler."""
        out: dict[str, str] = {}
        for name, value in el.attrib.items():
            if name[:1] == "{":
                if name != _XML_LANG:
                    raise _Decline
                name = "xml:lang"
            name = name.lower()
            if name in out:
                raise _Decline
            out[name] = value.lower() if name in ("rel", "type") else value
        return out

    def ctx(self) -> dict[str, Any]:
        """feedparser's _get_context()."""
        if self.box is not None:
            return self.box
        return self.entry if self.entry is not None else self.feed

    def finish(self, text: str, resolve: bool) -> str:
        """What feedparser's pop() does to element text on the way out."""
        out = text.strip()
        if resolve and out:
            out = join_uri(self.base, out)
        if out.isascii():  # both repairs below leave ASCII alone
            return out
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            out = out.encode("iso-8859-1").decode("utf-8")  # feedparser's double-UTF-8 repair
        # feedparser maps C1 controls to cp1252 (dict translate is slow: only when needed)
        return out.translate(_cp1252) if _C1.search(out) else out

    def store(self, element: str, value: str, depth: int) -> None:
        if self.entry is not None and not self.insource:
            key = "summary" if element == "description" else element
            old = self.depths.get(key)
            if old is None or depth <= old:
                self.depths[key] = depth
                self.entry[key] = value
        else:
            self.ctx()["subtitle" if element == "description" else element] = value

    def children(self, parent: ET.Element, depth: int) -> None:
        for el in parent:
            key = self.key(el.tag)[0]
            if key in ("item", "entry") and self.entry is None and self.box is None:
                self.item(el, depth + 1)
            elif key in ("image", "textinput") and self.entry is None and self.box is None:
                allowed = _IMAGE_CHILDREN if key == "image" else _TEXTINPUT_CHILDREN
                if any(self.key(c.tag)[0] not in allowed or len(c) for c in el):
                    raise _Decline
                self.title_depth, self.box = -1, {}
                self.children(el, depth + 1)
                self.box = None
            else:
                self.element(el, key, depth + 1)

    def item(self, el: ET.Element, depth: int) -> None:
        if self.attrs(el).keys() - {"xml:lang"}:
            raise _Decline  # rdf:about, CDF href/lastmod
        self.entry, self.depths = {}, {}
        self.entries.append(self.entry)
        self.guidislink, self.title_depth = False, -1
        self.children(el, depth)
        self.entry, self.has_content = None, False

    def element(self, el: ET.Element, key: str, depth: int) -> None:
        kind = _KIND.get(key)
        if kind in ("title", "mtitle"):
            out = self.finish(self.text(el, "text/plain"), False)
            if not -1 < self.title_depth <= depth:
                self.store("title", out, depth)
            if out and kind == "title":  # media:title restores title_depth
                self.title_depth = depth
        elif kind in ("desc", "summary", "content", "encoded", "body"):
            if self.insource:
                raise _Decline
            context = self.ctx()
            if kind in ("desc", "summary") and ("summary" not in context or self.has_content):
                text = self.text(el, "text/html" if kind == "desc" else "text/plain")
                self.store("description" if kind == "desc" else kind, self.finish(text, False),
                           depth)
                return  # else a second description/summary becomes content:
            self.has_content = self.has_content or kind != "body"
            out = self.finish(self.text(el, _CONTENT_TYPES.get(kind, "text/plain")), False)
            if self.entry is not None:
                self.entry.setdefault("content", []).append({"value": out})
            else:
                context["content"] = out
            context.setdefault("summary", out)
        elif kind == "link":
            self.link(el)
        elif kind == "guid":
            self.guidislink = self.attrs(el).get("ispermalink", "true") == "true"
            out = self.finish(self.leaf(el), self.guidislink)
            self.store("id", out, depth)
            if self.guidislink:
                self.ctx().setdefault("link", out)
        elif kind in ("published", "updated", "created"):
            self.ctx()[f"{kind}_parsed"] = parse_date(self.finish(self.leaf(el), False))
        elif kind == "source" and self.entry is not None and not self.insource:
            self.title_depth = -1
            if len(el):
                self.insource, self.box = True, {}
                self.children(el, depth)
                self.insource, self.box = False, None
        elif kind == "prose":
            self.text(el, "text/plain")  # only to decline what feedparser would not take as text
        elif kind == "leaf":
            self.leaf(el)
        elif kind == "inert" or (key not in _METHODS and key not in _READ):
            self.children(el, depth)
        else:
            raise _Decline  # a handler not replayed here

    @staticmethod
    def leaf(el: ET.Element) -> str:
        if len(el):
            raise _Decline  # feedparser would join the text of the children in
        return el.text or ""

    def text(self, el: ET.Element, default_type: str) -> str:
        """The raw value of a content construct (push_content ... pop)."""
        attrs = self.attrs(el)
        kind = attrs.get("type", default_type)
        kind = _SHORT_TYPES.get(kind, kind)
        if "mode" in attrs or kind not in _TYPES:
            raise _Decline  # base64, escaped modes, other media types
        if kind != _XHTML_T:
            return self.leaf(el)
        pieces: list[str] = []
        for child in el:
            self.markup(child, pieces)
        if self.atom10 and len(el) == 1 and self.key(el[0].tag)[1] == "div" \
                and not (el.text or "").strip() and not (el[0].tail or "").strip():
            # feedparser drops a <div> wrapping all the content (tags never end in "/>" here)
            return "".join(pieces[1:-2] if el[0].tail else pieces[1:-1])
        return _esc(el.text or "") + "".join(pieces)

    def markup(self, el: ET.Element, pieces: list[str]) -> None:
        """XHTML content re-serialised as feedparser's handle_data does it."""
        key, local = self.key(el.tag)
        uri = el.tag[1:].partition("}")[0] if el.tag[:1] == "{" else ""
        if uri not in ("", ATOM, XHTML) or key in _ENDS or local in ("svg", "math"):
            raise _Decline  # feedparser would run a handler or special-case it
        attrs = "".join(f' {k}="{_esc(v).replace(chr(34), "&quot;")}"'
                        for k, v in self.attrs(el).items())
        pieces.append(f"<{local}{attrs}>")
        if el.text:
            pieces.append(_esc(el.text))
        for child in el:
            self.markup(child, pieces)
        pieces.append(f"</{local}>")
        if el.tail:
            pieces.append(_esc(el.tail))

    def link(self, el: ET.Element) -> None:
        attrs = self.attrs(el)
        rel = attrs.setdefault("rel", "alternate")
        kind = attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        if href := attrs.get("url", attrs.get("uri", attrs.get("href"))):
            attrs["href"] = href
        if "href" in attrs:
            if rel == "alternate" and _SHORT_TYPES.get(kind, kind) in ("text/html", _XHTML_T):
                self.ctx()["link"] = join_uri(self.base, attrs["href"])
            if len(el):
                raise _Decline
            return
        out = self.finish(self.leaf(el), True)
        if "&" not in out:  # both rewrites below need an "&"
            self.ctx()["link"] = out
        elif self.entry is not None and not self.insource:
            self.entry["link"] = _AMP_REF.sub(r"&\g<1>", out.replace("&amp;", "&"))
        else:
            self.ctx()["link"] = _AMP_REF.sub(r"&\g<1>", out)
