"""Enrichment: run the NER model over the archive (cached per article), then resolve and tag.

    Enricher(config).run(articles) -> Enrichment

`run_model` (ner.py) is the only expensive step: forked workers run the spaCy pipeline on the articles
whose annotation is not in the cache (`Enrichment.model_calls` counts them), store each
annotation, and, right after it, work out what the article yields on its own (`Local`: its
clusters of mentions and its candidate key phrases). Locals are kept per article in a
LocalStore, so a build re-analyses only changed articles. Resolution across the archive is
redone only when the last one cannot serve: the whole result is kept (ResultStore), an edit
that names no one new moves the last result's mentions, and one that does is guessed from it
and checked by a forked child (same_names.py); tags are redone on every run.

Headlines get one extra look (casing.py). Title Case and ALL CAPS headlines (as in wire copy) make the
stock model see names everywhere ("Joint Iraqi"), so such a headline is also analysed
*re-cased*: each word takes the casing it has in the body ("Leader" -> "leader",
"ISIS" -> "ISIS"), unknown words become lower case. Resolution keeps a headline entity only when
that reading finds it too, or the body names it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import marshal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import curation as curation_mod
from . import guess_check, names, same_names, sealed
from . import nlp as nlp_mod
from . import tags as tags_mod
from .cache import Cache, LocalStore, ResultStore, code_digest
from .cache_writes import CacheWrites
from .casing import casing_vocabulary, heading_ranges, headline_cased, recase, title_like  # noqa: F401 (re-exported)
from .clusters import candidates, local_clusters
from .config import Config
from .curation import Curation
from .model import Article, Enrichment
from .ner import annotate, cached_annotations, model_text, run_model  # noqa: F401 (re-exported)
from .resolve import Annotation, Assignment, Trace, assign, resolve_archive
from .stored import (  # noqa: F401 (re-exported: what the stores hold)
    Analyses,
    Local,
    PhraseCounts,
    _counter,
    _local_of,
    decode_enrichment,
    decode_local,
    encode_enrichment,
    encode_local,
    local_key,
)
from .workers import Forked, forked_pool

if TYPE_CHECKING:
    from . import region

# Bump when the annotation step changes what it stores or how it reads the text, or when the
# enrichment results change (annotate-4: dates, headings, kind votes), so every cache misses.
STEP_VERSION = "annotate-4"
# -- the Enricher -----------------------------------------------------------------------------


class Enricher:
    """Keeps the spaCy pipeline loaded between builds (the dev server reuses one)."""

    def __init__(self, config: Config, *, jobs: int = 1, progress: bool = False):
        self.config = config
        self.jobs = jobs
        self.progress = progress
        self._pipeline: nlp_mod.Pipeline | None = None
        self._patterns_digest: str | None = None
        self._stored: tuple[Path, dict[str, Any]] | None = None  # the LocalStore's data, kept between runs
        self._guess: guess_check.Guess | None = None  # the last run's guessed resolution, being checked
        self._key = ""  # the key the last run's result is stored under

    def curation(self) -> Curation:
        path = self.config.curation_path
        try:
            shown = path.relative_to(self.config.root).as_posix()
        except ValueError:
            shown = str(path)
        return curation_mod.load(path, shown)

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    def pipeline(self, curation: Curation) -> nlp_mod.Pipeline:
        digest = curation.patterns_digest()
        if self._pipeline is None or digest != self._patterns_digest:
            self._pipeline = nlp_mod.load_shared(self.config.nlp.model, curation.patterns())
            self._patterns_digest = digest
        return self._pipeline

    def fingerprint(self, pipeline: nlp_mod.Pipeline, curation: Curation) -> str:
        return pipeline.fingerprint(STEP_VERSION, curation.patterns_digest())

    def unloaded_fingerprint(self, package: str, curation: Curation) -> str:
        """`fingerprint` from the model package's files, loading the pipeline only if they do not say."""
        digest = curation.patterns_digest()
        found = nlp_mod.package_fingerprint(package, bool(curation.patterns()), STEP_VERSION, digest)
        return found if found is not None else self.fingerprint(self.pipeline(curation), curation)

    def run(self, articles: Sequence[Article], preloaded: Any = None, writes: CacheWrites | None = None, *,
            guess: bool = False, meanwhile: Callable[[], Iterable[None]] | None = None,
            early: Callable[[Enrichment], None] | None = None) -> Enrichment:
        """Whole archive: annotate (cached), resolve across articles, tag.

        With `guess`, an edit naming people the archive knows may be resolved by a guess, checked
        by a forked child (see same_names.py): the result then says `guessed`, and the caller must
        ask `settle()` before it uses the result for good. `meanwhile()` gives steps (an iterable,
        doing work as it is iterated), all taken once: while the model runs on the articles that
        need it (or at that point when none does), those left when the model answers once a
        guess's check has started. `early(last)` is called while the model has not answered, with
        the last result, when an edit's result is likely to be made from it (its `basis`).

        What each article contributes on its own (`Local`) is kept per article in a LocalStore;
        only the articles missing there are annotated (cache, or the model) and analysed. The
        pipeline is loaded only when an article misses the annotation cache, by `preloaded`
        (a preload.Preloaded, which this closes) when there is one and few articles miss.
        The stores for the next build are saved by `writes` when given (cache_writes.py), else at once.
        """
        if self._guess is not None:
            self._guess.close()
            self._guess = None
        try:
            return self._run(articles, preloaded, CacheWrites.or_at_once(writes), guess, meanwhile, early)
        finally:
            if preloaded is not None:
                preloaded.close()

    def _run(self, articles: Sequence[Article], preloaded: Any, writes: CacheWrites, guess: bool,
             meanwhile: Callable[[], Iterable[None]] | None, early: Callable[[Enrichment], None] | None) -> Enrichment:
        curation = self.curation()
        package = nlp_mod.installed_package(self.config.nlp.model)
        cache = Cache(self.config.cache_path, self.unloaded_fingerprint(package, curation))
        ordered = sorted(articles, key=lambda a: a.source)
        cache.touch()
        salt = self._local_salt()
        keys = {art.source: local_key(art) for art in ordered}
        results = ResultStore(cache.folder, salt)
        inputs = self._result_inputs(ordered, keys)
        known = decode_enrichment(results.load(inputs))
        if known is not None:
            cache.prune()
            self._key = inputs
            return dataclasses.replace(known, key=inputs, basis=known, basis_key=inputs)
        store = LocalStore(cache.folder, salt)
        stored = self._stored if self._stored is not None and self._stored[0] == store.path else None
        data = stored[1] if stored is not None else store.load()
        entries: dict[str, tuple[bytes, bytes]] = data["entries"]
        missing = [art for art in ordered if keys[art.source] not in entries]
        annotations, need_model = cached_annotations(missing, cache)
        from_cache = [art for art in missing if art.source in annotations]
        blobs = dict(zip((art.source for art in from_cache),
                         _local_blobs(from_cache, annotations, curation, self.config, self.jobs), strict=True))
        analysed_by_preloaded = None
        if need_model and preloaded is not None:
            analysed_by_preloaded = preloaded.analyse(need_model, curation, cache.fingerprint)
        # The stored analyses are read while the preloaded worker runs the model, then made into
        # the objects a resolution from scratch needs until the worker answers: unused when the
        # last resolution is reused (same_names.py), but made while this process would only wait.
        found = Analyses({art.source: entries[keys[art.source]] for art in ordered if keys[art.source] in entries})
        # Read while the worker runs the model, being needed whatever it answers: the last result
        # (when it is of these articles) and the phrase counts of the unchanged articles; and
        # whatever the caller wants done meanwhile.
        sources = [art.source for art in ordered]
        ordered_keys = [keys[source] for source in sources]
        settings = repr((self.config.entities, self.config.tags))
        last = results.load_last()
        if last is not None:
            tags_mod.remember_tag_keys(last.get("tag_keys"))
        last_result = (decode_enrichment(results.load(last["inputs"]))  # type: ignore[index]
                       if same_names.reusable(last, sources, ordered_keys, settings) else None)
        phrases = PhraseCounts(found)
        answered = getattr(analysed_by_preloaded, "ready", None)
        # Once the worker has answered, the caller's steps left wait until the guess's check has
        # started: the check is the longer path of an edit naming people.
        steps = iter(meanwhile() if meanwhile is not None else ())
        while not (answered is not None and answered()) and next(steps, steps) is not steps:
            pass
        # The key phrases read no mention (a tenth of a second at 10,000 articles), nor do the
        # tags made of them without topic rules; a guess reads the names memo and looks names up
        # in the last result's entities: all done while the model has not answered, when it has
        # not, each step saving the build as much after the answer as it takes (the last
        # result's archive, made meanwhile, saves less than it takes: it comes after the tags).
        early_phrases = early_tags = early_names = None
        if answered is not None and not answered() and last_result is not None and "lexicon" in data \
                and len(missing) <= EARLY_MAX:
            early_phrases = same_names.early_key_phrases(
                ordered, ordered_keys, phrases, {art.source: tags_mod.phrase_counts(art) for art in missing},
                entries, last, self.config.tags, data["lexicon"])
            if not answered():
                _read_names(cache.folder)
            if early_phrases is not None and not answered():
                early_tags = tags_mod.early_tags(ordered, early_phrases, self.config.tags, data["lexicon"])
            if early is not None and not answered():
                early(last_result)
            if not answered():  # used by an edit naming people only: last
                early_names = same_names.EntityNames(last_result.entities).indexed()
        decoded: dict[str, Local] = {}
        if answered is not None:
            for source in list(found.blobs):
                if not len(decoded) % 256 and answered():
                    break
                decoded[source] = found.local(source, phrases[source])
        preloaded_blobs = analysed_by_preloaded() if analysed_by_preloaded is not None else None
        if preloaded is not None:
            preloaded.close()  # its pool's threads gone, resolution may fork (workers.Forked)
        if preloaded_blobs is not None:
            blobs.update(zip((art.source for art in need_model), preloaded_blobs, strict=True))
        elif need_model:
            config = self.config
            pipeline = self.pipeline(curation)
            analysed = run_model(need_model, pipeline, cache, curation, batch_size=config.nlp.batch_size,
                                 jobs=self.jobs, progress=self.progress,
                                 analyse=lambda art, ann: encode_local(local_analysis(art, ann, curation, config)))
            for art, (_, blob) in zip(need_model, analysed, strict=True):
                blobs[art.source] = blob
        fresh: dict[str, Any] = {}
        for art in missing:
            blob = blobs[art.source]
            fresh[keys[art.source]] = blob
            found.blobs[art.source] = blob
            phrases.changed(art.source)
        if "lexicon" not in data:
            data["lexicon"] = nlp_mod.lexicon(package)
            fresh["lexicon"] = b""  # something to save
        kept = {k: entries.get(k) or fresh[k] for k in keys.values()}
        if fresh or len(kept) != len(entries):
            data = {"entries": kept, "lexicon": data["lexicon"]}
            writes.add(lambda: store.save(data))
        self._stored = (store.path, data)
        chosen: dict[str, list[str]] = {}  # each article's key phrases, kept for the next build
        phrase_df: dict[str, int] = {}  # and their document frequencies
        demonyms = self.config.entities.demonyms

        def afresh() -> tuple[list[str], Assignment]:  # from scratch, to check a guess (in a forked child)
            with _names_memo(cache.folder, CacheWrites()):  # never run: the child saves nothing
                clusters = [c for s in sources
                            for c in (decoded[s].clusters if s in decoded else found.local_clusters(s))]
                return sources, assign(clusters, curation, demonyms=demonyms)

        def by_region(save: Callable[[region.RegionIndex], None], names_to: CacheWrites) -> region.RegionEdit | None:
            """The edit resolved by region (region.py), its index patched and given to `save`."""
            from . import region  # (imported by edits naming people only)

            plain = results.load_region(last["inputs"])  # type: ignore[index]
            if plain is None or last_result is None:
                return None
            index = region.RegionIndex.from_plain(plain)
            before = dict(zip(sources, last["keys"], strict=True))  # type: ignore[index]
            changed = {source for source, now in zip(sources, ordered_keys, strict=True) if before[source] != now}

            def old_raw(source: str) -> tuple:
                return marshal.loads(entries[before[source]][0]) if source in changed else found.clusters(source)
            with _names_memo(cache.folder, names_to):
                edit = region.resolve_edit(index, changed, old_raw, found.clusters, last_result.mentions,
                                           last_result.entities, curation, demonyms=demonyms)
            if edit is not None:
                edit.patch(index)
                if not index.worn():  # else the cache writer makes it from scratch
                    save(index)
            return edit

        def save_later(index: region.RegionIndex) -> None:
            writes.add(lambda: results.save_region(inputs, index.to_plain()))
        reused = same_names.from_last(ordered, ordered_keys, found, phrases, entries, last, last_result,
                                      len(need_model), self.config.tags, data["lexicon"], chosen, phrase_df,
                                      curation, afresh if guess and Forked.possible() else None,
                                      read_names=lambda: _read_names(cache.folder),
                                      last_keys=lambda: results.load_keys(last["inputs"]),  # type: ignore[index]
                                      by_region=lambda: by_region(  # in the check's child: saved at once
                                          lambda index: results.save_region(inputs, index.to_plain()),
                                          CacheWrites()),
                                      here=lambda: by_region(save_later, writes),
                                      key_phrases_found=early_phrases, tags_found=early_tags,
                                      names_found=early_names)
        result, self._guess = reused if reused is not None else (None, None)
        for _ in steps:
            pass
        if result is None:
            chosen.clear()
            phrase_df.clear()
            with _names_memo(cache.folder, writes):
                result = enrich_from_locals(ordered, {s: decoded.get(s) or found.local(s, phrases[s]) for s in sources},
                                            curation, self.config, len(need_model), lexicon=data["lexicon"],
                                            kept=chosen, df_kept=phrase_df)
        self._key = inputs
        result = dataclasses.replace(result, key=inputs)
        facts = {"sources": sources, "keys": ordered_keys, "settings": settings, "key_phrases": chosen,
                 "phrase_df": phrase_df}

        def save() -> None:
            every_tag = {phrase for found in chosen.values() for phrase in found}
            every_tag.update(" ".join(str(tag).split()) for art in ordered for tag in art.tags)
            facts["tag_keys"] = tags_mod.tag_keys(every_tag | set(self.config.tags.topics))
            final = self.settle() or result
            # Made from the last result (its keys kept): only the remade articles' keys are new.
            since = (results.load_keys(final.basis_key)
                     if final.basis is not None and final.remade and final.basis_key else None)
            keys = ((since is not None and guess_check.cluster_keys_since(since, sources, final, found.clusters))
                    or guess_check.cluster_keys(sources, final.mentions, found.clusters))
            results.save(inputs, encode_enrichment(final), facts, keys=keys)
            _keep_region_index(results, inputs, final, sources, found, curation, demonyms)
        writes.add(save)
        writes.add(cache.prune)  # folders of older settings are never read again
        return result

    def settle(self) -> Enrichment | None:
        """After a run whose result was `guessed`: wait for its check; None when the guess was
        right, else the right result (the same, with each build's check, until the next run)."""
        right = self._guess.settle() if self._guess is not None else None
        return dataclasses.replace(right, key=self._key) if right is not None else None

    def _result_inputs(self, ordered: Sequence[Article], keys: Mapping[str, str]) -> str:
        """Everything resolution and tags read besides the salt: each article's Local (by its
        key) and front-matter tags, in order, and the entity and tag settings."""
        h = hashlib.sha256(repr((self.config.entities, self.config.tags)).encode())
        for art in ordered:
            h.update(f"{keys[art.source]}\0{art.tags!r}\0".encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def _local_salt(self) -> str:
        """What every article's Local depends on besides the article: code, curation, settings."""
        path = self.config.curation_path
        curated = path.read_bytes() if path.is_file() else b""
        h = hashlib.sha256(f"{STEP_VERSION}\0{code_digest()}\0{self.config.markdown.html}\0".encode())
        h.update(curated)
        return h.hexdigest()


_names_read: set[Path] = set()  # the names memos read by this process (see _read_names)


def _read_names(folder: Path) -> Path:
    """Take the names normalised and slugged by earlier builds (names.memo), kept in the cache
    folder under the digest of our code and python-slugify's version, unless this process has
    already; their file's path."""
    from importlib.metadata import version

    salt = hashlib.sha256((code_digest() + version("python-slugify")).encode()).hexdigest()[:16]
    path = folder / f"names-{salt}.pickle"
    if path not in _names_read:
        _names_read.add(path)
        loaded = sealed.load(path)
        if isinstance(loaded, tuple) and len(loaded) == 4:
            names.remember(*loaded)
    return path


@contextmanager
def _names_memo(folder: Path, writes: CacheWrites) -> Iterator[None]:
    """Resolution with the names normalised and slugged by earlier builds (`_read_names`); the
    memo saved again when it grew."""
    path = _read_names(folder)
    before = tuple(len(m) for m in names.memo())
    yield
    if tuple(len(m) for m in names.memo()) != before:
        def save() -> None:
            with suppress(OSError):
                sealed.dump(names.memo(), path)
                for old in folder.glob("names-*.pickle"):
                    if old != path:
                        old.unlink()  # another version of our code's
        writes.add(save)


# More changed articles than this: their key phrases are not found before the model answers.
EARLY_MAX = 64

# Fewer articles than this to analyse are analysed in-process: a worker pool costs more than it saves.
PARALLEL_LOCAL_MIN = 500
_WORK: tuple | None = None


def _local_blobs(articles: Sequence[Article], annotations: dict[str, Annotation], curation: Curation,
                 config: Config, jobs: int) -> list[tuple[bytes, bytes]]:
    """`encode_local(local_analysis(...))` of each article, on `jobs` forked processes when many."""
    global _WORK
    if jobs <= 1 or len(articles) < PARALLEL_LOCAL_MIN or sys.platform == "win32":
        return [encode_local(local_analysis(a, annotations[a.source], curation, config)) for a in articles]
    _WORK = (articles, annotations, curation, config)
    try:
        step = max(100, len(articles) // (jobs * 4))
        chunks = [(i, min(i + step, len(articles))) for i in range(0, len(articles), step)]
        with forked_pool(jobs) as pool:
            return [blob for part in pool.imap(_local_chunk, chunks) for blob in part]
    finally:
        _WORK = None


def _local_chunk(bounds: tuple[int, int]) -> list[tuple[bytes, bytes]]:
    assert _WORK is not None
    articles, annotations, curation, config = _WORK
    return [encode_local(local_analysis(a, annotations[a.source], curation, config))
            for a in articles[bounds[0]:bounds[1]]]


def local_analysis(article: Article, annotation: Annotation, curation: Curation, config: Config) -> Local:
    cands = candidates(article.text, article.headline_end, annotation, curation,
                       heading_ranges(article, config.markdown.html))
    return Local(local_clusters(article.source, article.text, cands, curation), tags_mod.phrase_counts(article))


def enrich_from_annotations(articles: Sequence[Article], annotations: dict[str, Annotation],
                            curation: Curation, config: Config, model_calls: int = 0, *,
                            lexicon: tags_mod.Lexicon | None = None) -> Enrichment:
    """Resolution and tags, given the model's annotations (pure and cheap)."""
    found = {art.source: local_analysis(art, annotations[art.source], curation, config) for art in articles}
    return enrich_from_locals(articles, found, curation, config, model_calls, lexicon=lexicon)


def _keep_region_index(results: ResultStore, inputs: str, final: Enrichment, sources: Sequence[str],
                       found: Analyses, curation: Curation, demonyms: bool) -> None:
    """Leave the index of this resolution (region.py) for the next edit: made by the guess's
    check, or the last one when the resolution was reused as it was (an index holds no offset),
    else made here from scratch (after the site is live: 3 s at 10,000 articles)."""
    from . import region

    if not results.has_region(inputs):
        plain = results.load_region(final.basis_key) if final.reused and final.basis_key else None
        if plain is None:
            per_source = [found.local_clusters(source) for source in sources]
            clusters = [c for cls in per_source for c in cls]
            trace = Trace()
            assigned = assign(clusters, curation, demonyms=demonyms, trace=trace)
            plain = region.index_of(sources, [len(cls) for cls in per_source], clusters, trace, assigned).to_plain()
        results.save_region(inputs, plain)
    results.prune_regions(inputs)


def enrich_from_locals(articles: Sequence[Article], found: dict[str, Local], curation: Curation,
                       config: Config, model_calls: int = 0, *, lexicon: tags_mod.Lexicon | None = None,
                       kept: dict[str, list[str]] | None = None, df_kept: dict[str, int] | None = None) -> Enrichment:
    """Resolution across the archive, then tags. Mutates the clusters of `found`. `kept`, when
    given, is filled with each article's key phrases, `df_kept` with the phrases' document
    frequencies (for the next build: see tags.tag_archive)."""
    clusters = [c for art in articles for c in found[art.source].clusters]
    phrases = {art.source: found[art.source].phrases for art in articles}
    with tags_mod.key_phrases_meanwhile(articles, phrases, config.tags, lexicon, kept, df_kept=df_kept) as chosen:
        resolved = resolve_archive(clusters, curation, demonyms=config.entities.demonyms)
        mentions = {art.source: resolved.mentions.get(art.source, ()) for art in articles}
        topics, table = tags_mod.assign(articles, mentions, resolved.entities, config.tags, lexicon, phrases,
                                        chosen())
    return Enrichment(mentions=mentions, entities=resolved.entities, topics=topics, topic_table=table,
                      redirects=resolved.redirects, model_calls=model_calls)
