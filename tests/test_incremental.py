"""Rebuilds do work in proportion to what changed, and the job count never changes the output.

Counted through BuildResult: `model_calls` (articles the NER model ran on), `rendered` (pages
whose template ran), `written` (files whose bytes were written rather than linked from the
previous build). The archive is the repository's sample (18 briefings) copied into tmp_path;
the spaCy model is the real one.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REPO, tree_digest

from briefing import build as build_mod
from briefing import config as config_mod
from briefing import enrich, links
from briefing.build import build
from briefing.config import SearchConfig


def sample_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copytree(REPO / "content", dest / "content")
    for name in ("config.yaml", "entities.yaml"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    return dest


def load(project: Path):  # noqa: ANN201
    # Search is off: Pagefind is measured by the benchmark, not needed to count rebuild work.
    return config_mod.load(project).with_changes(search=SearchConfig(enabled=False))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    project = sample_copy(tmp_path_factory.mktemp("incremental") / "archive")
    first = build(load(project), jobs=1)
    return project, first


def test_first_build_runs_the_model_on_every_article_and_renders_every_page(built):  # noqa: ANN001
    _, first = built
    assert first.articles >= 12
    assert first.model_calls == first.articles
    assert first.rendered == first.pages > 100
    assert first.written >= first.pages


def test_second_build_with_nothing_changed_is_a_noop(built):  # noqa: ANN001
    project, _ = built
    before = tree_digest(project / "site")
    again = build(load(project), jobs=1)
    assert again.noop
    assert (again.model_calls, again.rendered, again.written) == (0, 0, 0)
    assert tree_digest(project / "site") == before


def test_editing_one_article_reruns_its_ner_and_rerenders_a_few_pages(built):  # noqa: ANN001
    project, first = built
    site = project / "site"
    victim = sorted((project / "content").rglob("*.md"))[0]
    original = victim.read_text(encoding="utf-8")
    inodes = {p.relative_to(site).as_posix(): p.stat().st_ino for p in site.rglob("*.html")}
    before = tree_digest(site)
    try:
        victim.write_text(original.rstrip("\n") + "\n\nThe talks will resume in Geneva next week.\n", encoding="utf-8")
        edited = build(load(project), jobs=1)
        assert not edited.noop
        assert edited.model_calls == 1
        assert 0 < edited.rendered < first.pages // 4
        assert edited.written <= edited.rendered  # a re-rendered page with the same bytes is linked
        # Pages that were not rendered are the previous build's files, linked (same inode).
        same = sum(1 for rel, ino in inodes.items() if (site / rel).exists() and (site / rel).stat().st_ino == ino)
        assert same >= len(inodes) - edited.rendered
    finally:
        victim.write_text(original, encoding="utf-8")
    restored = build(load(project), jobs=1)
    assert restored.model_calls == 0  # the original text is still in the cache
    assert 0 < restored.rendered <= edited.rendered
    assert tree_digest(site) == before  # the same site as before the edit, byte for byte


def test_output_is_identical_whatever_the_job_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Make the small archive take the parallel paths: spaCy with 2 processes, the render pool.
    monkeypatch.setattr(enrich, "PARALLEL_MIN", 2)
    monkeypatch.setattr(build_mod, "PARALLEL_RENDER_MIN", 2)
    one = sample_copy(tmp_path / "one")
    two = sample_copy(tmp_path / "two")
    r1 = build(load(one), jobs=1, output=tmp_path / "site")
    r2 = build(load(two), jobs=2, output=tmp_path / "site2")
    assert (r1.model_calls, r1.rendered) == (r2.model_calls, r2.rendered)
    a, b = tree_digest(tmp_path / "site"), tree_digest(tmp_path / "site2")
    assert len(a) > 100
    assert a == b


# --- the link check's scanner and its incremental mode ------------------------------------------


class _Reference(HTMLParser):
    """What links.scan replaced: html.parser, collecting the same attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        links._collect(tag, attrs, self.ids, self.links)


