"""An edit that names no one new reuses the last resolution (same_names.py), and scores again
only the key phrases that can have moved (tags.key_phrases with `last`): both must give exactly
what a build from scratch gives."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import make_project, write_article

from briefing import enrich, ner
from briefing.build import build
from briefing.config import load
from briefing.enrich import encode_enrichment
from briefing.tags import _choice_holds, _Ranking, key_phrases

# -- key phrases scored again ---------------------------------------------------------------


def _counts(rng: random.Random, vocab: list[str]) -> Counter:
    words = rng.choices(vocab, k=rng.randint(3, 30))
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if rng.random() < 0.3])


@pytest.mark.parametrize("seed", range(80))
def test_key_phrases_scored_again_equal_a_fresh_scoring(seed: int):
    rng = random.Random(seed)
    vocab = [f"word{i}" for i in range(rng.randint(8, 60))]
    articles = [SimpleNamespace(source=f"a{i:03d}") for i in range(rng.randint(2, 80))]
    phrases = {a.source: _counts(rng, vocab) for a in articles}
    per_article = rng.randint(1, 4)
    last_df: dict[str, int] = {}
    last = key_phrases(articles, per_article, None, phrases, df_kept=last_df)
    before = {}
    for a in rng.sample(articles, rng.randint(1, min(4, len(articles)))):
        before[a.source] = phrases[a.source]
        changed = Counter(phrases[a.source])
        for _ in range(rng.randint(1, 4)):  # phrases gained, lost, or counted again
            word = rng.choice(vocab + ["brandnew"])
            changed[word] = rng.choice([0, 1, 2, 3])
        phrases[a.source] = +changed
    again = key_phrases(articles, per_article, None, phrases, last=last, before=before)
    fresh_df: dict[str, int] = {}
    assert again == key_phrases(articles, per_article, None, phrases, df_kept=fresh_df)
    # The document frequencies moved by the changed articles' difference, not counted again.
    moved_df: dict[str, int] = {}
    assert key_phrases(articles, per_article, None, phrases, last=last, before=before, last_df=last_df,
                       df_kept=moved_df) == again
    assert moved_df == fresh_df


def test_an_article_holding_a_moved_phrase_far_down_its_ranking_keeps_its_choice():
    # "dock" is gained by article a: its frequency moves, and b holds it. Ranked below b's
    # chosen phrase, it cannot change b's choice, which is kept unscored; ranked above it, b
    # is scored again.
    rank = _Ranking(10, None)
    b = Counter({"port": 9, "union": 5, "dock": 2})
    df = Counter({"port": 3, "union": 3, "dock": 3})
    assert _choice_holds(["port"], b, {"dock"}, df, rank, 1)
    assert not _choice_holds(["port", "union"], b, {"dock"}, df, rank, 3)  # ran out: scored again
    b_high = Counter({"port": 2, "union": 1, "dock": 9})
    assert not _choice_holds(["port"], b_high, {"dock"}, df, rank, 1)
    assert not _choice_holds(["dock"], b_high, {"dock"}, df, rank, 1)  # chosen itself


def test_key_phrases_use_the_last_document_frequencies():
    # What proves the kept frequencies are read: planted ones change what is chosen.
    articles = [SimpleNamespace(source=s) for s in ("a", "b")]
    phrases = {"a": Counter({"port": 2, "strike": 2}), "b": Counter({"port": 2, "union": 2})}
    last_df: dict[str, int] = {}
    last = key_phrases(articles, 1, None, phrases, df_kept=last_df)
    assert last_df == {"port": 2, "strike": 1, "union": 1}
    before = {"a": phrases["a"]}
    phrases["a"] = Counter({"port": 2, "strike": 2, "dock": 1})
    planted = {**last_df, "strike": 99}  # "strike" far too common to be chosen
    got = key_phrases(articles, 1, None, phrases, last=last, before=before, last_df=planted)
    assert got["a"] == ["port"]
    assert key_phrases(articles, 1, None, phrases, last=last, before=before, last_df=last_df)["a"] == ["strike"]


def test_phrase_counts_holding_equal_a_scan():
    from briefing.stored import Analyses, Local, PhraseCounts, encode_local

    rng = random.Random(7)
    vocab = ["port", "portal", "sea port", "dock", "grève", "café crème", "union", "ship"]
    counts = {f"a{i}": Counter(rng.choices(vocab, k=rng.randint(0, 6))) for i in range(40)}
    lazy = PhraseCounts(Analyses({s: encode_local(Local([], c)) for s, c in counts.items()}))
    for wanted in ({"port"}, {"grève", "ship"}, {"café crème"}, {"nowhere"}, set(), {"sea"}):
        assert lazy.holding(set(wanted)) == {s for s, c in counts.items() if not wanted.isdisjoint(c)}
    assert dict(lazy) == counts and len(lazy) == 40


def test_key_phrases_not_scored_again_keep_the_last_ones():
    # What proves the shortcut is taken: an article with no moved phrase keeps a `last` entry
    # even when that entry is not what scoring would give.
    articles = [SimpleNamespace(source=s) for s in ("a", "b", "c")]
    phrases = {"a": Counter({"port": 3, "strike": 2}), "b": Counter({"port": 2, "union": 2}),
               "c": Counter({"ship": 2, "crane": 2})}
    last = key_phrases(articles, 3, None, phrases)
    fake = {**last, "c": ["planted"]}
    before = {"a": phrases["a"]}
    phrases["a"] = Counter({"port": 3, "strike": 3})  # same phrases, other counts: c is not affected
    got = key_phrases(articles, 3, None, phrases, last=fake, before=before)
    assert got["c"] == ["planted"]
    assert got["a"] == key_phrases(articles, 3, None, phrases)["a"]


# -- the last resolution reused -------------------------------------------------------------


def _scratch(project: Path, tmp_path: Path) -> tuple:
    """The enrichment of `project` by a build that never saw it (its own empty cache)."""
    copy = tmp_path / f"scratch-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(project / "content", copy / "content")
    shutil.copy(project / "config.yaml", copy / "config.yaml")
    result = build(load(copy), output=copy / "site", check_links=False)
    return encode_enrichment(result.enrichment)


@pytest.fixture
def resolutions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the archive-wide resolutions run."""
    calls: list[int] = []
    real = enrich.resolve_archive

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(enrich, "resolve_archive", counted)
    return calls


