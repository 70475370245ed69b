"""The link check's cache: pages rendered to the bytes they had at the last check are not scanned
again, and pages the check skips are checked again when a file they link to is gone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import make_project, write_article

from briefing import config as config_mod
from briefing import links, rendering
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
    monkeypatch.setattr(rendering, "PARALLEL_RENDER_MIN", 2)  # pages rendered in forked workers
    project = make_project(tmp_path / "p")
    config = config_mod.load(project)
    build(config, jobs=2)
    shutil.rmtree(project / "site")
    build(config, jobs=2)
    site = project / "site"
    store = links.SummaryStore(_index_file(project))
    last = store.load()
    stored = store.load_links(last)
    assert stored is not None
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert sorted(last.pages) == sorted(stored) == pages
    for rel in pages:
        summary = links.Summary(frozenset(last.pages[rel][1]), stored[rel][0])
        assert summary == links.summarize((site / rel).read_text(encoding="utf-8")), rel


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


def _index_file(project: Path) -> Path:
    (path,) = [p for p in (project / ".briefing-cache" / "links").glob("*.pickle")
               if not p.name.endswith(".links.pickle")]
    return path


def test_the_stored_targets_name_what_each_page_links_to(tmp_path: Path):
    """What a check reads when files are gone (SummaryStore.linking_to): each page's linked
    files as numbers into one list, the very files the stored links lead to."""
    project = make_project(tmp_path / "p")
    build(config_mod.load(project), jobs=1)
    store = links.SummaryStore(_index_file(project))
    last = store.load()
    stored = store.load_links(last)
    assert stored is not None
    from collections import Counter

    linked_by = Counter(target for got in stored.values() for target in got[1])
    some = sorted(target for target, n in linked_by.items() if n < len(stored) // 3)[::5]
    found = store.linking_to(some, last)
    assert found is not None
    linking, known = found
    assert known == set(stored)
    assert linking == {rel for rel, got in stored.items() if not set(some).isdisjoint(got[1])}
    assert linking and linking != known
    assert store.linking_to(["no/such/file.html"], last) == (set(), known)
    assert store.linking_to(some, links.LastCheck(last.pages, last.linked, last.into, "another")) is None


@pytest.fixture
def link_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each time a build's link check reads what the pages link to (not just their fingerprints
    and ids): how many pages' links were stored (0: none). Saving the new check afterwards reads
    the stored links too, but after the build, and is not counted."""
    reads: list[int] = []
    real = links.SummaryStore.linking_to

    def linking_to(self: links.SummaryStore, *args: object):  # noqa: ANN202
        got = real(self, *args)  # type: ignore[arg-type]
        reads.append(len(got[1]) if got is not None else 0)
        return got

    monkeypatch.setattr(links.SummaryStore, "linking_to", linking_to)
    return reads


def _lose_the_stored_links(project: Path) -> None:
    index = _index_file(project)
    for suffix in (".links.pickle", ".targets"):
        index.with_name(index.stem + suffix).unlink()


def test_an_edit_reads_the_stored_links_only_when_a_linked_file_goes(tmp_path: Path, link_reads: list[int]):
    project = make_project(tmp_path / "p")
    config = config_mod.load(project)
    build(config, jobs=1)
    edited = project / "content/2024/2024-05-09-strike-ends.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nDockers returned to work on Friday.\n",
                      encoding="utf-8")
    build(config, jobs=1)
    assert link_reads == []  # every file is still there, with its ids

    (project / "static" / "docs").mkdir(parents=True)
    (project / "static" / "docs" / "report.pdf").write_bytes(b"%PDF-1.4 a report")
    write_article(project, "2024/2024-06-20-report.md", "The port report", "2024-06-20",
                  "The Port of Rotterdam Authority published [its report](/docs/report.pdf).", tags=["ports"])
    build(config, jobs=1)
    assert link_reads == []
    (project / "static" / "docs" / "report.pdf").unlink()
    with pytest.raises(links.BrokenLinksError) as err:
        build(config, jobs=1)
    assert len(link_reads) == 1 and link_reads[0] > 20  # a linked file is gone: the links were read
    assert "articles/report/index.html: links to '/docs/report.pdf'" in str(err.value)

    # Without the stored links, every unchanged page is read again: the link is still found.
    _lose_the_stored_links(project)
    with pytest.raises(links.BrokenLinksError) as err:
        build(config, jobs=1)
    assert link_reads[1:] == [0]
    assert "articles/report/index.html: links to '/docs/report.pdf'" in str(err.value)


