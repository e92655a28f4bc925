"""Reclaiming replaced texts (newswatch compact) on a real store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newswatch.models import Item
from newswatch.pipeline import store_results
from newswatch.sources import SourceResult, SourceSpec
from newswatch.store import Store
from newswatch.store import files as store_files
from newswatch.store.compact import compact_texts

REPO = Path(__file__).resolve().parent.parent


def _ingest(store: Store, version: int, n: int = 40, keep: int = 0) -> None:
    """n stories; the first ``keep`` of them keep their first text, the others change."""
    items = [Item(source="wire", guid=f"g{i}", title=f"Story {i}",
                  text=f"Story {i}, version {0 if i < keep else version}. " + "x" * 300)
             for i in range(n)]
    store_results(store, [SourceResult(SourceSpec(name="wire"), items)])


def _texts(store: Store) -> dict[str, str]:
    return store.texts(k for k, _ in store.items("stories"))


def _segments(store: Store) -> list[str]:
    return sorted(p.name for p in store._segments.dir.glob("seg-*.json"))


def test_compacting_drops_replaced_texts_and_keeps_every_live_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_files, "SEGMENT_MAX_BYTES", 4000)  # many small segments
    store = Store(tmp_path / "db.json")
    for version in range(4):  # every text replaced three times, two never
        _ingest(store, version, keep=2)
    before, files = _texts(store), _segments(store)
    assert len(files) > 6
    done = compact_texts(store)
    assert done.removed and not done.kept
    assert done.bytes_after < done.bytes_before / 2
    assert _texts(store) == before  # every story reads the same text
    assert _texts(Store(tmp_path / "db.json")) == before  # and so does a fresh reader
    assert set(_segments(store)).isdisjoint(done.removed)
    assert files[-1] in _segments(store)  # the open segment is never a candidate
    again = compact_texts(store)  # nothing left worth it
    assert again.removed == [] and again.moved == 0


def test_a_segment_with_an_unreadable_live_text_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_files, "SEGMENT_MAX_BYTES", 4000)
    store = Store(tmp_path / "db.json")
    for version in range(4):
        _ingest(store, version, keep=2)
    sid = next(k for k, d in store.items("stories") if d["title"] == "Story 0")
    name, off, length = store.get("stories", sid)["text"]
    seg = store._segments.dir / name
    raw = bytearray(seg.read_bytes())
    raw[off:off + length] = b"#" * length  # damaged: the live text there cannot be read
    seg.write_bytes(bytes(raw))
    done = compact_texts(store)
    assert name in done.kept and seg.exists()
    assert store.get("stories", sid)["text"][0] == name  # still pointing there


def test_compact_command_reports_what_it_reclaimed(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    store = Store(db)
    _ingest(store, 0)
    cmd = [sys.executable, "-m", "newswatch.cli", "--db", str(db), "compact"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("texts: nothing to compact")
    missing = subprocess.run([*cmd[:4], str(tmp_path / "none.json"), "compact"],
                             capture_output=True, text=True, cwd=REPO, check=False)
    assert missing.returncode == 1 and "no store yet" in missing.stderr


def test_replaced_texts_are_counted_and_an_ingest_compacts_when_they_pile_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newswatch.pipeline import ingest
    from newswatch.sources import SourceSpec
    from newswatch.store import compact

    monkeypatch.setattr(store_files, "SEGMENT_MAX_BYTES", 4000)
    monkeypatch.setattr(compact, "AUTO_MIN_DEAD", 20_000)
    store = Store(tmp_path / "db.json")
    wire = tmp_path / "wire.jsonl"
    spec = SourceSpec(name="wire", path=str(wire))

    def edition(version: int) -> None:
        wire.write_text("".join(
            f'{{"id": "g{i}", "title": "Story {i}", "text": "Story {i}, edition {version}. '
            + "x" * 300 + '"}\n' for i in range(20)), encoding="utf-8")
        ingest(store, [spec])

    edition(0)
    assert store.dead_text_bytes() == 0
    edition(1)  # 20 texts of ~330 bytes replaced: counted, not yet worth compacting
    assert 6_000 < store.dead_text_bytes() < 8_000
    segments = _segments(store)
    for version in range(2, 5):
        edition(version)
    assert store.dead_text_bytes() < 20_000  # compacted on the way, and counted afresh
    assert not set(segments[:-1]) & set(_segments(store))
    assert {t.split(",")[1] for t in _texts(store).values()} == {" edition 4. " + "x" * 300}


def test_a_failing_compaction_is_logged_and_the_ingest_keeps_its_stories(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from newswatch.errors import StoreError
    from newswatch.pipeline import ingest
    from newswatch.sources import SourceSpec
    from newswatch.store import compact

    def broken(store: Store, min_dead: float = 0.5) -> compact.CompactReport:
        raise StoreError(f"{store.path}: cannot write store: No space left on device")

    store = Store(tmp_path / "db.json")
    with store.transaction() as tx:  # as if many texts had been replaced
        tx.put("meta", "texts:dead", {"bytes": 10**9})
    monkeypatch.setattr(compact, "compact_texts", broken)
    wire = tmp_path / "wire.jsonl"
    wire.write_text('{"id": "g1", "title": "Talks", "text": "Talks resume."}\n',
                    encoding="utf-8")
    report = ingest(store, [SourceSpec(name="wire", path=str(wire))])
    assert report.sources[0].counts.new == 1 and store.count("stories") == 1
    assert "compacting the texts failed" in caplog.text and "No space left" in caplog.text
