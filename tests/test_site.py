"""End to end: the sample archive and the seed article built by the CLI, as a user would."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import pytest
import yaml
from conftest import REPO, run_cli, shared_path, tree_digest

from briefing import links


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's sample archive, copied aside and built once, under a sub-path."""
    root = tmp_path_factory.mktemp("sample")
    shutil.copytree(REPO / "content", root / "content")
    for name in ("config.yaml", "entities.yaml"):
        shutil.copy(REPO / name, root / name)
    result = run_cli("build", "--project", str(root))
    assert result.returncode == 0, result.stderr
    return root


def content_files() -> list[dict]:
    out = []
    for path in sorted((REPO / "content").rglob("*.md")):
        front = yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])
        out.append(front)
    return out


def test_sample_archive_has_at_least_twelve_dated_tagged_briefings():
    fronts = content_files()
    assert len(fronts) >= 12
    assert all(f.get("title") and f.get("date") and f.get("tags") for f in fronts)


def test_every_published_article_has_its_page_and_is_listed(sample: Path):
    site = sample / "site"
    config = yaml.safe_load((sample / "config.yaml").read_text())
    assert config["base_url"].rstrip("/").endswith("/briefings")  # the sample is served under a sub-path
    listed_on_home = set()
    for page in [site / "index.html", *sorted((site / "page").glob("*/index.html"))]:
        listed_on_home |= set(re.findall(r'href="/briefings/(articles/[^"/]+/)"', page.read_text()))
    archive_pages = sorted((site / "archive").rglob("index.html"))
    listed_in_archive = set()
    for page in archive_pages:
        listed_in_archive |= set(re.findall(r'href="/briefings/(articles/[^"/]+/)"', page.read_text()))
    for front in content_files():
        url = f"articles/{front['slug']}/"
        if front.get("draft"):
            assert not (site / url).exists(), "drafts are never in `briefing build` output"
            continue
        page = (site / url / "index.html").read_text()
        assert f"<h1>{front['title']}" in page.replace("&#39;", "'").replace("&amp;", "&")
        assert url in listed_on_home and url in listed_in_archive


def test_internal_links_resolve_under_a_sub_path(sample: Path):
    assert links.check(sample / "site", "/briefings/") == []
    assert run_cli("check", "--project", str(sample)).returncode == 0


def test_check_command_names_a_broken_link(tmp_path: Path, sample: Path):
    site = tmp_path / "site"
    shutil.copytree(sample / "site", site)
    (site / "archive" / "index.html").unlink()
    result = run_cli("check", "--project", str(sample), "--output", str(site))
    assert result.returncode == 1
    assert "index.html: links to '/briefings/archive/': no such file (archive/index.html) in the site" in result.stderr


def test_two_builds_into_two_folders_are_byte_identical(sample: Path, tmp_path: Path):
    result = run_cli("build", "--project", str(sample), "--output", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    first = tree_digest(sample / "site")
    second = tree_digest(tmp_path / "again")
    assert first == second
    assert len(first) > 100


def test_feeds_are_valid_atom_with_absolute_urls(sample: Path):
    site = sample / "site"
    feeds = sorted(site.rglob("feed.xml"))
    assert len(feeds) > 10  # the site's, one per entity and one per topic
    for feed in feeds:
        parsed = feedparser.parse(feed.read_bytes())
        assert not parsed.bozo, (feed, parsed.get("bozo_exception"))
        assert parsed.version == "atom10"
        assert parsed.entries, feed
        for entry in parsed.entries:
            assert entry.link.startswith("https://example.org/briefings/articles/")
            assert entry.title and entry.updated


def test_sitemap_lists_every_html_page(sample: Path):
    site = sample / "site"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {e.text for e in ET.parse(site / "sitemap.xml").getroot().findall("s:url/s:loc", ns)}
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")
             if not p.relative_to(site).as_posix().startswith("pagefind/")}
    for rel in pages:
        if rel == "404.html" or 'http-equiv="refresh"' in (site / rel).read_text():
            continue
        url = "https://example.org/briefings/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)
        assert url in locs, rel
    assert "Sitemap: https://example.org/briefings/sitemap.xml" in (site / "robots.txt").read_text()


