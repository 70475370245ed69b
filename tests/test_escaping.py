"""Hostile strings everywhere they can appear, built with the real CLI; every output file is parsed.

Titles, summaries, authors, tags, the site title, an entity's name, alias, description and link
(from the curation file, so no model guess is needed) carry `<script>`, quotes, `&` and
`javascript:`. Each HTML page must parse into the elements the theme wrote and nothing else; each
XML file must parse; the JSON-LD must be JSON; no link may use the javascript: scheme. And the
hostile text must still be there, shown as text: escaped, not stripped.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from robust_helpers import error_of, make_archive, run_build

SCRIPT = "<script>alert(1)</script>"
SITE_TITLE = "Site </title><script>alert('t')</script> & \"co\""
TITLE = "Title <script>alert('x')</script> & \"quotes\" 'apos'"
SUMMARY = "Summary </p><script>alert(2)</script> & \"q\" 'a' javascript:alert(3)"
AUTHOR = "Au<i>thor</i> \"x\" & 'y'"
PUBLISHER = "Pub <b>lisher</b> & co"
URL = "https://example.org/a?b=\"><script>alert(1)</script>&c='d'"
TAGS = ["<script>alert('tag')</script>", "a\"b'c&d", "javascript:alert(1)"]
ENTITY = "<script>alert(1)</script> Corp"
ALIAS = "\"onmouseover=alert(1)"
DESCRIPTION = "Desc </p><script>alert('d')</script> & \"q\" 'a'"
LINK = "https://example.org/?q=\"><script>alert(1)</script>&x='y'"
TITLE_2 = "Second & <em>second</em> \"onmouseover=alert(1)"

BODY = f"""\
The {SCRIPT} Corp said on Monday that it would expand in Baghdad.

A spokesman for {ALIAS} said <img src=x onerror=alert(1)> was harmless & fine.

