"""Files beside the TinyDB store: atomic writes, append-only text segments, blobs."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import orjson

from newswatch.errors import StoreError

log = logging.getLogger("newswatch")

SEGMENT_MAX_BYTES = 4 * 1024 * 1024


def atomic_write(path: Path, payload: bytes, sync_dir: bool = True) -> None:
    """Write ``payload`` to ``path`` so a crash leaves either the old or the new file.
    With ``sync_dir=False`` the caller makes the rename durable (:func:`fsync_dir`) once
    for several files, before anything that refers to them."""
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write store: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StoreError(f"{path}: cannot write store: {exc.strerror or exc}; "
                         "the previous version is intact") from exc
    if sync_dir:
        fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Make the renames done in ``directory`` durable."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StoreError(f"{directory}: cannot sync store directory: "
                         f"{exc.strerror or exc}") from exc


def make_dir(directory: Path) -> None:
    """Create a store directory (and its parents) if missing; one-line StoreError if not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{directory}: cannot write store: {exc.strerror or exc}; "
                         "the previous version is intact") from exc


class Segments:
    """Append-only text segments.

    Each segment is a TinyDB file with one table, ``text`` (story id -> text), written so
    that entries are only ever appended: the file is the previous bytes minus the closing
    ``}}``, then the new entries. An entry's byte offset therefore never moves, and the
    metadata keeps (segment, offset, length) per story so one text is one seek and read.
    A story whose text changes gets a new entry; the old one becomes dead weight."""

    _EMPTY = b'{"text":{}}'

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._warned: set[str] = set()  # segments a warning named already

    def names(self) -> list[str]:
        """The segment files, oldest first: the last one is open (appended to)."""
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.glob("seg-*.json"))

    def read(self, refs: Mapping[str, tuple[str, int, int]],
             missing: set[str] | None = None) -> dict[str, str]:
        """Texts by story id, given each one's (segment, offset, length). A missing or
        damaged segment loses texts, never the store: their ids go to ``missing``, and the
        segment is named in a warning (once per segment and process)."""
        by_segment: dict[str, list[tuple[str, int, int]]] = {}
        for sid, (seg, off, length) in refs.items():
            by_segment.setdefault(seg, []).append((sid, off, length))
        out: dict[str, str] = {}
        for seg, wanted in by_segment.items():
            lost: list[str] = []
            try:
                with open(self.dir / seg, "rb") as fh:
                    for sid, off, length in sorted(wanted, key=lambda w: w[1]):
                        fh.seek(off)
                        try:
                            value = orjson.loads(fh.read(length))
                        except orjson.JSONDecodeError:
                            value = None
                        if isinstance(value, str):
                            out[sid] = value
                        else:
                            lost.append(sid)
                reason = "damaged (truncated or overwritten)"
            except OSError as exc:
                lost = [sid for sid, _, _ in wanted]
                reason = f"cannot read: {exc.strerror or exc}"
            if lost:
                if missing is not None:
                    missing.update(lost)
                if seg not in self._warned:
                    self._warned.add(seg)
                    log.warning("%s: %s; the texts of %d stor%s in it are missing",
                                self.dir / seg, reason, len(lost),
                                "y" if len(lost) == 1 else "ies")
        return out

    def append(self, texts: Mapping[str, str]) -> dict[str, tuple[str, int, int]]:
        """Append texts to the open segment (rolling over at the size cap).

        Returns story id -> (segment, offset, length). Caller holds the exclusive lock."""
        placed: dict[str, tuple[str, int, int]] = {}
        if not texts:
            return placed
        make_dir(self.dir)
        names = self.names()
        body = self._open_body(names[-1]) if names else None
        if body is not None and len(body) < SEGMENT_MAX_BYTES:
            name, buf = names[-1], bytearray(body)
        else:
            name = _segment_name(_segment_number(names[-1]) + 1 if names else 1)
            buf = bytearray(self._EMPTY[:-2])
        for sid, text in texts.items():
            if len(buf) >= SEGMENT_MAX_BYTES and len(buf) > len(self._EMPTY):
                self._write(name, buf)
                name = _segment_name(_segment_number(name) + 1)
                buf = bytearray(self._EMPTY[:-2])
            if len(buf) > len(self._EMPTY) - 2:
                buf += b","
            buf += orjson.dumps(sid) + b":"
            value = orjson.dumps(text)
            placed[sid] = (name, len(buf), len(value))
            buf += value
        self._write(name, buf)
        return placed

    def _open_body(self, name: str) -> bytes | None:
        """The segment's bytes without the closing ``}}``, or None if it cannot be extended."""
        try:
            raw = (self.dir / name).read_bytes()
        except OSError:  # gone, or unreadable: leave it alone and start a new segment
            return None
        if not raw.startswith(self._EMPTY[:-2]) or not raw.endswith(b"}}"):
            return None  # damaged: leave it alone and start a new segment
        return raw[:-2]

    def _write(self, name: str, body: bytearray) -> None:
        atomic_write(self.dir / name, bytes(body) + b"}}")

    def size(self, name: str) -> int:
        """A segment's bytes; 0 when it is gone (another process compacted it)."""
        try:
            return (self.dir / name).stat().st_size
        except OSError:
            return 0

    def remove(self, name: str) -> None:
        """Delete a segment nothing refers to any more (see ``compact``)."""
        with contextlib.suppress(OSError):
            (self.dir / name).unlink()

    def disk_bytes(self) -> int:
        return sum(map(self.size, self.names()))


def _segment_name(number: int) -> str:
    return f"seg-{number:06d}.json"


def _segment_number(name: str) -> int:
    return int(name[4:10])




class Blobs:
    """Opaque binary state kept beside the store (the clusterer's index, say).

    Each write goes to a new generation, ``NAME.GEN.bin``, before the metadata commit that
    names that generation; the previous one is kept until the next commit. A crash between
    the two writes therefore leaves the generation the metadata names still readable."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def _path(self, name: str, gen: int) -> Path:
        return self.dir / f"{name}.{gen}.bin"

    def write(self, name: str, gen: int, data: bytes) -> None:
        make_dir(self.dir)
        atomic_write(self._path(name, gen), data)

    def read(self, name: str, gen: int) -> bytes | None:
        try:
            return self._path(name, gen).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self._path(name, gen)}: cannot read: "
                             f"{exc.strerror or exc}") from exc

    def prune(self, name: str, keep_from: int) -> None:
        """Delete generations older than ``keep_from``."""
        if not self.dir.is_dir():
            return
        for path in self.dir.glob(f"{name}.*.bin"):
            gen = path.name[len(name) + 1:-4]
            if gen.isdigit() and int(gen) < keep_from:
                with contextlib.suppress(OSError):
                    path.unlink()
