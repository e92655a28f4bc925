"""Sharded tables: a batch rewrites only the shards it touches; schema-2 stores migrate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newswatch.store import SCHEMA_VERSION, Store, shards


def _files(db: Path) -> set[str]:
    return {p.name for p in (db.parent / (db.name + ".tables")).iterdir()}


def _put(store: Store, docs: dict[str, dict]) -> None:
    with store.transaction() as tx:
        for key, doc in docs.items():
            tx.put("stories", key, doc)


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "SHARD_DOCS", 3)


@pytest.mark.usefixtures("small_shards")
def test_new_keys_fill_the_last_shard_and_rewrite_only_it(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    store = Store(db)
    _put(store, {f"k{i}": {"i": i} for i in range(7)})
    assert _files(db) == {"stories.0.1.json", "stories.1.1.json", "stories.2.1.json",
                          "stories.index.1.json"}
    _put(store, {"k7": {"i": 7}})  # shard 2 holds k6 only: k7 joins it
    assert _files(db) - {"stories.0.1.json", "stories.1.1.json", "stories.2.1.json",
                         "stories.index.1.json"} == {"stories.2.2.json", "stories.index.2.json"}
    reader = Store(db)
    assert reader.count("stories") == 8
    assert {k: d["i"] for k, d in reader.items("stories")} == {f"k{i}": i for i in range(8)}


@pytest.mark.usefixtures("small_shards")
def test_an_update_rewrites_its_shard_and_not_the_index(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    store = Store(db)
    _put(store, {f"k{i}": {"i": i} for i in range(6)})
    before = _files(db)
    _put(store, {"k4": {"i": 40}})
    assert _files(db) - before == {"stories.1.2.json"}
    assert Store(db).get("stories", "k4") == {"i": 40}


@pytest.mark.usefixtures("small_shards")
def test_deletes_leave_other_shards_alone_and_old_generations_are_pruned(
        tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    store = Store(db)
    _put(store, {f"k{i}": {"i": i} for i in range(6)})
    for n in range(3):
        with store.transaction() as tx:
            tx.put("stories", "k0", {"i": 100 + n})
    with store.transaction() as tx:
        tx.delete("stories", "k1")
        tx.delete("stories", "never-stored")
    reader = Store(db)
    assert reader.get("stories", "k1") is None
    assert reader.get("stories", "k0") == {"i": 102}
    assert reader.count("stories") == 5
    # each file keeps its current generation and the one before it, no more
    shard0 = sorted(n for n in _files(db) if n.startswith("stories.0."))
    assert shard0 == ["stories.0.4.json", "stories.0.5.json"]
    assert "stories.1.1.json" in _files(db)


def test_a_schema_2_store_is_migrated_to_shards(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    tables = tmp_path / "db.json.tables"
    tables.mkdir()
    stories = {f"s{i}": {"guid": f"g{i}", "source": "src", "title": f"T{i}"}
               for i in range(5)}
    (tables / "stories.3.json").write_text(json.dumps({"stories": stories}))
    (tables / "feeds.1.json").write_text(json.dumps({"feeds": {"u": {"etag": "x"}}}))
    db.write_text(json.dumps({"meta": {"schema": {"version": 2},
                                       "table:stories": {"gen": 3},
                                       "table:feeds": {"gen": 1}}}))
    store = Store(db)
    assert store.get("meta", "schema") == {"version": SCHEMA_VERSION}
    assert dict(store.items("stories")) == stories
    assert Store(db).get("feeds", "u") == {"etag": "x"}
    assert "stories.3.json" not in _files(db) and "feeds.1.json" not in _files(db)
