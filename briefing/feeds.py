"""Machine-readable pages: Atom feeds, sitemap, robots.txt, _redirects, and article JSON-LD."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from markupsafe import Markup

from . import depends
from .archive import Archive, Entry
from .config import Config
from .model import KIND_SECTIONS

FEED_SIZE = 20
_TERM_FEED = {"entity": depends.digest("entity feed"), "topic": depends.digest("topic feed")}
SCHEMA_TYPES = {"person": "Person", "organization": "Organization", "place": "Place",
                "group": "Organization", "event": "Event"}


def _feed_entries(archive: Archive, sources: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for s in sources[:FEED_SIZE]:
        e = archive.by_source[s]
        a = e.article
        out.append({"title": a.title, "url": e.url, "updated": a.date.isoformat(), "summary": a.summary,
                    "author": a.author, "id": e.url})
    return out


def plan(archive: Archive, config: Config) -> list:
    """The site's feed and the `_redirects` file (each entity's and topic's feed is planned with
    its pages: `term_feed_row`, `term_feed`)."""
    from .entity_pages import entity_url
    from .pages import Page

    # The newest articles, read as planning reads (nothing records it): the feed lists them.
    sources = tuple(e.source for e in tuple.__getitem__(archive.entries, slice(0, FEED_SIZE)))
    feeds = [Page("feed.xml", "feed.xml", "feed.xml", _main_feed(archive, config, sources), in_sitemap=False,
                  plan_key=depends.digest(("feed", sources)))]
    entities, _ = depends.untracked(archive.entities)  # nothing records these lookups (depends.py)
    paged_entities = frozenset(frozenset.__iter__(archive.paged_entities))
    redirects = [(f"{KIND_SECTIONS[old.split('/')[0]]}/{old.split('/', 1)[1]}/", entity_url(entities(new)))
                 for old, new in dict.items(archive.redirects)
                 if new in paged_entities and old != new and old.split("/")[0] in KIND_SECTIONS]
    feeds.append(Page("_redirects", "_redirects", "_redirects.txt", {"redirects": redirects}, in_sitemap=False))
    return feeds


def term_feed_row(of: str, base: str) -> tuple[str, str, str, bytes, bool]:
    """The plan's row (pages.PageGroup) of the feed of the entity or topic (`of`) at `base`:
    its path names the term, so the plan captures nothing more."""
    return base + "feed.xml", base + "feed.xml", "feed.xml", _TERM_FEED[of], False


def term_feed(archive: Archive, config: Config, of: str, key: str, base: str) -> Any:
    """The Page of that feed."""
    from .pages import Page

    return Page.later(base + "feed.xml", base + "feed.xml", "feed.xml", _term_feed(archive, config, of, key, base),
                      _TERM_FEED[of], in_sitemap=False)


def _main_feed(archive: Archive, config: Config, sources: tuple[str, ...]) -> Callable[[], dict[str, Any]]:
    """The site's feed, made when it is rendered (and its reads seen by depends.py)."""
    def make() -> dict[str, Any]:
        return {"title": config.title, "self": "feed.xml", "alternate": "", "entries": _feed_entries(archive, sources),
                "updated": archive.by_source[sources[0]].article.date.isoformat() if sources
                else "1970-01-01T00:00:00+00:00"}
    return make


def _term_feed(archive: Archive, config: Config, of: str, key: str, base: str) -> Callable[[], dict[str, Any]]:
    """The context of an entity's or topic's feed, made when it is rendered (and its reads seen
    by depends.py)."""
    def make() -> dict[str, Any]:
        if of == "entity":
            name, sources = archive.entities[key].name, archive.entity_sources[key]
        else:
            name, sources = archive.topics[key].name, archive.topic_sources[key]
        return {"title": f"{name} — {config.title}", "self": base + "feed.xml", "alternate": base,
                "entries": _feed_entries(archive, sources),
                "updated": archive.by_source[sources[0]].article.date.isoformat()}
    return make


