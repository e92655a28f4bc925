"""The YAML config file: settings, relative paths, feed lists, overrides and errors."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import newswatch.config as config_mod
from newswatch.config import (
    SOURCE_KEYS,
    TOP_KEYS,
    ConfigError,
    Settings,
    load_settings,
    parse_duration,
    parse_settings,
)
from newswatch.locations import bundled, default_db_path
from newswatch.sources import SourceSpec

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <body>
    <outline text="Europe">
      <outline type="rss" text="Kyiv Independent" xmlUrl="https://kyivindependent.com/feed/"/>
      <outline type="rss" text="BBC" xmlUrl="https://bbc.example/world.xml"/>
    </outline>
  </body>
</opml>
"""
URLS = """# newsboat urls
https://a.example/rss.xml news "~Alpha Feed"
https://b.example/atom.xml
"""


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("NEWSWATCH_CONFIG", "NEWSWATCH_DB", "NEWSWATCH_WATCHLISTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(config_mod, "default_config_path", lambda: tmp_path / "none" / "c.yaml")


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


# --- valid configs -------------------------------------------------------------------------

def test_full_config(tmp_path: Path) -> None:
    write(tmp_path, OPML, "lists/feeds.opml")
    write(tmp_path, URLS, "lists/urls")
    cfg = write(tmp_path, """\
        db: /var/nw/store.json
        watchlists: [watch/a.yaml, /etc/nw/lists]
        interval: 15m
        sources:
          - {name: seeds, path: ./seeds}
          - name: bbc-world
            url: "https://feeds.bbci.co.uk/news/world/rss.xml"
            interval: 10m
            tags: [world]
          - url: https://example.org/feed.xml
          - {opml: lists/feeds.opml, interval: 1h, tags: [eu]}
          - urls: lists/urls
        """)
    s = load_settings(cfg)
    assert s.db == Path("/var/nw/store.json")
    assert s.watchlists == (tmp_path / "watch/a.yaml", Path("/etc/nw/lists"))
    assert s.default_interval_s == 900.0
    assert s.config_path == cfg
    assert s.is_default is False
    assert s.sources == (
        SourceSpec("seeds", path=tmp_path / "seeds"),
        SourceSpec("bbc-world", url="https://feeds.bbci.co.uk/news/world/rss.xml",
                   interval_s=600.0, tags=("world",)),
        SourceSpec("example.org/feed.xml", url="https://example.org/feed.xml"),
        SourceSpec("kyiv-independent", url="https://kyivindependent.com/feed/",
                   interval_s=3600.0, tags=("Europe", "eu")),
        SourceSpec("bbc", url="https://bbc.example/world.xml", interval_s=3600.0,
                   tags=("Europe", "eu")),
        SourceSpec("alpha-feed", url="https://a.example/rss.xml", tags=("news",)),
        SourceSpec("b.example/atom.xml", url="https://b.example/atom.xml"),
    )


def test_relative_paths_resolve_beside_the_config(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path, """\
        db: ~/nw/db.json
        watchlists: ../shared/watch
        sources:
          - path: ./news/
          - {path: ~/inbox, name: inbox}
        """, "conf/config.yaml")
    monkeypatch.chdir(tmp_path / "conf")
    s = load_settings(Path("config.yaml"))
    assert s.config_path == tmp_path / "conf/config.yaml"
    assert s.db == tmp_path / "home/nw/db.json"
    assert s.watchlists == (tmp_path / "shared/watch",)
    assert s.sources == (SourceSpec("news", path=tmp_path / "conf/news"),
                         SourceSpec("inbox", path=tmp_path / "home/inbox"))


def test_empty_file_means_defaults_without_sources(tmp_path: Path) -> None:
    cfg = write(tmp_path, "# nothing yet\n")
    assert load_settings(cfg) == Settings(default_db_path(), (bundled("watchlists"),), (),
                                          600.0, cfg, False)


def test_no_config_file_uses_the_bundled_seeds_and_watchlists(tmp_path: Path) -> None:
    s = load_settings()
    assert s.is_default is True
    assert s.config_path is None
    assert s.db == default_db_path()
    assert s.watchlists == (bundled("watchlists"),)
    assert s.sources == (SourceSpec("seeds", path=bundled("seeds")),)
    assert s.default_interval_s == 600.0
    assert bundled("seeds").is_dir() and bundled("watchlists").is_dir()


def test_default_config_path_is_read_when_present(tmp_path: Path) -> None:
    write(tmp_path, "interval: 2h\n", "none/c.yaml")
    s = load_settings()
    assert (s.default_interval_s, s.is_default, s.config_path) == (7200.0, False,
                                                                   tmp_path / "none/c.yaml")


def test_env_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path, "interval: 90s\n", "env.yaml")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(cfg))
    assert load_settings().default_interval_s == 90.0
    explicit = write(tmp_path, "interval: 30\n", "explicit.yaml")
    assert load_settings(explicit).default_interval_s == 30.0  # the argument wins