def test_article_json_ld_names_its_entities(sample: Path):
    page = (sample / "site/articles/abu-khadija-killed/index.html").read_text()
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
    data = json.loads(raw)
    assert data["@type"] == "NewsArticle" and data["headline"]
    names = {m["name"] for m in data["mentions"]}
    assert {"Abdallah Maki Mosleh al-Rifai", "Iraq"} <= names
    rifai = next(m for m in data["mentions"] if m["name"] == "Abdallah Maki Mosleh al-Rifai")
    assert rifai["@type"] == "Person" and rifai["url"].startswith("https://example.org/briefings/people/")
    assert '<link rel="canonical" href="https://example.org/briefings/articles/abu-khadija-killed/">' in page
    assert '<meta property="og:title"' in page


def test_article_links_mentions_and_lists_entities(sample: Path):
    page = (sample / "site/articles/abu-khadija-killed/index.html").read_text()
    assert re.search(r'<a href="/briefings/people/abdallah-maki-mosleh-al-rifai/" '
                     r'class="mention mention-person" id="m-abdallah-maki-mosleh-al-rifai"', page)
    assert 'rel="prev"' in page or 'rel="next"' in page
    assert "Related briefings" in page


def test_seed_article_builds_from_a_temp_folder(tmp_path: Path):
    seed = next(shared_path("seed").glob("*.txt"))
    (tmp_path / "content").mkdir()
    shutil.copy(seed, tmp_path / "content" / "2025-03-14-isis-leader-killed.txt")
    (tmp_path / "config.yaml").write_text('title: Seed\nbase_url: "https://example.org/"\n')
    result = run_cli("build", "--project", str(tmp_path))
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    page = (site / "articles/isis-leader-killed/index.html").read_text()
    assert "ISIS Leader in Iraq and Syria Killed" in page
    # Abu Khadija: one entity page, listing the seed with a snippet linking to the mention's anchor.
    rifai = [p for p in site.glob("people/*/index.html") if "al-Rifai" in p.read_text() and "rifai" in str(p)]
    assert len(rifai) == 1
    entity_page = rifai[0].read_text()
    anchor = re.search(r'href="/articles/isis-leader-killed/#(m-[a-z0-9-]+)"', entity_page).group(1)
    assert f'id="{anchor}"' in page
    assert f'href="/{rifai[0].parent.relative_to(site).as_posix()}/"' in page  # and links back
    for place in ("iraq", "syria"):
        assert "/articles/isis-leader-killed/" in (site / f"places/{place}/index.html").read_text()
    isis = [p for p in site.glob("organizations/*/index.html") if "ISIS" in p.read_text()]
    assert len(isis) == 1 and "/articles/isis-leader-killed/" in isis[0].read_text()
    assert re.search(r'href="/people/bashar-al-assad/"[^>]*>Assad</a>', page) or \
        re.search(r'href="/people/bashar-al-assad/"[^>]*>Bashar al-Assad</a>', page)
    assert links.check(site, "/") == []


def test_short_forms_in_the_seed_link_to_their_full_entity(tmp_path: Path):
    """With every mention linked, "Assad" links to Bashar al-Assad's page and "Abu Khadija" to al-Rifai's."""
    seed = next(shared_path("seed").glob("*.txt"))
    (tmp_path / "content").mkdir()
    shutil.copy(seed, tmp_path / "content" / "2025-03-14-isis-leader-killed.txt")
    (tmp_path / "config.yaml").write_text('title: Seed\nbase_url: "https://example.org/"\n'
                                          "search: {enabled: false}\nentities: {link: every}\n")
    result = run_cli("build", "--project", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "site/articles/isis-leader-killed/index.html").read_text()
    assert re.search(r'<a href="/people/bashar-al-assad/" class="mention mention-person" id="m-bashar-al-assad-\d+"'
                     r'[^>]*>Assad</a>', page)
    assert re.search(r'<a href="/people/abdallah-maki-mosleh-al-rifai/" class="mention mention-person"[^>]*>'
                     r"Abu Khadija</a>", page)
    assert re.search(r'<a href="/people/mohammed-shia-al-sudani/" class="mention mention-person"[^>]*>al-Sudani</a>',
                     page)
