"""YAML text to a round-trip tree that keeps line/column positions, for the loaders that
report ``path:line:col`` errors (config and watchlists)."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML


class YamlSyntaxError(Exception):
    """Text that is not YAML; ``pos`` is 0-based (line, column)."""

    def __init__(self, pos: tuple[int, int], message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


def load_yaml(text: str) -> Any:
    """Parse with ruamel's round-trip loader; every failure is a :class:`YamlSyntaxError`."""
    try:
        return YAML(typ="rt").load(text)
    except RecursionError:
        raise YamlSyntaxError((0, 0), "YAML nested too deeply") from None
    except Exception as e:  # ruamel raises many types; all are user input errors here
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        pos = (getattr(mark, "line", 0), getattr(mark, "column", 0)) if mark else (0, 0)
        problem = getattr(e, "problem", None) or (str(e).splitlines() or [type(e).__name__])[0]
        raise YamlSyntaxError(pos, f"YAML syntax error: {problem}") from None
