"""Reading the small files a user points newswatch at (config, watchlists, feed lists):
regular files of a sane size only, so ``/dev/zero`` or a FIFO cannot eat the memory or
hang the command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

SMALL_FILE_MAX = 16 * 1024 * 1024


def read_small(path: Path, limit: int = SMALL_FILE_MAX) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; OSError if it cannot be
    read, ValueError (the reason) if it is not a regular file or is too big."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # before open: a FIFO's open blocks
        raise ValueError("not a regular file")
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"bigger than {limit // (1024 * 1024)} MB")
    return data