def test_prose_edits_reuse_the_last_resolution_exactly(tmp_path: Path, resolutions: list[int]):
    project = make_project(tmp_path / "p")
    write_article(project, "2024/2024-06-10-talks.md", "Port talks resume", "2024-06-10",
                  "Mark Rutte met the union FNV in Rotterdam.\n\nThe Port of Rotterdam Authority said "
                  "talks with FNV would resume in Antwerp next week. Rutte said little.", tags=["ports"])
    config = load(project)
    build(config, check_links=False)
    assert resolutions == [1]

    # A word changed early in the body: every later mention moves, no name changes.
    talks = project / "content/2024/2024-06-10-talks.md"
    talks.write_text(talks.read_text().replace("Mark Rutte met", "On Monday, Mark Rutte finally met"))
    first = build(config, check_links=False)
    assert resolutions == [1], "a prose edit resolved the archive again"
    assert first.model_calls == 1 and first.enrichment.reused  # its NER still ran
    assert encode_enrichment(first.enrichment) == _scratch(project, tmp_path)  # (that build resolves)

    # Front-matter tags only: the same resolution, other topics.
    talks.write_text(talks.read_text().replace("- ports", "- ports\n- negotiations"))
    second = build(config, check_links=False)
    assert resolutions == [1, 1], "a change of tags resolved the archive again"
    assert "negotiation" in second.enrichment.topic_table
    assert encode_enrichment(second.enrichment) == _scratch(project, tmp_path)


def test_an_edit_naming_someone_new_is_guessed_as_a_new_entity(tmp_path: Path, resolutions: list[int]):
    project = make_project(tmp_path / "p")
    config = load(project)
    build(config, check_links=False)
    strike = project / "content/2024/2024-05-09-strike-ends.md"
    strike.write_text(strike.read_text() + "\nSigrid Kaag, the finance minister, joined the talks in The Hague.\n")
    result = build(config, check_links=False)
    assert resolutions == [1] and result.enrichment.guessed and not result.enrichment.reused
    assert "person/sigrid-kaag" in result.enrichment.entities
    assert any(m.text == "Sigrid Kaag" and m.entity == "person/sigrid-kaag"
               for m in result.enrichment.mentions["content/2024/2024-05-09-strike-ends.md"])
    assert encode_enrichment(result.enrichment) == _scratch(project, tmp_path)


def test_an_edit_removing_the_last_mention_of_an_entity_drops_it(tmp_path: Path, resolutions: list[int]):
    project = make_project(tmp_path / "p")
    config = load(project)
    assert "place/belgium" in build(config, check_links=False).enrichment.entities
    antwerp = project / "content/2024/2024-06-01-antwerp-volumes.md"
    antwerp.write_text(antwerp.read_text().replace("Belgium's government praised the port.", "The port was praised."))
    result = build(config, check_links=False)
    assert resolutions == [1] and result.enrichment.guessed
    assert "place/belgium" not in result.enrichment.entities
    assert encode_enrichment(result.enrichment) == _scratch(project, tmp_path)


