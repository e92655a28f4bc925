"""The ElementTree fast path must give exactly what the feedparser path gives.

A differential test: every document of feedparser's own test suite, plus generated RSS
and Atom feeds full of edge cases, goes through both paths; wherever the fast path accepts
a document, the two ParsedFeeds (items, title, skipped, error) must be equal."""

from __future__ import annotations

import concurrent.futures
import io
import multiprocessing
import random
import re
from html import escape
from pathlib import Path

import feedparser
import pytest

from newswatch.sources.fastfeed import parse_fast
from newswatch.sources.feedparse import parse_feed, parse_with_feedparser

CORPUS = Path(__file__).parent / "data" / "feedparser-tests"
HEADER = re.compile(rb"^Header:\s*([\w-]+):(.*)$", re.M)
LOCATIONS = [("", None), ("http://example.com/feeds/a/b.xml", "application/rss+xml"),
             ("https://news.example.org/x/", "text/xml"), ("", "application/xml; charset=utf-8")]
ODD_LOCATIONS = [("http:///example.com//feeds/f.xml", None), ("feeds/relative.xml", None),
                 ("javascript:alert(1)", "application/atom+xml"), ("file:///tmp/f.xml", None),
                 ("http://example.com/a/../b/f.xml?q=1#frag", "text/xml; charset=utf-8")]


def _check(data: bytes, location: str, content_type: str | None) -> bool:
    """Both paths agree wherever the fast path accepts; True if it accepted."""
    if parse_fast(data, location, content_type) is None:
        return False
    fast = parse_feed(data, "src", location, content_type)
    slow = parse_with_feedparser(data, "src", location, content_type)
    assert (fast.title, fast.skipped, fast.error) == (slow.title, slow.skipped, slow.error)
    assert fast.items == slow.items
    return True


def _corpus_cases(path: Path) -> list[tuple[str, str | None]]:
    headers = {k.decode().lower(): v.decode("latin-1").strip()
               for k, v in HEADER.findall(path.read_bytes()[:4000])}
    own = (headers.get("content-location", ""), headers.get("content-type"))
    return [own, *LOCATIONS[1:3]]


def test_feedparser_corpus_differential() -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert len(files) > 2000
    accepted = 0
    for path in files:
        data = path.read_bytes()
        results = [_check(data, loc, ctype) for loc, ctype in _corpus_cases(path)]
        accepted += any(results)
    # 1,014 of 2,108 at the time of writing; most declines are Atom 0.3, RSS 1.0/RDF,
    # CDF, HTML entities without a DTD, xml:base and deliberately broken documents.
    assert accepted > 950, accepted


# --- generated feeds -----------------------------------------------------------------

WORDS = ["news", "Überblick", "café", "naïve", "日本語", "emoji 🚀", "A&B", "x < y", "“quoted”",
         "\u00a0nbsp", "tab\there", "R&amp;D", "5 > 3", "O'Neil", '"dq"', "Ã©", "\u0093cp\u0094"]
MARKUP = ["<p>para <b>bold</b></p>", "<a href=\"/rel\">link</a> text", "line<br/>break",
          "<div><p>one</p><p>two</p></div>", "&lt;not a tag&gt;", "<script>x()</script>ok",
          "<img src='a.png'> caption", "<unknowntag>z</unknowntag>", "&amp;nbsp; &copy; &#169;"]
DATES_RSS = ["Tue, 18 Mar 2025 12:14:57 GMT", "Tue, 18 Mar 2025 12:14:57 +0200",
             "18 Mar 2025 12:14 EST", "Mon, 31 Feb 2025 10:00:00 GMT", "yesterday",
             "2025-03-18T12:14:57Z", "Tue, 18 Mar 25 12:14:57 PDT", ""]
DATES_ISO = ["2025-03-18T12:14:57Z", "2025-03-18T12:14:57+05:30", "2025-03-18", "2025-03-18T12:14",
             "2003-12-31T10:14:55.123-08:00", "garbage", "20250318T121457Z"]
