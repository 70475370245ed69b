"""Check every internal link and #anchor of a built site against the files actually written.

Used after rendering (a broken link fails the build) and by `briefing check` on any output
folder. A link is internal when it is relative or starts with the site's base path.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import Problem, ProblemsError


class BrokenLinksError(ProblemsError):
    what = "broken link"

    def __init__(self, broken: list[Broken]):
        super().__init__([Problem(b.page, None, f"links to {b.href!r}: {b.reason}") for b in broken])


@dataclass(frozen=True)
class Broken:
    page: str  # file of the site, relative to its root
    href: str
    reason: str


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id",) or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif (name == "href" and tag in ("a", "link", "area")) or (name == "src" and tag in
                                                                          ("img", "script", "source", "iframe")):
                if tag == "link" and dict(attrs).get("rel") in ("preconnect", "dns-prefetch"):
                    continue
                self.links.append(value)


def scan(html: str) -> tuple[set[str], list[str]]:
    c = _Collector()
    c.feed(html)
    c.close()
    return c.ids, c.links


def check(site: Path, base_path: str = "/", skip: tuple[str, ...] = ("pagefind/",)) -> list[Broken]:
    """Every broken internal link in the HTML files under `site`."""
    site = Path(site)
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    html_files = sorted(f for f in files if f.endswith(".html") and not f.startswith(skip))
    ids: dict[str, set[str]] = {}
    links: dict[str, list[str]] = {}
    for rel in html_files:
        ids[rel], links[rel] = scan((site / rel).read_text(encoding="utf-8", errors="replace"))
    broken = []
    for rel in html_files:
        page_dir = posixpath.dirname(rel)
        for href in dict.fromkeys(links[rel]):
            reason = _check_one(href, rel, page_dir, base_path, files, ids)
            if reason:
                broken.append(Broken(rel, href, reason))
    return broken


def _check_one(href: str, rel: str, page_dir: str, base_path: str, files: set[str],
               ids: dict[str, set[str]]) -> str | None:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "tel:", "data:")):
        if parts.scheme.lower() == "javascript":
            return "javascript: links are not allowed"
        return None
    path = unquote(parts.path)
    if not path:
        target = rel
    elif path.startswith("/"):
        if not path.startswith(base_path):
            return f"it is outside the site's base path {base_path}"
        target = path[len(base_path):]
    else:
        target = posixpath.normpath(posixpath.join(page_dir, path))
        if target == ".":
            target = ""
    if target.startswith("../") or target == "..":
        return "it points above the site's root"
    if target == "" or target.endswith("/"):
        target = target + "index.html"
    elif target not in files and target + "/index.html" in files:
        target = target + "/index.html"
    if target not in files:
        return f"no such file ({target}) in the site"
    if parts.fragment and target.endswith(".html"):
        anchors = ids.get(target)
        if anchors is not None and unquote(parts.fragment) not in anchors:
            return f"no element with id {parts.fragment!r} in {target}"
    return None
