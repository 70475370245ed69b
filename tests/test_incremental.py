"""Rebuilds do work in proportion to what changed, and the job count never changes the output.

Counted through BuildResult: `model_calls` (articles the NER model ran on), `rendered` (pages
whose template ran), `written` (files whose bytes were written rather than linked from the
previous build). The archive is the repository's sample (18 briefings) copied into tmp_path;
the spaCy model is the real one.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REPO, make_project, tree_digest, write_article

from briefing import build as build_mod
from briefing import config as config_mod
from briefing import feeds, index_pages, links, ner, rendering
from briefing.build import build
from briefing.config import SearchConfig
from briefing.manifest import read_manifest


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
    monkeypatch.setattr(ner, "PARALLEL_MIN", 2)
    monkeypatch.setattr(rendering, "PARALLEL_RENDER_MIN", 2)
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
    monkeypatch.setattr(rendering, "PARALLEL_RENDER_MIN", 2)
    result = build(load(sample_copy(tmp_path / "p")), jobs=2, output=tmp_path / "site")
    pids = {name.split("-")[1] for name in os.listdir(made_in)}
    kinds = {name.split("-")[0] for name in os.listdir(made_in)}
    assert result.rendered == result.pages
    assert kinds == {"entity", "article"}
    assert str(os.getpid()) not in pids and pids


def _site_files(site: Path) -> dict[str, str]:
    """The site's files and their digests, without the manifest (it names the project's paths)."""
    return {rel: digest for rel, digest in tree_digest(site).items() if not rel.startswith(".briefing")}


def _manifest_entries(site: Path) -> tuple[dict, dict, list | None]:
    """The manifest's files, pages and foreign files (made by difference from the last one on a rebuild)."""
    manifest = read_manifest(site)
    assert manifest is not None
    return manifest.files, manifest.pages, manifest.foreign


def verify_skipped_pages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Check, in every build from now on, each page whose context the build did not make because
    none of its inputs changed (depends.py): made now, its context must give the fingerprint of
    the file the build kept. Returns a list that gets the number of pages checked per build."""
    checked: list[int] = []
    real = build_mod.render_pages

    def render_pages(planned, renderer, writer, jobs, *rest, **named):  # noqa: ANN001, ANN002, ANN003, ANN202
        out = real(planned, renderer, writer, jobs, *rest, **named)
        made = {page.path for page, _ in out[3]}
        every = writer.every_record()  # the pages kept as the last build wrote them (SiteWriter.as_before)
        every.update((record.path, record) for record in out[0])  # and the others
        everything = planned.all_pages()  # the groups' pages too (pages.PageGroup), made now if they were not
        records = {page.path: every[page.path] for page in everything}
        n = 0
        assert len(everything) == len(planned) == len(records)
        for page in everything:
            if page.plan_key and page.path not in made:
                again = dataclasses.replace(page)  # a new Page: its context is made afresh
                fingerprint = records[page.path].fingerprint
                assert renderer.fingerprint(again) == fingerprint, f"{page.path} was skipped but changed"
                n += 1
        checked.append(n)
        return out

    monkeypatch.setattr(build_mod, "render_pages", render_pages)
    return checked


def verify_kept_by_difference(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Check, in every build from now on that finds its kept pages by difference from the
    stored plan (PageInputs.not_kept), that it keeps exactly the pages, with the same records,
    that a pass over every page keeps. Returns a list that gets the pages kept so, per build."""
    kept_so: list[int] = []
    real = rendering._kept_pages

    def kept_pages(planned, writer, page_inputs, touched):  # noqa: ANN001, ANN202
        had = writer.paths()
        records, todo = real(planned, writer, page_inputs, touched)
        every = writer.every_record()
        kept = {rel: every[rel] for rel in writer.paths() - had}  # put in the writer
        kept.update((r.path, r) for r in records)  # or returned
        if page_inputs is not None and touched is not None and writer.previous is not None:
            paths, keys = planned.keyed_columns()
            from briefing import listing

            if page_inputs.not_kept(paths, keys, listing.manifest_identity(writer.output), touched) is not None:
                by_loop: dict = {}
                writer.unchanged_pages(page_inputs.unchanged_pages(planned.keyed_rows(), writer.previous.pages,
                                                                   touched), by_loop)
                assert kept == by_loop
                kept_so.append(len(kept))
        return records, todo

    monkeypatch.setattr(rendering, "_kept_pages", kept_pages)
    return kept_so


