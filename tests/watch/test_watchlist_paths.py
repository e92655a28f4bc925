"""Watchlist paths that cannot be looked at never stand in for the user's watchlists: a
typo, a folder gone or unreadable must not retire the stored alerts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from newswatch.cli import main
from newswatch.config import Settings
from newswatch.poller import Poller
from newswatch.sources import SourceSpec
from newswatch.store import Store
from newswatch.watching import load_watchset

REPO = Path(__file__).resolve().parent.parent.parent
SEEDS = REPO / "seeds"


def _alerts(capsys, db: Path) -> list[str]:
    capsys.readouterr()
    assert main(["--db", str(db), "alerts", "--json", "--limit", "0"]) == 0
    return sorted(a["id"] for a in map(json.loads, capsys.readouterr().out.splitlines()))


def _watchlists(tmp_path: Path) -> Path:
    folder = tmp_path / "wl"
    shutil.copytree(REPO / "watchlists", folder)
    return folder


def test_a_mistyped_watchlists_path_is_refused_and_the_alerts_stay(tmp_path: Path,
                                                                   capsys) -> None:
    db = tmp_path / "db.json"
    assert main(["--db", str(db), "ingest", str(SEEDS)]) == 0
    before = _alerts(capsys, db)
    assert len(before) == 11
    code = main(["--db", str(db), "--watchlists", str(tmp_path / "typo"), "ingest",
                 str(REPO / "README.md")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{tmp_path / 'typo'}: no such watchlist file or directory" in err
    assert "nothing done, stored alerts kept" in err and "retired" not in err
    assert _alerts(capsys, db) == before
    assert main(["--db", str(db), "--watchlists", str(tmp_path / "typo"), "rematch"]) == 1
    assert _alerts(capsys, db) == before


def test_a_folder_that_cannot_be_listed_is_reported_not_skipped(tmp_path: Path,
                                                               monkeypatch) -> None:
    folder = _watchlists(tmp_path)
    (folder / "more").mkdir()
    real = os.scandir

    def scandir(path=".", *a, **k):  # what a chmod 000 folder does for a user, not root
        if Path(path) == folder / "more":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "scandir", scandir)
    found = load_watchset([folder])
    assert found.unusable == [f"{folder / 'more'}: cannot list directory: Permission denied"]
    assert [w.name for w in found.watchlists] == ["ukraine-peace"]


def test_a_dangling_watchlist_symlink_keeps_its_last_valid_version(tmp_path: Path,
                                                                   capsys) -> None:
    folder = _watchlists(tmp_path)
    db = tmp_path / "db.json"
    assert main(["--db", str(db), "--watchlists", str(folder), "ingest", str(SEEDS)]) == 0
    before = _alerts(capsys, db)
    target = folder / "ukraine-peace.yaml"
    target.unlink()
    target.symlink_to(tmp_path / "gone.yaml")
    assert main(["--db", str(db), "--watchlists", str(folder), "ingest",
                 str(REPO / "README.md")]) == 0
    err = capsys.readouterr().err
    assert "cannot read file" in err and "keeping the last valid version in force" in err
    assert "retired" not in err and set(before) < set(_alerts(capsys, db))


def _poller(tmp_path: Path, folder: Path) -> Poller:
    settings = Settings(tmp_path / "db.json", (folder,), (SourceSpec(name="s", path=SEEDS),))
    return Poller(settings, Store(settings.db))


def test_the_poller_refuses_to_start_without_its_watchlists(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such watchlist file or directory"):
        _poller(tmp_path, tmp_path / "nowhere")


def test_a_watchlist_folder_gone_while_polling_keeps_the_watchlists_in_force(
        tmp_path: Path) -> None:
    folder = _watchlists(tmp_path)
    poller = _poller(tmp_path, folder)
    first = poller.poll(force=True)
    assert len(first.ingest.alerts.new) == 11
    fingerprint = poller.watcher.fingerprint
    folder.rename(tmp_path / "moved")
    report = poller.poll(force=True)
    assert report.watchlists_reloaded and poller.watcher.fingerprint == fingerprint
    assert any("keeping the watchlists loaded before" in line for line in report.watch_errors)
    assert report.ingest.rematched is None and not report.ingest.alerts.retired
    (tmp_path / "moved").rename(folder)  # back: reloaded, and nothing to re-apply
    again = poller.poll(force=True)
    assert again.watchlists_reloaded and not again.watch_errors
    assert poller.watcher.fingerprint == fingerprint
