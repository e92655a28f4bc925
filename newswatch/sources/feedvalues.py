"""Feed dates and links exactly as feedparser reads them, without its handler chain or
urllib for the common cases (tested equal to feedparser in tests/test_fastfeed.py)."""

from __future__ import annotations

import datetime
import re
import time

from feedparser.datetimes import _parse_date
from feedparser.urls import _urljoin

# An absolute http(s) URL that urljoin (and feedparser's _urljoin) returns unchanged, whatever
# the base: lowercase scheme, a plain ASCII host, no ";" params, no empty "?" or "#", no
# spaces or control characters (urlsplit strips or drops them).
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-:@]+(?:/[!-\"$-:<->@-~]*)?"
                        r"(?:\?[!-\"$-~]+)?(?:#[!-~]+)?\Z")
# The common RFC 822 date, which feedparser's _parse_date reads through its RFC 822 handler
# (the W3DTF handler tried before it declines it): read here without the handler chain.
_RFC822 = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{1,2}) "
                     r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
                     r"([0-9]{2}):([0-9]{2}):([0-9]{2}) (?:GMT|([+-])([0-9]{2})([0-9]{2}))\Z")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"), 1)}

def join_uri(base: str, uri: str) -> str:
    """feedparser's _urljoin(base, uri), without urllib for an already absolute URL."""
    return uri if uri.isascii() and _PLAIN_URL.match(uri) else _urljoin(base, uri)


def parse_date(text: str) -> time.struct_time | None:
    """feedparser's _parse_date(text)."""
    m = _RFC822.match(text)
    if m is not None:
        day, month, year, hour, minute, second, sign, tzh, tzm = m.groups()
        try:
            stamp = datetime.datetime(int(year), _MONTHS[month], int(day), int(hour),
                                      int(minute), int(second))
            if sign:  # as feedparser's _parse_date_rfc822 applies the offset
                hours, minutes = (int(tzh), int(tzm)) if sign == "+" else (-int(tzh), -int(tzm))
                stamp -= datetime.timedelta(0, 0, 0, 0, minutes, hours)
            return stamp.utctimetuple()
        except (OverflowError, ValueError):
            pass  # feedparser's other handlers may still read it
    return _parse_date(text)
