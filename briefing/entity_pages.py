"""Plan the entity and topic pages (their A-Z indexes: index_pages.py), and what the home page calls 'active'."""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from html import escape
from typing import Any

from markupsafe import Markup

from . import depends, feeds, index_pages, markdown
from .archive import Archive, Entry, co_mentions, paged_mentions
from .config import Config
from .model import KIND_NAMES, KIND_SECTIONS, Entity


def anchor_for(entity_slug: str, occurrence: int) -> str:
    """The id of an entity's `occurrence`-th link (from 0) in an article's body."""
    return f"m-{entity_slug}" if occurrence == 0 else f"m-{entity_slug}-{occurrence + 1}"


def entity_url(entity: Entity) -> str:
    return _entity_url(entity.kind, entity.key)


@lru_cache(maxsize=1 << 17)
def _entity_url(kind: str, key: str) -> str:
    return f"{KIND_SECTIONS[kind]}/{key.split('/', 1)[1]}/"


def plan(archive: Archive, config: Config) -> tuple[list, list]:
    """The A-Z indexes and redirect pages; and each entity's and topic's pages and feed, as a
    pages.PageGroup: rows until one of its pages must be made (`_term_pages`)."""
    from .pages import Page, PageGroup, card, page_count, page_path, page_url

    # Made by whichever process renders a page that needs them (see pages.Page), once per process.
    cards = depends.memo(lambda source: card(archive.by_source[source]))
    paged_in = depends.memo(lambda source: paged_mentions(archive, source))
    pages: list[Page] = []
    groups: list[PageGroup] = []
    # Plain copies for planning: the archive's tracked lookups (depends.py) cost a Python call
    # each, and nothing records them here.
    entity_of, entity_or_none = depends.untracked(archive.entities)
    entity_sources, _ = depends.untracked(archive.entity_sources)
    topic_sources, _ = depends.untracked(archive.topic_sources)
    paged_entities = frozenset(frozenset.__iter__(archive.paged_entities))
    by_kind: dict[str, list[Entity]] = defaultdict(list)
    for key in sorted(paged_entities):
        entity = entity_of(key)
        by_kind[entity.kind].append(entity)

    per_page = config.paginate
    new_group = tuple.__new__  # PageGroup(...) costs more, 26,000 times

    def rows(base: str, count: int, template: str, of: str) -> tuple[tuple[str, str, str, bytes, bool], ...]:
        # Their paths name the entity or topic and the page number: the plan adds only the count.
        if count <= per_page:  # one page (most of them): written out, 26,000 times a plan
            return ((base + "index.html", base, template, one_page[of], True),
                    (base + "feed.xml", base + "feed.xml", "feed.xml", feed_key[of], False))
        total = page_count(count, per_page)
        plan_key = _count_key(of, total)
        urls = [base] + [page_url(base, n) for n in range(2, total + 1)]
        return (*((page_path(url), url, template, plan_key, True) for url in urls), feeds.term_feed_row(of, base))

    one_page = {of: _count_key(of, 1) for of in ("entity", "topic")}
    feed_key = {of: feeds.term_feed_row(of, "")[3] for of in ("entity", "topic")}
    for kind in config.entities.page_kinds:
        entities = by_kind.get(kind, [])
        section = KIND_SECTIONS[kind]
        pages += index_pages.plan(archive, kind, section, [(e.key, e.name) for e in entities])
        for entity in entities:
            key = entity.key
            base = _entity_url(kind, key)
            got = rows(base, len(entity_sources(key)), "entity.html", "entity")
            make = partial(_term_pages, archive, config, "entity", key, base, len(got) - 1, cards, paged_in)
            groups.append(new_group(PageGroup, (("entity", key), got, make)))

    topic_keys = tuple(sorted(frozenset.__iter__(archive.paged_topics)))
    for key in topic_keys:
        base = f"topics/{key}/"
        got = rows(base, len(topic_sources(key)), "topic.html", "topic")
        make = partial(_term_pages, archive, config, "topic", key, base, len(got) - 1, cards, paged_in)
        groups.append(new_group(PageGroup, (("topic", key), got, make)))
    topic_of, _ = depends.untracked(archive.topics)
    pages += index_pages.plan(archive, "topic", "topics", [(key, topic_of(key).name) for key in topic_keys])

    # Old URLs of merged or renamed entities keep working.
    for old, new in dict.items(archive.redirects):
        target = entity_or_none(new)
        if target is None or new not in paged_entities or old == new:
            continue
        kind, _, slug = old.partition("/")
        if kind not in KIND_SECTIONS or not slug:
            continue
        url = f"{KIND_SECTIONS[kind]}/{slug}/"
        pages.append(Page(page_path(url), url, "redirect.html",
                          {"title": target.name, "target": entity_url(target)}, in_sitemap=False))
    return pages, groups


