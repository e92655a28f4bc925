"""The clusterer's inverted index: term -> the clusters posted under it, least recently
updated first, at most ``cap`` each (the oldest drops out). A cluster is posted under its
key terms (its top centroid terms) and moved to the end of their lists when it changes,
so looking a story's top terms up finds the clusters most recently active on them."""

from __future__ import annotations

Postings = dict[int, list[str]]


def post(postings: Postings, cid: str, terms: list[int], cap: int) -> None:
    """Post a new cluster under its key terms."""
    for t in terms:
        pl = postings.get(t)
        if pl is None:
            postings[t] = [cid]
        else:
            pl.append(cid)
            if len(pl) > cap:
                del pl[0]


def unpost(postings: Postings, cid: str, terms: list[int]) -> None:
    """Take a cluster out of the lists of its key terms."""
    for t in terms:
        pl = postings.get(t)
        if pl is not None:
            try:
                pl.remove(cid)
            except ValueError:  # pushed out of a full posting list already
                continue
            if not pl:
                del postings[t]


def repost(postings: Postings, cid: str, old: list[int], new: list[int], cap: int) -> None:
    """Re-post a cluster whose key terms went from ``old`` to ``new``, as ``unpost``
    before and ``post`` after would, minus the no-op moves."""
    if new != old:
        keep = set(new)
        for t in old:
            if t not in keep:
                pl = postings.get(t)
                if pl is not None and cid in pl:
                    pl.remove(cid)
                    if not pl:
                        del postings[t]
    for t in new:
        pl = postings.get(t)
        if pl is None:
            postings[t] = [cid]
        elif pl[-1] != cid:  # move (or add) the cluster to the end: most recently updated
            if cid in pl:
                pl.remove(cid)
            pl.append(cid)
            if len(pl) > cap:
                del pl[0]