def test_missing_explicit_or_env_config_is_an_error(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert errors_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(tmp_path / "env.yaml"))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.errors == [f"{tmp_path / 'env.yaml'}: no such file"]


def test_overrides_replace_config_values(tmp_path: Path) -> None:
    cfg = write(tmp_path, "db: a.json\nwatchlists: w\ninterval: 1m\nsources: [{path: s}]\n")
    s = load_settings(cfg, db=Path("/x/db.json"), watchlists=[Path("p"), Path("q")],
                      interval_s=5)
    assert (s.db, s.watchlists, s.default_interval_s) == (Path("/x/db.json"),
                                                          (Path("p"), Path("q")), 5.0)
    assert s.sources == (SourceSpec("s", path=tmp_path / "s"),)
    d = load_settings(db=Path("/y.json"), watchlists=[Path("mine")])
    assert (d.db, d.watchlists, d.is_default) == (Path("/y.json"), (Path("mine"),), True)
    assert load_settings(cfg, watchlists=[]).watchlists == ()


def test_feed_lists_yield_to_explicit_names_and_urls(tmp_path: Path) -> None:
    write(tmp_path, OPML, "feeds.opml")
    cfg = write(tmp_path, """\
        sources:
          - opml: feeds.opml
          - {name: bbc, path: bbc-dump}
          - {name: kyiv, url: "https://kyivindependent.com/feed/"}
        """)
    names = [(s.name, s.location) for s in load_settings(cfg).sources]
    assert names == [("bbc-2", "https://bbc.example/world.xml"),
                     ("bbc", str(tmp_path / "bbc-dump")),
                     ("kyiv", "https://kyivindependent.com/feed/")]


def test_url_is_stripped_and_names_default(tmp_path: Path) -> None:
    cfg = write(tmp_path, "sources: [{url: ' HTTPS://Example.org:8080/a/feed/ '}]\n")
    assert load_settings(cfg).sources == (
        SourceSpec("example.org:8080/a/feed", url="HTTPS://Example.org:8080/a/feed/"),)


