"""archive.patched: the archive of an enrichment made from the archive of its basis (the last
build's), as a rebuild makes it while the model runs, must be the archive `build` makes, to the
order of every mapping (pages are planned and digested in that order)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

import pytest

from briefing import archive
from briefing.config import from_mapping
from briefing.model import Article, Enrichment, Entity, Mention, Topic

KINDS = ("person", "org", "place", "group")


def _article(i: int, rng: random.Random) -> Article:
    day = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=rng.randrange(40))
    return Article(source=f"a{i:02d}.md", title=f"A{i}", date=day, slug=f"a{i:02d}", summary="", body="b",
                   body_line=3, text="A\n\nb", headline_end=1, content_hash=str(i))


def _enrichment(sources: list[str], rng: random.Random, basis: Enrichment | None = None) -> Enrichment:
    """A random enrichment; with `basis`, that one with a few articles' mentions and topics, and
    maybe the tables, changed (as an edit's guess, reuse or region resolution changes them)."""
    keys = [f"{KINDS[n % 4]}/e{n}" for n in range(14)]
    topics_pool = [f"t{n}" for n in range(8)]

    def mentions_of() -> tuple[Mention, ...]:
        chosen = rng.sample(keys, rng.randrange(0, 5))
        chosen += rng.sample(chosen, min(len(chosen), rng.randrange(0, 2)))  # an entity named twice
        return tuple(Mention(10 * n, 10 * n + 4, key, key.split("/")[0], key) for n, key in enumerate(chosen))

    def topics_of() -> tuple[str, ...]:
        return tuple(rng.sample(topics_pool, rng.randrange(0, 3)))

    def entity_table() -> dict[str, Entity]:
        return {key: Entity(key, key.split("/")[1].upper(), rng.choice(KINDS) if rng.random() < 0.1 else
                            key.split("/")[0]) for key in sorted(rng.sample(keys, 12))}

    def topic_table() -> dict[str, Topic]:
        return {key: Topic(key, key.upper()) for key in sorted(rng.sample(topics_pool, 6))}
    if basis is None:
        return Enrichment(mentions={s: mentions_of() for s in sources}, entities=entity_table(),
                          topics={s: topics_of() for s in sources}, topic_table=topic_table(),
                          redirects={"person/old": "person/e0"})
    mentions, topics = dict(basis.mentions), dict(basis.topics)
    remade = set(rng.sample(sources, rng.randrange(1, 4)))
    for source in remade:
        mentions[source] = mentions_of()
    for source in rng.sample(sources, rng.randrange(0, 4)):
        topics[source] = topics_of()
    return Enrichment(mentions=mentions, topics={s: tuple(t) for s, t in topics.items()},  # new tuples, as tags makes
                      entities=entity_table() if rng.random() < 0.3 else basis.entities,
                      topic_table=topic_table() if rng.random() < 0.5 else dict(basis.topic_table),
                      redirects={"group/gone": "group/e3"} if rng.random() < 0.2 else basis.redirects,
                      basis=basis, basis_key="k", remade=frozenset(remade))


def _plain(a: archive.Archive) -> dict[str, Any]:
    """Every field, mappings as their items in order."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(a):
        value = getattr(a, f.name)
        if isinstance(value, dict):
            out[f.name] = list(dict.items(value))
        elif isinstance(value, frozenset):
            out[f.name] = sorted(frozenset.__iter__(value))
        else:
            out[f.name] = list(tuple.__iter__(value))
        out[f.name + " type"] = type(value).__name__
    return out


@pytest.mark.parametrize("seed", range(60))
def test_an_archive_patched_from_its_basis_is_the_archive_built(seed: int):
    rng = random.Random(seed)
    config = from_mapping({"entities": {"min_articles": rng.choice([1, 2, 3])},
                           "tags": {"min_articles": rng.choice([1, 2])}}, root=__import__("pathlib").Path("/"))
    articles = [_article(i, rng) for i in range(rng.randrange(3, 30))]
    sources = [a.source for a in articles]
    basis = _enrichment(sources, rng)
    base = archive.build(articles, basis, config)
    for _ in range(3):  # edits one after the other, each patched from the last one's archive
        enrichment = _enrichment(sources, rng, basis)
        got = archive.patched(base, enrichment, config)
        assert got is not None
        assert _plain(got) == _plain(archive.build(articles, enrichment, config))
        basis, base = enrichment, got


def test_no_basis_no_patch():
    rng = random.Random(1)
    config = from_mapping({}, root=__import__("pathlib").Path("/"))
    articles = [_article(i, rng) for i in range(4)]
    enrichment = _enrichment([a.source for a in articles], rng)
    assert archive.patched(archive.build(articles, enrichment, config), enrichment, config) is None


def test_a_rebuild_patches_the_archive_it_made_while_the_model_ran(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A rebuild after an edit makes the last result's archive while the model's worker runs,
    then patches it to its own result's: each time, the archive a build from scratch makes."""
    from conftest import make_project, write_article

    from briefing.build import build
    from briefing.config import load

    project = make_project(tmp_path / "p", articles=6)
    config = load(project)
    build(config)
    checked: list[bool] = []
    real = archive.patched

    def patched(base: archive.Archive, enrichment: Enrichment, config_: Any) -> archive.Archive | None:
        got = real(base, enrichment, config_)
        assert got is not None
        articles = [e.article for e in tuple.__iter__(got.entries)]
        checked.append(_plain(got) == _plain(archive.build(articles, enrichment, config_)))
        return got
    monkeypatch.setattr(archive, "patched", patched)
    path = sorted((project / "content").rglob("*.md"))[0]
    for sentence in ("The cargo figures were provisional and may be revised.",
                     "Officials at the International Monetary Fund in Washington said talks with Brazil "
                     "would resume.", "Inspectors from Antwerp counted the containers at the terminal."):
        path.write_text(path.read_text(encoding="utf-8") + f"\n{sentence}\n", encoding="utf-8")
        build(config)
    write_article(project, "2024/2024-05-30-late.md", "A late briefing", "2024-05-30",
                  "Dock workers in Rotterdam voted on the offer.", tags=["ports"])
    build(config)  # an article added: the last result is not of these articles, nothing is patched
    assert len(checked) == 3 and all(checked), checked
