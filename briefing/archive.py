"""The index stage: articles plus their enrichment, turned into the lookups pages are made of.

Pure: everything here is computed from the articles and the Enrichment, in a fixed order, so two
builds of the same input give the same Archive.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import math
import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .config import Config
from .depends import AT_MOST, Cells, TrackedDict, TrackedSet, TrackedTuple, at_most
from .model import Article, Enrichment, Entity, Mention, Topic


@dataclass(frozen=True)
class Entry:
    """One article with what enrichment found in it."""

    article: Article
    mentions: tuple[Mention, ...]
    topics: tuple[str, ...]  # topic keys
    url: str  # site-relative URL, e.g. "articles/abu-khadija-killed/"

    @property
    def source(self) -> str:
        return self.article.source


class Facet(NamedTuple):
    """What counts and timelines read of an article, apart from its text: an edit to its prose
    alone leaves the pages made from many articles' facets as they were (see depends.py)."""

    date: dt.datetime
    topics: tuple[str, ...]  # topic keys
    entities: tuple[str, ...]  # the entities it mentions, each once, in order of first mention


@dataclass(frozen=True)
class Archive:
    entries: tuple[Entry, ...]  # newest first; ties broken by source path
    by_source: Mapping[str, Entry]
    facets: Mapping[str, Facet]  # source -> its facet
    entities: Mapping[str, Entity]
    entity_sources: Mapping[str, tuple[str, ...]]  # entity key -> article sources, newest first
    paged_entities: frozenset[str]  # entity keys that get a page
    topics: Mapping[str, Topic]
    topic_sources: Mapping[str, tuple[str, ...]]  # topic key -> article sources, newest first
    paged_topics: frozenset[str]
    redirects: Mapping[str, str]  # old entity key -> current key


_entity_of = operator.attrgetter("entity")


def _entry(article: Article, mentions: tuple[Mention, ...], topics: tuple[str, ...], url: str) -> Entry:
    """`Entry(...)`, without the frozen dataclass's object.__setattr__ per field (ten thousand
    of them on every build)."""
    entry = object.__new__(Entry)
    entry.__dict__.update(article=article, mentions=mentions, topics=topics, url=url)
    return entry


def article_url(article: Article) -> str:
    return f"articles/{article.slug}/"


def build(articles: Sequence[Article], enrichment: Enrichment, config: Config) -> Archive:
    ordered = sorted(articles, key=lambda a: a.source)
    ordered.sort(key=lambda a: a.date, reverse=True)
    mentions, topics_of = enrichment.mentions.get, enrichment.topics.get
    entries = tuple(_entry(a, tuple(mentions(a.source, ())), tuple(topics_of(a.source, ())), article_url(a))
                    for a in ordered)
    by_source = {e.article.source: e for e in entries}

    # Each index in one pass, every lookup made once: a rebuild makes it for 10,000 articles and
    # 110,000 entity mentions.
    entity_sources: dict[str, list[str]] = defaultdict(list)
    topic_sources: dict[str, list[str]] = defaultdict(list)
    facets = {}
    new_facet = tuple.__new__
    for e in entries:
        source, topics = e.article.source, e.topics
        named = tuple(dict.fromkeys(map(_entity_of, e.mentions)))
        for key in named:
            entity_sources[key].append(source)
        for key in dict.fromkeys(topics):
            topic_sources[key].append(source)
        facets[source] = new_facet(Facet, (e.article.date, topics, named))

    page_kinds = set(config.entities.page_kinds)
    paged_entities = frozenset(
        key for key, srcs in entity_sources.items()
        if key in enrichment.entities
        and enrichment.entities[key].kind in page_kinds
        and len(srcs) >= config.entities.min_articles
    )
    paged_topics = frozenset(
        key for key, srcs in topic_sources.items()
        if key in enrichment.topic_table and len(srcs) >= config.tags.min_articles
    )
    # Tracked: a page context's lookups in them are seen by depends.py (see `cells`).
    return Archive(
        entries=TrackedTuple("entries", entries),
        by_source=TrackedDict("by_source", by_source),
        facets=TrackedDict("facets", facets),
        entities=TrackedDict("entities", sorted(enrichment.entities.items())),
        entity_sources=TrackedDict("entity_sources", ((k, tuple(v)) for k, v in sorted(entity_sources.items()))),
        paged_entities=TrackedSet("paged_entities", paged_entities),
        topics=TrackedDict("topics", sorted(enrichment.topic_table.items())),
        topic_sources=TrackedDict("topic_sources", ((k, tuple(v)) for k, v in sorted(topic_sources.items()))),
        paged_topics=TrackedSet("paged_topics", paged_topics),
        redirects=TrackedDict("redirects", sorted(enrichment.redirects.items())),
    )


