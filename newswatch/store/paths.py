"""Where a store lives: the path a user gave, checked before anything is opened or
written, and the refusal to start a new store over an earlier one's data."""

from __future__ import annotations

import os
from pathlib import Path

from newswatch.errors import StoreError


def store_path(path: str | os.PathLike[str]) -> Path:
    """Where the store given as ``path`` lives (``~`` expanded, a symlink followed so the
    files beside it sit beside the real one); a StoreError if it cannot be a store file."""
    try:
        p = Path(path).expanduser()
    except RuntimeError as exc:
        raise StoreError(f"{path}: cannot expand ~ ({exc})") from None
    if p.name in ("", ".", ".."):
        raise StoreError(f"{path}: not a file name; give a store file such as news.json")
    try:
        if p.is_symlink():
            p = Path(os.path.realpath(p))
        if p.exists() and not p.is_file():
            raise StoreError(f"{p}: not a regular file; give a store file such as news.json")
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: cannot use this path: {exc}") from None
    return p


def refuse_orphaned_data(path: Path, beside: tuple[Path, ...]) -> None:
    """A store file that is missing or empty beside the data of an earlier store (in the
    folders ``beside`` it) must not become a new store: its first commit would write over
    that data for good."""
    for directory in beside:
        try:
            held = directory.is_dir() and any(directory.iterdir())
        except OSError:
            held = True
        if held:
            state = "empty" if path.exists() else "missing"
            raise StoreError(
                f"{path}: the store file is {state}, but {directory.name}/ holds an "
                f"earlier store's data; restore {path.name} from a backup, or move "
                f"the {path.name}.* files aside to start a new store")