def reference_scan(html: str) -> tuple[set[str], list[str]]:
    p = _Reference()
    p.feed(html)
    p.close()
    return p.ids, p.links


TRICKY = [
    '<a href=x id=y>', '<A HREF="a&amp;b" ID=\'q\'>', '<!-- <a href="no"> --><a href="yes">',
    '<script src="s.js">var a="<a href=\'z\'>";</script><a href="after">', '<a href = "sp" >',
    '<a/href="weird">', '<img src=x.png/>', '<link rel="preconnect" href="https://x">', '<a name="n">',
    '<style>a{}</style><a href="z">', '<a href="x"\nclass="y">', '<a href="x" disabled id="d">',
    '<p>1 < 2 <a href="k">', '<script>"<!--"</script><a href="c">', '<a href="&#x41;&lt;">',
    '<a class="id-like" data-href="no" href="/yes/#m-x">', '<!DOCTYPE html><a href="d">',
]


@pytest.mark.parametrize("html", TRICKY)
def test_link_scanner_reads_tags_as_html_parser_does(html: str):
    assert links.scan(html) == reference_scan(html)


def test_link_scanner_agrees_with_html_parser_on_a_built_site(built):  # noqa: ANN001
    project, _ = built
    pages = sorted((project / "site").rglob("*.html"))
    assert len(pages) > 100
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert links.scan(html) == reference_scan(html), page


def test_an_unchanged_page_is_checked_again_when_a_target_loses_its_anchor():
    files = {"a/index.html", "b/index.html"}
    summaries = {"a/index.html": links.Summary(frozenset(), ("/b/#m-x",)),
                 "b/index.html": links.Summary(frozenset(), ())}  # b lost id "m-x"
    known = {"a/index.html": frozenset({"b/index.html"})}
    # a is unchanged and b's ids did not change: a is trusted.
    assert links.check_pages(summaries, files, "/", known=known, changed=set())[0] == []
    # b's ids changed: a is checked again and the lost anchor is found.
    broken, targets = links.check_pages(summaries, files, "/", known=known, changed={"b/index.html"})
    assert [(b.page, b.href) for b in broken] == [("a/index.html", "/b/#m-x")]
    assert targets["a/index.html"] == frozenset({"b/index.html"})


def test_link_summaries_live_in_the_cache_folder_not_in_the_site(built):  # noqa: ANN001
    project, _ = built
    cache = load(project).cache_path
    assert list((cache / "links").glob("*.pickle"))
    assert not [p for p in (project / "site").rglob("*") if p.suffix == ".pickle"]


def test_page_contexts_are_made_by_the_render_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With a render pool, the planning process makes no entity-page or article-page context:
    the forked workers make each one, fingerprint it and render it (the parent only plans)."""
    from briefing import entity_pages, pages

    made_in = tmp_path / "pids"
    made_in.mkdir()
    real_entity, real_article = entity_pages._entity_context, pages.article_page

    def entity_context(*args, **kwargs):
        make = real_entity(*args, **kwargs)
        return lambda: (made_in.joinpath(f"entity-{os.getpid()}").touch(), make())[1]

    def article_page(*args, **kwargs):
        page = real_article(*args, **kwargs)
        make = page.made
        return dataclasses.replace(page, made=lambda: (made_in.joinpath(f"article-{os.getpid()}").touch(), make())[1])

    monkeypatch.setattr(entity_pages, "_entity_context", entity_context)
    monkeypatch.setattr(pages, "article_page", article_page)
    monkeypatch.setattr(build_mod, "PARALLEL_RENDER_MIN", 2)
    result = build(load(sample_copy(tmp_path / "p")), jobs=2, output=tmp_path / "site")
    pids = {name.split("-")[1] for name in os.listdir(made_in)}
    kinds = {name.split("-")[0] for name in os.listdir(made_in)}
    assert result.rendered == result.pages
    assert kinds == {"entity", "article"}
    assert str(os.getpid()) not in pids and pids
