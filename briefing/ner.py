"""The NER stage: the spaCy pipeline run over the articles whose annotation is not cached, in
forked workers when there are many, each annotation stored as it is made (Cache).

    annotate(articles, pipeline, cache) -> ({source: Annotation}, model calls)

enrich.py calls `run_model` with what to make of each annotation right after it (the article's
Local), so that the workers send back only that.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import curation as curation_mod
from . import nlp as nlp_mod
from .cache import Cache
from .casing import casing_vocabulary, headline_cased, recase
from .curation import Curation
from .model import Article
from .resolve import Annotation, Span
from .workers import forked_pool

# Archives with at least this many articles to analyse use several processes when jobs > 1.
PARALLEL_MIN = 64

def cache_key(article: Article) -> str:
    raw = f"{article.headline_end}\0{article.text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


def _to_json(ann: Annotation) -> dict[str, Any]:
    return {
        "spans": [[s.start, s.end, s.label, s.ent_id] for s in ann.spans],
        "recased": [[s.start, s.end, s.label, s.ent_id] for s in ann.recased],
        "headline_cased": ann.headline_cased,
    }


def _from_json(data: Any) -> Annotation | None:
    try:
        return Annotation(
            tuple(Span(int(a), int(b), str(c), str(d)) for a, b, c, d in data["spans"]),
            tuple(Span(int(a), int(b), str(c), str(d)) for a, b, c, d in data["recased"]),
            bool(data["headline_cased"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _spans(doc: Any, offset: int = 0) -> tuple[Span, ...]:
    return tuple(Span(e.start_char + offset, e.end_char + offset, e.label_, e.ent_id_ or "") for e in doc.ents)


_RUN_WITHOUT_SPACES = re.compile(r"\S{120,}")


def model_text(text: str) -> str:
    """The text as the model sees it: runs of 120+ characters without a space are blanked out.

    No name is that long, and spaCy's tokenizer is quadratic on such runs (40 KB of `*` takes
    minutes), so a scraped page of junk would stall the build. Blanking keeps every offset.
    """
    return _RUN_WITHOUT_SPACES.sub(lambda m: " " * len(m.group()), text)


def annotate(articles: Sequence[Article], pipeline: nlp_mod.Pipeline | Callable[[], nlp_mod.Pipeline],
             cache: Cache | None, curation: Curation = curation_mod.EMPTY, *, batch_size: int = 64,
             jobs: int = 1, progress: bool = False) -> tuple[dict[str, Annotation], int]:
    """Annotations per article source, and how many articles the model ran on.

    `pipeline` may be a function that loads it: then it is called only when an article misses
    the cache.
    """
    result, todo = cached_annotations(articles, cache)
    if not todo:
        return result, 0
    if callable(pipeline):
        pipeline = pipeline()
    for art, (ann, _) in zip(todo, run_model(todo, pipeline, cache, curation, batch_size=batch_size, jobs=jobs,
                                             progress=progress), strict=True):
        result[art.source] = ann
    return result, len(todo)


def cached_annotations(articles: Sequence[Article],
                       cache: Cache | None) -> tuple[dict[str, Annotation], list[Article]]:
    """The annotations the cache holds, per article source, and the articles it lacks."""
    found: dict[str, Annotation] = {}
    todo: list[Article] = []
    for art in articles:
        cached = cache.get(cache_key(art)) if cache is not None else None
        ann = _from_json(cached) if cached is not None else None
        if ann is None:
            todo.append(art)
        else:
            found[art.source] = ann
    return found, todo


_NER_WORK: tuple | None = None


def run_model(articles: Sequence[Article], pipeline: nlp_mod.Pipeline, cache: Cache | None,
              curation: Curation = curation_mod.EMPTY, *, batch_size: int = 64, jobs: int = 1,
              progress: bool = False, analyse: Callable[[Article, Annotation], Any] | None = None,
              ) -> Iterator[tuple[Annotation | None, Any]]:
    """Run the model over `articles`, store each annotation in `cache`, and yield, in order,
    (annotation, analyse(article, annotation)); with `analyse`, the annotation itself is None.

    With several processes, forked workers (sharing the loaded model) each take a run of
    articles: they run `nlp.pipe`, write the cache entries and do `analyse`, and send back only
    its result (or the entity spans). The model leaves both cores busy, so the per-article work
    after it costs half its time there; spaCy's own `n_process` would also send every Doc back
    to this process, serialised whole.
    """
    global _NER_WORK
    curated_forms = tuple(f for e in curation.entities for f in e.forms)
    n_process = jobs if jobs > 1 and len(articles) >= PARALLEL_MIN and sys.platform != "win32" else 1
    bar = _progress_bar(len(articles), progress)
    work = (articles, pipeline, cache, curated_forms, batch_size, analyse)
    try:
        if n_process <= 1:
            yield from _model_chunk_of(work, (0, len(articles)), bar)
            return
        _NER_WORK = work
        # Runs of about a second of model time: few enough to cost nothing, small enough that
        # neither core waits long for the other at the end.
        step = max(8, min(128, len(articles) // (n_process * 8)))
        chunks = [(i, min(i + step, len(articles))) for i in range(0, len(articles), step)]
        with forked_pool(n_process) as pool:
            for part in pool.imap(_model_chunk, chunks):
                if bar is not None:
                    bar.update(len(part))
                yield from part
    finally:
        _NER_WORK = None
        if bar is not None:
            bar.close()


def _model_chunk(bounds: tuple[int, int]) -> list[tuple[Annotation | None, Any]]:
    assert _NER_WORK is not None
    return list(_model_chunk_of(_NER_WORK, bounds, None))


def _model_chunk_of(work: tuple, bounds: tuple[int, int], bar: Any) -> Iterator[tuple[Annotation | None, Any]]:
    articles, pipeline, cache, curated_forms, batch_size, analyse = work
    todo = articles[bounds[0]:bounds[1]]
    tasks: list[tuple[str, tuple[int, int]]] = []
    for i, art in enumerate(todo):
        tasks.append((model_text(art.text), (i, 0)))
        headline = art.text[:art.headline_end]
        if headline_cased(headline):
            vocab = casing_vocabulary(art.text[art.headline_end:], curated_forms)
            tasks.append((recase(headline, vocab), (i, 1)))
    found: dict[int, dict[int, tuple[Span, ...]]] = defaultdict(dict)
    for doc, (i, which) in pipeline.nlp.pipe(tasks, as_tuples=True, batch_size=batch_size):
        found[i][which] = _spans(doc)
    for i, art in enumerate(todo):
        ann = Annotation(found[i][0], found[i].get(1, ()), 1 in found[i])
        if cache is not None:
            cache.put(cache_key(art), _to_json(ann))
        if bar is not None:
            bar.update(1)
        yield (None, analyse(art, ann)) if analyse is not None else (ann, None)


def _progress_bar(total: int, wanted: bool) -> Any:
    """A progress bar on stderr when it is a terminal and the run is long enough to need one."""
    if not wanted or total < 20 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="entities", unit="article", file=sys.stderr, leave=False)