def test_an_edit_naming_known_entities_is_guessed_and_checked(tmp_path: Path, resolutions: list[int]):
    """A new sentence naming Mark Rutte and the Netherlands, both known: the build goes on with a guess
    (no resolution in this process: the check resolves in a forked child), which is exactly the
    resolution from scratch; and the stored result is the right one for the next build."""
    project = make_project(tmp_path / "p")
    config = load(project)
    build(config, check_links=False)
    antwerp = project / "content/2024/2024-06-01-antwerp-volumes.md"
    antwerp.write_text(antwerp.read_text() + "\nMark Rutte said the Netherlands depends on Antwerp too.\n")
    logged: list[str] = []
    result = build(config, check_links=False, log=logged.append)
    assert resolutions == [1], "the guess was not taken: the archive was resolved here"
    assert result.enrichment.guessed and not result.enrichment.reused
    assert any("resolution guessed" in line for line in logged) and not any("wrong" in line for line in logged)
    mine = result.enrichment.mentions["content/2024/2024-06-01-antwerp-volumes.md"]
    assert {m.entity for m in mine if m.text in ("Mark Rutte", "Netherlands")} == {"person/mark-rutte",
                                                                                 "place/netherlands"}
    assert encode_enrichment(result.enrichment) == _scratch(project, tmp_path)
    # A build of the same files elsewhere takes the stored result whole: the one that was checked.
    again = build(config, output=tmp_path / "elsewhere", check_links=False)
    assert encode_enrichment(again.enrichment) == encode_enrichment(result.enrichment)