def verify_digests_by_difference(monkeypatch: pytest.MonkeyPatch, log: Path) -> list[int]:
    """Check, in every build from now on that digests the stored cells by difference (only
    those archive.may_differ names), that it gets the digests a full pass gets; appends to `log`
    how many cells were found changed (the forked worker that does it cannot tell this process).
    Returns a list that gets, per build, how many nodes whose inputs changed were made again to
    the same value (early cut-off: the pages they feed are checked by `verify_skipped_pages`)."""
    from briefing.page_inputs import PageInputs

    cut_off: list[int] = []
    real, real_same = PageInputs.changed_by_difference, PageInputs.same_values

    def changed_by_difference(self, cells, suspects):  # noqa: ANN001, ANN202
        suspects = set(suspects)
        changed, now = real(self, cells, suspects)
        full_changed, full = self.changed_cells(cells)
        wrong = [self.cells[i] for i in range(len(self.cells)) if now[8 * i:8 * i + 8] != full[8 * i:8 * i + 8]]
        assert not wrong, f"cells changed but not suspected: {wrong[:5]}"
        assert changed == full_changed
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{len(changed)}\n")
        return changed, now

    def same_values(self, nodes, remake):  # noqa: ANN001, ANN202
        same = real_same(self, nodes, remake)
        cut_off.append(len(same))
        return same

    monkeypatch.setattr(PageInputs, "changed_by_difference", changed_by_difference)
    monkeypatch.setattr(PageInputs, "same_values", same_values)
    return cut_off


