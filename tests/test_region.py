"""An edit resolved by region (region.py) must give exactly what resolving the whole archive
gives, and leave the index a fresh one would be: checked on random archives whose names collide
in every way resolution reads (surnames, first names, acronyms, demonyms, plurals, one name of
several kinds, slugs), edit after edit; and through a build, where the check of a guess
resolves by region."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import make_project

from briefing import region, sealed
from briefing.build import build
from briefing.config import load
from briefing.curation import EMPTY
from briefing.names import norm
from briefing.resolve import Trace, assign

# (name, kind, short forms it may be written as in the same article)
NAMES = [
    ("James Baker", "person", ["Baker"]), ("Susan Baker", "person", ["Baker", "Susan"]),
    ("Baker", "person", []), ("Baker", "organization", []), ("Baker", "place", []),
    ("Andre Agassi", "person", ["Agassi"]), ("Agassi", "place", []), ("Agassi", "person", []),
    ("Ali al-Sistani", "person", ["Sistani", "al-Sistani"]), ("Sistani", "organization", []), ("Sistani", "person", []),
    ("Michael Jordan", "person", ["Jordan"]), ("Jordan", "place", []), ("Jordan", "person", []),
    ("International Monetary Fund", "organization", ["IMF", "Fund"]), ("IMF", "organization", []),
    ("Fund", "organization", []), ("Iraq", "place", []), ("Iraqi", "group", []), ("Iraqis", "group", []),
    ("Muslims", "group", []), ("Muslim", "group", []), ("Idlib", "place", []), ("Idlib", "organization", []),
    ("Washington", "place", []), ("Washington", "person", []), ("George Washington", "person", ["Washington"]),
    ("Bank of England", "organization", ["BOE", "Bank"]), ("BOE", "organization", []), ("Bank", "organization", []),
    ("U.S.", "place", []), ("US", "place", []), ("United States", "place", ["U.S."]), ("Kurds", "group", []),
    ("Kurd", "group", []), ("Kurdistan", "place", []), ("Mark Rutte", "person", ["Rutte"]), ("Rutte", "place", []),
    ("Andre", "place", []), ("Susan", "organization", []), ("Michael", "person", []), ("Michael", "place", []),
    ("Mark", "organization", []),
]
KINDS = ["person", "organization", "place", "group"]


def _cluster(rng: random.Random, source: str, at: int) -> tuple:
    """One stored cluster (enrich.encode_local's layout) with its mentions from offset `at`."""
    name, kind, shorts = rng.choice(NAMES)
    forms = [name] + [s for s in shorts if rng.random() < 0.3]
    mentions, votes, counts = [], {}, {}
    for form in forms:
        for _ in range(rng.randint(1, 2)):
            said = kind if rng.random() < 0.6 else rng.choice(["person", "place"])
            weight = rng.choice([1.0, 1.0, 1.5, 3.0])
            mentions.append((at, at + len(form), form, said, "", weight))
            votes[said] = votes.get(said, 0.0) + weight
            counts[form] = counts.get(form, 0) + 1
            at += len(form) + 7
    strong = set()
    if len(name.split()) > 1 or rng.random() < 0.3:
        strong.add(norm(name))
    if any(s.isupper() and len(s) > 1 for s in shorts) and rng.random() < 0.7:
        strong.add(norm(next(s for s in shorts if s.isupper())))
    return (source, name, kind, tuple(mentions), strong, tuple(counts.items()), "", False, tuple(votes.items()))


def _article(rng: random.Random, source: str) -> tuple:
    clusters, at = [], 0
    for _ in range(rng.randint(0, 5)):
        c = _cluster(rng, source, at)
        clusters.append(c)
        at = c[3][-1][1] + 10
    return tuple(clusters)


def _resolved(archive: dict[str, tuple]) -> tuple:
    from briefing.stored import _local_of

    sources = list(archive)
    per_source = [_local_of(archive[s], ()).clusters for s in sources]
    clusters = [c for cls in per_source for c in cls]
    trace = Trace()
    assigned = assign(clusters, EMPTY, trace=trace)
    resolved = assigned.resolved()
    mentions = {s: resolved.mentions.get(s, ()) for s in sources}
    index = region.index_of(sources, [len(cls) for cls in per_source], clusters, trace, assigned)
    return mentions, dict(resolved.entities), index


def _meaning(index: region.RegionIndex) -> tuple:
    """An index without its numbering: what a fresh index and a patched one must share."""
    name = {n: key for key, n in index.link_ids.items()}

    def where(ids: list[int]) -> list[tuple[str, int]]:
        return sorted((index.sources[index.rank_of[i]], index.place_of[i]) for i in ids if index.keys[i])
    clusters = {s: [(index.keys[i], frozenset(name[n] for n in index.links_of[i]), index.turned.get(i))
                    for i in index.ids_of[s]] for s in index.sources}
    linked = {name[n]: where(ids) for n, ids in enumerate(index.linked)}
    readers = {key: where(ids) for key, ids in index.readers.items()}
    return (clusters, {k: v for k, v in linked.items() if v}, {k: v for k, v in readers.items() if v},
            +index.words, +index.persons, index.short, index.people)


@pytest.mark.parametrize("seed", range(120))
def test_edits_resolved_by_region_equal_resolving_the_whole_archive(seed: int):
    rng = random.Random(seed)
    archive = {f"a{i:02d}": _article(rng, f"a{i:02d}") for i in range(rng.randint(4, 14))}
    mentions, entities, index = _resolved(archive)
    for _ in range(3):
        edited = dict(archive)
        changed = rng.sample(sorted(archive), rng.choice([1, 1, 2]))
        for source in changed:
            edited[source] = _article(rng, source)
        edit = region.resolve_edit(index, changed, archive.__getitem__, edited.__getitem__, mentions, entities,
                                   EMPTY, max_share=1.0)
        want_mentions, want_entities, fresh = _resolved(edited)
        assert edit is not None, "the region as it was did not come out as the last result had it"
        assert list(edit.entities.items()) == list(want_entities.items())
        assert edit.mentions == want_mentions
        assert set(edit.touched) >= {s for s in archive if mentions[s] != want_mentions[s]}
        edit.patch(index)
        assert _meaning(index) == _meaning(fresh)
        archive, mentions, entities = edited, want_mentions, want_entities


def test_an_index_patched_edit_after_edit_wears_out():
    """Each edit leaves its articles' old clusters numbered, with no entity: once they are a
    quarter of the index, it is made from scratch again instead of patched (enrich.py)."""
    rng = random.Random(5)
    archive = {f"a{i:02d}": _article(rng, f"a{i:02d}") for i in range(8)}
    mentions, entities, index = _resolved(archive)
    assert not index.worn()
    edits = 0
    while not index.worn():
        edited = dict(archive, a00=_article(rng, "a00"))
        edit = region.resolve_edit(index, ["a00"], archive.__getitem__, edited.__getitem__, mentions, entities,
                                   EMPTY)
        assert edit is not None
        edit.patch(index)
        archive, mentions, entities, edits = edited, edit.mentions, edit.entities, edits + 1
    gone = index.keys.count("")
    assert gone * 4 > len(index.keys) >= gone and edits > 1
    assert _meaning(index) == _meaning(_resolved(archive)[2])  # worn, and still right


def test_an_index_not_of_this_archive_is_not_used():
    """An index whose articles have other clusters than the archive's (never kept so, but a
    cache can be tampered with) makes the edit resolve whole, not fail."""
    rng = random.Random(8)
    archive = {f"a{i:02d}": _article(rng, f"a{i:02d}") for i in range(6)}
    while len(archive["a01"]) < 2:
        archive["a01"] = _article(rng, "a01")
    mentions, entities, index = _resolved(archive)
    other = dict(archive, a01=archive["a01"][:1])  # an article the index numbers two clusters of
    edited = dict(other, a00=archive["a01"][:1] + archive["a00"])
    assert region.resolve_edit(index, ["a00"], other.__getitem__, edited.__getitem__, mentions, entities,
                               EMPTY) is None


def test_a_region_larger_than_its_share_of_the_archive_is_resolved_whole():
    rng = random.Random(3)
    archive = {f"a{i:02d}": _article(rng, f"a{i:02d}") for i in range(12)}
    mentions, entities, index = _resolved(archive)
    edited = dict(archive, a00=_article(rng, "a00"))
    assert region.resolve_edit(index, ["a00"], archive.__getitem__, edited.__getitem__, mentions, entities,
                               EMPTY, max_share=0.0, min_region=0) is None
    assert region.resolve_edit(index, ["a00"], archive.__getitem__, edited.__getitem__, mentions, entities,
                               EMPTY) is not None  # a small archive's region: never too large


def test_the_region_holds_the_edited_articles_links_and_not_the_rest():
    """Renaming Iraq's demonym in one article reaches the articles naming Iraq or Iraqis, not
    those naming only the IMF."""
    def article(source: str, *names: str) -> tuple:
        out, at = [], 0
        for name in names:
            kind = dict((n, k) for n, k, _ in NAMES)[name]
            out.append((source, name, kind, ((at, at + len(name), name, kind, "", 1.0),), {norm(name)},
                        ((name, 1),), "", False, ((kind, 1.0),)))
            at += len(name) + 5
        return tuple(out)
    archive = {"a": article("a", "Iraq"), "b": article("b", "Iraqi"), "c": article("c", "IMF"),
               "d": article("d", "International Monetary Fund")}
    mentions, entities, index = _resolved(archive)
    edited = dict(archive, b=article("b", "Iraqis"))
    edit = region.resolve_edit(index, ["b"], archive.__getitem__, edited.__getitem__, mentions, entities, EMPTY,
                               max_share=1.0)
    assert edit is not None
    assert edit.touched == {"a", "b"}
    assert edit.mentions["b"][0].entity == "place/iraq"  # "Iraqis" is Iraq's, as "Iraqi" was


def test_a_build_checks_a_guess_by_region_and_leaves_the_index_for_the_next(tmp_path: Path):
    """After a build, the cache holds the index of its resolution; a build guessing an edit
    naming known people has its check resolve by region, which leaves the index patched (the
    edited article's old clusters kept, with no entity), and the result is the one a build from
    scratch makes."""
    from test_same_names import _scratch

    from briefing.enrich import encode_enrichment

    project = make_project(tmp_path / "p")
    config = load(project)
    build(config, check_links=False)
    stored = list((project / ".briefing-cache").rglob("region-*.pickle"))
    assert len(stored) == 1
    first = region.RegionIndex.from_plain(sealed.load_plain(stored[0])["index"])
    assert all(first.keys), "an index made from scratch has no cluster without an entity"
    antwerp = project / "content/2024/2024-06-01-antwerp-volumes.md"
    antwerp.write_text(antwerp.read_text() + "\nMark Rutte said the Netherlands depends on Antwerp too.\n")
    result = build(config, check_links=False)
    assert result.enrichment.guessed
    stored = list((project / ".briefing-cache").rglob("region-*.pickle"))
    assert len(stored) == 1
    patched = region.RegionIndex.from_plain(sealed.load_plain(stored[0])["index"])
    assert "" in patched.keys, "the index was not patched by a check resolving by region"
    assert encode_enrichment(result.enrichment) == _scratch(project, tmp_path)


def _one(source: str, name: str, kind: str, said: list[tuple[str, float]], strong: bool = False) -> tuple:
    """A stored cluster of one name, its mentions labelled and weighed as `said`."""
    mentions = tuple((20 * i, 20 * i + len(name), name, k, "", w) for i, (k, w) in enumerate(said))
    votes: dict[str, float] = {}
    for k, w in said:
        votes[k] = votes.get(k, 0.0) + w
    return (source, name, kind, mentions, {norm(name)} if strong else set(), ((name, len(said)),), "", False,
            tuple(votes.items()))


def _edit_of_a(direction: str, person: tuple, others: dict[str, tuple]) -> dict:
    """Article "a" gains (direction "named") or loses `person`: the edit resolved by region must
    be the whole archive resolved again; the mentions after it."""
    before = {"a": person if direction == "no longer named" else (), **others}
    after = dict(before, a=() if direction == "no longer named" else person)
    mentions, entities, index = _resolved(before)
    edit = region.resolve_edit(index, ["a"], before.__getitem__, after.__getitem__, mentions, entities, EMPTY)
    want_mentions, want_entities, _ = _resolved(after)
    assert edit is not None and edit.entities == want_entities and edit.mentions == want_mentions
    return want_mentions


@pytest.mark.parametrize("direction", ["named", "no longer named"])
def test_a_person_named_or_no_longer_named_by_a_first_name_reaches_the_lone_word(direction: str):
    """"Andre", half labelled a place, is a person while some person is named Andre in full
    (person_words_stay_people): an edit adding or removing "Andre Agassi" in another article,
    which shares no name or short form with it, must reach it."""
    andre = (_one("b", "Andre", "place", [("place", 1.5), ("person", 1.0)]),)
    agassi = (_one("a", "Andre Agassi", "person", [("person", 1.0)], strong=True),)
    want_mentions = _edit_of_a(direction, agassi, {"b": andre})
    assert want_mentions["b"][0].kind == ("person" if direction == "named" else "place")


@pytest.mark.parametrize("direction", ["named", "no longer named"])
def test_a_person_named_by_a_first_name_keeps_a_lone_person_of_that_name_apart(direction: str):
    """"Michael" the person and "Michael" the place are one entity unless a person is named
    Michael in full somewhere (merge_same_names): adding or removing "Michael Jordan" elsewhere
    must reach them."""
    michael = (_one("b", "Michael", "person", [("person", 1.0)]),)
    place = (_one("c", "Michael", "place", [("place", 3.0)]),)
    jordan = (_one("a", "Michael Jordan", "person", [("person", 1.0)], strong=True),)
    want_mentions = _edit_of_a(direction, jordan, {"b": michael, "c": place})
    apart = want_mentions["b"][0].entity != want_mentions["c"][0].entity
    assert apart == (direction == "named")


def test_without_a_forked_check_an_edit_naming_people_is_resolved_by_region_in_the_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Where no child can be forked (the dev server's threads), an edit naming people is not
    guessed: the build resolves it by region itself, not the whole archive, and gets what a
    build from scratch gets."""
    from test_same_names import _scratch

    from briefing import enrich, workers
    from briefing.enrich import encode_enrichment

    project = make_project(tmp_path / "p")
    config = load(project)
    build(config, check_links=False)
    whole: list[int] = []
    real = enrich.resolve_archive
    monkeypatch.setattr(enrich, "resolve_archive", lambda *a, **k: whole.append(1) or real(*a, **k))
    monkeypatch.setattr(workers.Forked, "possible", staticmethod(lambda: False))
    antwerp = project / "content/2024/2024-06-01-antwerp-volumes.md"
    antwerp.write_text(antwerp.read_text() + "\nMark Rutte said the Netherlands depends on Antwerp too.\n")
    result = build(config, check_links=False)
    assert not whole, "the whole archive was resolved again"
    assert not result.enrichment.guessed and not result.enrichment.reused
    monkeypatch.undo()
    assert encode_enrichment(result.enrichment) == _scratch(project, tmp_path)
    stored = list((project / ".briefing-cache").rglob("region-*.pickle"))
    assert len(stored) == 1 and "" in region.RegionIndex.from_plain(sealed.load_plain(stored[0])["index"]).keys
