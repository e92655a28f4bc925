"""Local sources: .txt/.md/.html/.json/.jsonl/feed files, directories, and bad files."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from newswatch.sources import SourceResult, SourceSpec
from newswatch.sources import local as local_mod
from newswatch.sources.local import read_local

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_HEADLINE = "004_609971bf116dd674.txt"
SEED_NO_HEADLINE = "000_fa7c6fa1325f14c7.txt"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Wire</title>
<item><guid>rss-1</guid><title>Ceasefire talks resume</title>
<description>&lt;p&gt;Negotiators met in Riyadh.&lt;/p&gt;</description>
<link>https://example.org/1</link><pubDate>Tue, 18 Mar 2025 14:00:00 +0100</pubDate></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom wire</title><id>urn:feed</id>
<updated>2025-03-18T12:00:00Z</updated>
<entry><id>urn:atom-1</id><title>Energy strikes halted</title>
<updated>2025-03-18T12:00:00Z</updated><summary>Both sides agreed.</summary></entry>
</feed>"""


def read(path: Path, name: str = "local") -> SourceResult:
    return read_local(SourceSpec(name=name, path=path))


def by_guid(result: SourceResult) -> dict[str, object]:
    return {item.guid: item for item in result.items}


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


# --- seeds and plain text -------------------------------------------------------------


def test_seeds_titles_and_texts(tmp_path: Path) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    result = read(tmp_path / "seeds", name="seeds")
    assert result.error is None and result.skipped == []
    assert [item.guid for item in result.items] == [SEED_NO_HEADLINE, SEED_HEADLINE]
    items = by_guid(result)

    headline = items[SEED_HEADLINE]
    assert headline.title == (
        "Trump and Putin seek ceasefire against Ukraine energy and infrastructure targets")
    assert headline.text.startswith("The phone call between the Russian and US presidents")
    assert headline.title not in headline.text

    derived = items[SEED_NO_HEADLINE]
    raw = (SEEDS / SEED_NO_HEADLINE).read_text(encoding="utf-8")
    # The first sentence is longer than 200 characters: cut at a word, not at "U.S. ".
    assert derived.title.startswith(
        "The White House announced that U.S. President Trump and Russian President Putin")
    assert derived.title.endswith("…") and len(derived.title) <= 201
    assert derived.text.startswith(raw.split("\n", 1)[0])  # the whole file is the text
    assert "movement to peace" in derived.text

    for item in result.items:
        assert item.source == "seeds" and item.url is None and item.published is None


def test_single_file_guid_is_file_name(tmp_path: Path) -> None:
    path = shutil.copy(SEEDS / SEED_HEADLINE, tmp_path / "story.txt")
    result = read(Path(path), name="one")
    assert [(i.guid, i.source) for i in result.items] == [("story.txt", "one")]


def test_txt_title_rules(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "\r\n\r\n  Short headline  \r\nBody line one.\r\n\r\n\r\nTwo.\r\n")
    write(tmp_path / "b.txt", "A first line that ends in a period. Then more text.\nNext.\n")
    write(tmp_path / "c.txt", "x" * 199 + "\nbody\n")
    write(tmp_path / "d.txt", "y " * 150 + "\nbody\n")  # 300 characters: not a headline
    write(tmp_path / "e.txt", "Only a headline\n")
    items = by_guid(read(tmp_path))
    assert (items["a.txt"].title, items["a.txt"].text) == ("Short headline",
                                                           "Body line one.\n\nTwo.")
    assert items["b.txt"].title == "A first line that ends in a period."
    assert items["b.txt"].text.startswith("A first line that ends in a period. Then more text.")
    assert items["c.txt"].title == "x" * 199 and items["c.txt"].text == "body"
    assert items["d.txt"].title.endswith("…") and items["d.txt"].text.startswith("y y")
    assert (items["e.txt"].title, items["e.txt"].text) == ("Only a headline", "Only a headline")


def test_markdown_heading_is_stripped(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "# Talks in Jeddah\n\nUkraine accepted a 30-day truce.\n")
    write(tmp_path / "b.md", "## Second level ##\nBody.\n")
    write(tmp_path / "c.md", "# A heading that ends in a period.\nBody.\n")
    write(tmp_path / "d.md", "#hashtag headline\nBody.\n")
    items = by_guid(read(tmp_path))
    assert (items["a.md"].title, items["a.md"].text) == (
        "Talks in Jeddah", "Ukraine accepted a 30-day truce.")
    assert items["b.md"].title == "Second level"
    assert items["c.md"].title == "A heading that ends in a period."
    assert not items["c.md"].text.startswith("#")
    assert items["d.md"].title == "#hashtag headline"


# --- HTML, JSON, JSONL, feeds -------------------------------------------------------------