LINKS = ["http://example.com/a?x=1&y=2", "/relative/path", "story.html", "  http://e.com/s  ",
         "http://e.com/?a=1&amp;b=2", "https://ex.org/ü/ß", "http:///triple", "", "mailto:a@b.c"]
RELS = ["", ' rel="alternate"', ' rel="self"', ' rel="related"', ' rel="enclosure"', ' rel=""']
LINK_TYPES = ["", ' type="text/html"', ' type="application/atom+xml"', ' type="TEXT/HTML"',
              ' type="application/pdf"']
NS = {"content": "http://purl.org/rss/1.0/modules/content/", "dc": "http://purl.org/dc/elements/1.1/",
      "media": "http://search.yahoo.com/mrss/", "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
      "atom": "http://www.w3.org/2005/Atom", "dcterms": "http://purl.org/dc/terms/",
      "x": "http://unknown.example/ns", "slash": "http://purl.org/rss/1.0/modules/slash/",
      "feedburner": "http://rssnamespace.org/feedburner/ext/1.0",
      "wfw": "http://wellformedweb.org/commentAPI/", "xhtml": "http://www.w3.org/1999/xhtml"}


def _text(rng: random.Random, html: bool = False) -> str:
    """Escaped character data: words, entities, CDATA, markup (escaped), whitespace."""
    parts = []
    for _ in range(rng.randint(0, 4)):
        roll = rng.random()
        if html and roll < 0.3:
            parts.append(escape(rng.choice(MARKUP), quote=False))
        elif html and roll < 0.45:
            parts.append(f"<![CDATA[{rng.choice(MARKUP)}]]>")
        elif roll < 0.55:
            parts.append(rng.choice(["&#147;", "&#x93;", "&#8217;", "&#233;", "&#38;amp;"]))
        else:
            parts.append(escape(rng.choice(WORDS), quote=False))
    pad = rng.choice(["", " ", "\n  ", "\t"])
    return pad + rng.choice([" ", "", "\n"]).join(parts) + pad


def _el(name: str, body: str, attrs: str = "") -> str:
    return f"<{name}{attrs}>{body}</{name}>"


