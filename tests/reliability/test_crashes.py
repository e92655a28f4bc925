"""Crashes and failing disks: kill -9 at 50 random moments of an ingest, a read-only store,
a full disk at every write of a commit, a store directory that cannot be made.

tests/test_store.py already kills a bare store writer three times after a few commits and
fails one os.replace; this goes through the whole pipeline (local files, watchlist,
clusterer, alerts) and kills at any moment, start-up and the first commit included."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import newswatch.store.files as files_mod
from newswatch.cli import main
from newswatch.models import story_id
from newswatch.store import Store
from newswatch.stories import STORIES
from newswatch.watch.model import MatchInput
from newswatch.watching import Watcher, load_watchset, watchlist_paths
from tests.reliability.helpers import ENV, REPO, assert_no_traceback, cli, unprivileged
from tests.reliability.ingest_worker import write_batches
from tests.reliability.storecheck import check_store

WORKER = Path(__file__).with_name("ingest_worker.py")
KILLS = 50
PER_BATCH = 5
GROW = 100  # batches added to the job whenever the workers get close to its end
SEEDS = REPO / "seeds"


def _spawn(db: Path, root: Path, batches: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WORKER), str(db), str(root), str(batches)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, cwd=REPO)


def _batches_of(stories: dict, batches: int) -> list[int]:
    """How many stories of each batch are stored (guid ``s{batch}-{i}.txt``)."""
    counts = [0] * batches
    for doc in stories.values():
        counts[int(doc["guid"][1:5])] += 1
    return counts


def test_kill_9_at_50_random_moments_loses_and_repeats_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("NEWSWATCH_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    root, db = tmp_path / "batches", tmp_path / "db.json"
    batches = GROW
    write_batches(root, 0, batches, PER_BATCH)
    committed = 0  # batches reported committed by some worker so far
    landed = 0  # kills that cut a worker short after it committed new batches
    started = time.monotonic()
    for kill in range(KILLS):
        if committed > batches - GROW // 2:  # keep work ahead of the kills
            write_batches(root, batches, batches + GROW, PER_BATCH)
            batches += GROW
        worker = _spawn(db, root, batches)
        delay = rng.uniform(0.0, 1.0)
        try:
            worker.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGKILL)
        out, err = worker.communicate(timeout=30)
        where = f"(seed {seed}, kill {kill} after {delay:.3f} s)"
        assert worker.returncode in (0, -signal.SIGKILL), f"{where} worker failed:\n{err}"
        assert "Traceback" not in err, f"{where}\n{err}"
        lines = out.split()
        before, killed = committed, worker.returncode == -signal.SIGKILL
        if lines:  # each run starts again at batch 0: done batches come back unchanged
            committed = max(committed, int(lines[-1]) + 1)
        landed += killed and committed > before
        stories = check_store(db)  # opens, whole, no duplicate
        counts = _batches_of(stories, batches)
        assert all(counts[b] == PER_BATCH for b in range(committed)), (
            f"{where} a committed story was lost: {counts[:committed + 1]}")
        assert set(counts) <= {0, PER_BATCH}, f"{where} half a batch is stored: {counts}"
        done = sum(1 for n in counts if n)
        assert counts[:done] == [PER_BATCH] * done, f"{where} batches out of order"
    # not every kill fell during start-up: many cut an ingest short
    assert landed >= 10, f"(seed {seed}) only {landed} kills hit an ingest"

    rerun = _spawn(db, root, batches)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0 and "Traceback" not in err, err
    stories = check_store(db)
    assert _batches_of(stories, batches) == [PER_BATCH] * batches
    # every stored story carries exactly the alerts a fresh match gives it
    store = Store(db)
    watcher = Watcher(load_watchset(watchlist_paths([]), store))
    texts = store.texts(stories)
    alerts = {a: d for a, d in store.items("alerts")}
    for key, doc in stories.items():
        expected = {(h.watchlist, h.rule) for h in watcher.matcher.match(
            MatchInput(doc["source"], doc["title"], texts[key])).hits}
        stored = {(alerts[a]["watchlist"], alerts[a]["rule"]) for a in doc.get("alerts", [])
                  if not alerts[a].get("retired")}
        assert stored == expected, f"(seed {seed}) story {doc['guid']}"
    print(f"{KILLS} kills in {time.monotonic() - started:.1f} s, seed {seed}, "
          f"{landed} mid-ingest, {committed} of {batches} batches before the rerun")


# --------------------------------------------------------------------- disks that refuse


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _seeded_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    store_dir = tmp_path / "store"
    db = store_dir / "db.json"
    assert main(["ingest", str(SEEDS), "--db", str(db)]) == 0
    capsys.readouterr()
    return db


def test_read_only_store_is_one_line_and_left_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _seeded_store(tmp_path, capsys)
    news = tmp_path / "news"
    news.mkdir()
    (news / "story.txt").write_text("Ceasefire holds\nThe ceasefire held overnight.\n")
    preexec = unprivileged(tmp_path)  # root: drop the capability to ignore file modes
    before = _snapshot(db.parent)
    modes = {p: p.stat().st_mode for p in [db.parent, *db.parent.rglob("*")]}
    for path in modes:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        done = cli("ingest", str(news), "--db", str(db), preexec_fn=preexec)
        listed = cli("stories", "--db", str(db), preexec_fn=preexec)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert_no_traceback(done)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"newswatch: {db}.lock: cannot lock the store: Permission denied"]
    assert _snapshot(db.parent) == before
    # reading a read-only store still works
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2, listed.stderr


def test_store_directory_that_cannot_be_made_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Works as root: the texts directory's name is taken by a file."""
    db = _seeded_store(tmp_path, capsys)
    texts = db.with_name(db.name + ".texts")
    moved = texts.rename(tmp_path / "texts-aside")
    texts.write_text("not a directory")
    before = _snapshot(db.parent)
    news = tmp_path / "news"
    news.mkdir()
    (news / "story.txt").write_text("Ceasefire holds\nThe ceasefire held overnight.\n")
    assert main(["ingest", str(news), "--db", str(db)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"newswatch: {texts}: cannot write store: File exists; "
                   "the previous version is intact"]
    assert _snapshot(db.parent) == before
    texts.unlink()
    moved.rename(texts)
    assert main(["ingest", str(news), "--db", str(db)]) == 0
    assert Store(db).count(STORIES) == 3


def test_full_disk_at_every_write_of_a_commit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC injected at the n-th fsync of one ingest, for every n: the text segment, the
    clusterer blob, each table, the manifest, and the directory syncs between them."""
    db = _seeded_store(tmp_path, capsys)
    news = tmp_path / "news"
    news.mkdir()
    for i in range(3):
        (news / f"s{i}.txt").write_text(f"Ceasefire report {i}\nThe ceasefire held, {i}.\n")
    pristine = _snapshot(db.parent)
    new_ids = {story_id("news", f"s{i}.txt") for i in range(3)}

    real_fsync = os.fsync
    calls = {"n": 0, "fail_at": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == calls["fail_at"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(files_mod.os, "fsync", fsync)
    assert main(["ingest", str(news), "--db", str(db)]) == 0  # count the fsyncs of a commit
    capsys.readouterr()
    writes = calls["n"]
    assert writes >= 10  # segment, blob, stories, alerts, clusters, manifest, dirs…
    for fail_at in range(1, writes + 1):
        for path in list(db.parent.rglob("*"))[::-1]:
            path.unlink() if path.is_file() else path.rmdir()
        for name, data in pristine.items():
            (db.parent / name).parent.mkdir(parents=True, exist_ok=True)
            (db.parent / name).write_bytes(data)
        calls.update(n=0, fail_at=fail_at)
        code = main(["ingest", str(news), "--db", str(db)])
        err = capsys.readouterr().err.splitlines()
        assert code == 1 and len(err) == 1, (fail_at, err)
        assert err[0].startswith(f"newswatch: {db.parent}"), err
        assert "No space left on device" in err[0], err
        stories = check_store(db)
        assert new_ids.isdisjoint(stories) or new_ids <= set(stories), "half a batch"
        assert not [p for p in db.parent.rglob("*.tmp")], "a temp file was left behind"
        calls["fail_at"] = 0  # the disk has room again: the rerun completes
        assert main(["ingest", str(news), "--db", str(db)]) == 0
        capsys.readouterr()
        assert new_ids <= set(check_store(db))
