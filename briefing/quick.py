"""The dev server's fast path: show an edited article at once, before the full rebuild.

A full rebuild re-resolves the whole archive and re-plans every page, which takes seconds on a
large archive. When a save only changed the body of existing articles, the dev server first
re-renders just those articles' pages, from the last build's archive: the edited text is
parsed and analysed alone (the model stays loaded, the cache answers for unchanged text), its
names are matched to the archive's existing entities by name and alias, and the page is
written over the old one with one atomic rename. The browser shows the edit within a fraction
of a second; the full rebuild follows and brings every other page (entity pages, lists, feeds)
up to date, as Hugo's "fast render" mode does.

Anything this path cannot do right (a new or removed file, a changed slug, date or draft flag,
a parse error, a template change) makes it step aside: the full build handles it.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterable
from pathlib import Path

from . import pages, sources
from .build import Preview
from .config import Config
from .errors import BriefingError
from .fsutil import write_atomic
from .manifest import mark_dirty
from .model import Article, Mention
from .names import norm

CONTENT_SUFFIXES = sources.CONTENT_SUFFIXES


@dataclasses.dataclass(frozen=True)
class Previewed:
    pages: list[str]  # files rewritten in the output folder
    model_calls: int  # articles the NER model ran on


def preview(config: Config, state: Preview, changes: Iterable[Path], enricher: object,
            output: Path) -> Previewed | None:
    """Re-render the pages of edited articles into `output`, or return None when this change
    needs the full build first."""
    changes = list(changes)
    if not changes or any(p.suffix.lower() not in CONTENT_SUFFIXES for p in changes):
        return None
    archive = state.archive
    index_of = {e.source: i for i, e in enumerate(archive.entries)}
    edited: list[tuple[int, Article]] = []
    for path in changes:
        try:
            article = sources.parse(sources.read_source(path, config.root), config)
        except (BriefingError, OSError):
            return None
        i = index_of.get(article.source)
        if i is None:
            return None
        old = archive.entries[i].article
        if (article.slug, article.date, article.draft) != (old.slug, old.date, old.draft):
            return None  # the page moves or appears elsewhere in lists: only the full build can say
        edited.append((i, article))

    mentions, calls = _mentions(config, enricher, [a for _, a in edited], archive)
    entries = list(archive.entries)
    for i, article in edited:
        entries[i] = dataclasses.replace(entries[i], article=article, mentions=mentions[article.source])
    by_source = dict(archive.by_source)
    by_source.update({entries[i].source: entries[i] for i, _ in edited})
    archive = dataclasses.replace(archive, entries=tuple(entries), by_source=by_source)

    url_of_source = {e.source: e.url for e in archive.entries}
    written = []
    for i, _ in edited:
        problems: list = []
        page = pages.article_page(archive, i, config,
                                  lambda source: pages.mention_links(archive.by_source[source], archive, config),
                                  url_of_source, state.asset_urls, problems)
        if problems:
            return None
        data = state.renderer.render(page)
        write_atomic(output / page.path, data)
        _forget_page(output, page.path)
        written.append(page.path)
    return Previewed(written, calls)


def _mentions(config: Config, enricher: object, articles: list[Article],
              archive: object) -> tuple[dict[str, tuple], int]:
    """Mentions in the edited articles, tied to the archive's existing entities by name."""
    from . import enrich as enrich_mod
    from .cache import Cache
    from .clusters import candidates, local_clusters

    curation = enricher.curation()  # type: ignore[attr-defined]
    pipeline = enricher.pipeline(curation)  # type: ignore[attr-defined]
    cache = Cache(config.cache_path, enricher.fingerprint(pipeline, curation))  # type: ignore[attr-defined]
    annotations, calls = enrich_mod.annotate(articles, pipeline, cache, curation,
                                         batch_size=config.nlp.batch_size, jobs=1, progress=False)
    known = _names_of(archive)
    out: dict[str, tuple] = {}
    for art in articles:
        cands = candidates(art.text, art.headline_end, annotations[art.source], curation,
                           enrich_mod.heading_ranges(art, config.markdown.html))
        found: list[Mention] = []
        for cluster in local_clusters(art.source, art.text, cands, curation):
            forms = [cluster.name, *cluster.forms]
            key = next((known[(k, norm(f))] for k in (cluster.kind, "") for f in forms if (k, norm(f)) in known),
                       None)
            if key is None:
                continue  # a name new to the archive: linked once the full build has made its page
            kind = archive.entities[key].kind  # type: ignore[attr-defined]
            found += [Mention(m.start, m.end, m.text, kind, key) for m in cluster.mentions]
        out[art.source] = tuple(sorted(found, key=lambda m: m.start))
    return out, calls


# The names of the archive the last preview was made from (its entities' names and aliases,
# normalised: 45,000 at 10,000 articles, 0.04 s), kept until a full build makes another archive.
_NAMES: list = [None, {}]  # [a weak reference to the archive, its names]


def _names_of(archive: object) -> dict[tuple[str, str], str]:
    """(kind or "", normalised name or alias) -> entity key, for each entity of the archive."""
    ref = _NAMES[0]
    if ref is not None and ref() is archive:
        return _NAMES[1]
    known: dict[tuple[str, str], str] = {}
    for key, entity in archive.entities.items():  # type: ignore[attr-defined]
        for form in (entity.name, *entity.aliases):
            known.setdefault((entity.kind, norm(form)), key)
            known.setdefault(("", norm(form)), key)
    _NAMES[:] = [weakref.ref(archive), known]
    return known


def _forget_page(output: Path, rel: str) -> None:
    """Tell the next full build this page's bytes are not the ones its manifest lists."""
    mark_dirty(output, rel)