def _rss_item(rng: random.Random) -> str:
    parts: list[str] = []
    pieces = [
        lambda: _el("title", _text(rng, rng.random() < 0.3)),
        lambda: _el("title", ""),
        lambda: _el("dc:title", _text(rng)),
        lambda: _el("media:title", _text(rng)),
        lambda: _el("link", escape(rng.choice(LINKS))),
        lambda: f'<atom:link href="{escape(rng.choice(LINKS))}"{rng.choice(RELS)}'
                f'{rng.choice(LINK_TYPES)}/>',
        lambda: _el("guid", escape(rng.choice(LINKS + ["abc-123", "tag:x,2025:1"])),
                    rng.choice(["", ' isPermaLink="false"', ' isPermaLink="true"',
                                ' isPermaLink="True"'])),
        lambda: _el("description", _text(rng, True)),
        lambda: _el("content:encoded", _text(rng, True)),
        lambda: _el("itunes:summary", _text(rng)),
        lambda: _el("dc:description", _text(rng, True)),
        lambda: _el("summary", _text(rng)),
        lambda: _el("media:group", _el("media:title", _text(rng))
                    + _el("media:description", _text(rng, True))),
        lambda: _el("media:content", _el("media:title", _text(rng)), ' url="http://e.com/v.mp4"'),
        lambda: _el("pubDate", rng.choice(DATES_RSS)),
        lambda: _el("dc:date", rng.choice(DATES_ISO)),
        lambda: _el("dcterms:modified", rng.choice(DATES_ISO)),
        lambda: _el("dcterms:created", rng.choice(DATES_ISO)),
        lambda: _el("atom:updated", rng.choice(DATES_ISO)),
        lambda: _el("author", "a@b.com (A B)"),
        lambda: _el("dc:creator", _text(rng)),
        lambda: _el("category", _text(rng), ' domain="d"'),
        lambda: f'<enclosure url="{escape(rng.choice(LINKS))}" length="1" type="audio/mpeg"/>',
        lambda: _el("comments", "http://e.com/c"),
        lambda: _el("source", _text(rng), ' url="http://src.example/"'),
        lambda: _el("slash:comments", "3"),
        lambda: _el("wfw:commentRss", "/c.rss"),
        lambda: _el("feedburner:origLink", escape(rng.choice(LINKS))),
        lambda: _el("x:thing", _text(rng), rng.choice(["", ' a="1"'])),
        lambda: _el("other", _el("title", _text(rng)), ' xmlns="http://unknown.example/d"'),
        lambda: _el("foo", _text(rng), rng.choice(["", ' bar="baz"'])),
        lambda: "<!-- a comment -->",
        lambda: _el(rng.choice(["Title", "TITLE", "LINK", "Description", "pubdate", "GUID"]),
                    _text(rng)),
        lambda: _el("atom:title", _text(rng), rng.choice(["", ' type="html"'])),
        lambda: _el("atom:id", escape(rng.choice(LINKS))),
        lambda: _el("atom:content", _text(rng, True), ' type="html"'),
        lambda: _el("atom:summary", _text(rng)),
        lambda: _el("xhtml:body", _el("xhtml:p", _text(rng)) + " t&amp;il"),
        lambda: _el("body", _text(rng), ' xmlns="http://www.w3.org/1999/xhtml"'),
        lambda: _el("wrap", _el("title", _text(rng)) + _el("description", _text(rng, True))
                    + _el("link", "/wrapped") + _el("guid", "w") + _el("pubDate", DATES_RSS[0])),
        lambda: _el("title", f"a<!--c-->b<?pi x?>c{_text(rng)}<![CDATA[ & <d>]]>"),
        lambda: _el("link", "<![CDATA[http://e.com/?a=1&b=2]]>"),
        lambda: _el("description", _text(rng, True), ' type="text/html"'),
        lambda: _el("title", _text(rng, True), ' type="html"'),
        lambda: _el("guid", ""),
    ]
    for _ in range(rng.randint(0, 9)):
        parts.append(rng.choice(pieces)())
    attrs = rng.choice(["", "", ' xml:lang="en"'])
    return _el("item", rng.choice(["", "\n"]).join(parts), attrs)


def _rss(rng: random.Random) -> str:
    head = [
        lambda: _el("title", _text(rng, rng.random() < 0.2)),
        lambda: _el("link", "http://example.com/"),
        lambda: _el("description", _text(rng, True)),
        lambda: _el("itunes:summary", _text(rng)),
        lambda: _el("dc:title", _text(rng)),
        lambda: _el("language", "en-us"),
        lambda: _el("lastBuildDate", rng.choice(DATES_RSS)),
        lambda: '<atom:link href="http://example.com/feed" rel="self" type="application/rss+xml"/>',
        lambda: _el("image", _el("url", "http://e.com/i.png") + _el("title", _text(rng))
                    + _el("link", "http://e.com/")),
        lambda: _el("textInput", _el("title", _text(rng)) + _el("name", "q")
                    + _el("link", "http://e.com/s") + _el("description", "d")),
        lambda: _el("content:encoded", _text(rng, True)),
        lambda: _el("generator", "gen"),
        lambda: '<itunes:image href="http://e.com/i.png"/>',
        lambda: _el("itunes:category", '<itunes:category text="Sub"/>', ' text="News"'),
    ]
    parts: list[str] = []
    for _ in range(rng.randint(0, 6)):
        parts.append(rng.choice(head)())
    items = [_rss_item(rng) for _ in range(rng.randint(0, 6))]
    for i in items:
        parts.insert(rng.randint(0, len(parts)), i)
    used = [p for p in NS if f"{p}:" in "".join(parts) or rng.random() < 0.2]
    decl = "".join(f' xmlns:{p}="{NS[p]}"' for p in used)
    return f'<rss version="2.0"{decl}><channel>{"".join(parts)}</channel></rss>'