@pytest.fixture
def wrong_guesses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guesses made wrong on purpose: every guessed mention of FNV given to another entity."""
    from briefing import same_names

    real = same_names.guessed_mentions

    def wrong(*args):  # noqa: ANN002, ANN202
        got = real(*args)
        other = next(k for k in args[3].entities if k != "org/fnv")
        return tuple(m._replace(entity=other) if m.entity == "org/fnv" else m for m in got) if got else got
    monkeypatch.setattr(same_names, "guessed_mentions", wrong)


def test_a_wrong_guess_is_caught_and_the_site_made_from_the_right_resolution(tmp_path: Path, wrong_guesses: None):
    """The check is what makes a guess safe: a guess made wrong on purpose (every guessed mention
    given to another entity) must be caught, and the site and stored result be the right ones."""
    from conftest import tree_digest

    project = make_project(tmp_path / "p")
    config = load(project)
    build(config)
    antwerp = project / "content/2024/2024-06-01-antwerp-volumes.md"
    antwerp.write_text(antwerp.read_text() + "\nFNV members in Rotterdam would watch Antwerp.\n")
    logged: list[str] = []
    result = build(config, log=logged.append)
    assert any("guessed resolution was wrong" in line for line in logged)
    assert not result.enrichment.guessed
    assert encode_enrichment(result.enrichment) == _scratch(project, tmp_path)
    fresh = tmp_path / f"scratch-{len(list(tmp_path.iterdir())) - 1}"  # the one _scratch just built
    assert tree_digest(project / "site") == tree_digest(fresh / "site")
    again = build(config, output=tmp_path / "elsewhere", check_links=False)  # the stored result: the right one
    assert encode_enrichment(again.enrichment) == encode_enrichment(result.enrichment)


def _stored_keys(project: Path) -> object:
    """The cluster keys kept beside the project's last result (ResultStore.load_keys's file)."""
    from briefing import sealed

    found = list((project / ".briefing-cache").rglob("keys-*.pickle"))
    return sealed.load_plain(found[0]) if len(found) == 1 else None


def test_the_check_compares_unchanged_articles_by_the_last_cluster_entities(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    """A build keeps the entity of each cluster of its result (ResultStore.load_keys); the next
    build's check compares the articles its guess took unchanged by those alone, and the edited
    one mention by mention: a right guess holds, a guess made wrong in the edited article does
    not. A real wrong guess ("Rutte" in another article moves to a new entity once "Mark Rutte"
    is gone from the only article naming him in full) is caught before, by the entities."""
    from conftest import tree_digest

    from briefing import guess_check, region, same_names

    # The check resolving the whole archive, as when no index for resolving by region is kept
    # (region.py; tests/test_region.py checks that path).
    monkeypatch.setattr(region, "resolve_edit", lambda *args, **kwargs: None)
    answers = tmp_path / "answers"  # what the forked check's comparison by keys said
    real = guess_check._holds_by_keys

    def recorded(*args):  # noqa: ANN002, ANN202
        got = real(*args)
        with answers.open("a") as fh:
            fh.write(f"{got}\n")
        return got
    monkeypatch.setattr(guess_check, "_holds_by_keys", recorded)
    since: list[bool] = []  # whether the kept keys were made from the last ones
    real_since = guess_check.cluster_keys_since
    monkeypatch.setattr(guess_check, "cluster_keys_since", lambda *a: since.append(bool(got := real_since(*a))) or got)

    project = make_project(tmp_path / "p", articles=0)
    write_article(project, "a.md", "Rutte meets the union", "2024-05-02",
                  "Mark Rutte met the union FNV in Rotterdam on Monday.")
    write_article(project, "c.md", "Belgium and the Netherlands", "2024-05-03",
                  "FNV members in Antwerp listened. Belgium's government praised Rutte for the deal.")
    write_article(project, "d.md", "Ports", "2024-05-04", "Belgium and Rotterdam compete for ships.")
    config = load(project)
    first = build(config, check_links=False)
    assert [m.entity for m in first.enrichment.mentions["content/c.md"] if m.text == "Rutte"] == ["person/mark-rutte"]

    d = project / "content/d.md"  # names known ones only: a right guess
    d.write_text(d.read_text() + "\nFNV said Rotterdam would win.\n")
    right = build(config, check_links=False)
    assert right.enrichment.guessed and answers.read_text() == "True\n"
    # The keys kept for the next check: the last ones with d.md's made again (cluster_keys_since),
    # which must be what a build from scratch derives from all its clusters.
    _scratch(project, tmp_path)
    fresh = max(tmp_path.glob("scratch-*"), key=lambda p: int(p.name.split("-")[1]))
    assert since == [True] and _stored_keys(project) == _stored_keys(fresh) is not None

    real_guess = same_names.guessed_mentions

    def wrong(*args):  # noqa: ANN002, ANN202 - the edited article's Belgium given to Antwerp (named elsewhere)
        got = real_guess(*args)
        return tuple(m._replace(entity="place/antwerp") if m.entity == "place/belgium" else m for m in got)
    d.write_text(d.read_text() + "\nBelgium agreed.\n")
    with monkeypatch.context() as patched:
        patched.setattr(same_names, "guessed_mentions", wrong)
        logged: list[str] = []
        caught = build(config, check_links=False, log=logged.append)
    assert answers.read_text() == "True\nFalse\n"
    assert any("guessed resolution was wrong" in line for line in logged)
    assert encode_enrichment(caught.enrichment) == _scratch(project, tmp_path)

    a = project / "content/a.md"
    a.write_text(a.read_text().replace("Mark Rutte met", "A minister met"))
    logged.clear()
    moved = build(config, log=logged.append)
    assert any("guessed resolution was wrong" in line for line in logged)
    assert answers.read_text() == "True\nFalse\n"  # the entities differ: no comparison by keys
    assert [m.entity for m in moved.enrichment.mentions["content/c.md"] if m.text == "Rutte"] != ["person/mark-rutte"]
    assert encode_enrichment(moved.enrichment) == _scratch(project, tmp_path)
    fresh = max(tmp_path.glob("scratch-*"), key=lambda p: int(p.name.split("-")[1]))  # the one _scratch just built
    build(load(fresh))  # with its link check, as the build above
    assert tree_digest(project / "site") == tree_digest(fresh / "site")


def test_a_broken_link_is_reported_after_the_guess_is_checked(tmp_path: Path, wrong_guesses: None):
    """The check of a guess may end as late as the swap; a build failing before (a broken link)
    still waits for it: a wrong guess is made again from the right resolution, and the report is
    that build's."""
    from briefing.links import BrokenLinksError

    project = make_project(tmp_path / "p")
    config = load(project)
    build(config)
    antwerp = project / "content/2024/2024-06-01-antwerp-volumes.md"
    antwerp.write_text(antwerp.read_text() + "\nFNV members in Rotterdam would watch [Antwerp](/nowhere/).\n")
    logged: list[str] = []
    with pytest.raises(BrokenLinksError, match="nowhere"):
        build(config, log=logged.append)
    assert any("guessed resolution was wrong" in line for line in logged)


