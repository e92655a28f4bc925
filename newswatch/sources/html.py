"""HTML to clean plain text, through a real HTML parser (selectolax/Lexbor)."""

from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser

from newswatch.controls import CONTROLS

_DROP = "script, style, noscript, template, iframe, svg, head, nav, form"
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol",
    "p", "pre", "section", "table", "tbody", "td", "th", "thead", "tr", "ul",
})
# runs of two or more spaces, or any other space character: a lone " " is left as it is
# (replacing every single space with itself made this the parser's costliest line)
_SPACES = re.compile(r"[ \t\f\v\u00a0]{2,}|[\t\f\v\u00a0]")
_BLANKS = re.compile(r"\n{3,}")

# Each start tag of these makes the HTML tree builder search the stack of open elements
# ("close a p element in button scope"), so nesting them n deep costs Lexbor O(n²): 100,000
# nested <div>s (1 MB) take 20 s to parse, a 10 MB feed body hours. Markup nested deeper
# than MAX_DEPTH is read by stripping its tags instead (Chrome's parser stops at 512 too).
MAX_DEPTH = 512
_SCOPED = frozenset({
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
    "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hgroup", "listing", "main", "menu", "nav", "ol", "pre", "search",
    "section", "summary", "ul", "xmp",
})
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)?[^<>]*>")
_HIDDEN = frozenset(tag.strip() for tag in _DROP.split(",")) | {"title"}  # title: of <head>
_TITLE = re.compile(r"<title\b[^<>]*>([^<]*)<", re.IGNORECASE)


def looks_like_html(text: str) -> bool:
    return "<" in text and ">" in text or "&" in text


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document or fragment, one paragraph per block element."""
    if not looks_like_html(markup):
        return tidy_text(markup)
    if too_deep(markup):
        return _stripped_text(markup)
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
    if too_deep(markup):
        found = _TITLE.search(markup)
        return tidy_text(html.unescape(found.group(1))) if found else ""
    tree = LexborHTMLParser(markup)
    for selector in ("title", "h1", "h2"):
        node = tree.css_first(selector)
        if node is not None:
            text = tidy_text(node.text())
            if text:
                return text
    return ""


def too_deep(markup: str) -> bool:
    """True if ``markup`` nests block elements more than MAX_DEPTH deep (one linear scan)."""
    if markup.count("<") <= MAX_DEPTH:
        return False
    depth = 0
    for tag in _TAG.finditer(markup):
        name = tag.group(2)
        if name is None or name.lower() not in _SCOPED:
            continue
        if tag.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > MAX_DEPTH:
                return True
    return False


def _stripped_text(markup: str) -> str:
    """Text of markup too deep to parse: tags dropped (with what _DROP elements hold),
    block tags as paragraph breaks. One linear pass."""
    parts: list[str] = []
    pos = 0
    hidden: str | None = None  # inside this dropped element
    for tag in _TAG.finditer(markup):
        if hidden is None:
            parts.append(markup[pos:tag.start()])
        pos = tag.end()
        name = (tag.group(2) or "").lower()
        if hidden is not None:
            if tag.group(1) and name == hidden:
                hidden = None
        elif name in _HIDDEN and not tag.group(1) and not tag.group().endswith("/>"):
            hidden = name
        elif name in _BLOCK or name in _SCOPED:
            parts.append("\n" if name == "br" else "\n\n")
    if hidden is None:
        parts.append(markup[pos:])
    return tidy_text(html.unescape("".join(parts)))


def tidy_text(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between paragraphs;
    drop control characters."""
    if CONTROLS.search(text):
        text = CONTROLS.sub("", text)
    # _SPACES matches only where there are two spaces or another space character: most
    # text has neither, and testing that with str.__contains__ is much cheaper
    spaced = "  " in text or "\t" in text or "\f" in text or "\v" in text or "\u00a0" in text
    if "\r" in text:
        text = text.replace("\r", "\n")
    if "\n" not in text:
        return (_SPACES.sub(" ", text) if spaced else text).strip()
    lines = [_SPACES.sub(" ", line).strip() if spaced else line.strip()
             for line in text.split("\n")]
    out = "\n".join(lines)
    return (_BLANKS.sub("\n\n", out) if "\n\n\n" in out else out).strip()