def _term_pages(archive: Archive, config: Config, of: str, key: str, base: str, total: int, cards: Memo,
                paged_in: Memo) -> list:
    """An entity's or a topic's (`of`) pages and feed, in the order of its group's rows (`plan`)."""
    from .pages import Page, page_path, page_url

    # Two shared parts, each a node (depends.node, named after the group): the list of articles,
    # which every page reads, and the profile (counts, timeline, what it is mentioned with),
    # which only the first page shows: an edit moving a profile makes that one page again, not
    # the 20 or 30 pages of a long list whose articles did not move.
    # A list of one page (most of them) has one node: a node costs every build that reads the
    # page store a cell and its readers.
    page: Callable[[int], Callable[[], dict[str, Any]]]
    list_part = _term_list(archive, config, of, key)
    profile_part = (_entity_context if of == "entity" else _topic_context)(archive, key, paged_in)
    if total == 1:
        listing = profile = depends.node((of, key), lambda: {**list_part(), **profile_part()})
    else:
        listing = depends.node((of, key, "list"), list_part)
        profile = depends.node((of, key), profile_part)
    if of == "entity":
        page = lambda n: _entity_page(archive, key, listing, profile, cards, n, total, base)  # noqa: E731
    else:
        page = lambda n: _topic_page(listing, profile, cards, n, total, base)  # noqa: E731
    plan_key = _count_key(of, total)
    out = [Page.later(page_path(url), url, f"{of}.html", page(n), plan_key)
           for n in range(1, total + 1) for url in (page_url(base, n),)]
    out.append(feeds.term_feed(archive, config, of, key, base))
    return out


# Contexts are made by whichever process renders the page (see pages.Page): each function below
# returns the function that makes one. What an entity's or topic's pages share is made once.
# Everything they take from the archive is looked up inside, so that depends.py sees it read.

Memo = Callable[[str], Any]


@lru_cache(maxsize=1024)
def _count_key(of: str, total: int) -> bytes:
    return depends.digest((of, total))


def _term_list(archive: Archive, config: Config, of: str, key: str) -> Callable[[], dict[str, Any]]:
    """What every page of an entity's or a topic's (`of`) list reads: its name and articles."""
    def make() -> dict[str, Any]:
        per_page = config.paginate
        if of == "entity":
            entity = archive.entities[key]
            return {"entity": {"name": entity.name, "kind": entity.kind, "kind_label": KIND_NAMES[entity.kind],
                               "key": entity.key, "url": entity_url(entity)},
                    "sources": archive.entity_sources[key], "linked": key in archive.paged_entities,
                    "feed": entity_url(entity) + "feed.xml", "per_page": per_page}
        topic = archive.topics[key]
        return {"topic": {"name": topic.name, "origin": topic.origin, "url": f"topics/{key}/"},
                "sources": archive.topic_sources[key],
                "feed": f"topics/{key}/feed.xml", "per_page": per_page}
    return make


_ENTITY_PROFILE = ("entity", "first", "last", "timeline", "co_mentions", "topics")


