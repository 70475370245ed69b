"""The plan stage: every page of the site, with its URL, template and context, before anything
is rendered. Pure. URL collisions are errors here, not surprises on disk.

A page's context holds only what its template needs, so the page's output is a function of
(context, templates): the render stage skips a page whose context and templates are unchanged.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from . import depends, entity_pages, feeds
from .archive import Archive, Entry, related_articles
from .config import Config
from .entity_pages import anchor_for
from .errors import ContentError, Problem
from .markdown import BLOCK_SEPARATOR, LinkedSpan
from .model import KIND_LABELS, KIND_SECTIONS, Article


@dataclass(frozen=True)
class Body:
    """An article body to render: Markdown, the mention links to weave in, link rewrites."""

    markdown: str
    html: bool
    spans: tuple[LinkedSpan, ...]
    links: tuple[tuple[str, str], ...]  # (href as written, site-relative URL) for local links
    pieces: tuple = ()  # Article.body_pieces


@dataclass(frozen=True)
class Page:
    path: str  # output file, relative to the site root ("articles/x/index.html")
    url: str  # site-relative URL ("articles/x/"); "" is the home page
    template: str
    # The context, or a function that makes it: most pages' contexts are made by the render
    # workers (which share the archive by fork), not by the planning process.
    made: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    in_sitemap: bool = True
    source: str = ""  # the content file an article page is of
    # For a context made later (`made` a function): a digest of what the planner captured for it
    # (page number, neighbours...). With the cells the context reads it decides whether the
    # context can have changed (see depends.py). Empty for a context made here.
    plan_key: bytes = b""

    @cached_property
    def context(self) -> Mapping[str, Any]:
        return self.made() if callable(self.made) else self.made

    @staticmethod
    def later(path: str, url: str, template: str, made: Callable[[], Mapping[str, Any]], plan_key: bytes, *,
              in_sitemap: bool = True, source: str = "") -> Page:
        """`Page(...)` for a context made later, as the planner's loops make 60,000 of them: in a
        third of the time, without the frozen dataclass's object.__setattr__ per field."""
        page = _new_object(Page)
        page.__dict__.update(path=path, url=url, template=template, made=made, in_sitemap=in_sitemap,
                             source=source, plan_key=plan_key)
        return page


_new_object = object.__new__

# A page of a PageGroup before it is made: (path, url, template, plan key, in the sitemap).
Row = tuple[str, str, str, bytes, bool]


class PageGroup(NamedTuple):
    """Pages planned together and made only when one of them must be (an entity's or a topic's
    pages and feed): until then each is a Row. An edit keeps nearly all of them; as rows they
    cost a fraction of the Pages, with their closures, that `make` returns."""

    name: tuple[str, str]  # ("entity", key) or ("topic", key): also the name of their shared node (depends.node)
    rows: tuple[Row, ...]
    make: Callable[[], list[Page]]  # the Pages, in the order of `rows`


@dataclass
class Plan:
    """Every page of the site: `pages` planned one by one, and the `groups`' rows."""

    pages: list[Page]
    groups: list[PageGroup]
    made: dict[tuple[str, str], list[Page]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pages) + sum(len(g.rows) for g in self.groups)

    def group_pages(self, group: PageGroup) -> list[Page]:
        """The group's Pages, made once."""
        got = self.made.get(group.name)
        if got is None:
            got = self.made[group.name] = group.make()
        return got

    def all_pages(self) -> list[Page]:
        """Every page, each group's made."""
        out = list(self.pages)
        for group in self.groups:
            out += self.group_pages(group)
        return out

    def make_groups(self, names: Iterable[tuple[str, str]]) -> None:
        """Make the groups of these names (and so plan their shared nodes: depends.remade)."""
        wanted = set(names)
        for group in self.groups:
            if group.name in wanted:
                self.group_pages(group)

    def keyed_columns(self) -> tuple[list[str], bytes]:
        """`keyed_rows` as two columns: the paths, and the plan keys joined (C loops, no tuple a page)."""
        later = [page for page in self.pages if page.plan_key]
        rows = list(chain.from_iterable(group.rows for group in self.groups))
        paths = [page.path for page in later]
        paths += map(itemgetter(0), rows)
        keys = [page.plan_key for page in later]
        keys += map(itemgetter(3), rows)
        return paths, b"".join(keys)

    def keyed_rows(self) -> Iterator[tuple[str, bytes]]:
        """(path, plan key) of every page with a plan key (a context made later)."""
        for page in self.pages:
            if page.plan_key:
                yield page.path, page.plan_key
        for group in self.groups:
            for row in group.rows:
                yield row[0], row[3]


