"""The A-Z index of a kind: one page while it is short, one page per first letter (and a first
page of the most mentioned) when it is long; an edit moving one count makes again only the
letter that shows it. Real builds of small archives (the real spaCy model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import make_project, write_article

from briefing import build as build_mod
from briefing import config as config_mod
from briefing import index_pages
from briefing.build import build

CONFIG = 'title: "T"\nbase_url: "https://example.org/"\nsearch: {enabled: false}\nentities: {min_articles: 1}\n'
CITIES = ["Berlin", "Bonn", "Paris", "Madrid", "Lisbon", "Vienna"]


def _project(root: Path) -> Path:
    project = make_project(root, CONFIG, articles=0)
    for i, city in enumerate(CITIES):
        write_article(project, f"2024/a{i}.md", f"Report {i} from {city}", f"2024-05-{i + 1:02d}",
                      f"Officials in {city} met on Tuesday. The talks in {city} went on late.")
    # Berlin named in two more articles: the most mentioned place
    write_article(project, "2024/b1.md", "Berlin again", "2024-06-01", "Diplomats in Berlin met on Monday.")
    write_article(project, "2024/b2.md", "Berlin once more", "2024-06-02", "Diplomats in Berlin met on Friday.")
    return project


def _main(page: str) -> str:
    return page[page.index("<main"):page.index("</main>")]


def _listed(page: str) -> dict[str, int]:
    """name -> count of each row of an index page."""
    return {name: int(n) for name, n in
            re.findall(r'<li[^>]*><a href="[^"]+">([^<]+)</a> <span class="count">(\d+)</span></li>', page)}


def test_a_short_index_is_one_page_of_every_name(tmp_path: Path):
    project = _project(tmp_path / "p")
    build(config_mod.load(project), jobs=1)
    site = project / "site"
    page = _main((site / "places" / "index.html").read_text(encoding="utf-8"))
    assert set(CITIES) <= set(_listed(page))
    assert _listed(page)["Berlin"] == 3
    assert '<a href="#letter-B">B</a>' in page
    assert not (site / "places" / "a-z").exists()


def test_a_long_index_is_one_page_per_letter_and_one_of_the_most_mentioned(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(index_pages, "LETTER_PAGES_OVER", 3)
    monkeypatch.setattr(index_pages, "MOST_MENTIONED", 2)
    project = _project(tmp_path / "p")
    build(config_mod.load(project), jobs=1)  # every link checked: the letter pages exist
    site = project / "site"
    first = _main((site / "places" / "index.html").read_text(encoding="utf-8"))
    assert "Most mentioned" in first
    top = _listed(first)
    assert list(top)[0] == "Berlin" and top["Berlin"] == 3 and len(top) == 2
    assert '<a href="/places/a-z/b/">B</a> <span class="count">2</span>' in first  # Berlin, Bonn
    on_letters: dict[str, str] = {}
    for letter_page in sorted((site / "places" / "a-z").glob("*/index.html")):
        page = _main(letter_page.read_text(encoding="utf-8"))
        letter = letter_page.parent.name.upper()
        assert f"<h1>Places: {letter}</h1>" in page
        assert 'aria-current="page">' + letter + "</a>" in page
        for name in _listed(page):
            assert name[0].upper() == letter
            assert name not in on_letters  # each name on one page
            on_letters[name] = letter
    assert set(CITIES) <= set(on_letters)
    assert _listed(_main((site / "places" / "a-z" / "b" / "index.html").read_text(encoding="utf-8"))) == {
        "Berlin": 3, "Bonn": 1}


def test_an_edit_moving_one_count_makes_again_only_that_letters_page(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(index_pages, "LETTER_PAGES_OVER", 3)
    project = _project(tmp_path / "p")
    build(config_mod.load(project), jobs=1)
    made: list[str] = []
    real = build_mod.render_pages

    def render_pages(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        out = real(*args, **kwargs)
        made.extend(page.path for page, _ in out[3])
        return out

    monkeypatch.setattr(build_mod, "render_pages", render_pages)
    edited = project / "content" / "2024" / "a2.md"  # from Paris: now names Madrid too
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEnvoys from Madrid joined them.\n", encoding="utf-8")
    build(config_mod.load(project), jobs=1)
    indexes = sorted(p for p in made if p.startswith("places/") and "a-z" in p or p == "places/index.html")
    assert indexes == ["places/a-z/m/index.html", "places/index.html"], made
    page = _main((project / "site" / "places" / "a-z" / "m" / "index.html").read_text(encoding="utf-8"))
    assert _listed(page)["Madrid"] == 2


def test_a_name_not_beginning_with_an_ascii_letter_is_indexed_by_its_transliteration():
    from briefing.index_pages import _letter, index_order

    assert [_letter(n) for n in ("Émile Zola", "'Ndrangheta", "Özil", "al-Sudani", "3M", "")] == \
        ["E", "N", "O", "A", "#", "#"]
    names = ["Fabio", "Émile Zola", "eduardo", "Ezra", "Eamon", "Zeta"]
    assert sorted(names, key=index_order) == ["Eamon", "eduardo", "Émile Zola", "Ezra", "Fabio", "Zeta"]


def test_the_filter_box_narrows_an_index_page_in_a_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """filter.js, in real headless Chromium: typing part of a name hides the other rows and the
    letters left empty, on a whole index and on a letter's page; without JavaScript the box stays
    hidden and every row shows."""
    from browser import chromium, static_server

    monkeypatch.setattr(index_pages, "LETTER_PAGES_OVER", 3)
    project = _project(tmp_path / "p")
    build(config_mod.load(project), jobs=1)
    monkeypatch.setattr(index_pages, "LETTER_PAGES_OVER", 1000)
    whole = _project(tmp_path / "whole")
    build(config_mod.load(whole), jobs=1)
    with chromium() as browser:
        page = browser.new_page()

        def visible() -> list[str]:
            return [t.split()[0] for t in page.locator("[data-filter-item]:visible").all_inner_texts()]

        with static_server(whole / "site") as base:
            page.goto(f"{base}/places/")
            assert {"Berlin", "Bonn", "Paris"} <= set(visible())
            page.fill("[data-filter-input]", "ber")
            page.wait_for_function("document.querySelectorAll('[data-filter-item]:not([hidden])').length === 1")
            assert visible() == ["Berlin"]
            assert page.locator("[data-filter-group]:visible h2").all_inner_texts() == ["B"]  # empty letters hidden

            nojs = browser.new_context(java_script_enabled=False).new_page()
            nojs.goto(f"{base}/places/")
            assert not nojs.locator("[data-filter-box]").is_visible()
            rows = nojs.locator("[data-filter-item]").all_inner_texts()
            assert {"Berlin", "Bonn", "Paris"} <= {t.split()[0] for t in rows}

        with static_server(project / "site") as base:
            page.goto(f"{base}/places/a-z/b/")
            assert visible() == ["Berlin", "Bonn"]
            page.fill("[data-filter-input]", "bon")
            page.wait_for_function("document.querySelectorAll('[data-filter-item]:not([hidden])').length === 1")
            assert visible() == ["Bonn"]


def test_pages_planned_to_one_path_are_each_reported_with_their_source():
    """The plan's URL collisions (besides two articles' slugs, reported at parse): a page of a
    group (an entity's) on a path a page has, and two pages on one path, each named."""
    from briefing.pages import Page, PageGroup, _collisions

    article = Page("articles/a/index.html", "articles/a/", "article.html", {}, source="content/a.md")
    other = Page("articles/a/index.html", "articles/a/", "article.html", {}, source="content/b.md")
    redirect = Page("people/x/index.html", "people/x/", "redirect.html", {})
    group = PageGroup(("entity", "person/x"), (("people/x/index.html", "people/x/", "entity.html", b"", True),
                                               ("people/x/feed.xml", "people/x/feed.xml", "feed.xml", b"", False)),
                      lambda: [])
    assert _collisions([article, redirect], [group]) != []
    problems = _collisions([article, other, redirect], [group])
    assert [(p.path, p.message) for p in problems] == [
        ("content/b.md", "has the same slug as content/a.md: both would be written to /articles/a/. "
                         "Give one of them a different `slug:`."),
        ("people/x/index.html", "two pages would be written to /people/x/.")]
    assert _collisions([article, redirect], []) == []