def test_random_edits_build_what_a_fresh_build_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """After each of a run of random edits (new sentences naming entities, prose naming no one, a
    new title, an added and then removed article, a changed tag, a new date, curated names and
    descriptions), the incremental build, with its caches, spare site, stored whole-archive
    result, reused resolution (same_names.py), page contexts made in workers and pages skipped
    for unchanged inputs (depends.py), writes the same site as a fresh build of the same files
    with empty caches."""
    import random

    monkeypatch.setattr(rendering, "PARALLEL_RENDER_MIN", 2)  # pages made in forked workers
    monkeypatch.setattr(index_pages, "LETTER_PAGES_OVER", 8)  # A-Z indexes a page per letter
    monkeypatch.setattr(feeds, "SITEMAP_SPLIT_OVER", 50)  # the sitemap one per section
    project = sample_copy(tmp_path / "p")
    build(load(project), jobs=2)
    assert (project / "site" / "people" / "a-z").is_dir() and (project / "site" / "sitemaps").is_dir()
    checked = verify_skipped_pages(monkeypatch)
    cut_off = verify_digests_by_difference(monkeypatch, tmp_path / "by-difference.log")
    kept_so = verify_kept_by_difference(monkeypatch)
    rng = random.Random(20261125)
    added = project / "content" / "2025" / "2025-11-20-new-briefing.md"
    sentences = ["Officials in Baghdad said Mohammed Shia al-Sudani would meet envoys of the United Nations.",
                 "The Syrian Democratic Forces said talks with Damascus had stalled.",
                 "Fighters of the Islamic State attacked a checkpoint near Kirkuk."]

    def articles() -> list[Path]:  # the published ones: an edited draft changes nothing
        return sorted(p for p in (project / "content").rglob("*.md")
                      if not re.search(r"(?m)^draft: true$", p.read_text(encoding="utf-8")))

    def append_sentence() -> str:
        path = rng.choice(articles())
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + f"\n\n{rng.choice(sentences)}\n",
                        encoding="utf-8")
        return f"sentence in {path.name}"

    def retitle() -> str:
        path = rng.choice(articles())
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"(?m)^title: .*$", f'title: "Revised: {rng.randint(0, 10**6)}"', text, count=1),
                        encoding="utf-8")
        return f"title of {path.name}"

    def add_or_remove() -> str:
        if added.exists():
            added.unlink()
            return "removed the new article"
        added.parent.mkdir(parents=True, exist_ok=True)
        added.write_text('---\ntitle: "A new briefing on Baghdad"\ndate: 2025-11-20\ntags: [iraq]\n---\n\n'
                         + " ".join(rng.sample(sentences, 2)) + "\n", encoding="utf-8")
        return "added an article"

    def retag() -> str:
        path = rng.choice(articles())
        text = path.read_text(encoding="utf-8")
        extra = f"extra-{rng.randint(0, 3)}"
        if re.search(r"(?m)^tags: \[", text):
            changed = re.sub(r"(?m)^tags: \[", f"tags: [{extra}, ", text, count=1)
        else:  # no tags yet, or a block list: a flow list of one after the title
            changed = re.sub(r"(?m)^(title: .*)$", rf"\1\ntags: [{extra}]", text, count=1)
            if re.search(r"(?m)^tags:", text):
                changed = re.sub(r"(?m)^tags:\n", f"tags:\n  - {extra}\n", text, count=1)
        assert changed != text
        path.write_text(changed, encoding="utf-8")
        return f"tags of {path.name}"

    def redate() -> str:  # moves the article among its neighbours, in lists and archives
        path = rng.choice(articles())
        text = path.read_text(encoding="utf-8")
        day = f"20{rng.randint(14, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        changed = re.sub(r"(?m)^date: .*$", f"date: {day}", text, count=1)
        if changed == text:
            changed = re.sub(r"(?m)^(title: .*)$", rf"\1\ndate: {day}", text, count=1)
        path.write_text(changed, encoding="utf-8")
        return f"date of {path.name}"

    def curate() -> str:  # a description and a new alias: entity pages and every article naming it
        path = project / "entities.yaml"
        text = path.read_text(encoding="utf-8")
        n = rng.randint(0, 10**6)
        text = re.sub(r"aliases: \[al-Sudani, Sudani(, Sudani \d+)?\]", f"aliases: [al-Sudani, Sudani, Sudani {n}]",
                      text, count=1)
        text = text.replace('description: "Iraqi Kurdish', f'description: "Note {n}. Iraqi Kurdish')
        assert text != path.read_text(encoding="utf-8")
        path.write_text(text, encoding="utf-8")
        return "curation"

    def prose() -> str:  # names no one: the last resolution is reused (same_names.py), offsets move
        path = rng.choice(articles())
        head, sep, body = path.read_text(encoding="utf-8").partition("\n---\n")
        path.write_text(head + sep + "The figures were provisional and may be revised.\n\n" + body, encoding="utf-8")
        return f"prose in {path.name}"

    # Edits naming known entities are guessed and checked aside (same_names.py): every other
    # guess is made wrong on purpose, which the check must catch.
    from briefing import same_names

    real_guess, guesses = same_names.guessed_mentions, []

    def sometimes_wrong(*args):  # noqa: ANN002, ANN202
        got = real_guess(*args)
        guesses.append(got)
        if got and len(guesses) % 2 == 0:
            other = next(k for k in args[3].entities if k != got[0].entity)
            got = (got[0]._replace(entity=other), *got[1:])
        return got
    monkeypatch.setattr(same_names, "guessed_mentions", sometimes_wrong)

    edits = [append_sentence, prose, retitle, add_or_remove, retag, redate, curate]
    reused: list[tuple[str, bool]] = []
    logged: list[str] = []
    for step in range(12):
        what = (edits[step % len(edits)] if step < len(edits) else rng.choice(edits))()
        incremental = build(load(project), jobs=2, log=logged.append)
        reused.append((what.split()[0], incremental.enrichment.reused))
        fresh_project = tmp_path / f"fresh-{step}"
        fresh_project.mkdir()
        shutil.copytree(project / "content", fresh_project / "content")
        for name in ("config.yaml", "entities.yaml"):
            if (project / name).exists():
                shutil.copy2(project / name, fresh_project / name)
        fresh = build(load(fresh_project), jobs=2)
        assert 0 < incremental.rendered < fresh.rendered, what  # the edit showed, and cost less than a full build
        assert _site_files(project / "site") == _site_files(fresh_project / "site"), what
        assert _manifest_entries(project / "site") == _manifest_entries(fresh_project / "site"), what
        shutil.rmtree(fresh_project)
    assert sum(checked) > 0  # some pages were skipped, and each was checked
    by_difference = [int(n) for n in (tmp_path / "by-difference.log").read_text(encoding="utf-8").split()]
    assert len(by_difference) >= 4 and sum(by_difference) > 0  # cells digested by difference, and checked
    assert sum(cut_off) > 0  # nodes made again to the same value left their pages alone (checked)
    assert len(kept_so) >= 6 and min(kept_so) > 0  # kept pages found by difference from the stored plan (checked)
    assert ("prose", True) in reused and ("sentence", False) in reused  # both resolutions were tried
    guessed = sum("resolution guessed" in line for line in logged)
    wrong = sum("the guessed resolution was wrong" in line for line in logged)
    assert guessed > wrong >= 1  # guesses were taken, right ones and (made) wrong ones, which were caught