def page_path(url: str) -> str:
    """Pretty URLs: "a/b/" is written as "a/b/index.html"; a URL with a suffix as itself."""
    if url == "" or url.endswith("/"):
        return url + "index.html"
    return url


def paginate(items: Sequence[Any], per_page: int) -> list[Sequence[Any]]:
    chunks = [items[i:i + per_page] for i in range(0, len(items), per_page)]
    return chunks or [items[:0]]


def page_count(items: int, per_page: int) -> int:
    """len(paginate(x, per_page)) for len(x) == items, without making the pages."""
    return max(1, -(-items // per_page))


def page_url(base: str, number: int) -> str:
    return base if number == 1 else f"{base}page/{number}/"


def pagination(base: str, number: int, total: int) -> dict[str, Any]:
    return {
        "number": number,
        "total": total,
        "prev": page_url(base, number - 1) if number > 1 else None,
        "next": page_url(base, number + 1) if number < total else None,
    }


def card(entry: Entry) -> dict[str, Any]:
    """What a list shows of an article."""
    a = entry.article
    return {"title": a.title, "url": entry.url, "date": a.date.date().isoformat(),
            "summary": a.summary, "draft": a.draft}


def plan(archive: Archive, config: Config, asset_urls: Mapping[str, str] | None = None) -> Plan:
    """Every page of the site. Raises ContentError for URL collisions and broken local links."""
    problems: list[Problem] = []
    pages: list[Page] = []
    depends.planning()
    # Made by whichever process renders a page that needs them, once per process.
    linked = depends.memo(lambda source: mention_links(archive.by_source[source], archive, config))
    pages += _article_pages(archive, config, linked, asset_urls or {}, problems)
    pages += _home_pages(archive, config)
    pages += _archive_pages(archive, config)
    listed, groups = entity_pages.plan(archive, config)
    pages += listed
    pages += feeds.plan(archive, config)
    pages.append(Page("404.html", "404.html", "404.html", {"title": "Page not found"}, in_sitemap=False))
    if config.search.enabled:
        pages.append(Page("search/index.html", "search/", "search.html", {"title": "Search"}))
    problems += _collisions(pages, groups)
    if problems:
        raise ContentError(problems)
    urls = [p.url for p in pages if p.in_sitemap and p.path.endswith(".html")]
    urls += [row[1] for g in groups for row in g.rows if row[4] and row[0].endswith(".html")]
    pages += feeds.sitemap(urls)
    return Plan(pages, groups)


def _collisions(pages: list[Page], groups: list[PageGroup]) -> list[Problem]:
    paths = [p.path for p in pages]
    paths += map(itemgetter(0), chain.from_iterable(map(itemgetter(1), groups)))  # C loops: 60,000 pages
    if len(set(paths)) == len(paths):
        return []
    problems = []
    seen: dict[str, Page | Row] = {}
    for p in pages:
        if p.path in seen:
            other = seen[p.path]
            a, b = (other.source if isinstance(other, Page) else ""), p.source
            if a and b:
                problems.append(Problem(b, None, f"has the same slug as {a}: both would be written to "
                                        f"/{p.url}. Give one of them a different `slug:`."))
            else:
                problems.append(Problem(b or a or p.path, None, f"two pages would be written to /{p.url}."))
        else:
            seen[p.path] = p
    for group in groups:
        for row in group.rows:
            if row[0] in seen:
                other = seen[row[0]]
                source = other.source if isinstance(other, Page) else ""
                problems.append(Problem(source or row[0], None, f"two pages would be written to /{row[1]}."))
            else:
                seen[row[0]] = row
    return problems


# --- articles ------------------------------------------------------------------------------


Linked = Callable[[str], tuple[tuple[LinkedSpan, ...], list]]


def _article_pages(archive: Archive, config: Config, linked: Linked,
                   asset_urls: Mapping[str, str], problems: list[Problem]) -> list[Page]:
    url_of_source = {e.article.source: e.url for e in tuple.__iter__(archive.entries)}
    return [article_page(archive, i, config, linked, url_of_source, asset_urls, problems)
            for i in range(tuple.__len__(archive.entries))]


def article_page(archive: Archive, index: int, config: Config, linked: Linked,
                 url_of_source: Mapping[str, str], asset_urls: Mapping[str, str],
                 problems: list[Problem]) -> Page:
    """The page of `archive.entries[index]` (the dev server also makes one alone, see quick.py).

    `linked(source)`: the article's woven mention spans and its side panel (`mention_links`).
    """
    entries = archive.entries
    at = tuple.__getitem__  # planning: nothing records these lookups (depends.py)
    entry = at(entries, index)
    source, url = entry.article.source, entry.url
    newer = at(entries, index - 1).article.source if index > 0 else None
    older = at(entries, index + 1).article.source if index + 1 < tuple.__len__(entries) else None
    links = _local_links(entry.article, url_of_source, asset_urls, problems)  # a broken link fails the plan

    def context() -> dict[str, Any]:
        # Everything from the archive is looked up here, so that depends.py sees it read.
        entry = archive.by_source[source]
        a = entry.article
        spans, panel = linked(source)
        topics = [{"name": archive.topics[t].name,
                   "url": f"topics/{t}/" if t in archive.paged_topics else None}
                  for t in entry.topics if t in archive.topics]
        return {
            "source": a.source,
            "title": a.title,
            "description": a.summary,
            "article": _article_fields(a),
            "body": Body(a.body, config.markdown.html, spans, links, a.body_pieces),
            "entities": panel,
            "topics": topics,
            "related": [card(archive.by_source[s]) for s in related_articles(archive, a.source)],
            "newer": card(archive.by_source[newer]) if newer else None,
            "older": card(archive.by_source[older]) if older else None,
            "jsonld": feeds.article_jsonld(entry, archive, config),
            "search_filters": _search_filters(entry, archive),
        }
    key = depends.digest(("article", source, newer, older, links))
    return Page.later(page_path(url), url, "article.html", context, key, source=source)


def _article_fields(a: Article) -> dict[str, Any]:
    return {
        "title": a.title, "date": a.date.date().isoformat(), "datetime": a.date.isoformat(),
        "summary": a.summary, "author": a.author, "publisher": a.publisher, "url": a.url,
        "tags": list(a.tags), "draft": a.draft, "meta": dict(a.meta), "words": a.word_count,
    }


def mention_links(entry: Entry, archive: Archive, config: Config) -> tuple[tuple[LinkedSpan, ...], list]:
    """Spans to link in the body, and the side panel of entities grouped by kind."""
    a = entry.article
    offset = a.headline_end + len(BLOCK_SEPARATOR)
    linkable = a.linkable
    # Each entity looked up once, not once per mention (lookups are recorded: see depends.py).
    found = {key: archive.entities.get(key) for key in dict.fromkeys(m.entity for m in entry.mentions)}
    paged = {key for key in found if key in archive.paged_entities}
    spans: list[LinkedSpan] = []
    occurrences: dict[str, int] = defaultdict(int)
    li = 0
    for m in entry.mentions:
        if m.entity not in paged or m.start < offset:
            continue
        start, end = m.start - offset, m.end - offset
        while li < len(linkable) and linkable[li][1] <= start:
            li += 1
        if li >= len(linkable) or not (linkable[li][0] <= start and end <= linkable[li][1]):
            continue
        n = occurrences[m.entity]
        if n and config.entities.link == "first":
            continue
        entity = found[m.entity]
        spans.append(LinkedSpan(start, end, entity_pages.entity_url(entity), entity.kind,
                                anchor_for(entity.slug, n), entity.name))
        occurrences[m.entity] += 1
    panel = []
    grouped: dict[str, dict[str, Any]] = defaultdict(dict)
    for entity in found.values():
        if entity is None or entity.key in grouped[entity.kind]:
            continue
        grouped[entity.kind][entity.key] = {
            "name": entity.name,
            "url": entity_pages.entity_url(entity) if entity.key in paged else None,
        }
    for kind, label in KIND_LABELS.items():
        if grouped.get(kind):
            panel.append({"kind": kind, "label": label,
                          "items": sorted(grouped[kind].values(), key=lambda x: x["name"].lower())})
    return tuple(spans), panel


def _search_filters(entry: Entry, archive: Archive) -> list[tuple[str, str]]:
    out = []
    for key in dict.fromkeys(m.entity for m in entry.mentions):
        e = archive.entities.get(key)
        if e and e.key in archive.paged_entities:
            out.append((KIND_SECTIONS[e.kind], e.name))
    out += [("topic", archive.topics[t].name) for t in entry.topics if t in archive.paged_topics]
    return out


_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _local_links(a: Article, url_of_source: Mapping[str, str], asset_urls: Mapping[str, str],
                 problems: list[Problem]) -> tuple[tuple[str, str], ...]:
    """Relative links in the body to other content files or assets, as site-relative URLs."""
    if not a.may_link_locally:  # most bodies: known without the regex (10,000 per plan)
        return ()
    out = []
    here = posixpath.dirname(a.source)
    for match in _LINK.finditer(a.body):
        href = match.group(1)
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("#", "/", "mailto:")) or not parts.path:
            continue
        target = posixpath.normpath(posixpath.join(here, unquote(parts.path)))
        frag = f"#{parts.fragment}" if parts.fragment else ""
        if target in url_of_source:
            out.append((href, url_of_source[target] + frag))
        elif target in asset_urls:
            out.append((href, asset_urls[target] + frag))
        else:
            line = a.body_line + a.body.count("\n", 0, match.start())
            what = "content file" if target.endswith((".md", ".txt", ".markdown")) else "file"
            problems.append(Problem(a.source, line, f"links to {href!r}, but there is no such {what} "
                                    f"({target}) in the archive{' (is it a draft?)' if what != 'file' else ''}."))
    return tuple(dict.fromkeys(out))


# --- home and archives ------------------------------------------------------------------------


def _home_pages(archive: Archive, config: Config) -> list[Page]:
    """The home page and its pages: contexts made when rendered, each kept while the articles
    it lists, and what it reads of them, are unchanged (see depends.py)."""
    sources = [e.source for e in tuple.__iter__(archive.entries)]  # planning: nothing records this
    # What the first page shows as recently active is made here, and is part of its plan key.
    active = entity_pages.recently_active(archive) if sources else {"entities": [], "topics": []}
    total = page_count(len(sources), config.paginate)
    pages = []
    for n in range(1, total + 1):
        chunk = tuple(sources[(n - 1) * config.paginate:n * config.paginate])
        url = page_url("", n)
        shown = active if n == 1 else None
        made = _home_context(archive, config, chunk, n, total, shown)
        pages.append(Page.later(page_path(url), url, "index.html", made,
                                depends.digest(("home", n, total, chunk, shown))))
    return pages


def _home_context(archive: Archive, config: Config, chunk: tuple[str, ...], n: int, total: int,
                  active: dict[str, Any] | None) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        return {
            "title": config.title if n == 1 else f"{config.title}, page {n}",
            "description": config.description,
            "cards": [card(archive.by_source[s]) for s in chunk],
            "pagination": pagination("", n, total),
            "active": active,
            "feed": "feed.xml",
        }
    return make


def _archive_pages(archive: Archive, config: Config) -> list[Page]:
    by_year: dict[int, list[str]] = defaultdict(list)
    by_month: dict[tuple[int, int], list[str]] = defaultdict(list)
    for e in tuple.__iter__(archive.entries):  # planning: nothing records this
        d = e.article.date
        by_year[d.year].append(e.source)
        by_month[(d.year, d.month)].append(e.source)
    years = [{"year": y, "url": f"archive/{y}/", "count": len(by_year[y]),
              "months": [{"name": dt.date(y, m, 1).strftime("%B"), "url": f"archive/{y}/{m:02d}/",
                          "count": len(by_month[(y, m)])}
                         for m in sorted({m for (yy, m) in by_month if yy == y}, reverse=True)]}
             for y in sorted(by_year, reverse=True)]
    pages = [Page("archive/index.html", "archive/", "archive.html",
                  {"title": "Archive", "description": f"All {sum(map(len, by_year.values()))} articles by date.",
                   "years": years, "cards": None, "pagination": None})]
    lists = [(f"archive/{y}/", f"{y}", es) for y, es in sorted(by_year.items())]
    lists += [(f"archive/{y}/{m:02d}/", dt.date(y, m, 1).strftime("%B %Y"), es)
              for (y, m), es in sorted(by_month.items())]
    for base, name, es in lists:
        total = page_count(len(es), config.paginate)
        for n in range(1, total + 1):
            chunk = tuple(es[(n - 1) * config.paginate:n * config.paginate])
            url = page_url(base, n)
            context = _archive_context(archive, name, base, chunk, n, total)
            pages.append(Page.later(page_path(url), url, "archive.html", context,
                                    depends.digest(("archive", base, name, n, total, chunk))))
    return pages


def _archive_context(archive: Archive, name: str, base: str, chunk: tuple[str, ...], n: int,
                     total: int) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        return {"title": name, "description": f"Articles from {name}.", "years": None,
                "cards": [card(archive.by_source[s]) for s in chunk], "pagination": pagination(base, n, total)}
    return make