def test_html(tmp_path: Path) -> None:
    write(tmp_path / "a.html", "<html><head><title>Kremlin readout</title>"
          "<script>var x = 1;</script></head><body><nav>Menu</nav>"
          "<p>Putin agreed to  pause strikes.</p><p>Second &amp; last.</p></body></html>")
    write(tmp_path / "b.htm", "<body><h1>Heading only</h1><p>Text.</p></body>")
    write(tmp_path / "c.html", "<html><body><script>only()</script></body></html>")
    result = read(tmp_path)
    items = by_guid(result)
    assert items["a.html"].title == "Kremlin readout"
    assert items["a.html"].text == "Putin agreed to pause strikes.\n\nSecond & last."
    assert items["b.htm"].title == "Heading only"
    assert result.skipped == [f"{tmp_path / 'c.html'}: no text"]


def test_json_story_objects_and_lists(tmp_path: Path) -> None:
    write(tmp_path / "one.json", json.dumps({"id": 7, "title": "One", "text": "Body one."}))
    write(tmp_path / "noid.json", json.dumps({"title": "No id", "text": "Body."}))
    write(tmp_path / "many.json", json.dumps([
        {"id": "m1", "title": "Many 1", "text": "x", "url": "https://e.org/m1",
         "published": "2025-03-18T15:30:00+01:00", "source": "wire"},
        {"title": "no id"},
        "not an object",
        {"id": "m4", "text": "Derived title here. More."},
    ]))
    write(tmp_path / "bad.json", "{not json")
    write(tmp_path / "scalar.json", "42")
    result = read(tmp_path)
    items = by_guid(result)
    assert items["7"].title == "One" and items["7"].source == "local"
    assert items["noid.json"].title == "No id"
    m1 = items["m1"]
    assert (m1.source, m1.url, m1.published) == ("wire", "https://e.org/m1",
                                                 "2025-03-18T14:30:00Z")
    assert items["m4"].title == "Derived title here."
    many = tmp_path / "many.json"
    assert len(result.skipped) == 4  # files in name order: bad, many, noid, one, scalar
    assert result.skipped[0].startswith(f"{tmp_path / 'bad.json'}: invalid JSON")
    assert result.skipped[1:3] == [f"{many}: item 2: missing id",
                                   f"{many}: item 3: not a JSON object"]
    assert result.skipped[3].startswith(f"{tmp_path / 'scalar.json'}: JSON is neither")


def test_json_feed(tmp_path: Path) -> None:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "JF",
            "items": [{"id": "jf-1", "title": "JSON Feed item", "content_text": "Body.",
                       "date_published": "2025-03-18T10:00:00Z"}]}
    write(tmp_path / "feed.json", json.dumps(feed))
    result = read(tmp_path / "feed.json", name="jf")
    assert [(i.guid, i.source, i.title, i.published) for i in result.items] == [
        ("jf-1", "jf", "JSON Feed item", "2025-03-18T10:00:00Z")]


def test_jsonl_with_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "s1", "title": "First", "text": "One.",
                    "published": "2025-03-18T12:00:00+02:00"}),
        "{broken json",
        json.dumps({"title": "No id", "text": "x"}),
        "",
        json.dumps({"id": "s5", "url": "https://e.org/5"}),
        json.dumps({"id": "s6", "text": "Title comes from here. Then more.", "source": "ap"}),
        json.dumps(["a list"]),
        json.dumps({"id": "s8", "title": 5, "text": "x"}),
        json.dumps({"id": "s9", "title": "Line sep\u2028inside", "text": "ok"},
                   ensure_ascii=False),
    ]
    path = write(tmp_path / "stories.jsonl", "\n".join(lines) + "\n")
    result = read(path, name="feedname")
    assert [i.guid for i in result.items] == ["s1", "s6", "s9"]
    s1, s6, _ = result.items
    assert (s1.title, s1.text, s1.published, s1.source) == (
        "First", "One.", "2025-03-18T10:00:00Z", "feedname")
    assert (s6.title, s6.source) == ("Title comes from here.", "ap")
    assert result.skipped == [
        f"{path}:2: invalid JSON",
        f"{path}:3: missing id",
        f"{path}:5: missing both title and text",
        f"{path}:7: not a JSON object",
        f"{path}:8: title is not a string",
    ]


def test_feed_files(tmp_path: Path) -> None:
    write(tmp_path / "wire.rss", RSS)
    write(tmp_path / "atom.atom", ATOM)
    write(tmp_path / "broken.xml", b"<html><body>not a feed</body></html>")
    result = read(tmp_path, name="feeds")
    items = by_guid(result)
    assert set(items) == {"rss-1", "urn:atom-1"}  # guids do not depend on the file's path
    assert items["rss-1"].title == "Ceasefire talks resume"
    assert items["rss-1"].text == "Negotiators met in Riyadh."
    assert items["rss-1"].published == "2025-03-18T13:00:00Z"
    assert items["urn:atom-1"].title == "Energy strikes halted"
    assert {i.source for i in result.items} == {"feeds"}
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith(f"{tmp_path / 'broken.xml'}: not a feed")