def _entity_context(archive: Archive, key: str, paged_in: Memo) -> Callable[[], dict[str, Any]]:
    """The profile on an entity's first page: made from its articles' facets, not their text, so
    that an edit to one article's prose makes again only the page listing it (`_entity_page`)."""
    def make() -> dict[str, Any]:
        entity = archive.entities[key]
        sources = archive.entity_sources[key]
        facets = [archive.facets[s] for s in sources]
        dates = [f.date for f in facets]
        topics = Counter(t for f in facets for t in f.topics)
        for t in [t for t in topics if t not in archive.paged_topics]:
            del topics[t]
        return {
            "entity": {"name": entity.name, "kind": entity.kind, "kind_label": KIND_NAMES[entity.kind],
                       "aliases": list(entity.aliases), "description": entity.description,
                       "links": list(entity.links), "key": entity.key, "url": entity_url(entity)},
            "first": min(dates).date().isoformat(),
            "last": max(dates).date().isoformat(),
            "timeline": timeline_svg(dates, entity.name),
            "co_mentions": [{"name": archive.entities[k].name, "url": entity_url(archive.entities[k]),
                             "count": c, "kind": archive.entities[k].kind}
                            for k, c in co_mentions(archive, entity.key, paged_in=paged_in)],
            "topics": [{"name": archive.topics[t].name, "url": f"topics/{t}/", "count": c}
                       for t, c in sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
        }
    return make


def _entity_page(archive: Archive, key: str, listing: Callable[[], dict[str, Any]],
                 profile: Callable[[], dict[str, Any]], cards: Memo, n: int, total: int,
                 base: str) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        from .pages import pagination  # here, not per page planned: tens of thousands of imports

        got = listing()
        entity, sources, per_page = got["entity"], got["sources"], got["per_page"]
        # The items read the entity's key alone: not the archive's record of it (its aliases,
        # which the profile shows), so that an edit adding a form to it makes one page again.
        found = Entity(key, entity["name"], entity["kind"])
        items = [_mention_item(archive.by_source[s], found, got["linked"], cards)
                 for s in sources[(n - 1) * per_page:n * per_page]]
        context = {"entity": entity, "count": len(sources), "items": items, "feed": got["feed"],
                   "pagination": pagination(base, n, total)}
        if n > 1:
            return dict(context, title=f"{entity['name']}, page {n}",
                        description=f"Articles mentioning {entity['name']}, page {n} of {total}.")
        shown = profile()
        return dict(context, **{k: shown[k] for k in _ENTITY_PROFILE}, title=entity["name"],
                    description=shown["entity"]["description"] or
                    f"{entity['name']}: {len(sources)} articles in the archive, {shown['first']} to {shown['last']}.")
    return make


def _topic_context(archive: Archive, key: str, paged_in: Memo) -> Callable[[], dict[str, Any]]:
    """The profile on a topic's first page: the entities most associated with it."""
    def make() -> dict[str, Any]:
        sources = archive.topic_sources[key]
        entity_counts = Counter(m for s in sources for m in paged_in(s))
        return {"entities": [{"name": archive.entities[k].name, "url": entity_url(archive.entities[k]), "count": c,
                              "kind": archive.entities[k].kind}
                             for k, c in sorted(entity_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:15]]}
    return make


def _topic_page(listing: Callable[[], dict[str, Any]], profile: Callable[[], dict[str, Any]], cards: Memo,
                n: int, total: int, base: str) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        from .pages import pagination

        got = listing()
        topic, sources, per_page = got["topic"], got["sources"], got["per_page"]
        name = topic["name"]
        context = {"topic": topic, "count": len(sources), "feed": got["feed"],
                   "cards": [cards(s) for s in sources[(n - 1) * per_page:n * per_page]],
                   "pagination": pagination(base, n, total)}
        if n > 1:
            return dict(context, title=f"{name}, page {n}", description=f"Articles about {name}, page {n} of {total}.")
        return dict(context, entities=profile()["entities"], title=name,
                    description=f"{len(sources)} articles about {name}.")
    return make


def first_linked(entry: Entry, entity: Entity) -> tuple[int, int] | None:
    """Where in the body's plain text the article's first link to `entity` is woven (as
    pages.mention_links weaves it: the first mention after the headline that lies within one
    linkable range), or None. Found from the entity's own mentions, not by weaving them all:
    an entity page lists hundreds of articles, and an edit makes its pages again."""
    a = entry.article
    offset = a.headline_end + len(markdown.BLOCK_SEPARATOR)
    linkable = a.linkable
    for m in entry.mentions:
        if m.entity != entity.key or m.start < offset:
            continue
        start, end = m.start - offset, m.end - offset
        # The first range that ends after `start`: the only one that can hold the mention.
        i = bisect.bisect_right(linkable, start, key=_range_end)
        if i < len(linkable) and linkable[i][0] <= start and end <= linkable[i][1]:
            return start, end
    return None


def _range_end(span: tuple[int, int]) -> int:
    return span[1]


def _mention_item(entry: Entry, entity: Entity, linked: bool, cards: Memo) -> dict[str, Any]:
    """An article on an entity page: its first linked mention in its sentence, with its anchor
    (`linked`: the entity has a page, so its mentions are woven as links).

    When no mention could be linked (only in the headline, a heading or a link), the snippet
    shows the first mention and points at the article itself.
    """
    source = entry.source
    text = entry.article.text
    span = first_linked(entry, entity) if linked else None
    if span is not None:
        offset = entry.article.headline_end + len(markdown.BLOCK_SEPARATOR)
        start, end, anchor = span[0] + offset, span[1] + offset, anchor_for(entity.slug, 0)
    else:
        mention = next(m for m in entry.mentions if m.entity == entity.key)
        start, end, anchor = mention.start, mention.end, ""
    before, hit, after = snippet(text, start, end)
    return dict(cards(source), before=before, hit=hit, after=after, anchor=anchor)


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]?\s+|\n")