def test_interval_as_plain_number(tmp_path: Path) -> None:
    cfg = write(tmp_path, "interval: 45\nsources: [{url: 'http://h/f', interval: 2.5}]\n")
    s = load_settings(cfg)
    assert (s.default_interval_s, s.sources[0].interval_s) == (45.0, 2.5)


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("intervall: 10m\n", "1:1: unknown key 'intervall' in the config; did you mean 'interval'?"),
    ("zzz: 1\n", "1:1: unknown key 'zzz' in the config (allowed: db, watchlists, interval, "
                 "sources)"),
    ("db: 5\n", "1:5: db: expected a non-empty string, got int"),
    ("db: ''\n", "1:5: db: expected a non-empty string, got an empty string"),
    ("watchlists: [a, {b: c}]\n", "1:17: watchlists[1]: expected a non-empty string, "
                                  "got a mapping"),
    ("interval: soon\n", "1:11: interval: bad duration 'soon'; use e.g. 90s, 10m, 2h, 1d"),
    ("interval: 0\n", "1:11: interval: bad duration; must be more than 0 and finite"),
    ("interval: true\n", "1:11: interval: expected a duration like 10m, got bool"),
    ("sources: {path: x}\n", "1:10: sources: expected a list, got a mapping"),
    ("sources:\n  - just-a-path\n", "2:5: sources[0]: expected a mapping, got a string"),
    ("sources:\n  - {path: a, nmae: b}\n", "2:15: unknown key 'nmae' in sources[0]; "
                                           "did you mean 'name'?"),
    ("sources:\n  - {name: a}\n", "2:5: sources[0]: needs exactly one of 'path', 'url', "
                                  "'opml' or 'urls'"),
    ("sources:\n  - {path: a, url: 'http://x/'}\n", "2:15: sources[0]: needs exactly one of "
     "'path', 'url', 'opml' or 'urls', got 'path' and 'url'"),
    ("sources:\n  - url: ftp://host/feed\n", "2:10: sources[0].url: not an http(s) URL: "
                                             "'ftp://host/feed'"),
    ("sources:\n  - url: '  '\n", "2:10: sources[0].url: expected a non-empty string, "
                                  "got an empty string"),
    ("sources:\n  - {url: 'http://a/', interval: 3x}\n",
     "2:34: sources[0].interval: bad duration '3x'; use e.g. 90s, 10m, 2h, 1d"),
    ("sources:\n  - {url: 'http://a/', tags: world}\n",
     "2:30: sources[0].tags: expected a list of strings, got a string"),
    ("sources:\n  - {url: 'http://a/', tags: [ok, 3]}\n",
     "2:35: sources[0].tags: expected a non-empty string, got int"),
    ("sources:\n  - {path: a}\n  - {path: b, name: a}\n",
     "3:21: duplicate source name 'a' (first at line 2)"),
    ("sources:\n  - url: 'http://a:99999/'\n", "2:10: sources[0].url: not an http(s) URL: "
                                              "'http://a:99999/'"),
    ("sources:\n  - opml: 5\n", "2:11: sources[0].opml: expected a non-empty string, got int"),
    ("sources:\n  - [path, x]\n", "2:5: sources[0]: expected a mapping, got a list"),
    ("sources:\n  - {path: a}\n  - {path: ./a/}\n",
     "3:5: duplicate source name 'a' (first at line 2)"),
    ("db: ~nosuchuser-x/db.json\n", "1:5: db: bad path '~nosuchuser-x/db.json': "),
    ("- a\n- b\n", "1:1: the config must be a mapping, got a list"),
    ("db: [unclosed\n", "2:1: YAML syntax error: "),
    ("db: a\ndb: b\n", "2:1: YAML syntax error: found duplicate key"),
])
def test_error_positions(tmp_path: Path, text: str, expected: str) -> None:
    cfg = write(tmp_path, text)
    errors = errors_of(cfg)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{cfg}:{expected}")


def test_feed_list_errors_point_at_the_entry(tmp_path: Path) -> None:
    write(tmp_path, "<opml><body><outline xmlUrl='http://a/'></body></opml>", "bad.opml")
    write(tmp_path, "gopher://x/feed\n", "urls")
    cfg = write(tmp_path, """\
        sources:
          - opml: bad.opml
          - urls:   urls
          - opml: missing.opml
          - urls: .
        """)
    assert errors_of(cfg) == [
        f"{cfg}:2:11: sources[0].opml: {tmp_path / 'bad.opml'}:1:43: invalid XML: "
        "mismatched tag",
        f"{cfg}:3:13: sources[1].urls: {tmp_path / 'urls'}:1: not an http(s) feed URL: "
        "gopher://x/feed",
        f"{cfg}:4:11: sources[2].opml: {tmp_path / 'missing.opml'}: no such file",
        f"{cfg}:5:11: sources[3].urls: {tmp_path}: not a regular file",
    ]