# --- directories ---------------------------------------------------------------------------


def test_directory_mixed_unknown_and_hidden(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "Bravo\nbody\n")
    write(tmp_path / "a.md", "# Alpha\nbody\n")
    write(tmp_path / "c.html", "<title>Charlie</title><p>body</p>")
    write(tmp_path / "d.jsonl", json.dumps({"id": "delta", "title": "Delta", "text": "t"}))
    write(tmp_path / "E.TXT", "Echo\nbody\n")
    write(tmp_path / "notes.pdf", b"%PDF-1.4 \x00\x01")
    write(tmp_path / "data.csv", "a,b\n")
    write(tmp_path / "README", "no extension\n")
    write(tmp_path / ".hidden.txt", "Hidden\nbody\n")
    write(tmp_path / ".git" / "x.txt", "Hidden dir\nbody\n")
    result = read(tmp_path)
    assert result.error is None and result.skipped == []
    assert [i.title for i in result.items] == ["Echo", "Alpha", "Bravo", "Charlie", "Delta"]


def test_nested_directories_give_relative_guids(tmp_path: Path) -> None:
    write(tmp_path / "top.txt", "Top\nbody\n")
    write(tmp_path / "2025" / "03" / "18.txt", "Deep\nbody\n")
    write(tmp_path / "2025" / "b.md", "# Mid\nbody\n")
    write(tmp_path / "2025" / "a" / "x.txt", "Side\nbody\n")
    result = read(tmp_path)
    assert [i.guid for i in result.items] == [
        "top.txt", "2025/b.md", "2025/03/18.txt", "2025/a/x.txt"]


