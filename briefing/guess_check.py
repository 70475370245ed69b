"""The check of a guessed resolution (same_names.py), in the forked child that resolves the
archive again: does the guess hold exactly what a resolution by region (region.py) or from
scratch gives? Compared cluster by cluster, by the entity keys the last result's clusters had
(`cluster_keys`, kept by the cache writer) when those are kept; and `Guess`, the build's handle
on that child.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

from .model import Enrichment, Entity, Mention
from .resolve import Assignment, LocalCluster
from .workers import Forked, keep_until_exit

if TYPE_CHECKING:  # an edit resolved by region is only compared here
    from .region import RegionEdit

_START = itemgetter(0)
_SOURCE = attrgetter("source")
RawCluster = tuple  # a stored cluster: see same_names.RawCluster


def check_guess(guess: Enrichment, resolve: Callable[[], tuple[list[str], Assignment]],
                last_keys: Callable[[], LastKeys | None] = lambda: None,
                by_region: Callable[[], RegionEdit | None] = lambda: None) -> tuple | None:
    """In the forked child: resolve the edit by region (`by_region()`, region.py) or else from
    scratch (`resolve()` -> the sources, in order, and each of their clusters' entity); None when
    the guess holds exactly the mentions, entities and redirects of that resolution, in the same
    order, else them, as plain tuples (stored.encode_enrichment's first, second and last parts).
    `last_keys()`: the entity of each cluster in the result the guess was made from
    (`cluster_keys`), when kept."""
    edit = by_region()
    if edit is not None:
        if _edit_holds(guess, edit):
            return None
        return ({source: tuple(tuple(m) for m in ms) for source, ms in edit.mentions.items()},
                {k: (x.key, x.name, x.kind, x.aliases, x.description, x.links) for k, x in edit.entities.items()},
                dict(guess.basis.redirects if guess.basis is not None else guess.redirects))
    sources, assigned = resolve()
    keep_until_exit(assigned)
    if holds(guess, sources, assigned, last_keys()):
        return None
    resolved = assigned.resolved()
    return ({source: tuple(tuple(m) for m in resolved.mentions.get(source, ())) for source in sources},
            {k: (x.key, x.name, x.kind, x.aliases, x.description, x.links) for k, x in resolved.entities.items()},
            dict(resolved.redirects))


def _edit_holds(guess: Enrichment, edit: RegionEdit) -> bool:
    """Whether `guess` has the mentions and entities of an edit resolved by region, in order
    (the redirects are the last result's: region.py resolves no curated entity)."""
    if list(guess.mentions) != list(edit.mentions) or list(guess.entities.items()) != list(edit.entities.items()):
        return False
    basis = guess.basis
    if basis is None or guess.redirects != basis.redirects:
        return False
    return all(guess.mentions[source] == edit.mentions[source] for source in edit.touched | guess.remade)


def holds(guess: Enrichment, sources: list[str], assigned: Assignment, last_keys: LastKeys | None = None) -> bool:
    """Whether `guess` has the mentions (by source, in `sources` order), entities and redirects
    that `assigned.resolved()` would make, in the same order: compared cluster by cluster, each
    of its mentions looked up in the guess by start, without making a resolution's 100,000s of
    mentions. With `last_keys`, the entities of the clusters of the result the guess was made
    from (`guess.basis`), an article the guess took unchanged from that result is compared by
    its clusters' entities alone (`_holds_by_keys`)."""
    if (list(assigned.entities.items()) != list(guess.entities.items())
            or list(assigned.redirects.items()) != list(guess.redirects.items())
            or list(guess.mentions) != sources):
        return False
    if last_keys is not None:
        held = _holds_by_keys(guess, sources, assigned, last_keys)
        if held is not None:
            return held
    counts = dict.fromkeys(sources, 0)
    for source, clusters, keys in _by_source(assigned):
        if source not in counts or not _clusters_hold(guess.mentions[source], clusters, keys, assigned.entities):
            return False
        counts[source] = 1
    # an article the resolution gives no cluster must have no mention in the guess either
    return all(n or not guess.mentions[source] for source, n in counts.items())


def _by_source(assigned: Assignment) -> Iterator[tuple[str, Sequence[LocalCluster], Sequence[str]]]:
    """Each article's run of clusters (they come article by article) and their entities."""
    clusters, keys = assigned.clusters, assigned.keys
    start = 0
    for source, run in groupby(map(_SOURCE, clusters)):
        end = start + sum(1 for _ in run)
        yield source, clusters[start:end], keys[start:end]
        start = end


def _clusters_hold(guessed: Sequence[Mention], clusters: Sequence[LocalCluster], keys: Sequence[str],
                   entities: Mapping[str, Entity]) -> bool:
    """Whether an article's guessed mentions are exactly those its `clusters` make with `keys`
    (the entity of each), in order of their starts."""
    starts = dict(zip(map(_START, guessed), guessed, strict=True))
    if len(starts) != len(guessed) or list(starts) != sorted(starts):  # a resolution's: in order, none together
        return False
    count = 0
    for cluster, key in zip(clusters, keys, strict=True):
        kind = entities[key].kind
        for m in cluster.mentions:
            got = starts.get(m.start)
            if got is None or got[1] != m.end or got[2] != m.text or got[3] != kind or got[4] != key:
                return False
        count += len(cluster.mentions)
    return count == len(guessed)  # every mention of the guess is one of the resolution's


def _holds_by_keys(guess: Enrichment, sources: list[str], assigned: Assignment, last_keys: LastKeys) -> bool | None:
    """`holds` for a guess made from the result `guess.basis` whose clusters' entities were
    `last_keys`, its entities and redirects already compared; None when it cannot tell.

    An article the edit left alone (not in `guess.remade`) has the clusters it had then, and
    the guess has its mentions of then: the very tuple. Those mentions are what its clusters
    made with their entities of then, each with its entity's kind, and every entity kept has
    its kind of then; so they are what the resolution makes exactly when it gives the article's
    clusters the same entities. The articles between two edited ones are compared as one run of
    keys (one C comparison), the edited ones mention by mention.
    """
    basis = guess.basis
    counts, last = last_keys
    if basis is None or list(counts) != sources:
        return None
    before, entities, kept = basis.mentions, assigned.entities, guess.entities  # (the last two equal)
    for key, entity in basis.entities.items():  # the kinds of then, where an entity is kept
        now = kept.get(key)
        if now is not None and now is not entity and now.kind != entity.kind:
            return None
    runs = {source: (clusters, keys) for source, clusters, keys in _by_source(assigned)}
    keys = assigned.keys
    i = j = i0 = j0 = 0  # in the resolution's keys and the last ones; where the run of unchanged articles began
    for source in sources:
        clusters, own = runs.get(source, ((), ()))
        n, m = len(clusters), counts[source]
        if source in guess.remade:
            if keys[i0:i] != last[j0:j] or not _clusters_hold(guess.mentions[source], clusters, own, entities):
                return False
            i0, j0 = i + n, j + m
        elif n != m or guess.mentions[source] is not before.get(source):
            return None  # not taken from the last result as it was: compared mention by mention
        i, j = i + n, j + m
    if i != len(keys) or j != len(last):
        return None
    return keys[i0:i] == last[j0:j]


# The entity of each cluster of a result (see `cluster_keys`): how many clusters each article
# has, articles in order, and their entities, one list.
LastKeys = tuple[dict[str, int], list[str]]


def cluster_keys(sources: Sequence[str], mentions: Mapping[str, Sequence[Mention]],
                 clusters_of: Callable[[str], Sequence[RawCluster]]) -> LastKeys | None:
    """The entity of each cluster (`clusters_of(source)`, as stored) in a result's `mentions`:
    that of all its mentions, which must be one. None when a cluster has no mention, a mention
    of a cluster is not in the result or has another entity than the cluster's first, or the
    result has a mention no cluster has: kept only when it says what made the result."""
    counts: dict[str, int] = {}
    keys: list[str] = []
    for source in sources:
        ms = mentions.get(source, ())
        entity_at = {m.start: m.entity for m in ms}
        clusters = clusters_of(source)
        covered = 0
        for cluster in clusters:
            spans = cluster[3]
            key = entity_at.get(spans[0][0]) if spans else None
            if key is None or any(entity_at.get(span[0]) != key for span in spans):
                return None
            keys.append(key)
            covered += len(spans)
        if covered != len(ms) or len(entity_at) != len(ms):
            return None
        counts[source] = len(clusters)
    return counts, keys


class Guess:
    """A guessed enrichment and its check, running in a forked child (`check_guess`)."""

    def __init__(self, check: Forked, correct: Callable[[tuple], Enrichment]):
        self.check = check
        self.correct = correct  # the right enrichment, from the child's answer
        self.answered = False
        self.right: Enrichment | None = None

    def settle(self) -> Enrichment | None:
        """Wait for the check: None when the guess was right, else the right enrichment."""
        if not self.answered:
            answer = self.check.result()
            self.answered = True
            if answer is not None:
                self.right = self.correct(answer)
        return self.right

    def close(self) -> None:
        self.check.close()



def cluster_keys_since(last_keys: LastKeys, sources: Sequence[str], result: Enrichment,
                       clusters_of: Callable[[str], Sequence[RawCluster]]) -> LastKeys | None:
    """`cluster_keys` of a `result` made from its `basis`, whose keys were `last_keys`, by new
    mentions for the articles in `result.remade` alone (a reused resolution, or a guess its
    check confirmed): every other article has the basis's very mentions, so its clusters' keys
    are taken as they were, and only the remade articles' are derived (a few clusters, not
    65,000). None when the result is not such a one."""
    counts, last = last_keys
    basis = result.basis
    if basis is None or list(counts) != list(sources):
        return None
    remade, now, then = result.remade, result.mentions, basis.mentions
    new_counts: dict[str, int] = {}
    keys: list[str] = []
    at = run = 0  # where the last keys of the run of articles taken as they were begins
    for source in sources:
        n = counts[source]
        if source in remade:
            own = cluster_keys([source], now, clusters_of)
            if own is None:
                return None
            keys += last[run:at]
            keys += own[1]
            new_counts[source] = own[0][source]
            run = at + n
        elif now.get(source) is not then.get(source):
            return None
        else:
            new_counts[source] = n
        at += n
    keys += last[run:at]
    return new_counts, keys

# -- the enrich stage's entry ---------------------------------------------------------------
