"""The command line as a user types it: ingest and stories, exit codes, one-line errors."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from newswatch.cli import main

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_seeds_then_list_them(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "db.json")
    code, _, err = run(capsys, "ingest", str(SEEDS), "--db", db)
    assert code == 0
    assert "seeds: 2 new, 0 updated, 0 unchanged" in err
    code, _, err = run(capsys, "--db", db, "ingest", str(SEEDS))
    assert "seeds: 0 new, 0 updated, 2 unchanged" in err
    code, out, _ = run(capsys, "stories", "--db", db, "--json")
    stories = [json.loads(line) for line in out.splitlines()]
    assert {s["title"] for s in stories} >= {
        "Trump and Putin seek ceasefire against Ukraine energy and infrastructure targets"}
    assert all(s["source"] == "seeds" and s["text"] for s in stories)
    assert set(stories[0]) >= {"id", "guid", "source", "title", "text", "url", "published",
                               "fetched", "content_hash", "entities", "cluster_id"}


def test_db_from_environment(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("NEWSWATCH_DB", str(tmp_path / "env.json"))
    assert run(capsys, "ingest", str(SEEDS))[0] == 0
    assert (tmp_path / "env.json").exists()


def test_search_and_limit(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "db.json")
    run(capsys, "ingest", str(SEEDS), "--db", db)
    _, out, _ = run(capsys, "stories", "--db", db, "--search", "LENGTHY PHONE CALL")
    assert len(out.splitlines()) == 1 and "White House announced" in out
    _, out, _ = run(capsys, "stories", "--db", db, "--limit", "1")
    assert len(out.splitlines()) == 1


def test_bad_sources_get_one_line_and_the_rest_still_ingest(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "db.json")
    code, _, err = run(capsys, "ingest", str(tmp_path / "missing"), str(SEEDS),
                       "http://127.0.0.1:9/feed.xml", "--db", db)
    assert code == 0
    assert f"{tmp_path / 'missing'}: failed:" in err
    assert "http://127.0.0.1:9/feed.xml: failed:" in err
    assert "Traceback" not in err
    assert "seeds: 2 new" in err


def test_every_source_failing_exits_1(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "ingest", str(tmp_path / "nope.txt"), "--db",
                       str(tmp_path / "db.json"))
    assert code == 1 and "nope.txt" in err


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["stories", "--limit", "-3"])
    assert exc.value.code == 2


def test_stories_without_a_store_is_one_line(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "stories", "--db", str(tmp_path / "none.json"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "ingest" in err


def test_corrupt_store_is_one_line_exit_1(tmp_path: Path, capsys) -> None:
    db = tmp_path / "db.json"
    db.write_text("{not json")
    code, _, err = run(capsys, "ingest", str(SEEDS), "--db", str(db))
    assert code == 1 and str(db) in err and len(err.strip().splitlines()) == 1
    assert db.read_text() == "{not json"


def test_feeds_from_a_newsboat_urls_file(tmp_path: Path, capsys, feed_server) -> None:
    rss = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
           b"<item><title>Ceasefire agreed</title><guid>a1</guid><link>http://x/a1</link>"
           b"<description>Both sides agreed.</description></item></channel></rss>")
    url = feed_server.route("/one.xml", body=rss)
    urls = tmp_path / "urls"
    urls.write_text(f"# my feeds\n{url} world\n")
    db = str(tmp_path / "db.json")
    code, _, err = run(capsys, "ingest", "--feeds-from", str(urls), "--db", db)
    assert code == 0, err
    code, out, err = run(capsys, "stories", "--db", db, "--json")
    assert [json.loads(line)["title"] for line in out.splitlines()] == ["Ceasefire agreed"]


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "newswatch.cli", "--db",
                           str(tmp_path / "db.json"), "ingest", str(SEEDS)],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr


def test_the_wheel_ships_every_module_seeds_watchlists_and_styles(tmp_path: Path) -> None:
    # build from a clean copy: setuptools' build/ directory keeps modules since deleted
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "data"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("newswatch-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "newswatch").rglob("*.py")}
    shipped = {n for n in names if n.startswith("newswatch/") and n.endswith(".py")
               and not n.startswith("newswatch/assets/")}
    assert modules - shipped == set()  # e.g. a new subpackage missing from pyproject
    assert shipped - modules == set()
    for seed in SEEDS.iterdir():
        assert f"newswatch/assets/seeds/{seed.name}" in names
    for path in (REPO / "watchlists").glob("*.yaml"):
        assert f"newswatch/assets/watchlists/{path.name}" in names
    for path in (REPO / "styles").glob("*.tcss"):
        assert f"newswatch/assets/styles/{path.name}" in names


def test_one_shot_commands_pause_the_cyclic_gc_and_long_running_ones_keep_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newswatch import commands

    seen: dict[str, bool] = {}

    def record(args, db) -> int:
        seen[" ".join([args.command, *(["--once"] if getattr(args, "once", False) else [])])] = (
            gc.isenabled())
        return 0

    for name in ("stories", "run", "tui"):
        monkeypatch.setattr(commands, f"cmd_{name}", record)
    db = str(tmp_path / "db.json")
    for argv in (["stories"], ["run", "--once"], ["run"], ["tui"]):
        assert main(["--db", db, *argv]) == 0
        assert gc.isenabled()  # as it was before, for the rest of this process
    assert seen == {"stories": False, "run --once": False, "run": True, "tui": True}


def test_every_command_takes_the_configs_db_and_watchlists(tmp_path: Path, capsys) -> None:
    """The config's ``db`` and ``watchlists`` hold for ingest, stories, alerts, clusters and
    check alike, and --db / --watchlists override them."""
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "mine.yaml").write_text("rules:\n  - id: readme\n    query: newswatch\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("db: ./z/news.json\nwatchlists: ./wl\nsources: []\n")
    readme = str(REPO / "README.md")
    code, _, err = run(capsys, "--config", str(cfg), "ingest", readme)
    assert code == 0 and "1 new alert" in err
    assert (tmp_path / "z" / "news.json").exists()
    code, out, _ = run(capsys, "--config", str(cfg), "alerts", "--json")
    assert [(a["watchlist"], a["rule"]) for a in map(json.loads, out.splitlines())] == [
        ("mine", "readme")]
    assert len(run(capsys, "--config", str(cfg), "stories")[1].splitlines()) == 1
    assert len(run(capsys, "--config", str(cfg), "clusters")[1].splitlines()) == 1
    code, _, err = run(capsys, "--config", str(cfg), "check")
    assert code == 0 and "1 watchlist file(s) valid" in err
    # seeds into the config's store: matched with its watchlist, not the bundled one
    code, _, err = run(capsys, "--config", str(cfg), "ingest", str(SEEDS))
    assert code == 0 and "watchlists changed" not in err and "0 new alert(s)" in err
    other = str(tmp_path / "other.json")
    code, _, err = run(capsys, "--config", str(cfg), "--db", other,
                       "--watchlists", str(REPO / "watchlists"), "ingest", str(SEEDS))
    assert code == 0 and Path(other).exists() and "11 new alert(s)" in err


def test_a_missing_config_given_by_name_is_an_error_for_every_command(
        tmp_path: Path, capsys) -> None:
    for command in (["ingest", str(SEEDS)], ["stories"], ["alerts"], ["check"]):
        code, _, err = run(capsys, "--config", str(tmp_path / "nope.yaml"),
                           "--db", str(tmp_path / "db.json"), *command)
        assert code == 1 and err.strip() == f"newswatch: {tmp_path / 'nope.yaml'}: no such file"
    assert not (tmp_path / "db.json").exists()


@pytest.mark.parametrize(("url", "problem"), [
    ("http://[::1", "Invalid port: ':1'"), ("http://:80/", "no host"),
    ("http://127.0.0.1:99999/", "port out of range"), ("ftp://x/", "not an http(s) URL")])
def test_a_bad_webhook_url_is_one_line_before_anything_runs(tmp_path: Path, capsys,
                                                            url: str, problem: str) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"db: ./db.json\nsources:\n  - {{name: s, path: {SEEDS}}}\n")
    code = main(["--config", str(cfg), "run", "--headless", "--once", "--webhook", url])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err == f"newswatch: --webhook {url!r}: {problem}\n"
    assert not (tmp_path / "db.json").exists()


def test_a_config_path_holding_a_nul_is_an_error_at_its_place(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text('db: "a\\0b"\nsources:\n  - {path: "e\\0f"}\n')
    assert main(["--config", str(cfg), "stories"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 2)[1] if line.startswith("newswatch") else line.split(": ")[0]
            for line in err] == [f"{cfg}:1:5", f"{cfg}:3:12"]
    assert all("holds a NUL character" in line for line in err)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_to_a_full_disk_is_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "db.json")
    assert main(["--db", db, "ingest", str(SEEDS)]) == 0
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "newswatch.cli", "--db", db, "stories"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "newswatch: output: No space left on device\n"


def test_odd_sources_fail_alone_with_a_reason(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "db.json")
    code, _, err = run(capsys, "--db", db, "ingest", "ftp://127.0.0.1/x", "HTTP://127.0.0.1:1/x",
                       str(SEEDS))
    assert code == 0
    assert "ftp://127.0.0.1/x: failed: not an http(s) URL" in err
    assert "http://127.0.0.1:1/x: failed: connection refused" in err  # a URL, not a path
    assert "seeds: 2 new" in err
    code, _, err = run(capsys, "--db", db, "ingest", "")
    assert code == 1 and err == "newswatch: an empty SOURCE: give a file, a directory or a " \
                                "feed URL\n"
    empty = tmp_path / "empty.opml"
    empty.write_text("<opml version='2.0'><body></body></opml>")
    code, _, err = run(capsys, "--db", db, "ingest", "--feeds-from", str(empty))
    assert code == 1 and err == f"newswatch: nothing to ingest: {empty} lists no feeds\n"


@pytest.mark.parametrize("option", ["--db", "--watchlists", "--config"])
def test_an_empty_path_option_is_a_usage_error_not_the_current_directory(
        option: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([option, "", "stories"])
    assert exit_.value.code == 2 and "an empty path" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--once"], ["--every-story"], ["--exec", "cat"],
                                   ["--format", "text"]])
def test_headless_options_without_headless_are_a_usage_error(tmp_path: Path, capsys,
                                                             flags: list[str]) -> None:
    """`run --once` used to open the desk and never exit: a script would hang."""
    code = main(["--db", str(tmp_path / "db.json"), "run", *flags])
    err = capsys.readouterr().err
    assert code == 2 and f"{flags[0]} need --headless" in err
    assert not (tmp_path / "db.json").exists()


def test_nothing_to_ingest_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["--db", str(tmp_path / "db.json"), "ingest"]) == 2
    assert "nothing to ingest" in capsys.readouterr().err


def test_jsonl_published_dates_may_be_rfc_822(tmp_path: Path, capsys) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "r.jsonl").write_text(json.dumps(
        {"id": "r2", "title": "Two", "text": "Beta", "published": "Tue, 18 Mar 2025 20:01:00 "
                                                                  "+0100"}) + "\n")
    db = str(tmp_path / "db.json")
    assert main(["--db", db, "ingest", str(tmp_path / "src")]) == 0
    capsys.readouterr()
    assert main(["--db", db, "stories", "--json"]) == 0
    [story] = map(json.loads, capsys.readouterr().out.splitlines())
    assert story["published"] == "2025-03-18T19:01:00Z"
