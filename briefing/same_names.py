"""An edit that names no one new: the last resolution, with the edited articles' mentions moved.

Resolution across the archive (resolve.py) reads of each article only its local clusters, and
of those only what `signature` keeps: each cluster's name, kind, strong keys, forms, kind votes,
and its mentions' text, kind and weight, in order; never where in the text a mention is. When
every article that changed since the last build has the signature it had then (a writer fixing
prose, or adding a paragraph about the people already named), with the same articles in the
same order and the same entity settings, resolving the archive again would give the very same
groups, entities and keys. Only the offsets of the changed articles' mentions move.

So the last result is taken as it is, and each changed article's mentions are made from its new
clusters, each with the entity its cluster had (cluster i of the new analysis is cluster i of the
old one: the signatures match in order). Tags are recomputed by the caller: they read the words.
A test compares the result with a resolution from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from .model import Mention

# A stored cluster, as stored.encode_local writes it:
# (source, name, kind, mentions, strong, forms, curated, demonym, votes), each mention being
# (start, end, text, kind, curated, weight).
RawCluster = tuple
_START = itemgetter(0)


def signature(clusters: Sequence[RawCluster]) -> tuple:
    """Everything of an article's clusters that resolution reads (offsets left out)."""
    return tuple((source, name, kind, frozenset(strong), tuple(sorted(forms)), curated, demonym,
                  tuple(sorted(votes)), tuple(m[2:] for m in mentions))
                 for source, name, kind, mentions, strong, forms, curated, demonym, votes in clusters)


def moved_mentions(last: Sequence[Mention], old: Sequence[RawCluster],
                   new: Sequence[RawCluster]) -> tuple[Mention, ...] | None:
    """An article's mentions for its `new` clusters, each with the entity (and kind) that its
    counterpart in `old` had in the last result `last`; None when `last` does not hold them all."""
    by_start = {m.start: m for m in last}
    out: list[Mention] = []
    for before, after in zip(old, new, strict=True):
        first = by_start.get(before[3][0][0]) if before[3] else None
        if first is None:
            return None
        kind, entity = first.kind, first.entity
        out += [Mention(m[0], m[1], m[2], kind, entity) for m in after[3]]
    out.sort(key=_START)
    return tuple(out)


def reusable(last: Any, sources: Sequence[str], keys: Sequence[str], settings: str) -> bool:
    """Whether `last` (ResultStore.load_last) was resolved from the same articles, in the same
    order, with the same entity settings."""
    return (isinstance(last, dict) and last.get("settings") == settings
            and tuple(last.get("sources", ())) == tuple(sources) and len(last.get("keys", ())) == len(keys))
