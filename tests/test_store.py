"""The TinyDB store: dedupe and update, batching, crash safety, two writers, schema."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newswatch.models import Item
from newswatch.pipeline import store_results
from newswatch.sources import SourceResult, SourceSpec
from newswatch.store import SCHEMA_VERSION, Store, StoreError
from newswatch.stories import get_story, newest_stories

WORKER = Path(__file__).with_name("store_worker.py")
REPO = Path(__file__).resolve().parent.parent


def _items(source: str, n: int, text: str = "text", start: int = 0) -> list[Item]:
    return [Item(source=source, guid=f"g{i}", title=f"Title {i}", text=f"{text} {i}")
            for i in range(start, start + n)]


def _ingest(store: Store, items: list[Item], name: str = "src"):
    return store_results(store, [SourceResult(SourceSpec(name=name), items)])


def test_same_guid_is_stored_once_and_changed_text_updates(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.json")
    first = _ingest(store, _items("a", 3))
    assert (first.sources[0].counts.new, first.sources[0].counts.unchanged) == (3, 0)
    again = _ingest(store, _items("a", 3))
    assert (again.sources[0].counts.new, again.sources[0].counts.unchanged) == (0, 3)
    changed = _ingest(store, _items("a", 1, text="new words"))
    assert changed.sources[0].counts.updated == 1
    assert changed.changed == [Item("a", "g0", "", "").id]
    story = get_story(store, Item("a", "g0", "", "").id)
    assert story is not None and story.text == "new words 0"
    assert store.count("stories") == 3


def test_identical_text_from_two_sources_stays_two_stories(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.json")
    _ingest(store, _items("a", 2))
    _ingest(store, _items("b", 2))
    assert store.count("stories") == 4


def test_one_batch_is_one_write_of_the_metadata_file(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    store = Store(db)
    before = db.stat().st_ino
    _ingest(store, _items("a", 500))
    after = db.stat().st_ino  # atomic rename: a new inode per committed write
    assert after != before
    # texts live apart from the metadata, in segment files
    assert store.count("stories") == 500
    assert list((tmp_path / "db.json.texts").glob("seg-*.json"))
    assert b"text 499" not in db.read_bytes()


def test_texts_roll_over_into_new_segments(tmp_path: Path, monkeypatch) -> None:
    import newswatch.store.files as store_mod

    monkeypatch.setattr(store_mod, "SEGMENT_MAX_BYTES", 2000)
    store = Store(tmp_path / "db.json")
    _ingest(store, _items("a", 50, text="x" * 200))
    assert len(list((tmp_path / "db.json.texts").glob("seg-*.json"))) > 3
    stories = newest_stories(store, limit=0 or None)
    assert len(stories) == 50 and all(s.text and s.text.startswith("x" * 200) for s in stories)


def test_a_second_store_object_sees_the_other_commits(tmp_path: Path) -> None:
    one, two = Store(tmp_path / "db.json"), Store(tmp_path / "db.json")
    _ingest(one, _items("a", 2))
    assert two.count("stories") == 2
    _ingest(two, _items("b", 2))
    assert one.count("stories") == 4


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    db.write_text(json.dumps({"meta": {"schema": {"version": SCHEMA_VERSION + 1}}}))
    with pytest.raises(StoreError, match="newer than this newswatch"):
        Store(db)


def test_unknown_old_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    payload = json.dumps({"meta": {"schema": {"version": 0}}, "stories": {}})
    db.write_text(payload)
    with pytest.raises(StoreError, match="cannot be migrated"):
        Store(db)
    assert db.read_text() == payload


def test_a_foreign_tinydb_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    db.write_text(json.dumps({"_default": {"1": {"x": 1}}}))
    with pytest.raises(StoreError, match="not a newswatch store"):
        Store(db)


def test_corrupt_store_gives_one_line_and_is_not_overwritten(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    db.write_text('{"stories": {"x": ')
    with pytest.raises(StoreError, match="not valid JSON") as exc:
        Store(db)
    assert "\n" not in str(exc.value)
    assert db.read_text() == '{"stories": {"x": '


def test_failed_write_keeps_previous_version(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path / "db.json")
    _ingest(store, _items("a", 3))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(StoreError, match="No space left on device"):
        _ingest(store, _items("b", 3))
    monkeypatch.undo()
    assert store.count("stories") == 3
    assert Store(tmp_path / "db.json").count("stories") == 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _worker(db: Path, source: str, batches: int, per_batch: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(WORKER), str(db), source, str(batches),
                             str(per_batch)], stdout=subprocess.PIPE, env=env, text=True)


def _check_consistent(db: Path) -> int:
    store = Store(db)
    stories = newest_stories(store, limit=None)
    ids = [s.id for s in stories]
    assert len(ids) == len(set(ids))
    assert all(s.text for s in stories), "a committed story lost its text"
    return len(ids)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_mid_ingest_leaves_a_good_store(tmp_path: Path, seed: int) -> None:
    db = tmp_path / "db.json"
    proc = _worker(db, "crash", batches=200, per_batch=20)
    assert proc.stdout is not None
    committed = -1
    stop_after = random.Random(seed).randint(2, 12)
    for line in proc.stdout:
        committed = int(line.split()[1])
        if committed >= stop_after:
            time.sleep(random.Random(seed).random() * 0.05)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    count = _check_consistent(db)
    assert count >= (committed + 1) * 20  # nothing committed is lost
    assert count % 20 == 0  # at most the batch in flight is lost, never half a batch
    rerun = _worker(db, "crash", batches=200, per_batch=20)
    rerun.communicate()
    assert _check_consistent(db) == 200 * 20


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    Store(db)
    procs = [_worker(db, name, batches=15, per_batch=40) for name in ("left", "right")]
    for proc in procs:
        proc.communicate()
        assert proc.returncode == 0
    assert _check_consistent(db) == 2 * 15 * 40


def test_text_segments_are_tinydb_files_and_old_offsets_survive_appends(tmp_path: Path) -> None:
    from tinydb import TinyDB

    store = Store(tmp_path / "db.json")
    _ingest(store, _items("a", 3, text="first"))
    _ingest(store, _items("b", 3, text="second"))
    _ingest(store, _items("a", 1, text="changed"))
    texts = store.texts(Item(s, f"g{i}", "", "").id for s in "ab" for i in range(3))
    assert sorted(texts.values()) == ["changed 0", "first 1", "first 2",
                                      "second 0", "second 1", "second 2"]
    segment = next((tmp_path / "db.json.texts").glob("seg-*.json"))
    with TinyDB(segment) as raw:  # plain TinyDB opens it: {"text": {story id: text}}
        assert "second 2" in raw.storage.read()["text"].values()


def test_a_damaged_segment_is_left_alone_and_a_new_one_started(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.json")
    _ingest(store, _items("a", 2))
    segment = next((tmp_path / "db.json.texts").glob("seg-*.json"))
    segment.write_bytes(segment.read_bytes()[:-5])
    _ingest(store, _items("b", 2))
    assert len(list((tmp_path / "db.json.texts").glob("seg-*.json"))) == 2
    assert set(store.texts([Item("b", "g1", "", "").id]).values()) == {"text 1"}


def test_blobs_keep_the_committed_generation_readable(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path / "db.json")
    assert store.get_blob("index") is None
    with store.transaction() as tx:
        tx.put_blob("index", b"one")
    with store.transaction() as tx:
        tx.put_blob("index", b"two")
    assert store.get_blob("index") == b"two"
    assert Store(tmp_path / "db.json").get_blob("index") == b"two"

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("newswatch.store.store.Document", fail)  # metadata write fails after blob
    with pytest.raises(OSError), store.transaction() as tx:
        tx.put_blob("index", b"three")
        tx.put("meta", "x", {"y": 1})
    monkeypatch.undo()
    assert Store(tmp_path / "db.json").get_blob("index") == b"two"


def test_a_lull_in_arriving_feeds_stores_what_waits(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """While feeds are fetched, a lull (None) commits what waits once it is LULL_ITEMS or
    more; fewer wait for the next lull or the end."""
    import newswatch.pipeline as pipeline

    sizes: list[int] = []
    real = pipeline._commit

    def counting(store, pending, *rest):
        sizes.append(sum(len(items) for _, items in pending))
        return real(store, pending, *rest)

    monkeypatch.setattr(pipeline, "_commit", counting)
    monkeypatch.setattr(pipeline, "LULL_ITEMS", 3)

    def result(name: str, n: int) -> SourceResult:
        return SourceResult(SourceSpec(name=name), [
            Item(source=name, guid=f"{name}{i}", title=f"t {i}", text=f"text {name} {i}")
            for i in range(n)])

    store = Store(tmp_path / "db.json")
    report = store_results(store, [result("a", 2), None, result("b", 2), None, None,
                                   result("c", 1)])
    assert sizes == [4, 1]  # 2 wait at the first lull; 4 at the second; the rest at the end
    assert sum(s.counts.new for s in report.sources) == 5
    assert store.count("stories") == 5

    # a store whose commits are slow to write (a big one) raises the bar in proportion
    sizes.clear()
    monkeypatch.setattr(pipeline, "LULL_WRITE_S", 1e-9)
    store_results(store, [result("d", 2), None, result("e", 2), None, result("f", 2),
                          result("g", 2), None, result("h", 1)])
    assert sizes == [4, 5]  # after the first commit, no lull is worth another


def test_the_clusterer_loads_during_the_first_lull_not_in_the_first_commit(
        tmp_path: Path) -> None:
    from newswatch.clusters import ClusterService

    store = Store(tmp_path / "db.json")
    items = [Item(source="a", guid=f"g{i}", title=f"Talks resume {i}", text=f"Talks {i}.")
             for i in range(3)]
    store_results(store, [SourceResult(SourceSpec(name="a"), items)], None, ClusterService())
    saved = store.get("meta", "blob:clusterer")
    assert saved is not None
    service = ClusterService()
    seen: list[bool] = []

    def arrivals():
        yield None  # feeds still being fetched
        seen.append(service._clusterer is not None)  # loaded meanwhile, from the store
        yield SourceResult(SourceSpec(name="b"), [Item(source="b", guid="x", title="Talks",
                                                       text="Talks resume.")])

    report = store_results(store, arrivals(), None, service)
    assert seen == [True] and service._clusterer is not None
    assert report.clusters.assigned == 1
    assert store.get("meta", "blob:clusterer")["gen"] == saved["gen"] + 1


def test_a_cluster_is_seen_at_the_fetch_time_of_a_story_dated_in_the_future(
        tmp_path: Path) -> None:
    """As the clusterer does: a published time over a day after the fetch is not trusted,
    or the cluster would stay first in `clusters` until that date."""
    from newswatch.clusters import CLUSTERS, ClusterService

    store = Store(tmp_path / "db.json")
    items = [Item(source="a", guid="future", title="Talks resume", text="Talks resume.",
                  published="2031-01-01T00:00:00Z"),
             Item(source="a", guid="past", title="Floods close roads", text="Rain fell.",
                  published="2001-01-01T00:00:00Z")]
    store_results(store, [SourceResult(SourceSpec(name="a"), items)], None, ClusterService())
    stories = dict(store.items("stories"))
    future = stories[Item("a", "future", "", "").id]
    assert future["published"] == "2031-01-01T00:00:00Z"  # the story keeps its date
    seen = {doc["label"]: (doc["first_seen"], doc["last_seen"])
            for _, doc in store.items(CLUSTERS)}
    assert seen == {"Talks resume": (future["fetched"], future["fetched"]),
                    "Floods close roads": ("2001-01-01T00:00:00Z", "2001-01-01T00:00:00Z")}


def test_an_updated_story_stays_in_its_cluster_whose_label_and_times_follow_it(
        tmp_path: Path) -> None:
    from newswatch.clusters import CLUSTERS, ClusterService

    store = Store(tmp_path / "db.json")
    service = ClusterService()

    def ingest(guid: str, title: str, published: str) -> None:
        item = Item(source="a", guid=guid, title=title, text=f"{title}. Talks resume.",
                    published=published)
        store_results(store, [SourceResult(SourceSpec(name="a"), [item])], None, service)

    ingest("g1", "Talks resume in Geneva", "2025-03-18T08:00:00Z")
    ingest("g2", "Talks resume in Geneva on Monday", "2025-03-18T09:00:00Z")
    (cid, before), = store.items(CLUSTERS)
    assert before["label"] == "Talks resume in Geneva" and before["size"] == 2
    ingest("g1", "Geneva talks resume after a pause", "2025-03-19T08:00:00Z")  # rewritten
    (cid_after, after), = store.items(CLUSTERS)
    assert cid_after == cid and after["size"] == 2
    assert after["label"] == "Geneva talks resume after a pause"  # no member's old headline
    # first seen is when the event was first seen; last seen moves with the new date
    assert (after["first_seen"], after["last_seen"]) == (
        "2025-03-18T08:00:00Z", "2025-03-19T08:00:00Z")


def test_a_tables_version_changes_with_its_commits_also_another_processes(
        tmp_path: Path) -> None:
    store, other = Store(tmp_path / "db.json"), Store(tmp_path / "db.json")
    before = store.version("alerts")
    with store.transaction() as tx:
        tx.put("stories", "s1", {"title": "x"})
    assert store.version("alerts") == before  # another table's commit
    with other.transaction() as tx:
        tx.put("alerts", "a1", {"rule": "r"})
    assert store.version("alerts") != before  # seen through the file, not memory
    seen = store.version("alerts")
    with store.transaction() as tx:
        tx.delete("alerts", "a1")
    assert store.version("alerts") != seen
