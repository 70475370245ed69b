"""Check every internal link and #anchor of a built site against the files actually written.

Used after rendering (a broken link fails the build) and by `briefing check` on any output
folder. A link is internal when it is relative or starts with the site's base path.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
import sys
from array import array
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import sealed
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


# The links and ids of a page come from a small regex tokenizer rather than html.parser's HTMLParser,
# which was most of a large build's time. It reads tags as HTMLParser does (html.parser's own
# attribute grammar; names lower-cased, values unescaped, comments skipped, the content of script
# and style not parsed as markup); a test compares the two on a built site.
#
# It runs on every page of a build, so the regex engine does the skipping: one match of _NEXT
# passes over text, comments, end tags and every start tag without an id, href, src or name
# attribute that has a value (script and style with their content), and stops at the next tag
# that may matter; Python sees only those tags (about a third of them). Tags written the way
# templates write them (_PLAIN attributes, see below) are read by cheap patterns, and one or two
# id/href/src/name values of such a tag come back in the match itself. Anything else (a <link>,
# whose rel matters; a tag with three such attributes; any odd markup) comes back as the raw
# attribute text and is read by html.parser's full grammar, exactly as before.


def _any_case(word: str) -> str:
    """A pattern for `word` in any case: what str.lower() turns into it (KELVIN SIGN gives k)."""
    return "".join("[kK\u212a]" if c == "k" else f"[{c}{c.upper()}]" for c in word)


_NAME = r"[a-zA-Z][^\t\n\r\f />\x00]*"  # a start tag's name; backtracking may shorten it, as it always could
_WHOLE_NAME = _NAME + "+"  # never shortened, as the plain patterns below require
_NAME_END = r"(?![^\t\n\r\f />\x00])"
# html.parser's attribute grammar (locatestarttagend_tolerant): the attributes of any start tag.
_ATTRS = (r"""(?:[\s/]*(?:(?<=['"\s/])[^\s/>][^\s/=>]*"""
          r"""(?:\s*=+\s*(?:'[^']*'|"[^"]*"|(?!['"])[^>\s]*)\s*)?(?:\s|/(?!>))*)*)?""")
_ATTR = re.compile(r"""((?<=['"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?(?:\s|/(?!>))*""")
# A plain attribute: whitespace, a name without quotes or "=", then nothing, ="...", '...' or a
# bare value that cannot be read another way (it starts with none of = ' " or a space). Where
# plain attributes run up to the tag's `\s*/?>`, the grammar above reads the same attributes
# with the same values, and the tag ends at the same place.
_PLAIN = r"""[^\s/>="']+(?:="[^"]*"|='[^']*'|=[^\s>="'][^\s>]*)?"""
_USED = f"(?:{_any_case('id')}|{_any_case('href')}|{_any_case('src')}|{_any_case('name')})"
_PLAINS = rf"(?:\s+{_PLAIN})*+"
_UNUSED = rf"(?:\s+(?!{_USED}=){_PLAIN})*+"  # plain attributes the scan does not read
# One plain id/href/src/name attribute with a value, which comes back without its quotes.
_USED_ATTR = (r"""\s+(?P<n{0}>{1})=(?P<q{0}>["']?)"""
              r"""(?P<v{0}>(?<=")[^"]*|(?<=')[^']*|(?<==)[^\s>="'][^\s>]*)(?P=q{0})""")
_RAW = rf"{_PLAINS}(?=\s*/?>)|(?>{_ATTRS})"  # atomic: no exponential backtracking on an unclosed tag
_CONTENT = r"[^<]*+(?:<(?!/(?i:{0})[\s/>])[^<]*+)*+"  # text of a script or style, up to its end tag
_NEXT = re.compile(rf"""(?:                                # skip, as a whole:
   [^<]++                                                  #   text
  |<(?![a-zA-Z])(?:!--.*?(?:-->|\Z))?                      #   a comment, or a < starting no tag
  |<{_any_case("script")}{_NAME_END}{_UNUSED}\s*/?>{_CONTENT.format("script")}
  |<{_any_case("style")}{_NAME_END}{_UNUSED}\s*/?>{_CONTENT.format("style")}
  |<{_WHOLE_NAME}{_UNUSED}\s*/?>                           #   a plain tag without what we read
)*+(?:                                                     # then stop at:
   # a plain tag (not link: its rel matters) with one or two id/href/src/name values
   <(?P<t>(?!(?:{_any_case("link")}|{_any_case("script")}|{_any_case("style")}){_NAME_END}){_WHOLE_NAME})
     {_UNUSED}{_USED_ATTR.format(1, _USED)}{_UNUSED}(?:{_USED_ATTR.format(2, _USED)}{_UNUSED})?+\s*/?>
  # a script or style element (content skipped); any other start tag; a < starting no tag; the end
  |<(?P<cdata>(?P<script>{_any_case("script")})|{_any_case("style")}){_NAME_END}(?P<cdata_raw>{_RAW})\s*/?>
     (?(script){_CONTENT.format("script")}|{_CONTENT.format("style")})
  |<(?P<tag>(?!(?:{_any_case("script")}|{_any_case("style")}){_NAME_END}){_NAME})(?P<raw>{_RAW})\s*/?>
  |<|\Z)
""", re.S | re.X)
_USED_NAMES = {"".join(cased): name for name in ("id", "href", "src", "name")  # "HRef" -> "href"
               for cased in itertools.product(*((c, c.upper()) for c in name))}
_LINK_ATTR = {"a": "href", "link": "href", "area": "href",  # the attribute that links, by tag
              "img": "src", "script": "src", "source": "src", "iframe": "src"}


@dataclass(frozen=True)
class Summary:
    """What the link check needs of one HTML page: the ids it defines, the URLs it links to."""

    ids: frozenset[str]
    links: tuple[str, ...]  # in order of first appearance, without repeats


def scan(html: str) -> tuple[set[str], list[str]]:
    """The ids a page defines and the URLs it links to (in order, with repeats)."""
    ids: set[str] = set()
    links: list[str] = []
    for t, n1, _, v1, n2, _, v2, cdata, _, cdata_raw, tag, raw in _NEXT.findall(html):
        if t:  # a plain tag, and its one or two id/href/src/name values
            t = t.lower()
            wanted = _LINK_ATTR.get(t)
            name = _USED_NAMES[n1]
            if "&" in v1:
                v1 = unescape(v1)
            if name == "id" or (name == "name" and t == "a"):
                ids.add(v1)
            elif name == wanted:
                links.append(v1)
            if n2:
                name = _USED_NAMES[n2]
                if "&" in v2:
                    v2 = unescape(v2)
                if name == "id" or (name == "name" and t == "a"):
                    ids.add(v2)
                elif name == wanted:
                    links.append(v2)
            continue
        if cdata:
            tag, raw = cdata, cdata_raw
        elif not tag:
            continue  # a < that starts no tag, or the end of the page
        attrs: list[tuple[str, str | None]] = []
        for name, rest, value in _ATTR.findall(" " + raw):
            if not rest:
                value = None
            elif value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
                value = value[1:-1]
            if value:
                value = unescape(value)
            attrs.append((name.lower(), value))
        _collect(tag.lower(), attrs, ids, links)
    return ids, links


def _collect(tag: str, attrs: list[tuple[str, str | None]], ids: set[str], links: list[str]) -> None:
    for name, value in attrs:
        if value is None:
            continue
        if name == "id" or (name == "name" and tag == "a"):
            ids.add(value)
        elif (name == "href" and tag in ("a", "link", "area")) or (name == "src" and tag in
                                                                   ("img", "script", "source", "iframe")):
            if tag == "link" and dict(attrs).get("rel") in ("preconnect", "dns-prefetch"):
                continue
            links.append(value)


def summarize(html: str) -> Summary:
    ids, links = scan(html)
    intern = sys.intern  # the same URLs and ids recur on thousands of pages: keep one copy
    return Summary(frozenset(map(intern, ids)), tuple(map(intern, dict.fromkeys(links))))


def check(site: Path, base_path: str = "/", skip: tuple[str, ...] = ("pagefind/",)) -> list[Broken]:
    """Every broken internal link in the HTML files under `site`."""
    site = Path(site)
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    summaries = {rel: summarize((site / rel).read_text(encoding="utf-8", errors="replace"))
                 for rel in sorted(files) if rel.endswith(".html") and not rel.startswith(skip)}
    return find_broken(summaries, files, base_path)


@dataclass(frozen=True)
class LastCheck:
    """What a build reads of the last successful check: each HTML page's fingerprint and ids, and
    every file some page linked to. The links of each page are read only when needed (see
    SummaryStore), which is when a file some unchanged page may link to is gone or changed ids."""

    pages: Mapping[str, tuple[str, tuple[str, ...]]]  # page -> (its fingerprint then, its ids)
    linked: frozenset[str]
    into: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # page -> the pages linking to an #id of it
    token: str = ""  # names the links stored with these pages
    # The inputs fingerprint (Manifest.inputs) of the site checked: when the previous build's
    # manifest has it, every page it kept has there the fingerprint it has here.
    inputs: str = ""

    def ids(self, rel: str) -> Collection[str] | None:
        got = self.pages.get(rel)
        return got[1] if got is not None else None


NO_CHECK = LastCheck({}, frozenset())

# One page as saved: (fingerprint, ids, links, files it links to, pages it links to an #id of);
# the last three None when they are those of the last check (a page not checked again).
Saved = tuple[str, Collection[str], "tuple[str, ...] | None", "Collection[str] | None", "Collection[str] | None"]
Forward = tuple[tuple[str, ...], Collection[str], Collection[str]]  # links, files, anchored pages


class SummaryStore:
    """The link summaries of the last checked build, by page fingerprint, in the cache folder.

    A page whose fingerprint is unchanged has the same bytes, so its summary (and the files it
    links to) need not be read again. Two pickles per output folder, never written into site/:
    `<key>.pickle`, small, read by every build (LastCheck), and `<key>.links.pickle`, each
    page's links and the files they lead to, read only when a check needs them. A token written
    in both tells a links file from another build's.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.links_path = self.path.with_name(self.path.stem + ".links.pickle")
        # What each page links to, as numbers into one list of files: what a check reads when
        # files are gone (a tenth of the links file's load, which a page or topic removed by an
        # edit would otherwise cost it).
        self.targets_path = self.path.with_name(self.path.stem + ".targets")

    def load(self) -> LastCheck:
        data = sealed.load(self.path)  # an unreadable or foreign cache is a miss, never an error
        try:
            if isinstance(data, dict) and data.get("version") == STORE_VERSION:
                return LastCheck(data["pages"], frozenset(data["linked"]), data["into"], data["token"],
                                 str(data.get("inputs", "")))
        except (KeyError, TypeError, ValueError):
            pass
        return NO_CHECK

    def load_links(self, last: LastCheck) -> Mapping[str, Forward] | None:
        """Page -> (its links, the files they lead to, the pages it links to an #id of) as of
        `last`; None if not stored with it."""
        data = sealed.load(self.links_path)
        if not isinstance(data, dict) or not last.token or data.get("token") != last.token:
            return None
        pages = data.get("pages")
        return pages if isinstance(pages, dict) else None

    def linking_to(self, gone: Collection[str], last: LastCheck) -> tuple[set[str], set[str]] | None:
        """The pages of `last` that link to any of the `gone` files, and every page whose links
        are stored; None if they are not stored with `last`."""
        data = sealed.load_plain(self.targets_path)
        if not isinstance(data, dict) or not last.token or data.get("token") != last.token:
            return None
        files, pages = data.get("files"), data.get("pages")
        if not isinstance(files, list) or not isinstance(pages, dict):
            return None
        number = {name: i for i, name in enumerate(files)}
        wanted = {number[name] for name in gone if name in number}
        linking = {rel for rel, numbers in pages.items() if not wanted.isdisjoint(array("I", numbers))} \
            if wanted else set()
        return linking, set(pages)

    def save(self, pages: Mapping[str, Saved], last: LastCheck, inputs: str = "") -> None:
        """Store this check (of the site whose manifest has `inputs`, when it is every page of
        it); pages saved without links keep those of `last`."""
        old: Mapping[str, Forward] | None = {}
        if any(saved[2] is None for saved in pages.values()):
            old = self.load_links(last)
            if old is None:
                self.forget()  # what those pages link to is lost: the next check reads them all
                return
        forward = {}
        linked: set[str] = set()
        into_page: dict[str, list[str]] = {}
        for rel, (_, _, links, targets, into) in pages.items():
            if links is None or targets is None or into is None:
                links, targets, into = old[rel]  # type: ignore[index]
            forward[rel] = (links, tuple(targets), tuple(into))  # plain tuples: sets of strings load slowly
            linked.update(targets)
            for target in into:
                into_page.setdefault(target, []).append(rel)
        token = os.urandom(8).hex()
        files = sorted(linked)
        number = {name: i for i, name in enumerate(files)}
        targets = {rel: array("I", map(number.__getitem__, got[1])).tobytes() for rel, got in forward.items()}
        try:
            sealed.dump({"token": token, "pages": forward}, self.links_path)
            sealed.dump_plain({"token": token, "files": files, "pages": targets}, self.targets_path)
            sealed.dump({"version": STORE_VERSION, "token": token, "inputs": inputs, "linked": tuple(linked),
                         "into": {target: tuple(rels) for target, rels in into_page.items()},
                         "pages": {rel: (saved[0], tuple(saved[1])) for rel, saved in pages.items()}}, self.path)
        except (OSError, KeyError):
            self.forget()

    def forget(self) -> None:
        for path in (self.path, self.links_path, self.targets_path):
            path.unlink(missing_ok=True)


STORE_VERSION = 5


def find_broken(summaries: Mapping[str, Summary], files: Collection[str], base_path: str = "/") -> list[Broken]:
    """Every link of `summaries` (HTML file -> Summary) that misses a file of `files` or an id."""
    return check_pages(summaries, set(files), base_path)[0]


def check_pages(summaries: Mapping[str, Summary], files: set[str], base_path: str = "/", *,
                known: Mapping[str, Collection[str]] | None = None,
                changed: set[str] | frozenset[str] = frozenset(),
                other_ids: Callable[[str], Collection[str] | None] | None = None,
                anchored: dict[str, set[str]] | None = None,
                ) -> tuple[list[Broken], dict[str, Collection[str]]]:
    """Broken links, and the files each page links to.

    `known`: pages checked by the previous build and unchanged since, with the files they link
    to. Such a page is checked again only when one of those files is gone from `files` or is
    in `changed` (its ids changed), which makes the check of a one-page edit proportional to that edit.
    `other_ids`: the ids of an HTML page not in `summaries` (not checked here), for #fragments.
    `anchored`, when given, gets for each page checked the other pages it links to an #id of.
    """
    known = known or {}
    resolved: dict[tuple[str, str], tuple[str | None, str | None, str]] = {}
    broken: list[Broken] = []
    targets: dict[str, Collection[str]] = {}
    for rel in sorted(summaries):
        previous = known.get(rel)
        if previous is not None and changed.isdisjoint(previous) and files.issuperset(previous):
            targets[rel] = previous
            continue
        page_dir = posixpath.dirname(rel)
        mine: set[str] = set()
        into: set[str] = set()
        for href in summaries[rel].links:
            # Site-absolute URLs resolve the same from every page: resolve each one once.
            key = (href, "" if href.startswith("/") else page_dir)
            if key not in resolved:
                resolved[key] = _resolve(href, page_dir, base_path, files)
            target, reason, fragment = resolved[key]
            if target == "":
                target = rel  # "#anchor" or "?query": this page
            if target is not None:
                mine.add(target)
            if reason is None and fragment and target is not None and target.endswith(".html"):
                if target != rel:
                    into.add(target)
                summary = summaries.get(target)
                ids = summary.ids if summary is not None else other_ids(target) if other_ids is not None else None
                if ids is not None and fragment not in ids:
                    reason = f"no element with id {fragment!r} in {target}"
            if reason:
                broken.append(Broken(rel, href, reason))
        targets[rel] = frozenset(mine)
        if anchored is not None:
            anchored[rel] = into
    return broken, targets


# An href without a scheme, query, escape, space or control character (most of a site's links):
# its path and fragment are the text around the first "#".
_PLAIN_HREF = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=/@#-]*")


def _resolve(href: str, page_dir: str, base_path: str, files: Collection[str]) -> tuple[str | None, str | None, str]:
    """(site file it points to, or "" for the page itself; why it is broken; its #fragment)."""
    if _PLAIN_HREF.fullmatch(href) and not href.startswith("//"):
        path, _, fragment = href.partition("#")  # what urlsplit and unquote would give, quicker
    else:
        parts = urlsplit(href)
        fragment = unquote(parts.fragment) if parts.fragment else ""
        if parts.scheme or parts.netloc or href.startswith(("mailto:", "tel:", "data:")):
            if parts.scheme.lower() == "javascript":
                return None, "javascript: links are not allowed", ""
            return None, None, ""
        path = unquote(parts.path)
    if not path:
        return "", None, fragment
    if path.startswith("/"):
        if not path.startswith(base_path):
            return None, f"it is outside the site's base path {base_path}", ""
        target = path[len(base_path):]
    else:
        target = posixpath.normpath(posixpath.join(page_dir, path))
        if target == ".":
            target = ""
    if target.startswith("../") or target == "..":
        return None, "it points above the site's root", ""
    if target == "" or target.endswith("/"):
        target = target + "index.html"
    elif target not in files and target + "/index.html" in files:
        target = target + "/index.html"
    if target not in files:
        return None, f"no such file ({target}) in the site", ""
    return target, None, fragment