def patched(base: Archive, enrichment: Enrichment, config: Config) -> Archive | None:
    """`build(articles, enrichment, config)`, made from `base`: the archive `build` made of the
    same articles from `enrichment.basis` (None without one). The entries whose mentions or
    topics differ are made again, with the article lists of the entities and topics they gain
    or lose, and the tables that differ; the rest is copied, in C. An edit changes a few of
    10,000 entries: a build makes the base while the model runs (build.py), this after."""
    basis = enrichment.basis
    if basis is None:
        return None
    mentions, topics_of = enrichment.mentions, enrichment.topics
    entries = list(tuple.__iter__(base.entries))
    by_source = dict(dict.items(base.by_source))
    facets = dict(dict.items(base.facets))
    entity_moves: dict[str, tuple[set[str], list[tuple[int, str]]]] = {}
    topic_moves: dict[str, tuple[set[str], list[tuple[int, str]]]] = {}
    new_facet = tuple.__new__
    for i, e in enumerate(entries):
        source = e.article.source
        now = tuple(mentions.get(source, ()))
        topics = tuple(topics_of.get(source, ()))
        if (now is e.mentions or now == e.mentions) and topics == e.topics:
            continue
        entries[i] = by_source[source] = _entry(e.article, now, topics, e.url)
        then = facets[source]
        named = tuple(dict.fromkeys(map(_entity_of, now)))
        facets[source] = new_facet(Facet, (e.article.date, topics, named))
        for moves, old, new in ((entity_moves, then.entities, named),
                                (topic_moves, dict.fromkeys(then.topics), dict.fromkeys(topics))):
            for key in set(old).difference(new):
                moves.setdefault(key, (set(), []))[0].add(source)
            for key in set(new).difference(old):
                moves.setdefault(key, (set(), []))[1].append((i, source))
    rank = {e.article.source: i for i, e in enumerate(entries)}.__getitem__ if entity_moves or topic_moves else None
    entity_sources = _moved_lists(base.entity_sources, entity_moves, rank)
    topic_sources = _moved_lists(base.topic_sources, topic_moves, rank)
    page_kinds, table = set(config.entities.page_kinds), enrichment.entities
    paged_entities = _paged(base.paged_entities, set(entity_moves) | _differing_keys(table, basis.entities),
                            entity_sources, lambda key, n: key in table and table[key].kind in page_kinds
                            and n >= config.entities.min_articles)
    topic_table = enrichment.topic_table
    paged_topics = _paged(base.paged_topics, set(topic_moves) | _differing_keys(topic_table, basis.topic_table),
                          topic_sources, lambda key, n: key in topic_table and n >= config.tags.min_articles)
    return Archive(
        entries=TrackedTuple("entries", entries),
        by_source=TrackedDict("by_source", by_source),
        facets=TrackedDict("facets", facets),
        entities=base.entities if table is basis.entities else TrackedDict("entities", sorted(table.items())),
        entity_sources=TrackedDict("entity_sources", entity_sources),
        paged_entities=TrackedSet("paged_entities", paged_entities),
        topics=(base.topics if topic_table is basis.topic_table
                else TrackedDict("topics", sorted(topic_table.items()))),
        topic_sources=TrackedDict("topic_sources", topic_sources),
        paged_topics=TrackedSet("paged_topics", paged_topics),
        redirects=(base.redirects if enrichment.redirects is basis.redirects
                   else TrackedDict("redirects", sorted(enrichment.redirects.items()))),
    )


