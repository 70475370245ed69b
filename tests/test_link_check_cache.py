"""The link check's cache: pages rendered to the bytes they had at the last check are not scanned
again, and pages the check skips are checked again when a file they link to is gone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import make_project, write_article

from briefing import build as build_mod
from briefing import config as config_mod
from briefing import links
from briefing.build import build


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pages whose HTML the build scans for links (in this process: jobs=1)."""
    seen: list[str] = []
    real = links.summarize

    def summarize(html: str) -> links.Summary:
        seen.append(html[html.find("<title>"):html.find("</title>")])
        return real(html)

    monkeypatch.setattr(links, "summarize", summarize)
    return seen


def test_a_build_into_an_emptied_output_reuses_the_last_checks_summaries(tmp_path: Path, scans: list[str]):
    project = make_project(tmp_path / "p")
    config = config_mod.load(project)
    first = build(config, jobs=1)
    assert first.rendered > 20 and len(scans) > 20
    shutil.rmtree(project / "site")  # a warm build: caches hot, output empty
    scans.clear()
    again = build(config, jobs=1)
    assert again.rendered == first.rendered  # every page rendered again...
    assert scans == []  # ...to the bytes it had: none scanned

    # An article that changes is scanned, and a broken link in it is still found.
    write_article(project, "2024/2024-05-09-strike-ends.md", "Rotterdam strike ends after talks",
                  "2024-05-09", "The strike ended. See [the report](/reports/strike/) for details.",
                  tags=["labour"])
    with pytest.raises(links.BrokenLinksError) as err:
        build(config, jobs=1)
    assert "'/reports/strike/': no such file" in str(err.value)
    assert any("Rotterdam strike ends" in title for title in scans)


def test_summaries_reused_by_render_workers_are_those_of_the_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(build_mod, "PARALLEL_RENDER_MIN", 2)  # pages rendered in forked workers
    project = make_project(tmp_path / "p")
    config = config_mod.load(project)
    build(config, jobs=2)
    shutil.rmtree(project / "site")
    build(config, jobs=2)
    site = project / "site"
    stored = links.SummaryStore(next((project / ".briefing-cache" / "links").glob("*.pickle"))).load()
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert sorted(stored) == pages
    for rel in pages:
        assert stored[rel][1] == links.summarize((site / rel).read_text(encoding="utf-8")), rel


def test_a_link_to_a_static_file_that_is_removed_is_reported(tmp_path: Path):
    project = make_project(tmp_path / "p")
    (project / "static" / "docs").mkdir(parents=True)
    (project / "static" / "docs" / "report.pdf").write_bytes(b"%PDF-1.4 a report")
    write_article(project, "2024/2024-06-20-report.md", "The port report", "2024-06-20",
                  "The Port of Rotterdam Authority published [its report](/docs/report.pdf).", tags=["ports"])
    config = config_mod.load(project)
    build(config, jobs=1)
    (project / "static" / "docs" / "report.pdf").unlink()
    with pytest.raises(links.BrokenLinksError) as err:
        build(config, jobs=1)
    assert "articles/report/index.html: links to '/docs/report.pdf': no such file (docs/report.pdf)" in str(err.value)


def test_a_known_page_is_checked_again_when_a_file_it_links_to_is_gone():
    summaries = {"a/index.html": links.Summary(frozenset(), ("/docs/report.pdf", "/b/")),
                 "b/index.html": links.Summary(frozenset(), ())}
    known = {"a/index.html": frozenset({"docs/report.pdf", "b/index.html"})}
    files = {"a/index.html", "b/index.html", "docs/report.pdf"}
    broken, targets = links.check_pages(summaries, files, "/", known=known)
    assert broken == [] and targets["a/index.html"] is known["a/index.html"]  # not checked again
    broken, _ = links.check_pages(summaries, files - {"docs/report.pdf"}, "/", known=known)
    assert [(b.page, b.href) for b in broken] == [("a/index.html", "/docs/report.pdf")]
