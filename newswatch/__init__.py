"""newswatch: a terminal news-watch desk."""

__version__ = "0.1.0"