[click me](javascript:alert(1)) and [other](JAVASCRIPT:alert(1)) and <javascript:alert(1)> and
![img](javascript:alert(1)) and [ok](https://example.org/x"onclick="alert(1))

<div onclick="alert(1)">raw html</div>

<script>alert("raw")</script>

## Heading <script>alert(1)</script> "onfocus=alert(1)

Reference [ref][r] and a footnote.[^n]

[r]: javascript:alert(1) "title\\"><script>"
[^n]: Note with <iframe src="javascript:alert(1)"></iframe>.
"""


def front(**fields: object) -> str:
    return "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False) + "---\n"


def hostile_archive(root: Path, html: bool = False) -> Path:
    config = yaml.safe_dump({
        "title": SITE_TITLE, "description": "Desc \"><img src=x onerror=alert(1)> & 'q'",
        "author": "<b>Author</b> & co", "base_url": "https://example.org/brief/",
        "search": {"enabled": False}, "tags": {"min_articles": 1}, "entities": {"min_articles": 1},
        "markdown": {"html": html},
    }, allow_unicode=True)
    curation = yaml.safe_dump({"entities": [{"name": ENTITY, "kind": "organization", "aliases": [ALIAS],
                                             "description": DESCRIPTION, "links": [LINK]}]})
    articles = {
        "content/a.md": front(title=TITLE, date="2025-01-02", summary=SUMMARY, author=AUTHOR,
                              source=PUBLISHER, url=URL, tags=TAGS) + BODY,
        "content/x\"'<b>&.md": front(title=TITLE_2, date="2025-01-05", tags=TAGS[:1])
        + f"The {ENTITY} met officials in Baghdad again. The {ALIAS} team was there.\n",
    }
    return make_archive(root, config=config, articles=articles, curation=curation)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = hostile_archive(tmp_path_factory.mktemp("hostile") / "archive")
    proc = run_build(root)
    assert proc.returncode == 0, proc.stderr
    return root / "site"


URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data"}
FORBIDDEN = {"img", "b", "i", "em", "iframe", "object", "embed", "style", "form", "textarea", "base", "div"}
THEME_DIVS = {"layout", "body", "filter"}


class Page(HTMLParser):
    """Everything a page holds that could carry an injection."""

    def __init__(self, base_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_path = base_path
        self.problems: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.jsonld: list[object] = []
        self._json: list[str] | None = None
        self.h1: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        where = f"<{tag}> at line {self.getpos()[0]}"
        if tag in FORBIDDEN and not (tag == "div" and a.get("class", "").split()[:1] and
                                     a["class"].split()[0] in THEME_DIVS):
            self.problems.append(f"injected element {where}: {a}")
        for name, value in a.items():
            self.attrs.append((tag, name, value))
            if name.startswith("on"):
                self.problems.append(f"event-handler attribute {name!r} on {where}")
            if name in URL_ATTRS and value.strip().lower().replace("\t", "").startswith(
                    ("javascript:", "vbscript:", "data:")):
                self.problems.append(f"{name}={value!r} on {where}")
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh" and "javascript:" in a.get("content", ""):
            self.problems.append(f"javascript: refresh on {where}")
        if tag == "script":
            if a.get("type") == "application/ld+json" and set(a) == {"type"}:
                self._json = []
            elif not (set(a) <= {"src", "defer"} and a.get("src", "").startswith(self.base_path)):
                self.problems.append(f"script that the theme did not write: {where} {a}")
        if tag == "h1":
            self._in_h1 = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._json is not None:
            try:
                self.jsonld.append(json.loads("".join(self._json)))
            except ValueError as exc:
                self.problems.append(f"JSON-LD does not parse: {exc}")
            self._json = None
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._json is not None:
            self._json.append(data)
            return
        self.text.append(data)
        if self._in_h1:
            self.h1.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse_page(path: Path) -> Page:
    page = Page("/brief/")
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def test_every_page_parses_without_injection(site: Path) -> None:
    htmls = sorted(site.rglob("*.html"))
    xmls = sorted(site.rglob("*.xml"))
    assert len(htmls) > 10 and len(xmls) > 3
    problems = []
    for path in htmls:
        page = parse_page(path)
        problems += [f"{path.relative_to(site)}: {p}" for p in page.problems]
    for path in xmls:
        root = ET.fromstring(path.read_bytes())  # raises on anything that is not well-formed XML
        for el in root.iter():
            ns, _, local = el.tag.rpartition("}")
            if ns.lstrip("{") not in ("http://www.w3.org/2005/Atom", "http://www.sitemaps.org/schemas/sitemap/0.9"):
                problems.append(f"{path.relative_to(site)}: unexpected element {el.tag}")
            for name, value in el.attrib.items():
                if name.startswith("on") or value.strip().lower().startswith("javascript:"):
                    problems.append(f"{path.relative_to(site)}: {el.tag} {name}={value!r}")
    for name in ("_redirects", "robots.txt"):
        text = (site / name).read_text(encoding="utf-8")
        assert "<" not in text and "javascript:" not in text, text
    assert not problems, "\n".join(problems)


def test_hostile_text_is_shown_as_text(site: Path) -> None:
    article = parse_page(site / "articles/a/index.html")
    assert "".join(article.h1) == TITLE
    attrs = {(t, n): v for t, n, v in article.attrs}
    assert attrs[("meta", "content")]  # the description meta exists
    assert ("meta", "content", SUMMARY) in article.attrs
    assert ("meta", "content", f"{TITLE}") in article.attrs  # og:title
    assert ("a", "href", URL) in article.attrs  # the original's address, as an attribute value
    for s in (SITE_TITLE, AUTHOR, PUBLISHER, ENTITY, *TAGS, "<img src=x onerror=alert(1)>",
              '<div onclick="alert(1)">raw html</div>', "[click me](javascript:alert(1))"):
        assert s in article.all_text, s
    # The entity mention in the body is a link to its page, its name escaped in the title attribute.
    assert ("a", "title", ENTITY) in article.attrs

    (ld,) = article.jsonld
    assert ld["headline"] == TITLE and ld["description"] == SUMMARY and ld["isBasedOn"] == URL
    assert ld["author"]["name"] == AUTHOR and ld["keywords"] == TAGS
    (corp,) = [m for m in ld["mentions"] if m["name"] == ENTITY]
    assert corp["sameAs"] == [LINK]


def test_entity_page_escapes_curated_strings(site: Path) -> None:
    (folder,) = [p for p in (site / "organizations").iterdir() if (p / "feed.xml").exists()]  # not alias redirects
    page = parse_page(folder / "index.html")
    assert "".join(page.h1) == ENTITY
    assert DESCRIPTION in page.all_text and ALIAS in page.all_text
    assert ("a", "href", LINK) in page.attrs
    # Snippets quote the article text around each mention: the hostile text, as text.
    assert f"The {ENTITY} met officials in Baghdad again." in page.all_text
    assert f"The {ENTITY} said on Monday" in page.all_text


def test_feeds_and_sitemap_carry_the_strings_intact(site: Path) -> None:
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring((site / "feed.xml").read_bytes())
    assert feed.findtext(f"{atom}title") == SITE_TITLE
    titles = [e.findtext(f"{atom}title") for e in feed.iter(f"{atom}entry")]
    assert sorted(titles) == sorted([TITLE, TITLE_2])
    summaries = [e.findtext(f"{atom}summary") for e in feed.iter(f"{atom}entry")]
    assert SUMMARY in summaries
    authors = [n.text for n in feed.iter(f"{atom}name")]
    assert AUTHOR in authors
    (folder,) = [p for p in (site / "organizations").iterdir() if (p / "feed.xml").exists()]  # not alias redirects
    entity_feed = ET.fromstring((folder / "feed.xml").read_bytes())
    assert entity_feed.findtext(f"{atom}title") == f"{ENTITY} — {SITE_TITLE}"
    for loc in ET.fromstring((site / "sitemap.xml").read_bytes()).iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc"):
        assert loc.text and loc.text.startswith("https://example.org/brief/")
        assert not set(loc.text) & set("<>\"' &"), loc.text


def test_markdown_links_with_javascript_scheme_are_not_links(site: Path) -> None:
    page = parse_page(site / "articles/a/index.html")
    hrefs = [v for t, n, v in page.attrs if n in URL_ATTRS]
    assert not [h for h in hrefs if urlsplit(h.strip()).scheme.lower() in ("javascript", "vbscript", "data")]
    assert "[click me](javascript:alert(1))" in page.all_text  # shown as the text it is
    # A quote inside a Markdown link target is percent-encoded, never an attribute break-out.
    assert ("a", "href", "https://example.org/x%22onclick=%22alert(1)") in page.attrs


def test_raw_html_passes_only_when_enabled(tmp_path: Path) -> None:
    root = make_archive(tmp_path / "archive", config=(
        'title: "Raw"\nbase_url: "https://example.org/"\nsearch: {enabled: false}\nmarkdown: {html: true}\n'),
        articles={"content/a.md": front(title="Raw", date="2025-01-01")
                  + 'Text with <span class="note">raw markup</span> kept.\n'})
    proc = run_build(root)
    assert proc.returncode == 0, proc.stderr
    html = (root / "site/articles/a/index.html").read_text(encoding="utf-8")
    assert '<span class="note">raw markup</span>' in html


def test_javascript_link_in_curation_is_refused(tmp_path: Path) -> None:
    root = hostile_archive(tmp_path / "archive")
    (root / "entities.yaml").write_text(yaml.safe_dump({"entities": [
        {"name": ENTITY, "kind": "organization", "links": ["javascript:alert(1)", " JavaScript:alert(2)"]}]}))
    proc = run_build(root)
    assert proc.returncode == 1
    assert error_of(proc) == (
        "error:\n"
        "entities.yaml:3: entity '<script>alert(1)</script> Corp': link 'javascript:alert(1)' must start with "
        "http:// or https://.\n"
        "entities.yaml:3: entity '<script>alert(1)</script> Corp': link 'JavaScript:alert(2)' must start with "
        "http:// or https://.\n"
        "2 curation problems found.")