def test_an_unchanged_page_linking_to_an_anchor_that_goes_is_reported(tmp_path: Path):
    project = make_project(tmp_path / "p")
    write_article(project, "2024/2024-07-01-talks.md", "Port talks", "2024-07-01",
                  "Talks opened in Rotterdam.\n\n## Timeline\n\nThe talks began in May.", summary="Port talks.")
    write_article(project, "2024/2024-07-02-note.md", "A note on the talks", "2024-07-02",
                  "See [the timeline](2024-07-01-talks.md#timeline).", summary="A note.")
    config = config_mod.load(project)
    build(config, jobs=1)
    note = project / "site" / "articles" / "note" / "index.html"
    before = note.read_bytes()
    talks = project / "content/2024/2024-07-01-talks.md"
    talks.write_text(talks.read_text(encoding="utf-8").replace("## Timeline", "## Chronology"), encoding="utf-8")
    with pytest.raises(links.BrokenLinksError) as err:
        build(config, jobs=1)
    assert "articles/note/index.html: links to '/articles/talks/#timeline': no element with id 'timeline'" \
        in str(err.value)
    assert note.read_bytes() == before  # the note's page did not change: it was checked again all the same


@pytest.mark.parametrize("links_file", ["kept", "lost"])
def test_an_unchanged_page_linking_to_a_page_that_goes_is_reported(tmp_path: Path, links_file: str,
                                                                    link_reads: list[int]):
    """A hand-written link to an entity page, on a page that does not change, breaks when the
    entity goes: found from the stored links, or by reading the pages when those are lost."""
    project = make_project(tmp_path / "p")
    write_article(project, "2024/2024-07-01-harbour.md", "Harbour master speaks", "2024-07-01",
                  "Harbour master Pieter Janssens said the quays would reopen on Monday.", summary="Quays.")
    config = config_mod.load(project)
    build(config, jobs=1)
    (profile,) = (project / "site" / "people").glob("pieter-janssens*")
    write_article(project, "2020/2020-01-02-note.md", "A note", "2020-01-02",  # the oldest, on nothing else
                  f"Read [this profile](/people/{profile.name}/).", summary="A note.")
    build(config, jobs=1)
    note = project / "site" / "articles" / "note" / "index.html"
    before = note.read_bytes()
    harbour = project / "content/2024/2024-07-01-harbour.md"
    harbour.write_text(harbour.read_text(encoding="utf-8").replace("Harbour master Pieter Janssens said",
                                                                   "The harbour office said"), encoding="utf-8")
    if links_file == "lost":
        _lose_the_stored_links(project)
    link_reads.clear()
    with pytest.raises(links.BrokenLinksError) as err:
        build(config, jobs=1)
    assert f"articles/note/index.html: links to '/people/{profile.name}/'" in str(err.value)
    assert (project / "site" / "articles" / "note" / "index.html").read_bytes() == before  # unchanged page
    assert len(link_reads) == 1 and (link_reads[0] == 0 if links_file == "lost" else link_reads[0] > 3)


def test_kept_pages_are_taken_as_checked_only_when_the_last_check_was_of_the_site_in_place(
        tmp_path: Path, scans: list[str]):
    """A rebuild takes the pages it keeps as the previous build wrote them as unchanged since
    the last check, without a look at each, when that check was of the previous build's site.
    A build that did not check its links (or failed) leaves another site in place than the one
    last checked: its broken page, kept by the next build, is then still found."""
    project = make_project(tmp_path / "p")
    config = config_mod.load(project)
    build(config, jobs=1)
    other = project / "content/2024/2024-05-09-strike-ends.md"
    other.write_text(other.read_text(encoding="utf-8") + "\nDockers returned to work on Friday.\n",
                     encoding="utf-8")
    scans.clear()
    edit = build(config, jobs=1)
    assert 0 < len(scans) <= edit.rendered  # the kept pages (nearly all) were not read

    write_article(project, "2024/2024-06-01-report.md", "The port report", "2024-06-01",
                  "The authority published [its report](/reports/port/).", tags=["ports"])
    weather = write_article(project, "2019/2019-01-07-weather.md", "A wet week", "2019-01-07",
                            "It rained all week.", tags=["weather"])
    build(config, jobs=1, check_links=False)  # the broken page is in place, unchecked
    weather.write_text(weather.read_text(encoding="utf-8") + "\nThe rain stopped on Sunday.\n", encoding="utf-8")
    with pytest.raises(links.BrokenLinksError) as err:
        build(config, jobs=1)  # the report's page is kept as the unchecked build wrote it: still checked
    assert "articles/report/index.html: links to '/reports/port/': no such file" in str(err.value)
