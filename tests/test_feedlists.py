"""OPML and newsboat ``urls`` feed lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.sources import SourceSpec
from newswatch.sources.feedlists import FeedListError, default_feed_name, read_feed_list

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="World News" title="World News">
      <outline type="rss" text="BBC News - World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
      <outline text="Europe">
        <outline type="rss" title="Kyiv Independent" xmlUrl="https://kyivindependent.com/feed/"/>
        <outline type="rss" xmlUrl="https://example.org/eu/feed.xml?format=rss"/>
      </outline>
    </outline>
    <outline text="Tech">
      <outline type="rss" text="BBC News – World" xmlUrl="https://other.example/world.xml"/>
      <outline type="rss" text="Dup" xmlUrl="https://kyivindependent.com/feed/"/>
      <outline type="link" text="Not a feed" url="https://example.org/page"/>
      <outline type="rss" text="Gopher" xmlUrl="gopher://old.example/feed"/>
    </outline>
    <outline type="rss" text="Новости" xmlUrl="http://ru.example/rss"/>
  </body>
</opml>
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_opml_nested_outlines_become_specs_with_folder_tags(tmp_path: Path) -> None:
    specs = read_feed_list(write(tmp_path, "feeds.opml", OPML))
    assert specs == [
        SourceSpec(name="bbc-news-world", url="https://feeds.bbci.co.uk/news/world/rss.xml",
                   tags=("World News",)),
        SourceSpec(name="kyiv-independent", url="https://kyivindependent.com/feed/",
                   tags=("World News", "Europe", "Tech")),
        SourceSpec(name="example.org/eu/feed.xml", url="https://example.org/eu/feed.xml?format=rss",
                   tags=("World News", "Europe")),
        SourceSpec(name="bbc-news-world-2", url="https://other.example/world.xml",
                   tags=("Tech",)),
        SourceSpec(name="новости", url="http://ru.example/rss"),
    ]


@pytest.mark.parametrize("text, reason", [
    ("<opml><body><outline text='x' xmlUrl='http://a/'></body></opml>", "invalid XML"),
    ("<opml><body>", "invalid XML: no element found"),
    ("<rss version='2.0'><channel/></rss>", "not an OPML file (root element <rss>)"),
    ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">]>\n<opml>&lol;</opml>',
     "DOCTYPE not allowed in OPML"),
])
def test_bad_opml_is_one_line_error_naming_the_file(tmp_path: Path, text: str,
                                                    reason: str) -> None:
    path = write(tmp_path, "bad.opml", text)
    with pytest.raises(FeedListError) as caught:
        read_feed_list(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message


def test_invalid_xml_error_points_at_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.opml", "<opml>\n  <body>\n    <outline </body>\n</opml>\n")
    with pytest.raises(FeedListError, match=r"bad\.opml:3:\d+: invalid XML"):
        read_feed_list(path)


def test_missing_file_is_a_feed_list_error(tmp_path: Path) -> None:
    with pytest.raises(FeedListError, match="No such file"):
        read_feed_list(tmp_path / "nope.opml")


URLS = """\
# my newsboat feeds
https://feeds.bbci.co.uk/news/world/rss.xml world "~BBC World" news
  https://kyivindependent.com/feed/ "war in ukraine" ! "!" europe   # trailing comment

"query:Unread Articles:unread = \\"yes\\""
query:ukraine:title =~ "Ukraine"
exec:~/bin/make-feed
https://example.org/a/feed.xml?x=1#frag
http://example.org/blog/ ""
"""


def test_newsboat_urls_file(tmp_path: Path) -> None:
    specs = read_feed_list(write(tmp_path, "urls", URLS))
    assert specs == [
        SourceSpec(name="bbc-world", url="https://feeds.bbci.co.uk/news/world/rss.xml",
                   tags=("world", "news")),
        SourceSpec(name="kyivindependent.com/feed", url="https://kyivindependent.com/feed/",
                   tags=("war in ukraine", "europe")),
        SourceSpec(name="example.org/a/feed.xml", url="https://example.org/a/feed.xml?x=1#frag"),
        SourceSpec(name="example.org/blog", url="http://example.org/blog/"),
    ]


def test_urls_file_errors_name_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "urls", "https://ok.example/feed\nnot a url at all\n")
    with pytest.raises(FeedListError, match=r"urls:2: not an http\(s\) feed URL: not$"):
        read_feed_list(path)
    path = write(tmp_path, "urls2", 'https://ok.example/feed "unclosed tag\n')
    with pytest.raises(FeedListError, match=r"urls2:1: unclosed quote"):
        read_feed_list(path)
    path = write(tmp_path, "urls3", b"https://ok.example/\xff\xfe\n")
    with pytest.raises(FeedListError, match="not UTF-8"):
        read_feed_list(path)


def test_empty_or_comment_only_urls_file_has_no_feeds(tmp_path: Path) -> None:
    assert read_feed_list(write(tmp_path, "urls", "# nothing yet\n\n")) == []


@pytest.mark.parametrize("url, name", [
    ("https://feeds.bbci.co.uk/news/world/rss.xml", "feeds.bbci.co.uk/news/world/rss.xml"),
    ("http://Example.ORG/blog/?page=2", "example.org/blog"),
    ("https://user:secret@example.org:8443/feed/", "example.org:8443/feed"),
    ("http://example.org", "example.org"),
])
def test_default_feed_name(url: str, name: str) -> None:
    assert default_feed_name(url) == name