def _construct(rng: random.Random, name: str) -> str:
    kind = rng.choice(["", "text", "html", "xhtml", "xhtml", "TEXT", "text/html"])
    attrs = f' type="{kind}"' if kind else ""
    if kind == "xhtml":
        inner = rng.choice(['<div xmlns="http://www.w3.org/1999/xhtml">{}</div>',
                            '\n <div xmlns="http://www.w3.org/1999/xhtml" class="c">{}</div>\n',
                            '<xh:div xmlns:xh="http://www.w3.org/1999/xhtml">{}</xh:div>',
                            '<div xmlns="http://www.w3.org/1999/xhtml">a</div>'
                            '<div xmlns="http://www.w3.org/1999/xhtml">{}</div>',
                            'lead &amp; &lt;b&gt; text <div xmlns="http://www.w3.org/1999/xhtml">'
                            '{}</div> trail &gt;',
                            '<DIV xmlns="http://www.w3.org/1999/xhtml" ID="x">{}</DIV>',
                            '<div xmlns="http://www.w3.org/1999/xhtml"><div>{}</div></div>\n',
                            '{}'])
        body = rng.choice(["<p>one &amp; two</p>", "<b>B</b> tail<br/>", "text &lt;x&gt;",
                           '<a href="/r" title="T &quot;q&quot;">l</a>', "<p><i>n</i></p>x", "",
                           '<A HREF="/u" REL="NoFollow" Type="Text/HTML">up</A>',
                           '<p xml:lang="fr">fr &#233;</p><img src="i.png"/>',
                           '<ul><li>1</li><li>2 &amp; 3</li></ul>'])
        if "{}" in inner and "xmlns" not in inner:
            body = f'<span xmlns="http://www.w3.org/1999/xhtml">{body}</span>'
        return _el(name, inner.format(body), attrs)
    return _el(name, _text(rng, kind in ("html", "text/html")), attrs)


def _atom_entry(rng: random.Random) -> str:
    pieces = [
        lambda: _construct(rng, "title"),
        lambda: _construct(rng, "summary"),
        lambda: _construct(rng, "content"),
        lambda: _construct(rng, "rights"),
        lambda: f'<link href="{escape(rng.choice(LINKS))}"{rng.choice(RELS)}'
                f'{rng.choice(LINK_TYPES)}/>',
        lambda: _el("id", escape(rng.choice(LINKS + ["urn:uuid:1225c695", "tag:e.com,2025:1"]))),
        lambda: _el("published", rng.choice(DATES_ISO)),
        lambda: _el("updated", rng.choice(DATES_ISO)),
        lambda: _el("author", _el("name", _text(rng)) + _el("uri", "/me")),
        lambda: '<category term="t" scheme="s"/>',
        lambda: _el("source", _el("title", _text(rng)) + _el("id", "src-id")
                    + '<link href="http://src.example/"/>' + _el("updated", DATES_ISO[0])),
        lambda: _el("media:title", _text(rng)),
        lambda: _el("dc:date", rng.choice(DATES_ISO)),
        lambda: _el("x:ext", _text(rng)),
        lambda: f'<link url="{escape(rng.choice(LINKS))}"/>',
        lambda: f'<link uri="/u" href="/h"{rng.choice(RELS)}/>',
        lambda: _el("content", "", ' src="http://e.com/c.html" type="text/html"'),
        lambda: _el("TITLE", _text(rng)),
        lambda: _el("media:group", _el("media:title", _text(rng))),
    ]
    parts = [rng.choice(pieces)() for _ in range(rng.randint(0, 8))]
    return _el("entry", "\n".join(parts))


def _atom(rng: random.Random) -> str:
    parts = [rng.choice([lambda: _construct(rng, "title"), lambda: _construct(rng, "subtitle"),
                         lambda: '<link rel="self" href="/feed"/>', lambda: _el("id", "feed-id"),
                         lambda: _el("updated", rng.choice(DATES_ISO))])() for _ in range(3)]
    parts += [_atom_entry(rng) for _ in range(rng.randint(0, 6))]
    decl = "".join(f' xmlns:{p}="{NS[p]}"' for p in ("media", "dc", "x"))
    return f'<feed xmlns="http://www.w3.org/2005/Atom"{decl}>{"".join(parts)}</feed>'


