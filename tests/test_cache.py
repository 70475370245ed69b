"""The annotation cache: atomic files, corrupt entries recomputed, model calls counted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

from briefing.cache import Cache
from briefing.config import Config, NlpConfig
from briefing.enrich import Enricher
from briefing.model import Article


def article(source: str, title: str, body: str) -> Article:
    text = f"{title}\n\n{body}"
    return Article(source=source, title=title, date=dt.datetime(2025, 3, 14, tzinfo=dt.UTC),
                   slug=source, summary="", body=body, body_line=3, text=text, headline_end=len(title),
                   content_hash=str(hash(text)))


ARTICLES = [
    article("a.md", "Talks in Baghdad", "Iraqi Prime Minister Mohammed Shia al-Sudani met Fouad Hussein in Baghdad."),
    article("b.md", "Visit to Damascus", "Ahmed al-Sharaa received envoys in Damascus. Al-Sharaa spoke at length."),
    article("c.md", "Coalition plans", "The U.S.-led coalition will leave Iraq by September 2025, Washington said."),
]


def test_get_put_and_corrupt_entries(tmp_path: Path):
    cache = Cache(tmp_path, "fp")
    assert cache.get("k") is None
    cache.put("k", {"x": [1, 2]})
    assert cache.get("k") == {"x": [1, 2]}
    assert not list((tmp_path / "fp").glob(".tmp-*"))  # no temp file left behind
    (tmp_path / "fp" / "k.json").write_text("{not json", encoding="utf-8")
    assert cache.get("k") is None
    (tmp_path / "fp" / "k.json").write_bytes(b"\xff\xfe\x00")
    assert cache.get("k") is None
    (tmp_path / "fp" / "k.json").write_text(json.dumps({"key": "other", "value": 1}), encoding="utf-8")
    assert cache.get("k") is None


def test_second_run_runs_the_model_on_nothing(tmp_path: Path):
    config = Config(root=tmp_path)
    first = Enricher(config).run(ARTICLES)
    assert first.model_calls == 3
    second = Enricher(config).run(ARTICLES)
    assert second.model_calls == 0
    assert second.mentions == first.mentions
    assert second.entities == first.entities
    assert second.topics == first.topics


def test_changing_one_article_runs_the_model_once(tmp_path: Path):
    config = Config(root=tmp_path)
    enricher = Enricher(config)
    enricher.run(ARTICLES)
    changed = dataclasses.replace(ARTICLES[1], text=ARTICLES[1].text + " Hama was calm.")
    result = enricher.run([ARTICLES[0], changed, ARTICLES[2]])
    assert result.model_calls == 1
    assert any(m.text == "Hama" for m in result.mentions["b.md"])


def _local_stores(config: Config) -> list[Path]:
    return sorted(config.cache_path.rglob("local-*.pickle"))


def _forget_results(config: Config) -> None:
    """Drop the stored whole-archive result, so that a run goes through the per-article layers."""
    stores = sorted(config.cache_path.rglob("result-*.pickle"))
    assert stores
    for store in stores:
        store.unlink()


def test_corrupt_entry_is_recomputed_not_a_crash(tmp_path: Path):
    config = Config(root=tmp_path)
    first = Enricher(config).run(ARTICLES)
    files = sorted(p for p in config.cache_path.rglob("*.json"))
    assert len(files) == 3
    files[0].write_text("garbage", encoding="utf-8")
    files[1].write_bytes(b"")
    [store] = _local_stores(config)
    store.unlink()  # the per-article analyses would otherwise spare reading the annotations
    _forget_results(config)
    again = Enricher(config).run(ARTICLES)
    assert again.model_calls == 2
    assert again.mentions == first.mentions


def test_local_store_spares_the_annotations_and_a_broken_one_is_a_miss(tmp_path: Path):
    config = Config(root=tmp_path)
    first = Enricher(config).run(ARTICLES)
    for p in config.cache_path.rglob("*.json"):
        p.unlink()  # only the store is left: nothing needs the model
    _forget_results(config)
    kept = Enricher(config).run(ARTICLES)
    assert kept.model_calls == 0
    assert (kept.mentions, kept.entities, kept.topics) == (first.mentions, first.entities, first.topics)
    [store] = _local_stores(config)
    data = bytearray(store.read_bytes())
    data[-5] ^= 0xFF  # tampered or torn: its seal no longer matches, so it is not unpickled
    store.write_bytes(bytes(data))
    _forget_results(config)
    again = Enricher(config).run(ARTICLES)
    assert again.model_calls == 3
    assert (again.mentions, again.entities, again.topics) == (first.mentions, first.entities, first.topics)


def test_local_store_drops_removed_articles_and_changes_with_curation(tmp_path: Path):
    from briefing import sealed
    from briefing.enrich import decode_local

    config = Config(root=tmp_path)
    Enricher(config).run(ARTICLES)
    [store] = _local_stores(config)
    assert len(sealed.load(store)["entries"]) == 3
    Enricher(config).run(ARTICLES[:2])
    assert len(sealed.load(store)["entries"]) == 2
    (tmp_path / "entities.yaml").write_text("entities:\n  - name: Ahmed al-Sharaa\n    kind: person\n"
                                            "    aliases: [Abu Mohammed al-Jolani]\n", encoding="utf-8")
    Enricher(config).run(ARTICLES[:2])
    stores = _local_stores(config)
    assert len(stores) == 1 and stores != [store]  # another salt, the old file removed
    entries = sealed.load(stores[0])["entries"]
    assert sorted(cl.curated for b in entries.values() for cl in decode_local(b).clusters if cl.curated) \
        == ["Ahmed al-Sharaa"]


def test_fingerprint_changes_with_settings(tmp_path: Path):
    enricher = Enricher(Config(root=tmp_path))
    curation = enricher.curation()
    pipeline = enricher.pipeline(curation)
    fp = enricher.fingerprint(pipeline, curation)
    assert fp == enricher.fingerprint(pipeline, curation)
    # the cache folder is named by the fingerprint; a different cache_dir is a different place
    other = Enricher(Config(root=tmp_path, nlp=NlpConfig(cache_dir="elsewhere")))
    other.run(ARTICLES[:1])
    assert (tmp_path / "elsewhere" / fp).is_dir()


def test_successful_run_prunes_older_fingerprint_folders(tmp_path: Path):
    import os
    import time

    config = Config(root=tmp_path)
    root = config.cache_path
    old = root / ("0" * 20)
    newer = root / ("f" * 20)
    unrelated = root / "notes"
    for folder in (old, newer, unrelated):
        folder.mkdir(parents=True)
        (folder / "x.json").write_text("{}", encoding="utf-8")
    past = time.time() - 3600
    os.utime(old, (past, past))
    os.utime(unrelated, (past, past))
    future = time.time() + 3600  # used by another process after this run started
    os.utime(newer, (future, future))
    enricher = Enricher(config)
    enricher.run(ARTICLES[:1])
    current = root / enricher.fingerprint(enricher.pipeline(enricher.curation()), enricher.curation())
    assert current.is_dir() and len(list(current.glob("*.json"))) == 1
    assert not old.exists()
    assert newer.is_dir() and unrelated.is_dir()
    # the unit: nothing to prune when the root is missing
    assert Cache(tmp_path / "missing", "a" * 20).prune() == 0


_PIDS: list[Path] = []


def _mark_worker() -> None:
    _PIDS[0].joinpath(str(os.getpid())).touch()  # which process did a chunk


def _model_chunk_in_worker(bounds: tuple[int, int]) -> list:
    from briefing import ner

    _mark_worker()
    return ner._real_model_chunk(bounds)  # type: ignore[attr-defined]


def _local_chunk_in_worker(bounds: tuple[int, int]) -> list:
    from briefing import enrich

    _mark_worker()
    return enrich._real_local_chunk(bounds)  # type: ignore[attr-defined]


def test_analyses_on_worker_processes_equal_in_process(tmp_path: Path, monkeypatch):
    """Both ways an article's Local is made on workers (right after the model, in the model's
    workers; from a cached annotation, in a pool of its own) give what one process gives."""
    from briefing import enrich, ner

    one = Enricher(Config(root=tmp_path / "one"), jobs=1).run(ARTICLES)
    pids = tmp_path / "pids"
    pids.mkdir()
    _PIDS.append(pids)
    monkeypatch.setattr(ner, "PARALLEL_MIN", 2)
    monkeypatch.setattr(enrich, "PARALLEL_LOCAL_MIN", 2)
    monkeypatch.setattr(ner, "_real_model_chunk", ner._model_chunk, raising=False)
    monkeypatch.setattr(ner, "_model_chunk", _model_chunk_in_worker)
    monkeypatch.setattr(enrich, "_real_local_chunk", enrich._local_chunk, raising=False)
    monkeypatch.setattr(enrich, "_local_chunk", _local_chunk_in_worker)
    try:
        config = Config(root=tmp_path / "two")
        two = Enricher(config, jobs=2).run(ARTICLES)
        assert two.model_calls == len(ARTICLES)
        model_workers = {int(p.name) for p in pids.iterdir()}
        for p in pids.iterdir():
            p.unlink()
        stores = list(config.cache_path.glob("*/local-*.pickle"))
        assert stores
        for store in stores:
            store.unlink()  # the annotations stay cached: only the local analysis runs again
        _forget_results(config)
        three = Enricher(config, jobs=2).run(ARTICLES)
        assert three.model_calls == 0
        local_workers = {int(p.name) for p in pids.iterdir()}
    finally:
        _PIDS.clear()
    for got in (two, three):
        assert (got.mentions, got.entities, got.topics) == (one.mentions, one.entities, one.topics)
    assert model_workers and os.getpid() not in model_workers
    assert local_workers and os.getpid() not in local_workers


def test_a_build_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path, monkeypatch) -> None:
    """The building process does not collect while it builds, its forked workers do (less
    often), and it freezes objects around its worker pools (forced here for the model and for
    rendering); none of these settings may outlive the build: the dev server and the tests run
    many builds in one process."""
    import gc

    from briefing import build as build_mod
    from briefing import ner, rendering, workers
    from briefing.config import load

    monkeypatch.setattr(ner, "PARALLEL_MIN", 2)
    monkeypatch.setattr(rendering, "PARALLEL_RENDER_MIN", 2)
    frozen: list[int] = []
    real_pool = workers.forked_pool
    monkeypatch.setattr(ner, "forked_pool", lambda jobs: _enter_then(real_pool(jobs), frozen))
    monkeypatch.setattr(rendering, "forked_pool", lambda jobs: _enter_then(real_pool(jobs), frozen))
    before = gc.get_threshold()
    assert before != workers.BUILD_GC_THRESHOLD
    project = tmp_path / "p"
    (project / "content").mkdir(parents=True)
    for a in ARTICLES:
        (project / "content" / a.source).write_text(
            f"---\ntitle: {a.title}\ndate: 2025-03-14\n---\n{a.body}\n", encoding="utf-8")
    (project / "config.yaml").write_text('title: "GC"\nsearch: {enabled: false}\n', encoding="utf-8")
    collecting: list[bool] = []  # whether the building process collects, while it plans
    real_plan = build_mod.pages.plan
    monkeypatch.setattr(build_mod.pages, "plan",
                        lambda *a: collecting.append(gc.isenabled() and gc.get_threshold()[0] > 0) or real_plan(*a))
    result = build_mod.build(load(project), jobs=2)
    assert result.model_calls == len(ARTICLES)
    assert collecting == [False]
    assert len(frozen) == 4 and all(n > 0 for n in frozen[::2])  # the model's pool, then the renderers'
    assert frozen[1::2] == [workers.BUILD_GC_THRESHOLD] * 2  # whose workers collect
    assert gc.get_threshold() == before and gc.isenabled()
    assert gc.get_freeze_count() == 0


class _enter_then:
    """Wraps a pool context: records the freeze count once the pool is up, and whether a worker collects."""

    def __init__(self, inner, seen: list[int]):
        self.inner, self.seen = inner, seen

    def __enter__(self):
        import gc

        pool = self.inner.__enter__()
        self.seen += [gc.get_freeze_count(), pool.apply(gc.isenabled) and pool.apply(gc.get_threshold)]
        return pool

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)


def test_whole_archive_result_is_reused_only_for_the_same_inputs(tmp_path: Path, monkeypatch) -> None:
    """Resolution and tags are skipped when every article's Local, its front-matter tags and
    the settings are those of the last run. Front-matter tags alone redo the tags, not the
    resolution (same_names.py); other settings, or an edit that names someone, redo both."""
    from briefing import enrich
    from briefing.config import TagsConfig, TopicRule

    config = Config(root=tmp_path)
    first = Enricher(config).run(ARTICLES)
    assert first.model_calls == len(ARTICLES)

    def no_resolution(*args, **kwargs):
        raise AssertionError("resolved again")

    with monkeypatch.context() as m:
        m.setattr(enrich, "resolve_archive", no_resolution)
        again = Enricher(config).run(list(reversed(ARTICLES)))  # order does not matter
    assert again == first.__class__(**{**first.__dict__, "model_calls": 0, "reused": True})

    resolved: list[int] = []
    real = enrich.resolve_archive
    monkeypatch.setattr(enrich, "resolve_archive", lambda *a, **k: (resolved.append(1), real(*a, **k))[1])
    tagged = [dataclasses.replace(ARTICLES[0], tags=("diplomacy",)), *ARTICLES[1:]]
    with_tag = Enricher(config).run(tagged)
    assert resolved == [] and "diplomacy" in with_tag.topics["a.md"]
    rule = TagsConfig(topics={"Syria": TopicRule(phrases=("Damascus",))})
    ruled = Enricher(config.with_changes(tags=rule)).run(tagged)
    assert resolved == [1] and ruled.topics["b.md"] == ("syria",)
    edited = [dataclasses.replace(ARTICLES[2], text=ARTICLES[2].text + " Ankara agreed.",
                                  body=ARTICLES[2].body + " Ankara agreed."), *ARTICLES[:2]]
    Enricher(config).run(edited)
    assert resolved == [1, 1]


def test_the_stored_whole_archive_result_decodes_to_what_was_encoded():
    """ResultStore keeps an Enrichment as plain tuples (marshal); decoding gives it back equal."""
    from briefing.enrich import decode_enrichment, encode_enrichment
    from briefing.model import Enrichment, Entity, Mention, Topic

    e = Enrichment(
        mentions={"content/a.md": (Mention(0, 5, "Assad", "person", "person/bashar-al-assad"),
                                   Mention(9, 13, "Iraq", "place", "place/iraq"))},
        entities={"person/bashar-al-assad": Entity("person/bashar-al-assad", "Bashar al-Assad", "person",
                                                   ("Assad",), "Syria's former president", ("https://x.org/a",)),
                  "place/iraq": Entity("place/iraq", "Iraq", "place")},
        topics={"content/a.md": ("syria",)}, topic_table={"syria": Topic("syria", "Syria", "tag")},
        redirects={"person/assad": "person/bashar-al-assad"}, model_calls=3)
    assert decode_enrichment(encode_enrichment(e)) == dataclasses.replace(e, model_calls=0, reused=True)
    assert decode_enrichment({"not": "an enrichment"}) is None
