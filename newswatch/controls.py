"""Control characters in text that reaches a terminal. ESC above all: an escape sequence
in a story would retitle, clear or recolour the user's terminal, or plant a hyperlink.
Dropped where text is read (sources) and again where a stored title is printed as text
(a store written before the sources dropped them may hold some)."""

from __future__ import annotations

import re

# C0 controls but tab, line breaks, vertical tab and form feed; DEL; C1 controls
CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without control characters (the same string when it has none)."""
    return CONTROLS.sub("", text) if CONTROLS.search(text) else text