def test_a_name_known_by_several_entities_finds_the_one_it_names():
    from briefing.model import Entity
    from briefing.same_names import EntityNames

    imf = Entity("organization/imf", "International Monetary Fund", "organization", ("IMF",))
    committee = Entity("organization/imf-committee", "IMF-World Bank Development Committee", "organization",
                       ("International Monetary Fund",))
    place = Entity("place/georgia", "Georgia", "place")
    person = Entity("person/georgia", "Georgia", "person")
    names = EntityNames({e.key: e for e in (imf, committee, place, person)})
    assert names.find("International Monetary Fund", "organization") == "organization/imf"
    assert names.find("IMF", "organization") == "organization/imf"
    assert names.find("Georgia", "place") == "place/georgia"  # two named so: the kind decides
    assert names.find("Georgia", "organization") is None
    assert names.find("Atlantis", "place") is None and not names.known("Atlantis")


def test_the_signature_keeps_all_that_resolution_reads_and_no_offsets():
    from briefing.same_names import signature

    def cluster(**change):  # noqa: ANN003, ANN202 - one stored cluster (enrich.encode_local's layout)
        fields = dict(source="a.md", name="Jordan", kind="place", strong={"jordan"}, forms=(("Jordan", 2),),
                      curated="", demonym=False, votes=(("place", 2.0),),
                      mentions=((10, 16, "Jordan", "place", "", 1.0), (40, 46, "Jordan", "place", "", 1.0)))
        fields.update(change)
        return (fields["source"], fields["name"], fields["kind"], fields["mentions"], fields["strong"],
                fields["forms"], fields["curated"], fields["demonym"], fields["votes"])

    same = signature([cluster()])
    assert signature([cluster(mentions=((12, 18, "Jordan", "place", "", 1.0), (90, 96, "Jordan", "place", "", 1.0)))]) \
        == same  # moved, nothing else: the same
    for change in (dict(name="Jordan River"), dict(kind="person"), dict(strong={"jordan", "hkj"}),
                   dict(forms=(("Jordan", 1),)), dict(curated="Jordan"), dict(demonym=True),
                   dict(votes=(("place", 1.0), ("person", 1.5))),
                   dict(mentions=((10, 16, "Jordan", "person", "", 1.0), (40, 46, "Jordan", "place", "", 1.0))),
                   dict(mentions=((10, 16, "Jordan", "place", "", 2.5), (40, 46, "Jordan", "place", "", 1.0))),
                   dict(mentions=((10, 16, "Jordan", "place", "", 1.0),))):
        assert signature([cluster(**change)]) != same, change
    assert signature([cluster(), cluster(name="Amman")]) != signature([cluster(name="Amman"), cluster()])


def _docs_resolved() -> tuple[list[str], object]:
    """Four articles' clusters (hand-made spans, resolve.py's steps) and their assignment."""
    from test_resolve import spans

    from briefing.clusters import candidates, local_clusters
    from briefing.resolve import Annotation, assign
    docs = [
        ("a.md", "Mark Rutte met FNV in Rotterdam. Rutte said the Port of Rotterdam would grow.",
         (("Mark Rutte", "PERSON"), ("Rutte", "PERSON"), ("FNV", "ORG"), ("Rotterdam", "GPE"),
          ("Port of Rotterdam", "ORG"))),
        ("b.md", "Nothing named here.", ()),
        ("c.md", "FNV and Antwerp. Belgium praised Antwerp and Rutte.",
         (("FNV", "ORG"), ("Antwerp", "GPE"), ("Belgium", "GPE"), ("Rutte", "PERSON"))),
        ("d.md", "Belgium, Rotterdam and Mark Rutte again.", (("Belgium", "GPE"), ("Rotterdam", "GPE"),
                                                              ("Mark Rutte", "PERSON"))),
    ]
    clusters = []
    for source, text, items in docs:
        clusters += local_clusters(source, text, candidates(text, 0, Annotation(spans(text, *items))))
    return [source for source, _, _ in docs], assign(clusters)