# The sitemap protocol allows 50,000 URLs per file (sitemaps.org). Past SITEMAP_SPLIT_OVER,
# sitemap.xml is an index of one sitemap per section ("articles", "people", ...; split again
# past the limit): an edit adding an entity's page makes its section's sitemap again, not the
# 37,000 URLs of a 10,000-article archive.
SITEMAP_MAX_URLS = 50_000
SITEMAP_SPLIT_OVER = 10_000


def sitemap(urls: Iterable[str]) -> list:
    """The sitemap of the pages at these URLs (those in it), and robots.txt."""
    from .pages import Page

    robots = Page("robots.txt", "robots.txt", "robots.txt", {}, in_sitemap=False)
    urls = sorted(urls)
    if len(urls) <= SITEMAP_SPLIT_OVER:
        return [Page("sitemap.xml", "sitemap.xml", "sitemap.xml", {"urls": urls}, in_sitemap=False), robots]
    by_section = _sections(urls)
    parts = []
    for section, of_section in sorted(by_section.items()):
        chunks = [of_section[i:i + SITEMAP_MAX_URLS] for i in range(0, len(of_section), SITEMAP_MAX_URLS)]
        for n, chunk in enumerate(chunks, start=1):
            name = f"sitemaps/{section or 'index'}{f'-{n}' if len(chunks) > 1 else ''}.xml"
            parts.append(Page(name, name, "sitemap.xml", {"urls": chunk}, in_sitemap=False))
    index = Page("sitemap.xml", "sitemap.xml", "sitemap_index.xml", {"sitemaps": [p.url for p in parts]},
                 in_sitemap=False)
    return [index, *parts, robots]


def _sections(urls: list[str]) -> dict[str, list[str]]:
    """Sorted URLs by section: the part before the first "/", or "" for a URL without one. A
    section's URLs ("people/...") are one run of the sorted list, cut out by bisection: 40,000
    URLs in a few dozen steps, not one by one."""
    by_section: dict[str, list[str]] = {}
    at, n = 0, len(urls)
    while at < n:
        url = urls[at]
        section, slash, _ = url.partition("/")
        if not slash:
            by_section.setdefault("", []).append(url)
            at += 1
            continue
        end = bisect.bisect_left(urls, section + "0", at)  # "0" follows "/": past every "section/..."
        by_section.setdefault(section, []).extend(urls[at:end])
        at = end
    return by_section


def json_script(data: Any) -> Markup:
    """JSON safe to put inside <script>: no '<', '>' or '&' can close the element."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def article_jsonld(entry: Entry, archive: Archive, config: Config) -> Markup:
    from .entity_pages import entity_url

    a = entry.article
    base = config.base_url if config.base_url.endswith("/") else config.base_url + "/"
    mentions = []
    about = []
    counts: dict[str, int] = {}
    for m in entry.mentions:
        counts[m.entity] = counts.get(m.entity, 0) + 1
    for key in sorted(counts, key=lambda k: (-counts[k], k)):
        e = archive.entities.get(key)
        if e is None:
            continue
        thing: dict[str, Any] = {"@type": SCHEMA_TYPES[e.kind], "name": e.name}
        if key in archive.paged_entities:
            thing["url"] = base + entity_url(e)
        if e.links:
            thing["sameAs"] = list(e.links)
        mentions.append(thing)
        if counts[key] >= 3 and len(about) < 3:
            about.append(thing)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": a.title,
        "datePublished": a.date.isoformat(),
        "description": a.summary,
        "url": base + entry.url,
        "mainEntityOfPage": base + entry.url,
        "mentions": mentions,
    }
    if about:
        data["about"] = about
    if a.author:
        data["author"] = {"@type": "Person", "name": a.author}
    if a.tags:
        data["keywords"] = list(a.tags)
    if a.url:
        data["isBasedOn"] = a.url
    return json_script(data)