def _document(rng: random.Random) -> tuple[bytes, str, str | None]:
    body = _rss(rng) if rng.random() < 0.6 else _atom(rng)
    roll = rng.random()
    if roll < 0.6:
        data = (rng.choice(["<?xml version='1.0' encoding='utf-8'?>", '<?xml version="1.0"?>', ""])
                + body).encode("utf-8")
    elif roll < 0.75:
        data = ('<?xml version="1.0" encoding="iso-8859-1"?>' + body).encode("latin-1", "replace")
    elif roll < 0.85:
        data = ('<?xml version="1.0" encoding="windows-1252"?>' + body).encode("cp1252", "replace")
    elif roll < 0.92:
        data = ('<?xml version="1.0" encoding="utf-16"?>' + body).encode("utf-16")
    else:
        data = "\ufeff".encode() + body.encode()
    location, content_type = rng.choice(LOCATIONS + ODD_LOCATIONS
                                        + [("http://example.com/", "text/plain")])
    return data, location, content_type


def test_generated_feeds_differential() -> None:
    rng = random.Random(20250318)
    accepted = total = items = 0
    for _ in range(1500):
        data, location, content_type = _document(rng)
        total += 1
        if _check(data, location, content_type):
            accepted += 1
            items += len(parse_feed(data, "s", location, content_type).items)
    assert accepted > total * 0.6, (accepted, total)  # generated feeds are mostly clean
    assert items > 2000


CHAOS_NAMES = [
    "title", "dc:title", "media:title", "description", "dc:description", "media:description",
    "summary", "itunes:summary", "content", "content:encoded", "fullitem", "body", "xhtml:body",
    "link", "atom:link", "guid", "id", "pubDate", "published", "updated", "dc:date",
    "dcterms:created", "issued", "lastBuildDate", "source", "image", "textInput", "item", "entry",
    "author", "name", "email", "uri", "url", "width", "category", "enclosure", "media:group",
    "media:content", "itunes:image", "itunes:keywords", "subtitle", "rights", "info", "x:foo",
    "foo", "div", "xhtml:div", "abstract", "language", "tags", "feedburner:origLink", "Title",
    "LINK", "georss:point", "published_parsed", "date",
]
CHAOS_ATTRS = ['type="html"', 'type="xhtml"', 'type="text"', 'type="image/png"', 'rel="self"',
               'rel="alternate"', 'href="/h"', 'url="u"', 'isPermaLink="false"', 'mode="escaped"',
               'src="s"', 'xml:lang="en"', 'foo="1"', 'TYPE="HTML"', 'x:attr="1"', 'lastmod="x"']
CHAOS_TEXT = ["", " ", "plain", "a &amp; b", "&lt;b&gt;bold&lt;/b&gt;", "<![CDATA[<p>x</p>]]>",
              "  /rel  ", "http://e.com/?a=1&amp;b=2", DATES_RSS[0], DATES_ISO[0], "&#147;q&#148;",
              "Ã©t&#233;"]


def _chaos_element(rng: random.Random, depth: int) -> str:
    name = rng.choice(CHAOS_NAMES)
    attrs = "".join(" " + a for a in rng.sample(CHAOS_ATTRS, rng.choice([0, 0, 0, 1, 1, 2])))
    if rng.random() < 0.05:
        attrs += f' xmlns="{rng.choice([NS["xhtml"], NS["atom"], "http://unknown.example/d"])}"'
    kids = "".join(_chaos_element(rng, depth + 1)
                   for _ in range(rng.choice([0, 0, 0, 1, 2]) if depth < 4 else 0))
    return f"<{name}{attrs}>{rng.choice(CHAOS_TEXT)}{kids}</{name}>"


