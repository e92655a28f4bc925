"""Store files a user (or a mishap) got wrong: refused with one line, data left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newswatch.cli import main
from newswatch.models import Item
from newswatch.pipeline import store_results
from newswatch.sources import SourceResult, SourceSpec
from newswatch.store import Store, StoreError
from newswatch.stories import newest_stories

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _filled(tmp_path: Path) -> Path:
    db = tmp_path / "db.json"
    items = [Item(source="a", guid=f"g{i}", title=f"T {i}", text=f"text {i}") for i in range(3)]
    store_results(Store(db), [SourceResult(SourceSpec(name="a"), items)])
    return db


def _snapshot(db: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(db.parent.rglob("*"))
            if p.is_file() and p.name != db.name and not p.name.endswith(".lock")}


@pytest.mark.parametrize("mishap", ["emptied", "removed", "reset to {}"])
def test_a_lost_store_file_beside_the_data_is_refused_not_overwritten(
        tmp_path: Path, capsys, mishap: str) -> None:
    db = _filled(tmp_path)
    before = _snapshot(db)
    if mishap == "emptied":
        db.write_bytes(b"")
    elif mishap == "removed":
        db.unlink()
    else:
        db.write_text("{}")
    with pytest.raises(StoreError, match="holds an earlier store's data"):
        Store(db)
    assert main(["--db", str(db), "ingest", str(SEEDS)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "db.json.tables/ holds an earlier store" in err
    assert _snapshot(db) == before  # nothing written over


def test_a_new_store_beside_empty_folders_is_fine(tmp_path: Path) -> None:
    (tmp_path / "db.json.tables").mkdir()
    store = Store(tmp_path / "db.json")
    assert store.count("stories") == 0


@pytest.mark.parametrize("name", [".", "/", ".."])
def test_a_path_that_is_no_file_name_is_one_line(tmp_path: Path, capsys, name: str,
                                                  monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--db", name, "stories"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("newswatch: ") and len(err.splitlines()) == 1
    assert "not a file name" in err or "not a regular file" in err


def test_a_fifo_or_a_directory_is_not_a_store(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    (tmp_path / "dir.json").mkdir()
    for path in (fifo, tmp_path / "dir.json"):
        assert main(["--db", str(path), "ingest", str(SEEDS)]) == 1
        assert "not a regular file" in capsys.readouterr().err
    assert fifo.is_fifo() and not (tmp_path / "pipe.json.tables").exists()


def test_a_symlinked_store_file_keeps_its_data_beside_the_real_one(tmp_path: Path) -> None:
    db = _filled(tmp_path / "real")
    link = tmp_path / "link.json"
    link.symlink_to(db)
    store = Store(link)
    assert len(newest_stories(store)) == 3
    assert store.path == db and not (tmp_path / "link.json.tables").exists()


def _shard(db: Path, table: str) -> Path:
    return next(p for p in (db.parent / "db.json.tables").glob(f"{table}.*.json")
                if ".index." not in p.name)


@pytest.mark.parametrize("damage", [
    "manifest meta is a list", "schema is a number", "table record is a string",
    "index without keys", "shard of the wrong shape"])
def test_damaged_files_of_the_right_syntax_are_one_line(tmp_path: Path, capsys,
                                                       damage: str) -> None:
    db = _filled(tmp_path)
    manifest = json.loads(db.read_text())
    if damage == "manifest meta is a list":
        db.write_text(json.dumps({"meta": []}))
    elif damage == "schema is a number":
        manifest["meta"]["schema"] = 5
        db.write_text(json.dumps(manifest))
    elif damage == "table record is a string":
        manifest["meta"]["table:stories"] = "x"
        db.write_text(json.dumps(manifest))
    elif damage == "index without keys":
        next((db.parent / "db.json.tables").glob("stories.index.*.json")).write_text(
            json.dumps({"stories": []}))
    else:
        _shard(db, "stories").write_text(json.dumps({"stories": 5}))
    before = _snapshot(db)
    assert main(["--db", str(db), "ingest", str(SEEDS)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "damaged" in err
    assert _snapshot(db) == before


def _seeded(tmp_path: Path, capsys) -> tuple[Path, list[str]]:
    db = tmp_path / "db.json"
    assert main(["--db", str(db), "ingest", str(SEEDS)]) == 0
    capsys.readouterr()
    assert main(["--db", str(db), "alerts", "--json", "--limit", "0"]) == 0
    return db, sorted(json.loads(x)["id"] for x in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("damage", ["removed", "truncated"])
def test_a_lost_text_segment_is_named_and_rematch_keeps_its_stories_alerts(
        tmp_path: Path, capsys, damage: str) -> None:
    db, alerts = _seeded(tmp_path, capsys)
    segment = next((tmp_path / "db.json.texts").glob("seg-*.json"))
    if damage == "removed":
        segment.unlink()
    else:
        segment.write_bytes(segment.read_bytes()[:200])
    done = subprocess.run([sys.executable, "-m", "newswatch.cli", "--db", str(db), "stories",
                           "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert [s["text"] for s in map(json.loads, done.stdout.splitlines())] == ["", ""]
    reason = ("cannot read: No such file or directory" if damage == "removed"
              else "damaged (truncated or overwritten)")
    assert done.stderr.splitlines() == [
        f"{segment}: {reason}; the texts of 2 stories in it are missing"]
    assert main(["--db", str(db), "rematch"]) == 0
    assert "0 retired" in capsys.readouterr().err
    assert main(["--db", str(db), "alerts", "--json", "--limit", "0"]) == 0
    assert sorted(json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()) == alerts


def test_an_unreadable_open_segment_makes_ingest_start_a_new_one(tmp_path: Path, capsys,
                                                                monkeypatch) -> None:
    db, _ = _seeded(tmp_path, capsys)
    segment = next((tmp_path / "db.json.texts").glob("seg-*.json"))
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:  # what chmod 000 does for a user, not for root
        if self == segment:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert main(["--db", str(db), "ingest", str(Path(__file__).resolve().parent.parent
                                                / "README.md")]) == 0
    assert len(list((tmp_path / "db.json.texts").glob("seg-*.json"))) == 2


def test_titles_stored_with_escape_sequences_print_without_them(tmp_path: Path,
                                                               capsys) -> None:
    """A store written before the sources dropped control characters may hold some: the
    text listings drop them again."""
    db = tmp_path / "db.json"
    evil = "Ceasefire \x1b]0;pwned\x07\x1b[2J deal"
    from newswatch.clusters import ClusterService

    store_results(Store(db), [SourceResult(SourceSpec(name="a"), [
        Item(source="a", guid="1", title=evil, text="a ceasefire was agreed")])],
        None, ClusterService())
    for command in ("stories", "clusters"):
        assert main(["--db", str(db), command]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "Ceasefire ]0;pwned[2J deal" in out
