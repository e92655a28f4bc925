"""HTML to clean plain text, through a real HTML parser (selectolax/Lexbor)."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_DROP = "script, style, noscript, template, iframe, svg, head, nav, form"
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol",
    "p", "pre", "section", "table", "tbody", "td", "th", "thead", "tr", "ul",
})
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


def looks_like_html(text: str) -> bool:
    return "<" in text and ">" in text or "&" in text


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document or fragment, one paragraph per block element."""
    if not looks_like_html(markup):
        return tidy_text(markup)
    tree = LexborHTMLParser(markup)
    for node in tree.css(_DROP):
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    parts: list[str] = []
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parts.append(node.text(deep=False) or "")
        elif tag in _BLOCK:
            parts.append("\n\n" if tag != "br" else "\n")
    return tidy_text("".join(parts))


def html_title(markup: str) -> str:
    """The document's <title>, else its first heading, else ''."""
    tree = LexborHTMLParser(markup)
    for selector in ("title", "h1", "h2"):
        node = tree.css_first(selector)
        if node is not None:
            text = tidy_text(node.text())
            if text:
                return text
    return ""


def tidy_text(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between paragraphs."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
