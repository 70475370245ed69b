"""Pagefind search, driven in real headless Chromium, finds an article by a word in its body."""

from __future__ import annotations

from pathlib import Path

from browser import chromium, static_server
from conftest import make_project, run_cli, write_article


def test_search_finds_an_article_by_a_word_in_its_body(tmp_path: Path):
    root = make_project(tmp_path / "p", config='title: "Search test"\nbase_url: "https://example.org/news/"\n')
    write_article(root, "2024/2024-07-01-grain.md", "Grain shipments resume", "2024-07-01",
                  "Freighters loaded with sunflower seed left Odesa on Monday, the first since spring.",
                  tags=["trade"])
    result = run_cli("build", "--project", str(root))
    assert result.returncode == 0, result.stderr
    site = root / "site"
    assert (site / "pagefind" / "pagefind-ui.js").exists()
    served = tmp_path / "www"
    served.mkdir()
    (served / "news").symlink_to(site)  # served under the base_url's sub-path
    with static_server(served) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base}/news/search/")
        page.fill(".pagefind-ui__search-input", "sunflower")
        page.wait_for_selector(".pagefind-ui__result-link", timeout=10_000)
        titles = page.locator(".pagefind-ui__result-link").all_inner_texts()
        assert titles == ["Grain shipments resume"]
        href = page.locator(".pagefind-ui__result-link").first.get_attribute("href")
        assert href == "/news/articles/grain/"
        # Filters by entity kind and topic are offered.
        page.wait_for_selector(".pagefind-ui__filter-name", timeout=5_000)
        filters = {t.strip().lower() for t in page.locator(".pagefind-ui__filter-name").all_inner_texts()}
        assert "topic" in filters and "places" in filters
        # Without JavaScript the page degrades to a message.
        context = browser.new_context(java_script_enabled=False)
        nojs = context.new_page()
        nojs.goto(f"{base}/news/search/")
        assert "Search needs JavaScript" in nojs.inner_text("main")