WRONG = ["none", "entity", "kind", "end", "text", "drop", "add", "swap", "no article", "extra article",
         "articles moved", "entity name", "entity gone", "redirect"]


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("seed", range(3))
def test_a_guess_holds_exactly_when_it_equals_the_resolution(wrong: str, seed: int):
    """guess_check.holds compares a guess with a resolution cluster by cluster, without making the
    resolution's mentions: it must say what comparing them whole says, for guesses that are right
    and guesses wrong in one place (a mention's entity, kind, span or text; a mention missing,
    added or out of order; an article missing, added or moved; an entity or redirect changed)."""
    import dataclasses

    from briefing.guess_check import holds
    from briefing.model import Enrichment, Entity

    sources, assigned = _docs_resolved()
    resolved = assigned.resolved()
    right = {s: resolved.mentions.get(s, ()) for s in sources}
    rng = random.Random(seed)
    mentions = {s: list(ms) for s, ms in right.items()}
    entities, redirects = dict(resolved.entities), dict(resolved.redirects)
    named = [s for s in sources if mentions[s]]
    source = rng.choice(named)
    i = rng.randrange(len(mentions[source]))
    m = mentions[source][i]
    if wrong == "entity":
        mentions[source][i] = m._replace(entity=rng.choice([k for k in entities if k != m.entity]))
    elif wrong == "kind":
        mentions[source][i] = m._replace(kind="event")
    elif wrong == "end":
        mentions[source][i] = m._replace(end=m.end + 1)
    elif wrong == "text":
        mentions[source][i] = m._replace(text=m.text.upper() + "x")
    elif wrong == "drop":
        del mentions[source][i]
    elif wrong == "add":
        mentions[source].append(m._replace(start=10_000, end=10_004))
    elif wrong == "swap":
        ms = mentions[source]
        if len(ms) > 1:
            ms[0], ms[1] = ms[1], ms[0]
    elif wrong == "no article":
        del mentions[source]
    elif wrong == "extra article":
        mentions["e.md"] = []
    elif wrong == "articles moved":
        mentions = dict(reversed(mentions.items()))
    elif wrong == "entity name":
        entities[m.entity] = dataclasses.replace(entities[m.entity], name="Someone Else")
    elif wrong == "entity gone":
        entities["place/atlantis"] = Entity("place/atlantis", "Atlantis", "place")
    elif wrong == "redirect":
        redirects["person/rutte-old"] = m.entity
    guess = Enrichment(mentions={s: tuple(ms) for s, ms in mentions.items()}, entities=entities, topics={},
                       topic_table={}, redirects=redirects)
    whole = (list(guess.mentions.items()) == list(right.items())
             and list(guess.entities.items()) == list(resolved.entities.items())
             and list(guess.redirects.items()) == list(resolved.redirects.items()))
    assert holds(guess, sources, assigned) == whole, wrong
    assert whole == (wrong == "none" or (wrong == "swap" and len(right[source]) < 2))


# -- the check by the last result's cluster entities ------------------------------------------

# Archives of four articles before and after an edit to one of them (source -> text, names).
_BEFORE = {
    "a.md": ("Mark Rutte met FNV in Rotterdam. Rutte smiled.", (("Mark Rutte", "PERSON"), ("FNV", "ORG"),
                                                                ("Rotterdam", "GPE"), ("Rutte", "PERSON"))),
    "b.md": ("Nothing named here.", ()),
    "c.md": ("FNV and Antwerp. Belgium praised Rutte.", (("FNV", "ORG"), ("Antwerp", "GPE"), ("Belgium", "GPE"),
                                                        ("Rutte", "PERSON"))),
    "d.md": ("Belgium and Rotterdam again.", (("Belgium", "GPE"), ("Rotterdam", "GPE"))),
}
_EDITS = {  # the edited article: its new text and names
    # names known already: every other article's clusters keep their entities
    "known names": ("d.md", "Belgium and Rotterdam again. FNV too.", (("Belgium", "GPE"), ("Rotterdam", "GPE"),
                                                                      ("FNV", "ORG"))),
    # "Mark Rutte" gone from a.md: c.md's lone "Rutte" no longer has a full name to attach to
    "a name gone": ("a.md", "Someone met FNV in Rotterdam.", (("FNV", "ORG"), ("Rotterdam", "GPE"))),
    # a second Rutte: c.md's lone "Rutte" could mean either, and stays apart
    "a second Rutte": ("d.md", "Belgium and Rotterdam again. Anna Rutte spoke.",
                       (("Belgium", "GPE"), ("Rotterdam", "GPE"), ("Anna Rutte", "PERSON"))),
}


def _resolution(docs: dict) -> tuple[list[str], object, dict]:
    """The docs' clusters resolved, and each article's clusters as stored (same_names.RawCluster)."""
    import marshal

    from test_resolve import spans

    from briefing.clusters import candidates, local_clusters
    from briefing.resolve import Annotation, assign
    from briefing.stored import Local, encode_local

    clusters, raw = [], {}
    for source, (text, items) in docs.items():
        local = local_clusters(source, text, candidates(text, 0, Annotation(spans(text, *items))))
        raw[source] = marshal.loads(encode_local(Local(local, Counter()))[0])
        clusters += local
    return list(docs), assign(clusters), raw