def test_random_structures_differential() -> None:
    """Any nesting of the elements feedparser has handlers for: the fast path must either
    replay it exactly or decline."""
    rng = random.Random(7)
    decl = "".join(f' xmlns:{p}="{NS[p]}"' for p in ("dc", "media", "content", "itunes",
                                                        "dcterms", "x", "xhtml", "feedburner"))
    decl += ' xmlns:georss="http://www.georss.org/georss"'
    accepted = 0
    for _ in range(2500):
        head = "".join(_chaos_element(rng, 1) for _ in range(rng.randint(0, 3)))
        tag = rng.choice(["item", "entry"])
        body = "".join(f"<{tag}>{''.join(_chaos_element(rng, 1) for _ in range(6))}</{tag}>"
                       for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.6:
            doc = f'<rss version="2.0"{decl} xmlns:atom="{NS["atom"]}"><channel>{head}{body}' \
                  "</channel></rss>"
        else:
            doc = f'<feed xmlns="{NS["atom"]}"{decl}>{head}{body}</feed>'
        accepted += _check(doc.encode(), rng.choice(["", "http://example.com/d/f.xml"]), None)
    assert accepted > 300, accepted


# --- what it must accept, what it must refuse ------------------------------------------

def _farm_feed(items: int = 50) -> bytes:
    """The shape /work/shared/tools/feedfarm.py serves (the ingest benchmark's feeds)."""
    entries = "".join(
        f"<item><title>{escape(f'Title “{j}” & co')}</title>"
        f"<link>http://127.0.0.1/story/1/{j}</link>"
        f"<guid isPermaLink='false'>feed1-item{j}</guid>"
        f"<pubDate>Tue, 18 Mar 2025 12:{j % 60:02d}:57 GMT</pubDate>"
        f"<description>{escape('It’s a “bad” situation. Trump said <b>no</b>.')}</description>"
        f"</item>" for j in range(items))
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Feed 1"
            f"</title><link>http://127.0.0.1/feed/1</link><description>generated</description>"
            f"{entries}</channel></rss>").encode()


def test_benchmark_shaped_feed_takes_the_fast_path() -> None:
    data = _farm_feed()
    loc = "http://127.0.0.1:8799/feed/1.xml"
    assert parse_fast(data, loc, "application/rss+xml") is not None
    assert _check(data, loc, "application/rss+xml")
    parsed = parse_feed(data, "s", loc, "application/rss+xml")
    assert len(parsed.items) == 50 and parsed.title == "Feed 1"
    assert parsed.items[0].published == "2025-03-18T12:00:57Z"


# Dates and links at the edges of the fast path's shortcuts (an RFC 822 date read without
# feedparser's handler chain, an absolute URL kept without urljoin): each must still come
# out as feedparser makes it, whether the shortcut takes it or passes it on.
EDGE_DATES = ["Tue, 18 Mar 2025 12:14:57 GMT", "Sat, 1 Mar 2025 00:00:00 GMT",
              "Mon, 31 Dec 2029 23:59:59 -0000", "Wed, 01 Jan 2025 00:30:00 +0100",
              "Fri, 28 Feb 2025 22:00:00 -0530", "Thu, 29 Feb 2024 12:00:00 +2359",
              "Thu, 29 Feb 2025 12:00:00 GMT", "Tue, 18 Mar 2025 24:00:00 GMT",
              "Tue, 18 Mar 2025 12:60:61 GMT", "Tue, 18 Mar 0001 00:00:00 +0100",
              "Fri, 31 Dec 9999 23:59:59 -2359", "Tue, 18 Mar 2025 12:14:57 UT",
              "tue, 18 mar 2025 12:14:57 gmt", "Tue, 18 Mar 2025 12:14:57 +05:30",
              "Tue,18 Mar 2025 12:14:57 GMT", "Tue, 18 Mar 2025  12:14:57 GMT",
              "Xyz, 18 Mar 2025 12:14:57 GMT", "Tue, 18 Mar 2025 12:14:57 GMT+2"]
EDGE_LINKS = ["http://127.0.0.1/story/1/2", "https://e.com", "https://e.com/a/b/../c?q=1#f",
              "http://e.com/a;p", "http://e.com/a?", "http://e.com/a#", "http://e.com/?a;b",
              "HTTP://e.com/a", "http://[::1]/a", "http://e.com//a", "http:///e.com/a",
              "http://user@e.com:8080/a%20b", "http://e.com/a b", "http://e.com/\\a",
              "ftp://e.com/a", "https://ex.org/ü", "//e.com/a", "http:e.com/a"]


