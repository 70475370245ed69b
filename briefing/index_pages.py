"""The A-Z indexes of the entities of each kind and of the topics: one page while it is short;
past LETTER_PAGES_OVER names, a page per first letter and a first page of the most mentioned."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from . import depends, entity_pages
from .archive import Archive
from .model import KIND_LABELS
from .names import norm

# An index of more names than this is one page per first letter, and a first page of the most
# mentioned: 11,825 organisations at 10,000 articles are 1.8 MB of HTML on one page, and an edit
# moving one count would make it all again.
LETTER_PAGES_OVER = 1000
MOST_MENTIONED = 50


def plan(archive: Archive, kind: str, section: str, named: list[tuple[str, str]]) -> list:
    """The A-Z index of the entities of a kind with pages, or of the topics (kind "topic"):
    `named` are their keys and names, in order of key."""
    from .pages import Page, page_path

    keys = tuple(key for key, _ in named)
    first = (f"{section}/index.html", f"{section}/", "kind_index.html")
    if len(named) <= LETTER_PAGES_OVER:
        return [Page.later(*first, _kind_index(archive, kind, keys), depends.digest(("kind index", kind, keys)))]
    by_letter: dict[str, list[str]] = defaultdict(list)
    for key, name in named:
        by_letter[_letter(name)].append(key)
    letters = sorted(by_letter)
    nav = [(letter, f"{section}/a-z/{letter.lower() if letter != '#' else 'other'}/") for letter in letters]
    counts = [len(by_letter[letter]) for letter in letters]
    # A letter's page changes with its own names and counts (read when it is made), not others'.
    pages = [Page.later(*first, _most_mentioned(archive, kind, keys, nav, counts),
                        depends.digest(("kind index", kind, keys)))]
    for letter, url in nav:
        of_letter = tuple(by_letter[letter])
        pages.append(Page.later(page_path(url), url, "kind_index.html",
                                _kind_index(archive, kind, of_letter, (letter, nav)),
                                depends.digest(("kind index", kind, letter, of_letter, tuple(letters)))))
    return pages


def _index_rows(archive: Archive, kind: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    if kind == "topic":
        return [{"name": archive.topics[k].name, "url": f"topics/{k}/", "count": len(archive.topic_sources[k]),
                 "letter": _letter(archive.topics[k].name)} for k in keys]
    return [{"name": e.name, "url": entity_pages.entity_url(e), "count": len(archive.entity_sources[k]),
             "letter": _letter(e.name)} for k in keys for e in (archive.entities[k],)]


def _index_title(kind: str) -> str:
    return "Topics" if kind == "topic" else KIND_LABELS[kind]


def _index_description(kind: str, count: int) -> str:
    return f"{count} topics." if kind == "topic" else f"{count} {KIND_LABELS[kind].lower()} mentioned in the archive."


def _kind_index(archive: Archive, kind: str, keys: tuple[str, ...],
                letter: tuple[str, list[tuple[str, str]]] | None = None) -> Callable[[], dict[str, Any]]:
    """The rows of an index (all of it, or the names of one `letter`, with every letter's page):
    made when rendered, so that an edit moving no count keeps it without making it."""
    def make() -> dict[str, Any]:
        rows = _index_rows(archive, kind, keys)
        rows.sort(key=lambda r: (index_order(r["name"]), r["url"]))
        title = _index_title(kind)
        context = {"title": title, "kind": kind, "rows": rows, "letters": sorted({r["letter"] for r in rows}),
                   "description": _index_description(kind, len(rows)), "letter": None, "letter_pages": [], "top": []}
        if letter is not None:
            this, nav = letter
            label = _index_title(kind).lower()
            context.update(title=f"{title}: {this}", letter=this,
                           description=(f"{len(rows)} {label} not beginning with a letter." if this == "#"
                                        else f"{len(rows)} {label} beginning with {this}."),
                           letter_pages=[{"letter": at, "url": url, "count": None} for at, url in nav])
        return context
    return make


def _most_mentioned(archive: Archive, kind: str, keys: tuple[str, ...], nav: list[tuple[str, str]],
                    counts: list[int]) -> Callable[[], dict[str, Any]]:
    """The first page of an index split by letter: each letter's page, and the most mentioned."""
    def make() -> dict[str, Any]:
        sources = archive.topic_sources if kind == "topic" else archive.entity_sources
        mentioned = [len(sources[k]) for k in keys]
        # rows (names read) only for those that may be among the most mentioned: ties go by name
        least = heapq.nlargest(MOST_MENTIONED, mentioned)[-1] if mentioned else 0
        rows = _index_rows(archive, kind, [k for k, n in zip(keys, mentioned, strict=True) if n >= least])
        top = heapq.nsmallest(MOST_MENTIONED, rows, key=lambda r: (-r["count"], index_order(r["name"]), r["url"]))
        letter_pages = [{"letter": at, "url": url, "count": n} for (at, url), n in zip(nav, counts, strict=True)]
        return {"title": _index_title(kind), "kind": kind, "rows": [], "letters": [], "letter": None,
                "description": _index_description(kind, len(keys)), "letter_pages": letter_pages, "top": top}
    return make


def _letter(name: str) -> str:
    """The A-Z index letter of a name: its first letter, read through its transliteration when
    it does not begin with an ASCII letter ("Émile" under E, "'Ndrangheta" under N); "#" for
    the rest ("3M")."""
    first = name[:1]
    if not (first.isascii() and first.isalpha()):
        first = norm(name)[:1]  # asked of few names: most begin with an ASCII letter
    return first.upper() if first.isascii() and first.isalpha() else "#"


def index_order(name: str) -> str:
    """The order of names in an A-Z index: case-blind, and accent-blind where a name does not
    begin with an ASCII letter (so that "Émile" sorts among the E's)."""
    first = name[:1]
    return name.lower() if first.isascii() and first.isalpha() else norm(name)
