"""The spaCy pipeline, loaded in a forked process while the build reads the archive.

Loading the model (spaCy's import and the model's files) takes about a second, which a rebuild
after an edit would otherwise spend before its one NER call. When a build starts from a previous
one, `start` forks a worker at once; it loads the pipeline while this process parses the archive
and reads its stored analyses, then runs the model on the few articles that need it and sends
back only their analyses (as the NER workers of ner.run_model do). A build that needs no NER,
or NER on many articles (those go to run_model's own workers), closes it unused.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .search import die_with_parent
from .workers import worker_start

# More articles than this to analyse: the parent loads the model and shares it with its workers.
MAX_ARTICLES = 64

_STATE: dict[str, Any] = {}  # the enricher and curation, for the forked worker


def _load() -> None:
    _STATE["start"]()
    try:
        enricher = _STATE.get("enricher")
        if enricher is None:  # forked before the parent imported the enrich stage: made here
            from .enrich import Enricher

            enricher = _STATE["enricher"] = Enricher(_STATE["config"])
        enricher.pipeline(enricher.curation())
    except BaseException:  # noqa: BLE001 - the parent loads it again and reports the error
        _STATE["failed"] = True


def _analyse(articles: Sequence[Any], curation: Any, fingerprint: str) -> list[tuple[bytes, bytes]] | None:
    if _STATE.get("failed"):
        return None
    from .cache import Cache
    from .enrich import encode_local, local_analysis
    from .ner import run_model

    enricher = _STATE["enricher"]
    config = enricher.config
    cache = Cache(config.cache_path, fingerprint)
    analysed = run_model(articles, enricher.pipeline(curation), cache, curation, batch_size=config.nlp.batch_size,
                         analyse=lambda art, ann: encode_local(local_analysis(art, ann, curation, config)))
    return [blob for _, blob in analysed]


class Preloaded:
    """A worker loading the pipeline; `analyse` runs it, `close` ends it."""

    def __init__(self, config: Any, enricher: Any = None):
        _STATE.update(config=config, enricher=enricher, failed=False,
                      start=worker_start(die_with_parent()))  # made here: it names this process
        self.pool: Any = multiprocessing.get_context("fork").Pool(1, initializer=_load)

    def analyse(self, articles: Sequence[Any], curation: Any, fingerprint: str) -> Callable[[], list[bytes] | None]:
        """Start the analysis of `articles`; the function returned waits for it and gives each
        article's encoded analysis (stored.encode_local), in order, with its annotation written to
        the cache of `fingerprint`, or None when the worker could not load the model. Either
        way the worker is closed once it has answered."""
        if len(articles) > MAX_ARTICLES or self.pool is None:
            self.close()
            return lambda: None
        pending = self.pool.apply_async(_analyse, (list(articles), curation, fingerprint))

        def result() -> list[tuple[bytes, bytes]] | None:
            try:
                return pending.get()
            finally:
                self.close()
        result.ready = pending.ready  # type: ignore[attr-defined] # answered: waiting would not wait
        return result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
        _STATE.clear()


def start(config: Any, enricher: Any = None) -> Preloaded | None:
    """A Preloaded for the build of `config` (by `enricher`, or one the worker makes), or None
    where it would not help or is unsafe: the pipeline is already loaded (the dev server keeps
    it), other threads run (forking them is unsafe), or no fork (Windows). The command line
    starts it before it imports the build's modules: a tenth of a second sooner."""
    if (enricher is not None and getattr(enricher, "loaded", True)) or sys.platform == "win32" \
            or threading.active_count() > 1:
        return None
    return Preloaded(config, enricher)