def test_dates_and_links_equal_feedparsers() -> None:
    entries = "".join(
        f"<item><title>t{j}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>{date}</pubDate></item>"
        for j, (date, link) in enumerate(zip(EDGE_DATES, EDGE_LINKS, strict=True)))
    entries += "".join(f'<item><title>a{j}</title><atom:link href="{escape(link)}"/></item>'
                       for j, link in enumerate(EDGE_LINKS))
    data = (f'<rss version="2.0" xmlns:atom="{NS["atom"]}"><channel><title>f</title>'
            f"{entries}</channel></rss>").encode()
    for location in ("", "http://127.0.0.1:8799/feed/1.xml", "https://e.com/x/y.xml"):
        assert _check(data, location, "application/rss+xml")
        fast = parse_fast(data, location, "application/rss+xml")
        slow = feedparser.parse(io.BytesIO(data), response_headers={
            "content-location": location, "content-type": "application/rss+xml"},
            sanitize_html=False, resolve_relative_uris=False)
        assert fast is not None and len(fast.entries) == len(slow.entries)
        for mine, theirs in zip(fast.entries, slow.entries, strict=True):
            assert mine.get("published_parsed") == theirs.get("published_parsed")
            assert mine.get("link") == theirs.get("link")


ATOM_ENTRY = '<entry><title>T</title><id>i</id><content type="{}">x</content></entry>'


@pytest.mark.parametrize("document", [
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]><rss version="2.0"><channel>'
    b"<item><title>&e;</title></item></channel></rss>",
    b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd">'
    b'<rss version="0.91"><channel><item><title>t</title></item></channel></rss>',
    b'<rss version="2.0"><channel><item xml:base="http://b/"><link>x</link></item></channel></rss>',
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns="http://purl.org/rss/1.0/"><item rdf:about="x"><title>t</title></item></rdf:RDF>',
    b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>t</title></entry></feed>',
    b"<CHANNEL><ITEM HREF='http://x/'><TITLE>t</TITLE></ITEM></CHANNEL>",
    ('<feed xmlns="http://www.w3.org/2005/Atom">' + ATOM_ENTRY.format("image/png")
     + "</feed>").encode(),
    b'<rss version="2.0"><channel><item><title>caf&eacute;</title></item></channel></rss>',
    b'<rss version="2.0"><channel><item><description><p>naked</p></description></item>'
    b"</channel></rss>",
    b'<rss version="2.0"><channel><item><title>t</title></channel></rss>',
    b"",
    b"<html><body>not a feed</body></html>",
])
def test_declines_what_it_cannot_match(document: bytes) -> None:
    assert parse_fast(document, "http://example.com/f", "application/rss+xml") is None
    assert parse_feed(document, "s", "http://example.com/f") == \
        parse_with_feedparser(document, "s", "http://example.com/f")


def test_atom_xhtml_content_and_relative_links() -> None:
    data = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">A &amp;amp; B</title>'
            b'<entry><title>One</title><id>/e/1</id><link href="/story/1"/>'
            b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hi <b>there'
            b'</b></p></div></content><updated>2025-03-18T12:00:00+01:00</updated></entry>'
            b"<entry><id>tag:e.com,2025:2</id><summary>S</summary></entry></feed>")
    loc = "http://example.com/feeds/atom.xml"
    assert _check(data, loc, "application/atom+xml")
    first, second = parse_feed(data, "s", loc, "application/atom+xml").items
    assert first.url == "http://example.com/story/1" and first.text == "Hi there"
    assert first.published == "2025-03-18T11:00:00Z"
    assert second.url == "tag:e.com,2025:2"  # feedparser takes an Atom id as the link


def test_fast_path_is_pure_and_repeatable() -> None:
    data = _farm_feed(5)
    first = parse_fast(data, "http://x/", None)
    assert first is not None and first == parse_fast(data, "http://x/", None)


def _in_worker(data: bytes) -> int:
    result = parse_fast(data, "http://x/", None)
    return -1 if result is None else len(result.entries)


def test_runs_in_a_spawned_worker_process() -> None:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        assert pool.submit(_in_worker, _farm_feed(7)).result(timeout=60) == 7
