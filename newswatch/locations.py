"""Where things live: the user's data and config dirs, and the bundled seeds/watchlists/styles."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

APP = "newswatch"
_PACKAGE_DIR = Path(__file__).resolve().parent


def default_db_path() -> Path:
    return Path(user_data_dir(APP, appauthor=False)) / "newswatch.json"


def default_config_path() -> Path:
    return Path(user_config_dir(APP, appauthor=False)) / "config.yaml"


def bundled(name: str) -> Path:
    """A bundled folder (``seeds``, ``watchlists`` or ``styles``).

    In a source checkout it is the top-level folder beside the package; in an installed
    wheel it ships as ``newswatch/assets/<name>``."""
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir() and (_PACKAGE_DIR.parent / "pyproject.toml").is_file():
        return checkout
    return _PACKAGE_DIR / "assets" / name


def env_path(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else None
