"""Rendering the planned pages (the build's render stage): the pages whose inputs cannot have
changed keep the last build's file without their context being made; the others are made,
fingerprinted, and rendered unless their fingerprint is the last build's, in this process or, for
many pages, by forked workers writing straight into the staging folder."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from . import depends, links, listing, pages
from .output import SiteWriter, Written
from .page_inputs import PageInputs
from .render import Renderer
from .workers import forked_pool

# Fewer pages than this are made and rendered in-process: a worker pool costs more than it saves.
PARALLEL_RENDER_MIN = 1000

# A page's file record, link summary (if rendered; SAME_AS_CHECKED when the last link check's
# still holds: the check takes the page as unchanged), whether it was rendered, and the cells its
# context read (PageInputs.encode; None when the context was not made here).
Done = tuple[Written, "links.Summary | str | None", bool, "tuple | None"]
SAME_AS_CHECKED = "same as checked"


def render_pages(planned: pages.Plan, renderer: Renderer, writer: SiteWriter, jobs: int,
                 page_inputs: PageInputs | None = None, touched: set[str] | None = None,
                 checked: Mapping[str, tuple[str, Any]] | None = None,
                 expected_cells: Callable[[], Iterable[tuple[str, Any]]] | None = None,
                 ) -> tuple[list[Written], int, dict[str, links.Summary], list[tuple[pages.Page, tuple]], dict]:
    """Make each page's context and fingerprint; render the pages whose fingerprint changed and
    link the rest from the previous build.

    A page whose context is made here (it has a plan key) and none of whose inputs changed since
    the last build (`page_inputs`; `touched`: the stored pages that read a changed cell, see
    depends.py) keeps its file without its context being made at all, nor its group's pages
    (pages.PageGroup). A rendered page whose fingerprint is the one it had at the last link
    check (`checked`: page -> (fingerprint, ...)) is not scanned for links: its bytes are the same.

    With several jobs and enough pages to make, forked workers do all of it, each for a run of
    pages, writing straight into the staging folder: they share the archive the contexts are made
    from, and only file records, link summaries and the cells each context read come back.
    Returns the files (besides the pages the writer keeps as the last build wrote them:
    SiteWriter.as_before), how many pages were rendered, the link summary of each rendered HTML page,
    the cells read by each page whose context was made, and by each node made (depends.node).
    """
    records, todo = _kept_pages(planned, writer, page_inputs, touched)
    if jobs > 1 and len(todo) >= PARALLEL_RENDER_MIN and sys.platform != "win32":
        if page_inputs is not None and expected_cells is not None:
            # Numbered before the workers fork, they can encode what a context read without asking
            # this process (in-process, the few cells not numbered yet are numbered as recorded).
            page_inputs.number_cells(expected_cells())
        done, nodes = _in_workers(todo, renderer, writer, page_inputs, checked, jobs)
    else:
        done = [_page_done(page, renderer, writer, page_inputs, checked) for page in todo]
        nodes = _encoded_nodes(page_inputs)
    summaries = {}
    reads = []
    rendered = 0
    for page, (record, summary, was_rendered, got) in zip(todo, done, strict=True):
        records.append(record)
        rendered += was_rendered
        if summary is not None and not isinstance(summary, str):  # a str: SAME_AS_CHECKED
            summaries[record.path] = summary
        if got is not None:
            reads.append((page, got))
    return records, rendered, summaries, reads, nodes


def _kept_pages(planned: pages.Plan, writer: SiteWriter, page_inputs: PageInputs | None,
                touched: set[str] | None) -> tuple[list[Written], list[pages.Page]]:
    """The last build's file of each page whose context cannot have changed (in the writer, as
    kept `as_before`, or as records), and the other pages: those to make (a group's pages are
    made only when one of them is to be)."""
    if page_inputs is None or touched is None or writer.previous is None:
        return [], planned.all_pages()
    paths, keys = planned.keyed_columns()
    not_kept = page_inputs.not_kept(paths, keys, listing.manifest_identity(writer.output), touched)
    records: list[Written] = []
    kept: Collection[str]
    if not_kept is not None:
        kept = writer.keep_as_before([path for path in paths if path not in not_kept])
    else:
        by_path: dict[str, Written] = {}
        writer.unchanged_pages(page_inputs.unchanged_pages(planned.keyed_rows(), writer.previous.pages, touched),
                               by_path)
        kept, records = by_path, list(by_path.values())
    todo = [page for page in planned.pages if page.path not in kept]
    for group in planned.groups:
        for row in group.rows:
            if row[0] not in kept:
                todo += [page for page in planned.group_pages(group) if page.path not in kept]
                break
    return records, todo


def _page_done(page: pages.Page, renderer: Renderer, writer: SiteWriter,
               page_inputs: PageInputs | None, checked: Mapping[str, tuple[str, Any]] | None) -> Done:
    reads = None
    if page.plan_key:
        page.__dict__["context"], got = depends.made_by(page.made)  # type: ignore[arg-type]
        reads = page_inputs.encode(got) if page_inputs is not None else None
    fp = renderer.fingerprint(page)
    kept = writer.unchanged_page(page.path, fp)
    if kept is not None:
        return kept, None, False, reads
    data = renderer.render(page)
    summary: links.Summary | str | None = None
    if page.path.endswith(".html"):
        before = checked.get(page.path) if checked else None
        summary = SAME_AS_CHECKED if before is not None and before[0] == fp else links.summarize(data.decode("utf-8"))
    return writer.put(page.path, data, fp), summary, True, reads


_WORK: tuple | None = None


def _encoded_nodes(page_inputs: PageInputs | None) -> dict:
    made = depends.made_nodes()
    return ({cell: (page_inputs.encode(got), value) for cell, (got, value) in made.items()}
            if page_inputs is not None else {})


def _pages_chunk(bounds: tuple[int, int]) -> tuple[list[Done], dict]:
    assert _WORK is not None
    todo, renderer, writer, page_inputs, checked = _WORK
    out = []
    for page in todo[bounds[0]:bounds[1]]:
        out.append(_page_done(page, renderer, writer, page_inputs, checked))
        page.__dict__.pop("context", None)  # made here, needed no more: keep the worker small
    return out, _encoded_nodes(page_inputs)


def _in_workers(todo: list[pages.Page], renderer: Renderer, writer: SiteWriter, page_inputs: PageInputs | None,
                checked: Mapping[str, tuple[str, Any]] | None, jobs: int) -> tuple[list[Done], dict]:
    global _WORK
    _WORK = (todo, renderer, writer, page_inputs, checked)
    try:
        step = max(50, len(todo) // (jobs * 16))
        chunks = [(i, min(i + step, len(todo))) for i in range(0, len(todo), step)]
        # Workers die with the build: a killed build must not leave them writing into a staging
        # folder the next build has removed.
        with forked_pool(jobs) as pool:
            out: list[Done] = []
            nodes: dict = {}
            for part, made in pool.imap(_pages_chunk, chunks):
                out += part
                nodes.update(made)
            return out, nodes
    finally:
        _WORK = None