@pytest.mark.parametrize("edit", sorted(_EDITS))
@pytest.mark.parametrize("wrong", ["none", "an unchanged article's entity", "the edited article's entity",
                                   "an unchanged article not the last's"])
def test_a_check_by_the_last_cluster_entities_says_what_comparing_everything_says(edit: str, wrong: str):
    """A guess keeps the last result's mentions of the articles the edit left alone. With the
    entity of each cluster of that result kept (`cluster_keys`), the check compares those
    articles by their clusters' entities alone (`_holds_by_keys`): it must say what comparing
    the whole resolution says, for a right guess and for guesses wrong in an unchanged article
    (an edit moving a short name to another entity) or in the edited one; and step aside (None)
    for a guess whose unchanged article is not the last result's very tuple, changed or not."""
    import dataclasses

    from briefing.guess_check import _holds_by_keys, cluster_keys, holds
    from briefing.model import Enrichment

    sources, last_assigned, last_raw = _resolution(_BEFORE)
    last = last_assigned.resolved()
    basis = Enrichment(mentions={s: last.mentions.get(s, ()) for s in sources}, entities=last.entities,
                       topics={}, topic_table={}, redirects=last.redirects)
    keys = cluster_keys(sources, basis.mentions, last_raw.__getitem__)
    assert keys is not None and keys[1] == last_assigned.keys  # the entities resolution gave them

    source, text, items = _EDITS[edit]
    _, assigned, _ = _resolution({**_BEFORE, source: (text, items)})
    right = assigned.resolved()
    mentions = dict(basis.mentions)
    mentions[source] = right.mentions.get(source, ())
    if wrong == "an unchanged article's entity":
        other = next(s for s in sources if s != source and mentions[s])
        m = mentions[other][0]
        mentions[other] = (m._replace(entity=next(k for k in right.entities if k != m.entity)), *mentions[other][1:])
    elif wrong == "the edited article's entity":
        m = mentions[source][-1]
        mentions[source] = (*mentions[source][:-1], m._replace(entity=next(k for k in right.entities
                                                                           if k != m.entity)))
    elif wrong == "an unchanged article not the last's":
        other = next(s for s in sources if s != source and mentions[s])
        mentions[other] = tuple(list(mentions[other]))  # equal, but another tuple
    guess = dataclasses.replace(basis, mentions=mentions, entities=right.entities, redirects=right.redirects,
                                guessed=True, basis=basis, remade=frozenset({source}))
    whole = (list(guess.mentions.items()) == [(s, right.mentions.get(s, ())) for s in sources]
             and list(guess.entities.items()) == list(right.entities.items()))
    by_keys = _holds_by_keys(guess, sources, assigned, keys)
    if wrong in ("an unchanged article not the last's", "an unchanged article's entity"):
        assert by_keys is None  # not the last result's tuple: compared mention by mention instead
    else:
        assert by_keys == whole, (edit, wrong)
    assert holds(guess, sources, assigned, keys) == whole == holds(guess, sources, assigned), (edit, wrong)
    if edit == "known names" and wrong in ("none", "an unchanged article not the last's"):
        assert whole  # the guess of an edit naming known names, right
    if edit == "a name gone" and wrong == "none":
        assert not whole  # c.md's "Rutte" changed entity: keeping its last mentions is wrong


def test_cluster_keys_are_none_when_the_result_is_not_made_of_those_clusters():
    """A mention a cluster has missing from the result, or another entity for one of a
    cluster's mentions, or a mention in the result no cluster has: no keys (the check then
    compares mention by mention)."""
    from briefing.guess_check import cluster_keys

    sources, assigned, raw = _resolution(_BEFORE)
    resolved = assigned.resolved()
    mentions = {s: resolved.mentions.get(s, ()) for s in sources}
    assert cluster_keys(sources, mentions, raw.__getitem__) is not None
    a = list(mentions["a.md"])  # "Mark Rutte", FNV, Rotterdam, "Rutte": one cluster's first and last
    assert a[0].entity == a[-1].entity == "person/mark-rutte"
    for changed in (a[1:], [a[0]._replace(entity="person/someone"), *a[1:]],
                    [*a, a[-1]._replace(start=a[-1].end + 100, end=a[-1].end + 104)]):
        assert cluster_keys(sources, {**mentions, "a.md": tuple(changed)}, raw.__getitem__) is None