def _moved_lists(lists: Mapping[str, tuple[str, ...]], moves: Mapping[str, tuple[set[str], list[tuple[int, str]]]],
                 rank: Callable[[str], int] | None) -> dict[str, tuple[str, ...]]:
    """`lists` (key -> article sources, newest first, keys sorted) with the `moves` (key ->
    sources gone from its list, (rank, source) come into it) made."""
    out = dict(dict.items(lists))
    keys_moved = False
    for key, (gone, come) in moves.items():
        sources = [s for s in out.get(key, ()) if s not in gone]
        for _, source in come:
            sources.insert(bisect.bisect_left(sources, rank(source), key=rank), source)  # type: ignore[misc]
        if sources:
            keys_moved = keys_moved or key not in out
            out[key] = tuple(sources)
        elif key in out:
            del out[key]
            keys_moved = True
    return dict(sorted(out.items())) if keys_moved else out


def _paged(before: frozenset[str], keys: set[str], lists: Mapping[str, tuple[str, ...]],
           gets_pages: Callable[[str, int], bool]) -> frozenset[str]:
    """`before` with the `keys` whose list or record moved taken in or out as `gets_pages` says."""
    paged = set(frozenset.__iter__(before))
    for key in keys:
        sources = lists.get(key)
        if sources is not None and gets_pages(key, len(sources)):
            paged.add(key)
        else:
            paged.discard(key)
    return frozenset(paged)


def expected_cells(archive: Archive) -> Iterator[tuple[str, Any]]:
    """The cells page contexts are expected to read (numbered before the render workers fork)."""
    yield ("entries", "len")
    for source in archive.by_source:
        yield ("by_source", source)
        yield ("facets", source)
    limit = common_limit(len(archive.entries))
    for key in archive.entities:
        yield from (("entities", key), ("entity_sources", key), ("paged_entities", key),
                    ("entity_sources" + AT_MOST, (key, limit)))
    for key in archive.paged_entities:
        yield ("node", ("entity", key))
    for key in archive.topics:
        yield from (("topics", key), ("topic_sources", key), ("paged_topics", key),
                    ("topic_sources" + AT_MOST, (key, limit)), ("node", ("topic", key)))


def cells(archive: Archive) -> Cells:
    """The digests of the archive's cells (see depends.py): what a page context can read."""
    def entry(e: Entry) -> tuple:
        # The article is the parse of its bytes (settings and code are in the site-wide digest).
        return (e.article.source, e.article.content_hash, e.url, e.topics,
                tuple((m.start, m.end, m.text, m.kind, m.entity) for m in e.mentions))

    def entity(e: Entity) -> tuple:
        return (e.key, e.name, e.kind, e.aliases, e.description, e.links)

    def topic(t: Topic) -> tuple:
        return (t.key, t.name, t.origin)

    def facet(f: Facet) -> tuple:
        return (f.date.isoformat(), f.topics, f.entities)

    names = ("entries", "by_source", "facets", "entities", "entity_sources", "paged_entities", "topics",
             "topic_sources", "paged_topics", "redirects")
    return Cells({name: getattr(archive, name) for name in names},
                 {"entries": entry, "by_source": entry, "facets": facet, "entities": entity, "topics": topic})


