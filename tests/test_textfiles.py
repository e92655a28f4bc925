"""Config, watchlists and feed lists are read only from regular files of a sane size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newswatch.cli import main
from newswatch.textfiles import read_small


def test_a_fifo_a_device_and_a_huge_file_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        read_small(fifo)  # without blocking on the open
    if Path("/dev/zero").exists():
        with pytest.raises(ValueError, match="not a regular file"):
            read_small(Path("/dev/zero"))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2048)
    with pytest.raises(ValueError, match="bigger than"):
        read_small(big, limit=1024)
    assert read_small(big, limit=4096) == b"#" * 2048


@pytest.mark.parametrize("args", [
    ["--watchlists", "{p}", "check"], ["--config", "{p}", "stories"],
    ["--db", "{db}", "ingest", "--feeds-from", "{p}"]])
def test_the_commands_say_so_in_one_line(tmp_path: Path, capsys, args: list[str]) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    argv = [a.format(p=fifo, db=tmp_path / "db.json") for a in args]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not a regular file" in err and str(fifo) in err
