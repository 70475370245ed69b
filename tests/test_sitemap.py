"""sitemap.xml: one file while the site is small; past a size, an index of one sitemap per
section (split again at the protocol's 50,000 URLs), listing the very same URLs. Real builds of a
small archive, with the limits made small."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import make_project, write_article
from hypothesis import given, settings
from hypothesis import strategies as st

from briefing import config as config_mod
from briefing import feeds, rendering
from briefing.build import build

NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
CONFIG = 'title: "T"\nbase_url: "https://example.org/b/"\nsearch: {enabled: false}\nentities: {min_articles: 1}\n'


def _project(root: Path) -> Path:
    project = make_project(root, CONFIG, articles=0)
    for i, city in enumerate(["Berlin", "Paris", "Madrid", "Lisbon"]):
        write_article(project, f"2024/a{i}.md", f"Report {i} from {city}", f"2024-05-{i + 1:02d}",
                      f"Officials in {city} met Angela Merkel on Tuesday.")
    return project


def _locs(path: Path, tag: str) -> list[str]:
    root = ET.fromstring(path.read_bytes())
    assert root.tag == f"{NS}{tag}"
    return [loc.text or "" for loc in root.iter(f"{NS}loc")]


def test_a_large_sitemap_is_an_index_of_one_sitemap_per_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    whole = _project(tmp_path / "whole")
    build(config_mod.load(whole), jobs=1)
    every = _locs(whole / "site" / "sitemap.xml", "urlset")
    assert len(every) > 12

    monkeypatch.setattr(feeds, "SITEMAP_SPLIT_OVER", 5)
    monkeypatch.setattr(feeds, "SITEMAP_MAX_URLS", 3)
    split = _project(tmp_path / "split")
    build(config_mod.load(split), jobs=1)
    site = split / "site"
    parts = _locs(site / "sitemap.xml", "sitemapindex")
    assert all(p.startswith("https://example.org/b/sitemaps/") and p.endswith(".xml") for p in parts)
    listed: list[str] = []
    for part in parts:
        urls = _locs(site / part.removeprefix("https://example.org/b/"), "urlset")
        assert 1 <= len(urls) <= 3
        sections = {u.removeprefix("https://example.org/b/").partition("/")[0] for u in urls}
        assert len(sections) == 1, urls  # one section per file
        listed += urls
    assert sorted(listed) == sorted(every)  # the same URLs, each once
    assert "https://example.org/b/sitemaps/articles-2.xml" in parts  # 4 articles: two files of them
    assert "Sitemap: https://example.org/b/sitemap.xml" in (site / "robots.txt").read_text(encoding="utf-8")


def test_an_edit_adding_a_page_makes_again_only_its_sections_sitemap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(feeds, "SITEMAP_SPLIT_OVER", 5)
    project = _project(tmp_path / "p")
    build(config_mod.load(project), jobs=1)
    rendered: list[str] = []
    real = rendering._page_done

    def page_done(page, *args):  # noqa: ANN001, ANN002, ANN202
        done = real(page, *args)
        if done[2]:  # its template ran
            rendered.append(page.path)
        return done

    monkeypatch.setattr(rendering, "_page_done", page_done)
    edited = project / "content" / "2024" / "a1.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEnvoys from Vienna joined them.\n", encoding="utf-8")
    build(config_mod.load(project), jobs=1)
    assert "places/vienna/index.html" in rendered  # a new page
    assert sorted(p for p in rendered if "sitemap" in p) == ["sitemaps/places.xml"], rendered
    assert "https://example.org/b/places/vienna/" in _locs(project / "site" / "sitemaps" / "places.xml", "urlset")


@settings(max_examples=300, deadline=None)
@given(urls=st.lists(st.text(alphabet="ab/0.-_", max_size=8), max_size=30))
def test_sitemap_sections_are_the_urls_before_their_first_slash(urls: list[str]):
    """feeds._sections cuts the sorted URLs into runs by bisection: the same sections, holding
    the same URLs in order, as grouping them one by one."""
    urls = sorted(urls)
    expected: dict[str, list[str]] = {}
    for url in urls:
        expected.setdefault(url.partition("/")[0] if "/" in url else "", []).append(url)
    got = feeds._sections(urls)
    assert got == expected
    assert sorted(got) == sorted(expected)