def may_differ(archive: Archive, enrichment: Enrichment, hashes_before: Mapping[str, str]) -> set[tuple[str, Any]]:
    """The cells (see `cells`) that can hold another value than in the archive of the same
    settings made from `enrichment.basis` and articles with `hashes_before` (source -> content
    hash): every other cell holds the same value in both.

    An article's own cells differ when its bytes, its mentions (`enrichment.remade`) or its
    topics do; an entity's when it is another entity, or one such article mentions it (now or
    then: its article list); a topic's likewise; a redirect's when it moved.
    """
    basis = enrichment.basis
    assert basis is not None
    by_source = dict(dict.items(archive.by_source))
    hashes = {source: e.article.content_hash for source, e in by_source.items()}
    moved = {s for s, h in hashes.items() if hashes_before.get(s) != h}
    moved.update(s for s in hashes_before if s not in hashes)  # gone
    moved.update(enrichment.remade)
    topics_now, topics_then = enrichment.topics, basis.topics
    retagged = {s for s in hashes if tuple(topics_now.get(s, ())) != tuple(topics_then.get(s, ()))}
    out: set[tuple[str, Any]] = set()
    for source in moved | retagged:
        out.add(("by_source", source))
        out.add(("facets", source))
    named: set[str] = set()
    for source in moved:
        named.update(m.entity for m in enrichment.mentions.get(source, ()))
        named.update(m.entity for m in basis.mentions.get(source, ()))
    named.update(_differing_keys(enrichment.entities, basis.entities))
    tagged: set[str] = set()
    for source in moved | retagged:
        tagged.update(topics_now.get(source, ()))
        tagged.update(topics_then.get(source, ()))
    tagged.update(_differing_keys(enrichment.topic_table, basis.topic_table))
    limits = {common_limit(len(hashes)), common_limit(len(hashes_before))}
    for key in named:
        out.update((("entities", key), ("entity_sources", key), ("paged_entities", key)))
        out.update(("entity_sources" + AT_MOST, (key, limit)) for limit in limits)
    for key in tagged:
        out.update((("topics", key), ("topic_sources", key), ("paged_topics", key)))
        out.update(("topic_sources" + AT_MOST, (key, limit)) for limit in limits)
    out.update(("redirects", key) for key in _differing_keys(enrichment.redirects, basis.redirects))
    return out


def _differing_keys(now: Mapping[str, Any], then: Mapping[str, Any]) -> set[str]:
    if now is then:
        return set()
    missing = object()
    # Mostly the very objects (a guess keeps the last result's entities): no comparison then.
    return {k for k in set(now) | set(then)
            for a, b in ((now.get(k, missing), then.get(k, missing)),) if a is not b and a != b}


def co_mentions(archive: Archive, key: str, limit: int = 12,
                paged_in: Callable[[str], frozenset[str]] | None = None) -> list[tuple[str, int]]:
    """Entities (with pages) most often mentioned in the same articles as `key`.

    `paged_in(source)` (the paged entities an article mentions, see `paged_mentions`, memoised)
    saves recomputing those sets when this is asked for every entity.
    """
    counts: Counter[str] = Counter()
    for source in archive.entity_sources.get(key, ()):
        found = paged_in(source) if paged_in is not None else paged_mentions(archive, source)
        counts.update(found)
    counts.pop(key, None)
    return heapq.nsmallest(limit, counts.items(), key=lambda kv: (-kv[1], kv[0]))


def paged_mentions(archive: Archive, source: str) -> frozenset[str]:
    """The entities with pages that an article mentions."""
    return frozenset(key for key in archive.facets[source].entities if key in archive.paged_entities)


def common_limit(n: int) -> int:
    """Entities and topics in more than this many of `n` articles are too common to relate them."""
    return max(50, n // 50)


def related_articles(archive: Archive, source: str, limit: int = 5) -> list[str]:
    """Articles sharing the most entities with this one, each shared entity weighted by rarity."""
    n = max(len(archive.entries), 1)
    # Entities in a large share of the archive say little about relatedness and would make
    # this quadratic; they are left out.
    common = common_limit(n)
    scores: dict[str, float] = defaultdict(float)
    entry = archive.by_source[source]
    # In the order of the article (not of a set): float sums must not depend on hash order.
    for key in dict.fromkeys(m.entity for m in entry.mentions):
        sources = at_most(archive.entity_sources, key, common)
        if sources is None or len(sources) < 2:
            continue
        weight = math.log(n / len(sources)) + 1.0
        for other in sources:
            scores[other] += weight
    for key in dict.fromkeys(entry.topics):
        sources = at_most(archive.topic_sources, key, common)
        if sources is not None and len(sources) >= 2:
            weight = 0.5 * (math.log(n / len(sources)) + 1.0)
            for other in sources:
                scores[other] += weight
    scores.pop(source, None)
    return [s for _, s in heapq.nsmallest(limit, ((-w, s) for s, w in scores.items()))]
