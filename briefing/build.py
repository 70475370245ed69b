"""`build()`: the one function that sequences the stages of a build.

    discover -> parse -> enrich -> index -> plan -> render + write -> check links -> search -> swap

Each stage is a plain function of the previous stage's data (see shared/DESIGN.md); this module
only calls them in order, times them, and makes sure a failure leaves the old site in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import archive as archive_stage
from . import depends, file_index, links, listing, pages, parse_cache, preload, search, sources, spare_state
from .cache import code_digest
from .cache_writes import CacheWrites, LockHeld, cache_lock, held_lock
from .config import Config
from .errors import BriefingError, BuildLockedError, ContentError, Problem
from .inputs import inputs_fingerprint, static_files_of
from .link_check import check_links_of
from .model import Article, Enrichment
from .output import (
    MANIFEST,
    Listing,
    Manifest,
    SiteWriter,
    Written,
    make_spare,
    manifest_inputs,
    read_manifest,
    unlisted_files,
)
from .page_inputs import PageInputs
from .render import Renderer
from .rendering import render_pages
from .workers import Forked, fewer_collections


@dataclass(frozen=True)
class Preview:
    """What the dev server needs to re-render one edited article at once (see quick.py)."""

    archive: archive_stage.Archive
    renderer: Renderer
    asset_urls: dict[str, str]


@dataclass
class BuildResult:
    output: Path
    articles: int = 0
    parsed: int = 0  # content files actually parsed (the others came from the parse cache)
    pages: int = 0
    rendered: int = 0  # pages whose template actually ran
    written: int = 0  # files whose bytes were written (not linked from the previous build)
    model_calls: int = 0  # articles the NER model ran on
    noop: bool = False  # nothing changed since the last build: nothing was done
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    enrichment: Enrichment | None = None
    articles_list: list[Article] = field(default_factory=list)
    preview: Preview | None = None
    manifest: Manifest | None = None  # of the site written


def build(config: Config, *, output: Path | None = None, drafts: bool = False, jobs: int | None = None,
          enricher: object | None = None, log: Callable[[str], None] | None = None,
          check_links: bool = True, progress: bool = False, detach_cache_writes: bool = False,
          preloaded: preload.Preloaded | None = None) -> BuildResult:
    """Build the site for `config` into `output` (default: config.output_path).

    `enricher` is an `enrich.Enricher` to reuse (the dev server keeps one, with its model loaded);
    by default one is made. With `detach_cache_writes` (the command line), the caches for the
    next build are written by a process that outlives this one (see cache_writes.py).
    `preloaded`: the model's worker (preload.start), started by the caller; it is closed here.
    Raises a BriefingError for anything the user can fix.
    """
    try:
        return _locked_build(config, output, drafts, jobs, enricher, log, check_links, progress,
                             detach_cache_writes, preloaded)
    finally:
        if preloaded is not None:
            preloaded.close()


def _locked_build(config: Config, output: Path | None, drafts: bool, jobs: int | None, enricher: object | None,
                  log: Callable[[str], None] | None, check_links: bool, progress: bool, detach_cache_writes: bool,
                  preloaded: preload.Preloaded | None) -> BuildResult:
    output = Path(output) if output else config.output_path
    jobs = jobs or os.cpu_count() or 1
    result = BuildResult(output=output)
    clock = _Clock(result, log)

    with project_lock(config), fewer_collections():
        # A rebuild starts its helpers first, the model's worker above all: loading spaCy takes a
        # second, which an edit waits for. The files in the output that the last build did not
        # write (to carry them over) were listed by the last build's cache writer (listing.py),
        # or else are listed by a forked child, before any thread starts (see workers.Forked).
        # Both are closed unused when nothing changed.
        rebuild = (output / MANIFEST).is_file()
        listing_path = config.cache_path / "pages" / f"{_output_key(output)}.listing"
        kept = listing.kept_listing(output, listing_path) if rebuild else None
        unlisted = Forked(lambda: _unlisted(output)) if rebuild and kept is None else None
        if unlisted is not None and not unlisted.forked:
            unlisted = None  # no child (the dev server's threads): the swap walks the site, as it must anyway
        if enricher is None:
            from .enrich import Enricher

            enricher = Enricher(config, jobs=jobs, progress=progress)
        if preloaded is None and rebuild:
            preloaded = preload.start(config, enricher)
        try:
            _build(config, output, drafts, jobs, enricher, preloaded, check_links, detach_cache_writes,
                   lambda: kept or (unlisted.result() if unlisted is not None else None), listing_path,
                   result, clock)
        finally:
            if preloaded is not None:
                preloaded.close()
            if unlisted is not None:
                unlisted.close()
    return result


def _build(config: Config, output: Path, drafts: bool, jobs: int, enricher: Any, preloaded: Any,
           check_links: bool, detach_cache_writes: bool, unlisted: Callable[[], Listing | None],
           listing_path: Path, result: BuildResult, clock: _Clock) -> None:
    # 1. Read the archive (the files the last build saw unchanged are not read: file_index.py).
    known = file_index.load(config)
    found, assets, problems = sources.discover(config, known)
    index = file_index.entries(found)
    static_files = static_files_of(config, assets, problems)
    inputs = inputs_fingerprint(config, found, static_files, drafts)
    if not problems and output.is_dir() and manifest_inputs(output) == inputs:
        if index != known:
            file_index.save(config, index)
        result.noop = True
        clock.lap("discover", f"{len(found)} files unchanged: nothing to do")
        return
    writes = CacheWrites()
    if index != known:
        writes.add(lambda: file_index.save(config, index))
    waiting = time.perf_counter()
    with cache_lock(config.cache_path) as cache_lock_fd:  # the last build's cache writes are done
        clock.aside("wait", time.perf_counter() - waiting, "for the last build's cache writes")
        try:
            _stages(config, output, drafts, jobs, enricher, preloaded, check_links, found, static_files,
                    problems, inputs, unlisted, writes, result, clock)
        except BaseException:
            writes.run()  # what was learnt before the failure (parsed files, NER) is kept
            raise
        if result.manifest is not None:
            site = result.manifest
            writes.add(lambda: listing.keep_listing(output, site, listing_path), only_detached=True)
            writes.add(lambda: spare_state.keep(output, site, spare_known_path(config, output)), only_detached=True)
        if detach_cache_writes:
            writes.detach(cache_lock_fd)
        else:
            writes.run()


def _unlisted(output: Path) -> Listing | None:
    previous = read_manifest(output)
    return unlisted_files(output, previous) if previous is not None else None


def _stages(config: Config, output: Path, drafts: bool, jobs: int, enricher: Any, preloaded: Any,
            check_links: bool, found: list, static_files: dict, problems: list[Problem], inputs: str,
            unlisted: Callable[[], Listing | None], writes: CacheWrites,
            result: BuildResult, clock: _Clock) -> None:
    """Parse, enrich, plan, render, check and write the site whose files were discovered; the
    caches for the next build go to `writes`."""
    articles, parse_problems, result.parsed = parse_cache.parse_all(
        found, config, writes, jobs=jobs, meanwhile=lambda: _load_model(enricher))
    problems = problems + parse_problems
    if not drafts:
        articles = [a for a in articles if not a.draft]
    problems += _same_url(articles)  # reported now, with every other problem, not after NER
    if problems:
        raise ContentError(problems)
    result.articles = len(articles)
    result.articles_list = articles
    clock.lap("parse", f"{len(articles)} articles, {result.parsed} parsed")

    # 2. Enrich: entities, resolution, tags (cached per article). While the model runs on the
    # edited articles, what the later stages read of the last build is read.
    early: list[_PageState] = []
    bases: list[tuple[Enrichment, archive_stage.Archive]] = []  # the last result's archive, made meanwhile
    enrichment = enricher.run(articles, preloaded, writes, guess=True,  # type: ignore[attr-defined]
                              meanwhile=lambda: _reading_page_state(config, output, static_files, check_links, early),
                              early=lambda last: bases.append((last, archive_stage.build(articles, last, config))))
    result.enrichment = enrichment
    result.model_calls = enrichment.model_calls
    clock.lap("enrich", f"{len(enrichment.entities)} entities, NER on {enrichment.model_calls} articles"
                        + (", the last resolution reused" if enrichment.reused else "")
                        + (", resolution guessed from the last (checked meanwhile)" if enrichment.guessed else ""))
    try:
        _site(config, output, drafts, jobs, enricher, check_links, static_files, inputs, unlisted,
              writes, result, clock, articles, enrichment, early[0] if early else None, bases[0] if bases else None)
    except _WrongGuess as wrong:  # the check's right result: everything from here on again
        result.enrichment = wrong.right
        _site(config, output, drafts, jobs, enricher, check_links, static_files, inputs, unlisted,
              writes, result, clock, articles, wrong.right, None, None)


@dataclass
class _PageState:
    """What the plan and render stages read of the last build, besides the archive."""

    previous: Manifest | None  # the last build's manifest: None for a first build
    renderer: Renderer
    page_inputs: PageInputs  # what each page's context read (see depends.py)
    link_store: links.SummaryStore
    last_check: links.LastCheck  # the last link check's page summaries


def _page_state(config: Config, output: Path, static_files: dict, check_links: bool) -> _PageState:
    into: list[_PageState] = []
    for _ in _reading_page_state(config, output, static_files, check_links, into):
        pass
    return into[0]


def _reading_page_state(config: Config, output: Path, static_files: dict, check_links: bool,
                        into: list[_PageState]) -> Iterator[None]:
    """`_page_state`, appended to `into`, read in steps (the enrich stage may start a check
    between two of them: Enricher.run's `meanwhile`). The largest first: the model's worker
    answers about when it is read, and the smaller ones after wait less for a step to end."""
    versions = {url: digest[:10] for url, digest in
                ((u, hashlib.sha256(p.read_bytes()).hexdigest()) for u, p in static_files.values())}
    renderer = Renderer(config, asset_versions=versions)
    page_inputs = PageInputs(config.cache_path / "pages" / f"{_output_key(output)}.pickle",
                             _shared_digest(config, renderer)).load()
    yield
    # A page rendered to the bytes it had at the last link check is not scanned again.
    link_store = links.SummaryStore(config.cache_path / "links" / f"{_output_key(output)}.pickle")
    last_check = link_store.load() if check_links else links.NO_CHECK
    yield
    into.append(_PageState(read_manifest(output), renderer, page_inputs, link_store, last_check))


def _changing(page_inputs: PageInputs, cells: depends.Cells, archive: archive_stage.Archive,
              enrichment: Enrichment, by_difference: bool) -> tuple[dict[str, set[int]], dict[int, tuple], bytes]:
    """The stored pages that read a cell which changed, with the changed cells each read; the
    nodes among those cells (number -> cell); and the digests of the stored cells. `by_difference`: the stored
    digests are of an archive made from the enrichment this one was made from, and only the
    cells of what moved since are digested (archive.may_differ: a few hundred of 170,000)."""
    if by_difference:
        suspects = archive_stage.may_differ(archive, enrichment, page_inputs.hashes)
        changed, digests = page_inputs.changed_by_difference(cells, suspects)
    else:
        changed, digests = page_inputs.changed_cells(cells)
    cell = page_inputs.cells.__getitem__
    return page_inputs.touched_by(changed), {n: cell(n) for n in changed if page_inputs.is_node(n)}, digests


def _by_difference(page_inputs: PageInputs, enrichment: Enrichment) -> bool:
    """Whether the stored cell digests are of an archive made from the stored enrichment this
    one was made from (archive.may_differ then bounds what changed)."""
    return (enrichment.basis is not None and bool(enrichment.basis_key) and bool(page_inputs.hashes)
            and page_inputs.basis == enrichment.basis_key)


class _WrongGuess(Exception):
    def __init__(self, right: Enrichment):
        super().__init__("the guessed resolution was wrong")
        self.right = right


def _site(config: Config, output: Path, drafts: bool, jobs: int, enricher: Any, check_links: bool,
          static_files: dict, inputs: str, unlisted: Callable[[], Listing | None],
          writes: CacheWrites, result: BuildResult, clock: _Clock, articles: list[Article],
          enrichment: Enrichment, state: _PageState | None,
          base: tuple[Enrichment, archive_stage.Archive] | None) -> None:
    """Index, plan, render, check and write the site of an enriched archive (`state`: read
    already, or None; `base`: an enrichment and its archive, made while the model ran)."""
    # 3. Index and plan every page. Meanwhile a forked worker finds which of the cells read by
    # the last build's pages changed (depends.py): both read the archive, nothing else.
    archive = None
    if base is not None and base[0] is enrichment.basis:  # an edit's: made from the last result
        archive = archive_stage.patched(base[1], enrichment, config)
    if archive is None:
        archive = archive_stage.build(articles, enrichment, config)
    state = state or _page_state(config, output, static_files, check_links)
    previous, renderer, page_inputs, last_check = state.previous, state.renderer, state.page_inputs, state.last_check
    cells = archive_stage.cells(archive)
    stored_digests = b""  # of the stored cells, found by the worker (for the page inputs saved)
    by_difference = _by_difference(page_inputs, enrichment)
    changing = Forked(lambda: _changing(page_inputs, cells, archive, enrichment, by_difference)) \
        if page_inputs.has_pages() else None
    depends.made_nodes()  # start afresh: what nodes this build makes is kept for the next
    try:
        asset_urls = {rel: url for rel, (url, _) in static_files.items() if rel.startswith(config.content_dir + "/")}
        planned = pages.plan(archive, config, asset_urls)
        touched: set[str] = set()
        if changing is not None:
            read_changed, node_cells, stored_digests = changing.result()
            page_inputs.tell(node_cells)  # the cells are decoded in the worker, not here
            nodes = set(node_cells)
            # Early cut-off: a planned node whose inputs changed, made again (here: the pages
            # made later take it), to the value it had, changes none of its readers.
            # A changed node is made again with its group's pages (pages.PageGroup), not yet made.
            planned.make_groups(cell[1][:2] for cell in node_cells.values())  # a node's name starts with its group's
            same = page_inputs.same_values(nodes, depends.remade)
            touched = {path for path, got in read_changed.items() if not got <= same}
    finally:
        if changing is not None:
            changing.close()
    result.pages = len(planned)
    clock.lap("plan", f"{result.pages} pages")

    # 4. Render and write, aside from the live site.
    spare_known = spare_known_path(config, output)
    writer = SiteWriter(output, previous).open(lambda staging: spare_state.kept_base(staging, output, previous,
                                                                                     spare_known))
    try:
        writer.add(writer.put(url, path.read_bytes()) for url, path in static_files.values())
        records, rendered, summaries, reads, made_nodes = render_pages(
            planned, renderer, writer, jobs, page_inputs, touched, last_check.pages,
            expected_cells=lambda: archive_stage.expected_cells(archive))
        writer.add(records)
        result.rendered = rendered
        clock.lap("render", f"{rendered} rendered, {result.pages - rendered} unchanged")

        def settled() -> None:
            """Nothing made from a guess reaches the site, or a report, before its check: the
            check has until then (the other core resolves from scratch meanwhile)."""
            if not enrichment.guessed:
                return
            started = time.perf_counter()
            right = enricher.settle()
            clock.aside("check", time.perf_counter() - started, "the guessed resolution was right" if right is None
                        else "the guessed resolution was wrong: the site is made again from the right one",
                        always=right is not None)
            if right is not None:
                raise _WrongGuess(right)

        if config.search.enabled:
            writer.add(_search_index(writer))
            clock.lap("search", "Pagefind index built")
        if check_links:
            broken = check_links_of(writer, summaries, config, writes, state.link_store, last_check, inputs)
            if broken:
                settled()
                raise links.BrokenLinksError(broken)
            clock.lap("links", "every internal link and anchor resolves")
        result.written = writer.rewritten
        result.manifest = writer.commit(inputs, drafts=drafts, unlisted=unlisted(), ready=settled)
        if writer.base is None:  # a site with no spare beside it: the next build would link every file
            writes.add(lambda: make_spare(output), only_detached=True)

        def save_page_inputs() -> None:
            if stored_digests:  # the stored cells come first in the list saved: not digested again
                cells.remember(page_inputs.cells[:len(stored_digests) // 8], stored_digests)
            page_inputs.basis = enrichment.key
            page_inputs.hashes = {a.source: a.content_hash for a in articles}
            for page, got in reads:
                page_inputs.keep(page.path, writer.records[page.path].fingerprint, page.plan_key, got)
            for cell, (got, value) in made_nodes.items():
                page_inputs.keep_node(cell, got, value)
            paths, keys = planned.keyed_columns()
            page_inputs.save(cells, paths, plan=(paths, keys), site=listing.manifest_identity(output))

        writes.add(save_page_inputs)
        clock.lap("write", f"{result.written} files written, {len(writer) - result.written} kept")
        result.preview = Preview(archive, renderer, asset_urls)
    except BaseException:
        writer.abort()
        raise




def _load_model(enricher: Any) -> None:
    """Load the pipeline while workers parse many files: so many new files will need the model.
    A problem (a broken curation file, a missing model) is left for the enrich stage to report."""
    if getattr(enricher, "loaded", True):
        return
    try:
        enricher.pipeline(enricher.curation())
    except Exception:  # noqa: BLE001 - reported, with its file, where the model is needed
        pass


def _same_url(articles: list[Article]) -> list[Problem]:
    """Articles that would be written to one URL: each later one (by path) is a problem."""
    first: dict[str, Article] = {}
    problems = []
    for a in articles:
        url = archive_stage.article_url(a)
        if url in first:
            problems.append(Problem(a.source, None, f"has the same slug as {first[url].source}: both would be "
                                    f"written to /{url}. Give one of them a different `slug:`."))
        else:
            first[url] = a
    return problems


def spare_known_path(config: Config, output: Path) -> Path:
    """Where the last build's cache writer keeps what the spare beside `output` holds (spare_state.py)."""
    return config.cache_path / "pages" / f"{_output_key(output)}.spare"


def _output_key(output: Path) -> str:
    """Names this output folder's files in the cache folder."""
    return hashlib.sha256(str(output.resolve()).encode()).hexdigest()[:16]


def _shared_digest(config: Config, renderer: Renderer) -> str:
    """What every page's output depends on besides its context: templates, settings, our code."""
    placeless = dataclasses.replace(config, root=Path("/"), output_dir="-")
    return hashlib.sha256(f"{renderer.templates_digest}\0{placeless!r}\0{code_digest()}".encode()).hexdigest()


def _search_index(writer: SiteWriter) -> list[Written]:
    """Run Pagefind over the staged site; record the files it wrote."""
    writer.clear("pagefind")  # Pagefind rewrites files: none of them may be shared with the live site
    search.run_pagefind(writer.staging)
    out = []
    for p in sorted((writer.staging / "pagefind").rglob("*")):
        if p.is_file():
            rel = p.relative_to(writer.staging).as_posix()
            out.append(Written(rel, hashlib.sha256(p.read_bytes()).hexdigest(), None, rewritten=True))
    return out


@contextmanager
def project_lock(config: Config) -> Iterator[None]:
    """One build at a time per project: a second one is told, not allowed to corrupt the first."""
    path = config.cache_path / "build.lock"
    try:
        with held_lock(path, wait=False):
            yield
    except LockHeld:
        raise BuildLockedError(f"another build of this project is running (lock: {path}). "
                               "Wait for it to finish, then try again.") from None


class _Clock:
    def __init__(self, result: BuildResult, log: Callable[[str], None] | None):
        self.result = result
        self.log = log
        self.t = time.perf_counter()

    def aside(self, stage: str, seconds: float, detail: str, *, always: bool = False) -> None:
        """Report a wait of `seconds` just past, if it was noticeable, and leave it out of the next lap."""
        if seconds >= 0.05 or always:
            self.result.timings.append((stage, seconds, detail))
            if self.log:
                self.log(f"  {stage:<9} {seconds:7.2f}s  {detail}")
            self.t += seconds

    def lap(self, stage: str, detail: str) -> None:
        now = time.perf_counter()
        self.result.timings.append((stage, now - self.t, detail))
        if self.log:
            self.log(f"  {stage:<9} {now - self.t:7.2f}s  {detail}")
        self.t = now


__all__ = ["BuildResult", "build", "BriefingError"]
