"""The link check of a staged site, against the last check's summaries (links.py holds the
scanner, the summary store and the check of one set of pages; this, which pages need a look)."""

from __future__ import annotations

from . import links
from .cache_writes import CacheWrites
from .config import Config
from .output import SiteWriter


def check_links_of(writer: SiteWriter, fresh: dict[str, links.Summary], config: Config, writes: CacheWrites,
                   store: links.SummaryStore, last: links.LastCheck, inputs: str = "") -> list[links.Broken]:
    """Check every internal link of the staged site (of the build whose inputs are `inputs`).

    Rendered pages come with their summaries (`fresh`). A page whose fingerprint is the one it
    had at the last successful check (`last`) has the same bytes: its links still hold unless a
    file it links to is gone, or a page it links to an #id of changed its ids. Only then are the
    stored links read, to check again the pages that link to those. Other HTML files are read.
    When the last check was of the previous build's site (the same inputs), the pages the writer
    kept as that build wrote them (SiteWriter.as_before) are such pages without a look at each.
    """
    summaries: dict[str, links.Summary] = {}
    unchanged: list[str] = []
    previous = writer.previous
    if previous is not None and previous.inputs and last.inputs == previous.inputs:
        unchanged = [rel for rel in writer.as_before if rel.endswith(".html") and not rel.startswith("pagefind/")]
        records = writer.records
    else:
        records = writer.every_record()
    for rel, record in records.items():
        if not rel.endswith(".html") or rel.startswith("pagefind/"):
            continue
        before = last.pages.get(rel)
        if before is not None and record.fingerprint is not None and before[0] == record.fingerprint:
            unchanged.append(rel)
        elif rel in fresh:
            summaries[rel] = fresh[rel]
        else:
            summaries[rel] = _summary_of(writer, rel)
    files = writer.paths()
    changed = {rel for rel, s in summaries.items() if rel in last.pages and frozenset(last.pages[rel][1]) != s.ids}
    gone = last.linked - files  # pages removed, or any other file
    for rel in {page for target in changed for page in last.into.get(target, ())}.intersection(unchanged):
        summaries[rel] = _summary_of(writer, rel)  # it links to an #id of a page whose ids changed
    if gone:  # some unchanged page may link to these: those, and any whose links are not stored, are read
        found = store.linking_to(gone, last)
        linking, stored = found if found is not None else (set(), set())
        for rel in unchanged:
            if rel in linking or rel not in stored:
                summaries.setdefault(rel, _summary_of(writer, rel))
    anchored: dict[str, set[str]] = {}
    broken, targets = links.check_pages(summaries, files, config.base_path, other_ids=last.ids, anchored=anchored)
    if not broken:
        def save() -> None:  # made by the cache writer (after the build, when detached)
            fingerprint = writer.fingerprint_of
            saved: dict[str, links.Saved] = {
                rel: (fingerprint(rel), s.ids, s.links, targets[rel], anchored[rel])  # type: ignore[misc]
                for rel, s in summaries.items() if fingerprint(rel)}
            saved.update((rel, (last.pages[rel][0], last.pages[rel][1], None, None, None))
                         for rel in unchanged if rel not in summaries)
            store.save(saved, last, inputs)
        writes.add(save)
    return broken


def _summary_of(writer: SiteWriter, rel: str) -> links.Summary:
    return links.summarize((writer.staging / rel).read_text(encoding="utf-8", errors="replace"))