class _ModelInProcess:
    """A stand-in for preload.Preloaded that runs the real model here, at once, and says it has
    answered (`ready`) only as the test wants."""

    def __init__(self, enricher: enrich.Enricher, answered: bool):
        self.enricher, self.answered = enricher, answered

    def analyse(self, articles, curation, fingerprint):  # noqa: ANN001, ANN201
        from briefing.cache import Cache

        config = self.enricher.config
        analysed = ner.run_model(articles, self.enricher.pipeline(curation), Cache(config.cache_path, fingerprint),
                                    curation, analyse=lambda art, ann: enrich.encode_local(
                                        enrich.local_analysis(art, ann, curation, config)))
        blobs = [blob for _, blob in analysed]

        def result() -> list:
            return blobs
        result.ready = lambda: self.answered  # type: ignore[attr-defined]
        return result

    def close(self) -> None:
        pass


@pytest.mark.parametrize("answered", [True, False])
def test_the_check_starts_before_the_steps_left_once_the_model_has_answered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answered: bool):
    """Enricher.run takes the caller's `meanwhile` steps while the model runs; once it has
    answered, the guess comes first, so that its check (the longer path) starts sooner, and the
    steps left are taken after it. Every step is taken either way."""
    from briefing import same_names, sources

    project = make_project(tmp_path / "p")
    config = load(project)
    build(config, check_links=False)
    antwerp = project / "content/2024/2024-06-01-antwerp-volumes.md"
    antwerp.write_text(antwerp.read_text() + "\nMark Rutte said the Netherlands depends on Antwerp too.\n")
    found, _, _ = sources.discover(config)
    articles, problems = sources.parse_all(found, config)
    assert not problems
    events: list[str] = []
    real_forked = same_names.Forked

    def forked(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        events.append("check")
        return real_forked(*args, **kwargs)
    monkeypatch.setattr(same_names, "Forked", forked)

    def steps():  # noqa: ANN202
        for step in ("first", "second", "third"):
            events.append(step)
            yield

    enricher = enrich.Enricher(config)
    result = enricher.run(articles, _ModelInProcess(enricher, answered), guess=True, meanwhile=steps)
    assert result.guessed and enricher.settle() is None
    assert events == (["check", "first", "second", "third"] if answered else ["first", "second", "third", "check"])


def test_key_phrases_found_while_the_model_runs_are_those_found_after(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    """A rebuild finds the key phrases while the model's worker has not answered (they read the
    edited articles' text, not their mentions), and the tags made of them (without topic rules
    they read no mention either), and indexes the last result's entities by name: each time,
    what it found is what the stored phrase counts, the edited ones among them, give once the
    worker has answered, the tags are those made then from the mentions, and the index is of
    the entities the guess starts from."""
    from briefing import same_names, tags

    project = make_project(tmp_path / "p", articles=6)
    config = load(project)
    build(config)
    compared: list[tuple[bool, bool, bool]] = []
    real = same_names.tag_archive

    def tag_archive(articles, mentions, entities, phrases, tags_config, lexicon, kept=None, *,  # noqa: ANN001, ANN202
                    last=None, before=None, last_df=None, df_kept=None, found=None, assigned=None):
        if found is not None:
            df: dict = {}
            again = tags.key_phrases(articles, tags_config.auto_per_article, lexicon, phrases, last=last,
                                     before=before, last_df=last_df, df_kept=df)
            made = tags.assign(articles, mentions, entities, tags_config, lexicon, phrases, again)
            compared.append((found[0] == again, found[1] == df, assigned == made))
        return real(articles, mentions, entities, phrases, tags_config, lexicon, kept, last=last, before=before,
                    last_df=last_df, df_kept=df_kept, found=found, assigned=assigned)
    monkeypatch.setattr(same_names, "tag_archive", tag_archive)
    indexes: list[bool] = []  # whether an index made early was of the entities a guess starts from
    real_from_last = same_names.from_last

    def from_last(*args, names_found=None, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if names_found is not None:
            known = args[6]
            fresh = same_names.EntityNames(known.entities).indexed()
            indexes.append(names_found.entities == known.entities and names_found._forms() == fresh._forms()
                           and not names_found.added)
        return real_from_last(*args, names_found=names_found, **kwargs)
    monkeypatch.setattr(same_names, "from_last", from_last)
    edited = sorted((project / "content").rglob("*.md"))
    for i, sentence in enumerate(["Inspectors counted the cargo containers at the terminal twice.",
                                  "Officials at the Port of Rotterdam Authority met the dock workers' union.",
                                  "The cargo containers waited at the terminal while inspectors argued."]):
        path = edited[i % len(edited)]
        path.write_text(path.read_text(encoding="utf-8") + f"\n{sentence}\n", encoding="utf-8")
        build(config)
    assert len(compared) == 3 and all(all(same) for same in compared), compared
    assert indexes and all(indexes), indexes