def snippet(text: str, start: int, end: int, limit: int = 240) -> tuple[str, str, str]:
    """The sentence around text[start:end], split into before / mention / after, trimmed."""
    return _trimmed(text, _sentence_start(text, start, max(limit, 40) // 2), start, end, limit)


def _trimmed(text: str, s: int, start: int, end: int, limit: int) -> tuple[str, str, str]:
    """`snippet`, given where the sentence begins (`s`)."""
    e = len(text)
    match = _SENTENCE_END.search(text, end)
    if match:
        e = match.start() + 1 if text[match.start()] in ".!?" else match.start()
    before, hit, after = text[s:start], text[start:end], text[end:e]
    room = max(limit - len(hit), 40)
    if len(before) > room // 2:
        before = "…" + before[-(room // 2):].split(" ", 1)[-1]
    if len(after) > room // 2:
        after = after[: room // 2].rsplit(" ", 1)[0] + "…"
    return " ".join(before.split(" ")).lstrip(), hit, after.rstrip()


_BREAK_CHARS = "\"'”’)"  # besides whitespace, what a sentence break (_SENTENCE_END) can hold


def _sentence_start(text: str, start: int, kept: int) -> int:
    """The end of the last sentence break by `start`, as finditer(text, 0, start) finds them;
    or, when there is none in the `kept` characters before `start` (all a snippet keeps), a
    position further back than that.

    Only a window before `start` is scanned (an entity page makes a snippet of hundreds of
    articles; scanning each whole was most of its time). The window begins after a character
    no break can hold, so no break of a scan from 0 straddles it: the breaks found in it are
    that scan's."""
    w = start - kept - 2
    if w > 0:
        while w < start and (text[w - 1].isspace() or text[w - 1] in _BREAK_CHARS):
            w += 1
        if start - w > kept:
            s = w
            for match in _SENTENCE_END.finditer(text, w, start):
                s = match.end()
            return s
    s = 0
    for match in _SENTENCE_END.finditer(text, 0, start):
        s = match.end()
    return s


def recently_active(archive: Archive, weeks: int = 6, limit: int = 10) -> dict[str, list]:
    """Entities and topics most mentioned in the last `weeks` weeks of the archive (made while
    planning: its lookups are not recorded)."""
    entries = tuple(tuple.__iter__(archive.entries))
    newest = entries[0].article.date
    since = newest - dt.timedelta(weeks=weeks)
    # Entries are newest first: the first `recent` of them are in the window.
    recent = bisect.bisect_left(entries, True, key=lambda e: e.article.date < since)
    # Plain copies: made while planning, where no lookup is recorded (depends.py).
    paged_entities = frozenset(frozenset.__iter__(archive.paged_entities))
    paged_topics = frozenset(frozenset.__iter__(archive.paged_topics))
    if recent * _MENTIONS_PER_BISECT > len(paged_entities) + len(paged_topics):
        ents, tops = _recent_counts_by_key(archive, entries, recent, paged_entities, paged_topics)
    else:
        ents, tops = _recent_counts_by_entry(entries, recent, paged_entities, paged_topics)
    return {
        "since": since.date().isoformat(),
        "entities": [{"name": archive.entities[k].name, "url": entity_url(archive.entities[k]), "count": c,
                      "kind": archive.entities[k].kind}
                     for k, c in heapq.nsmallest(limit, ents.items(), key=_most_first)],
        "topics": [{"name": archive.topics[k].name, "url": f"topics/{k}/", "count": c}
                   for k, c in heapq.nsmallest(limit, tops.items(), key=_most_first)],
    }


def _most_first(kv: tuple[str, int]) -> tuple[int, str]:
    return -kv[1], kv[0]


# Counting an entity's recent articles by bisecting its article list costs about as much as
# reading this many mentions of a recent article: the cheaper way is taken (same counts).
_MENTIONS_PER_BISECT = 4


def _recent_counts_by_entry(entries: Sequence[Entry], recent: int, paged_entities: frozenset[str],
                            paged_topics: frozenset[str]) -> tuple[Counter[str], Counter[str]]:
    """Read the mentions and topics of each recent article: for a window holding few articles."""
    ents: Counter[str] = Counter()
    tops: Counter[str] = Counter()
    for e in entries[:recent]:
        ents.update({m.entity for m in e.mentions if m.entity in paged_entities})
        tops.update({t for t in e.topics if t in paged_topics})
    return ents, tops


def _recent_counts_by_key(archive: Archive, entries: Sequence[Entry], recent: int,
                          paged_entities: frozenset[str],
                          paged_topics: frozenset[str]) -> tuple[Counter[str], Counter[str]]:
    """Bisect each paged entity's and topic's article list (newest first, like the entries) at
    the window's edge: for a window holding many articles."""
    rank = {e.article.source: i for i, e in enumerate(entries)}.__getitem__
    counts = []
    for keys, (sources_of, _) in ((paged_entities, depends.untracked(archive.entity_sources)),
                                  (paged_topics, depends.untracked(archive.topic_sources))):
        found: Counter[str] = Counter()
        for key in keys:
            n = bisect.bisect_left(sources_of(key), recent, key=rank)
            if n:
                found[key] = n
        counts.append(found)
    return counts[0], counts[1]


def timeline_svg(dates: list[dt.datetime], name: str, width: int = 600, height: int = 80) -> Markup:
    """Mentions per month as an inline SVG bar chart (no JavaScript)."""
    months = Counter((d.year, d.month) for d in dates)
    first, last = min(months), max(months)
    span = []
    y, m = first
    while (y, m) <= last:
        span.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    peak = max(months.values())
    n = len(span)
    bar = width / n
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height + 16}" role="img" '
             f'aria-label="{escape(name)}: mentions per month, {first[0]}-{first[1]:02d} to '
             f'{last[0]}-{last[1]:02d}" xmlns="http://www.w3.org/2000/svg">']
    for i, key in enumerate(span):
        count = months.get(key, 0)
        if not count:
            continue
        h = max(2.0, height * count / peak)
        parts.append(f'<rect x="{i * bar:.2f}" y="{height - h:.2f}" width="{max(bar - 1, 1):.2f}" '
                     f'height="{h:.2f}"><title>{key[0]}-{key[1]:02d}: {count}</title></rect>')
    parts.append(f'<text x="0" y="{height + 14}">{first[0]}-{first[1]:02d}</text>')
    if n > 1:
        parts.append(f'<text x="{width}" y="{height + 14}" text-anchor="end">{last[0]}-{last[1]:02d}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