def test_random_edits_skip_only_pages_whose_inputs_did_not_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """On an archive where most pages share nothing with an edited article (forty short articles,
    each naming two of fifteen cities, organisations and people), many pages are skipped; each
    skipped page, made anyway, gives the fingerprint of the file that was kept, and the site
    equals a fresh build's."""
    import random

    rng = random.Random(7)
    places = ["Paris", "Berlin", "Madrid", "Lisbon", "Vienna", "Oslo", "Dublin", "Prague", "Warsaw", "Athens"]
    others = ["the United Nations", "NATO", "the World Bank", "Angela Merkel", "Emmanuel Macron"]
    pool = places + others
    project = tmp_path / "p"
    (project / "content").mkdir(parents=True)
    (project / "config.yaml").write_text('title: "Skips"\npaginate: 5\nentities: {min_articles: 1}\n', encoding="utf-8")

    def body() -> str:
        a, b = rng.sample(pool, 2)
        return f"Officials in {a} said talks with {b} would resume next week."

    def write(i: int, title: str, day: str, text: str) -> None:
        (project / "content" / f"a{i:02d}.md").write_text(
            f'---\ntitle: "{title}"\ndate: {day}\n---\n\n{text}\n', encoding="utf-8")

    state = {i: [f"Briefing {i}", f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}", body()] for i in range(40)}
    for i, (title, day, text) in state.items():
        write(i, title, day, text)
    monkeypatch.setattr(rendering, "PARALLEL_RENDER_MIN", 2)
    monkeypatch.setattr(index_pages, "LETTER_PAGES_OVER", 3)  # the A-Z indexes: a page per letter
    build(load(project), jobs=2)
    checked = verify_skipped_pages(monkeypatch)
    verify_digests_by_difference(monkeypatch, tmp_path / "by-difference.log")
    for step in range(8):
        i = rng.randrange(40)
        what = ("date", "sentence", "title")[step % 3]
        if what == "date":
            state[i][1] = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        elif what == "sentence":
            state[i][2] += " " + body()
        else:
            state[i][0] = f"Briefing {i}, revised {step}"
        write(i, *state[i])
        incremental = build(load(project), jobs=2)
        fresh_project = tmp_path / f"fresh-{step}"
        shutil.copytree(project, fresh_project, ignore=shutil.ignore_patterns("site", ".site*", ".briefing-cache"))
        fresh = build(load(fresh_project), jobs=2)
        assert _site_files(project / "site") == _site_files(fresh_project / "site"), what
        assert _manifest_entries(project / "site") == _manifest_entries(fresh_project / "site"), what
        assert checked[-2] > fresh.pages / 3, what  # many pages were skipped (and checked)
        assert incremental.rendered < fresh.rendered
        shutil.rmtree(fresh_project)
    by_difference = [int(n) for n in (tmp_path / "by-difference.log").read_text(encoding="utf-8").split()]
    assert len(by_difference) >= 6  # most edits' cells were digested by difference (and checked)


def test_a_prose_edit_makes_again_only_the_list_pages_that_show_the_article(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    """What all of an entity's (or topic's) pages share is made from its articles' facets (dates,
    topics, entities), not their text: an edit to one article's prose makes again the page of
    the list that shows it, not the list's other pages."""
    project = make_project(tmp_path / "p", 'title: "T"\nbase_url: "https://example.org/"\npaginate: 2\n'
                                           "search: {enabled: false}\n", articles=0)
    for i in range(6):
        write_article(project, f"2024/a{i}.md", f"Rotterdam port report {i}", f"2024-05-{i + 1:02d}",
                      f"Dock workers in Rotterdam met on day {i + 1}. The Port of Rotterdam Authority said "
                      "ships were waiting.", tags=["ports"])
    first = build(load(project), jobs=1)
    made: list[str] = []
    real = build_mod.render_pages

    def render_pages(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        out = real(*args, **kwargs)
        made.extend(page.path for page, _ in out[3])
        return out

    monkeypatch.setattr(build_mod, "render_pages", render_pages)
    edited = project / "content" / "2024" / "a2.md"  # the 4th newest: on the second page of each list
    edited.write_text(edited.read_text(encoding="utf-8") + "\nThe figures were provisional.\n", encoding="utf-8")
    result = build(load(project), jobs=1)
    assert result.pages == first.pages
    entity = sorted(p for p in made if p.startswith("places/rotterdam/") and p.endswith(".html"))
    topic = sorted(p for p in made if p.startswith("topics/port/") and p.endswith(".html"))
    assert entity == ["places/rotterdam/page/2/index.html"], made
    assert topic == ["topics/port/page/2/index.html"], made
    page = (project / "site" / "places" / "rotterdam" / "page" / "2" / "index.html").read_text(encoding="utf-8")
    assert "day 3" in page  # the edited article's snippet, on the page made again


def test_each_page_groups_rows_are_the_pages_it_makes(built):  # noqa: ANN001
    """An entity's or topic's pages and feed are planned as rows (pages.PageGroup) and made only
    when one of them must be: the rows must say what the made pages are, path, URL, template,
    plan key and sitemap entry, in order; and the sitemap lists the groups' pages."""
    from briefing import pages

    project, first = built
    state = build(load(project), output=project / "groups-site", jobs=1, check_links=False).preview
    assert state is not None
    plan = pages.plan(state.archive, load(project), state.asset_urls)
    kinds = {group.name[0] for group in plan.groups}
    assert kinds == {"entity", "topic"}
    paginated = 0
    for group in plan.groups:
        made = [(p.path, p.url, p.template, p.plan_key, p.in_sitemap) for p in group.make()]
        assert made == list(group.rows), group.name
        assert made[-1][2] == "feed.xml" and made[0][2] == f"{group.name[0]}.html"
        paginated += len(made) > 2
    assert paginated  # some entity or topic has more than one page of articles
    assert len(plan) == first.pages == len(plan.all_pages())
    sitemap = next(p for p in plan.pages if p.path == "sitemap.xml").context["urls"]
    assert {row[1] for group in plan.groups for row in group.rows if row[4]} <= set(sitemap)


def test_an_edit_moving_an_entitys_profile_makes_again_only_its_first_page(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    """The profile of an entity or topic (counts, timeline, what it is mentioned with) is on the
    first page of its list only: an edit that moves the profile and not the list (an article
    already listed names someone else too) makes again that first page, not the later ones,
    which show their articles, the name linking to the first page, and where they are."""
    project = make_project(tmp_path / "p", 'title: "T"\nbase_url: "https://example.org/"\npaginate: 2\n'
                                           "search: {enabled: false}\n", articles=0)
    for i in range(6):
        write_article(project, f"2024/a{i}.md", f"Rotterdam port report {i}", f"2024-05-{i + 1:02d}",
                      f"Dock workers in Rotterdam met on day {i + 1}. The Port of Rotterdam Authority said "
                      "ships were waiting.", tags=["ports"])
    build(load(project), jobs=1)
    made: list[str] = []
    real = build_mod.render_pages

    def render_pages(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        out = real(*args, **kwargs)
        made.extend(page.path for page, _ in out[3])
        return out

    monkeypatch.setattr(build_mod, "render_pages", render_pages)
    edited = project / "content" / "2024" / "a0.md"  # the oldest: on the last page of each list
    edited.write_text(edited.read_text(encoding="utf-8") + "\nMark Rutte visited Rotterdam and Antwerp.\n",
                      encoding="utf-8")
    build(load(project), jobs=1)
    site = project / "site"
    entity = sorted(p for p in made if p.startswith("places/rotterdam/") and p.endswith(".html"))
    assert entity == ["places/rotterdam/index.html", "places/rotterdam/page/3/index.html"], made
    first = (site / "places/rotterdam/index.html").read_text(encoding="utf-8")
    assert "Often mentioned with" in first and "Mark Rutte" in first and "Mentions per month" in first
    later = (site / "places/rotterdam/page/2/index.html").read_text(encoding="utf-8")
    assert "Often mentioned with" not in later and "Mentions per month" not in later
    assert "page 2 of 3" in later and 'href="/places/rotterdam/"' in later and "day 4" in later
    topic = (site / "topics/port/page/2/index.html").read_text(encoding="utf-8")
    assert "Most associated" not in topic and "page 2 of 3" in topic
    assert "Most associated" in (site / "topics/port/index.html").read_text(encoding="utf-8")


def test_an_edit_makes_only_the_page_groups_it_must(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A prose edit keeps nearly every entity's and topic's pages without making their Pages:
    only the groups holding a page to make, or whose shared node changed, are made."""
    project = sample_copy(tmp_path / "archive")
    build(load(project), jobs=1)
    made_groups: list[set] = []
    real = build_mod.render_pages

    def render_pages(planned, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        out = real(planned, *args, **kwargs)
        made = {page.path for page, _ in out[3]}
        holding = {g.name for g in planned.groups if any(row[0] in made for row in g.rows)}
        made_groups.append((set(planned.made), holding, len(planned.groups)))
        return out

    monkeypatch.setattr(build_mod, "render_pages", render_pages)
    victim = sorted((project / "content").rglob("*.md"))[3]
    victim.write_text(victim.read_text(encoding="utf-8") + "\nThe figures were provisional.\n", encoding="utf-8")
    build(load(project), jobs=1)
    groups_made, holding, every = made_groups[-1]
    assert holding <= groups_made  # a page made: its group was
    assert 0 < len(groups_made) < every // 3, (len(groups_made), every)


def test_an_edit_build_leaves_decoding_the_stored_cells_to_its_worker(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    """The stored cells (170,000 at 10,000 articles) and pages (63,000) are decoded by the
    forked worker that finds the changed ones, which tells the build the few cells it needs,
    not by the build on its way to the site (its plan is compared with the stored plan's
    columns); and an edit to a known name still makes again the pages it must, and the next
    build still finds what moved (the cache writer decodes them to save them)."""
    from briefing.workers import Forked

    assert Forked.possible(), "the test process runs other threads: the worker would run in-process"
    project = sample_copy(tmp_path / "archive")
    config = load(project)
    build(config, jobs=1)
    decoded: list[tuple[bool, bool]] = []  # cells and pages, by the end of rendering
    real = build_mod.render_pages

    def render_pages(planned, renderer, writer, jobs, page_inputs, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        out = real(planned, renderer, writer, jobs, page_inputs, *args, **kwargs)
        decoded.append((page_inputs._cells is not None, page_inputs._pages is not None))
        return out

    monkeypatch.setattr(build_mod, "render_pages", render_pages)
    victim = sorted((project / "content").rglob("*.md"))[2]
    for sentence in ("Mark Rutte spoke in Rotterdam on Monday.", "The figures were provisional."):
        victim.write_text(victim.read_text(encoding="utf-8") + f"\n{sentence}\n", encoding="utf-8")
        edited = build(config, jobs=1)
        assert edited.rendered > 0
    assert decoded == [(False, False), (False, False)]
    before = tree_digest(project / "site")
    shutil.rmtree(project / ".briefing-cache")
    build(config, jobs=1, output=tmp_path / "fresh")
    assert tree_digest(tmp_path / "fresh") == before  # the same site as a build from scratch