def test_name_does_not_apply_to_feed_lists(tmp_path: Path) -> None:
    write(tmp_path, URLS, "urls")
    cfg = write(tmp_path, "sources:\n  - {urls: urls, name: x}\n")
    assert errors_of(cfg) == [
        f"{cfg}:2:18: sources[0]: 'name' does not apply to 'urls' entries (the list names its "
        "feeds)"]


def test_all_errors_are_reported_together_in_file_order(tmp_path: Path) -> None:
    cfg = write(tmp_path, """\
        sources:
          - {url: "file:///etc/passwd"}
          - {path: x, interval: never}
        db: 1
        watchlist: wl
        """)
    assert errors_of(cfg) == [
        f"{cfg}:2:11: sources[0].url: not an http(s) URL: 'file:///etc/passwd'",
        f"{cfg}:3:25: sources[1].interval: bad duration 'never'; use e.g. 90s, 10m, 2h, 1d",
        f"{cfg}:4:5: db: expected a non-empty string, got int",
        f"{cfg}:5:1: unknown key 'watchlist' in the config; did you mean 'watchlists'?",
    ]


def test_unreadable_configs(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"db: caf\xe9\n")
    assert errors_of(bad) == [f"{bad}: not UTF-8 text (byte 7)"]
    assert errors_of(tmp_path)[0].startswith(f"{tmp_path}: cannot read: ")


# --- durations -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("45", 45), ("1.5h", 5400),
    (" 1h30m ", 5400), ("2H", 7200), (".5m", 30), ("1h 5s", 3605),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "10x", "-5m", "0", "0s", "1e3", "nan", "inf",
                                  "1_000", "10 m m", "9" * 400, "h1"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


# --- fuzz ----------------------------------------------------------------------------------

_yaml = YAML(typ="safe")
_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
            | st.sampled_from(["10m", "http://h/f", "ftp://x", ".", "~", "feeds.opml", "0"]))
_keys = st.sampled_from(TOP_KEYS + SOURCE_KEYS) | st.text(max_size=8)
_nested = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_keys, inner, max_size=5), max_leaves=25)


def _dump(data: object) -> str:
    out = io.StringIO()
    _yaml.dump(data, out)
    return out.getvalue()


def _only_config_errors(path: Path, text: str) -> None:
    try:
        result = parse_settings(path, text)
    except ConfigError as e:
        assert e.errors and all(line.startswith(f"{path}") for line in e.errors)
    else:
        assert isinstance(result, Settings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200))
def test_fuzz_random_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _only_config_errors(tmp_path_factory.getbasetemp() / "fuzz" / "c.yaml", text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(_keys, _nested, max_size=5) | _nested)
def test_fuzz_random_structures(tmp_path_factory: pytest.TempPathFactory, data: object) -> None:
    _only_config_errors(tmp_path_factory.getbasetemp() / "fuzz" / "c.yaml", _dump(data))


@settings(max_examples=200, deadline=None)
@given(sources=st.lists(st.dictionaries(st.sampled_from(SOURCE_KEYS), _nested, max_size=4),
                        max_size=4))
def test_fuzz_source_entries(tmp_path_factory: pytest.TempPathFactory,
                             sources: list[dict[str, object]]) -> None:
    _only_config_errors(tmp_path_factory.getbasetemp() / "fuzz" / "c.yaml",
                        _dump({"sources": sources}))


def test_a_path_with_a_line_break_still_gives_one_line_per_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('sources:\n  - {opml: "0\\n"}\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert err.value.errors == [f"{cfg}:2:12: sources[0].opml: {tmp_path}/0\\n: no such file"]