def test_symlink_loop_terminates(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "sub" / "story.txt", "Looped\nbody\n")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(".", target_is_directory=True)
    (root / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    box: list[SourceResult] = []
    worker = threading.Thread(target=lambda: box.append(read(root)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "read_local did not finish on a symlink loop"
    (result,) = box
    assert [i.guid for i in result.items] == ["sub/story.txt"]
    assert result.skipped == [f"{root / 'dangling.txt'}: no such file or directory"]


def test_rereading_is_deterministic(tmp_path: Path) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    write(tmp_path / "seeds" / "z" / "s.jsonl",
          "\n".join(json.dumps({"id": f"j{n}", "title": f"T{n}", "text": "x"}) for n in range(5)))
    write(tmp_path / "seeds" / "feed.rss", RSS)
    first, second = read(tmp_path / "seeds"), read(tmp_path / "seeds")
    assert first.items == second.items and len(first.items) == 8
    assert [i.id for i in first.items] == [i.id for i in second.items]


# --- bad files and bad sources -------------------------------------------------------------


def test_invalid_utf8_falls_back_to_cp1252(tmp_path: Path) -> None:
    write(tmp_path / "cp.txt", "Caf\u00e9 talks \u2019resume\u2019\nBody \u2013 text\n"
          .encode("cp1252"))
    write(tmp_path / "bom.txt", b"\xef\xbb\xbfBOM headline\nbody\n")
    items = by_guid(read(tmp_path))
    assert items["cp.txt"].title == "Caf\u00e9 talks \u2019resume\u2019"
    assert items["cp.txt"].text == "Body \u2013 text"
    assert items["bom.txt"].title == "BOM headline"


def test_binary_empty_and_blank_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "bin.txt", b"Title\n\x00\x01\x02binary")
    write(tmp_path / "empty.md", b"")
    write(tmp_path / "blank.txt", b"  \n\t\n")
    write(tmp_path / "bin.jsonl", b"\x00" * 10)
    write(tmp_path / "ok.txt", "Fine\nbody\n")
    result = read(tmp_path)
    assert [i.guid for i in result.items] == ["ok.txt"]
    assert result.skipped == [
        f"{tmp_path / 'bin.jsonl'}: not UTF-8 text (binary file)",
        f"{tmp_path / 'bin.txt'}: not UTF-8 text (binary file)",
        f"{tmp_path / 'blank.txt'}: empty file",
        f"{tmp_path / 'empty.md'}: empty file",
    ]


def test_too_large_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_mod, "MAX_FILE_BYTES", 100)
    write(tmp_path / "big.txt", "Big\n" + "x" * 200)
    write(tmp_path / "small.txt", "Small\nbody\n")
    result = read(tmp_path)
    assert [i.guid for i in result.items] == ["small.txt"]
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith(f"{tmp_path / 'big.txt'}: file too large")


@pytest.mark.skipif(IS_ROOT, reason="root can read files whatever their mode")
def test_unreadable_file_and_directory(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", "Locked\nbody\n")
    write(tmp_path / "private" / "p.txt", "Private\nbody\n")
    write(tmp_path / "ok.txt", "Fine\nbody\n")
    locked.chmod(0)
    (tmp_path / "private").chmod(0)
    try:
        result = read(tmp_path)
        single = read(locked)
    finally:
        locked.chmod(0o644)
        (tmp_path / "private").chmod(0o755)
    assert [i.guid for i in result.items] == ["ok.txt"]
    assert result.skipped == [f"{locked}: permission denied",
                              f"{tmp_path / 'private'}: permission denied"]
    assert single.items == [] and single.skipped == [f"{locked}: permission denied"]


def test_read_error_is_a_skip_not_a_crash(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Works as root too: the open itself is made to fail, as for a file that vanishes."""
    gone = write(tmp_path / "gone.txt", "Gone\nbody\n")
    write(tmp_path / "ok.txt", "Fine\nbody\n")
    real_open = os.open

    def fake_open(path: os.PathLike[str] | str, flags: int, *args: int) -> int:
        if Path(path) == gone:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(local_mod.os, "open", fake_open)
    result = read(tmp_path)
    assert [i.guid for i in result.items] == ["ok.txt"]
    assert result.skipped == [f"{gone}: permission denied"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    write(tmp_path / "ok.txt", "Fine\nbody\n")
    box: list[SourceResult] = []
    worker = threading.Thread(target=lambda: box.append(read(tmp_path)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "read_local blocked on a FIFO"
    assert [i.guid for i in box[0].items] == ["ok.txt"]
    assert box[0].skipped == [f"{tmp_path / 'pipe.txt'}: not a regular file"]


def test_missing_source_path_is_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = read(missing)
    assert result.error == f"{missing}: no such file or directory"
    assert result.items == [] and result.skipped == []
    assert read_local(SourceSpec(name="x")).error == "x: no path given"


def test_single_file_with_unknown_extension_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "report.pdf", b"%PDF")
    assert read(path).error == f"{path}: unsupported file type (.pdf)"


def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    """An ESC sequence in a local title would retitle or clear the user's terminal with
    every listing: dropped where the file is read (text, and JSON strings alike)."""
    (tmp_path / "e.txt").write_bytes(b"Evil \x1b]0;PWNED\x07\x1b[2J ceasefire\nbody\xc2\x9b2J\n")
    (tmp_path / "r.jsonl").write_text(json.dumps(
        {"id": "1", "title": "Bad \u001b[31mred", "text": "x\u0007y"}) + "\n")
    items = {i.guid.rsplit("/", 1)[-1]: i for i in read_local(SourceSpec("t", tmp_path)).items}
    assert items["e.txt"].title == "Evil ]0;PWNED[2J ceasefire"
    assert items["e.txt"].text == "body2J"
    assert (items["1"].title, items["1"].text) == ("Bad [31mred", "xy")


def test_published_years_below_1000_keep_four_digits(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text(json.dumps(
        {"id": "1", "title": "Old", "text": "x", "published": "0999-01-01T00:00:00+05:00"}))
    [item] = read_local(SourceSpec("t", tmp_path)).items
    assert item.published == "0998-12-31T19:00:00Z"


def test_a_store_kept_in_an_ingested_folder_is_not_read_as_stories(tmp_path: Path,
                                                                   capsys) -> None:
    from newswatch.cli import main

    shutil.copytree(SEEDS, tmp_path / "news")
    db = tmp_path / "news" / "db.json"
    assert main(["--db", str(db), "ingest", str(tmp_path / "news")]) == 0
    assert main(["--db", str(db), "ingest", str(tmp_path / "news")]) == 0
    err = capsys.readouterr().err
    assert "skipped" not in err and "news: 0 new, 0 updated, 2 unchanged" in err


def test_a_huge_title_is_cut_to_a_headline(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text(json.dumps({"id": "1", "title": "戦" * 100_000,
                                                  "text": "x"}))
    [item] = read_local(SourceSpec("t", tmp_path)).items
    assert len(item.title) == 1000 and item.title.endswith("…")


def test_one_bad_byte_in_a_jsonl_file_spoils_only_its_line(tmp_path: Path) -> None:
    good = json.dumps({"id": "1", "title": "Київ 🇺🇦 ceasefire", "text": "x"},
                      ensure_ascii=False).encode()
    bad = b'{"id": "2", "title": "caf\xe9", "text": "y"}'
    (tmp_path / "r.jsonl").write_bytes(good + b"\n" + bad + b"\n")
    items = {i.guid: i for i in read_local(SourceSpec("t", tmp_path)).items}
    assert items["1"].title == "Київ 🇺🇦 ceasefire" and items["2"].title == "café"
