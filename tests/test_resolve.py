"""Resolution logic on hand-made spans: exact, fast, no model."""

from __future__ import annotations

import re

import pytest

from briefing import curation as curation_mod
from briefing.names import clean_span, demonym_places, is_junk, norm, slug
from briefing.resolve import Annotation, Span, candidates, local_clusters, resolve_archive


def spans(text: str, *items: tuple[str, str]) -> tuple[Span, ...]:
    """Spans for each (surface, label), every occurrence of the surface."""
    out = []
    for surface, label in items:
        for m in re.finditer(re.escape(surface), text):
            out.append(Span(m.start(), m.end(), label))
    return tuple(out)


def resolve(*docs: tuple[str, str, tuple[tuple[str, str], ...]], curation=curation_mod.EMPTY, headline_end=0):
    clusters = []
    texts = {}
    for source, text, items in docs:
        texts[source] = text
        ann = Annotation(spans(text, *items))
        cands = candidates(text, headline_end, ann, curation)
        clusters.extend(local_clusters(source, text, cands, curation))
    return resolve_archive(clusters, curation), texts


@pytest.mark.parametrize("span, kind, expected", [
    ("the Islamic State", "organization", "Islamic State"),
    ("al-Rifai's", "person", "al-Rifai"),
    ("Assad’s", "person", "Assad"),
    ("President Donald Trump", "person", "Donald Trump"),
    ("Iraqi Foreign Minister Fouad Hussein", "person", "Iraqi Foreign Minister Fouad Hussein"),
    ("Foreign Minister Fouad Hussein", "person", "Fouad Hussein"),
    ("Mr. Smith", "person", "Smith"),
    ('"Abu Khadija,"', "person", "Abu Khadija"),
    ("U.S.", "place", "U.S."),
    ("Anbar province", "place", "Anbar"),
    ("General Motors", "organization", "General Motors"),
])
def test_clean_span_keeps_offsets(span, kind, expected):
    text = f"Before {span} after."
    start = text.index(span)
    cleaned = clean_span(text, start, start + len(span), kind)
    assert cleaned is not None
    assert text[cleaned[0]:cleaned[1]] == expected


@pytest.mark.parametrize("form", ["1996", "one", "Thursday", "x", "al", "2,000"])
def test_junk(form):
    assert is_junk(form)


def test_slugs_are_ascii_and_never_empty():
    assert slug("Václav Havel") == "vaclav-havel"
    assert slug("U.S.") == "us"
    assert slug("東京")  # transliterated
    assert slug("★★") and re.fullmatch(r"[a-z0-9-]+", slug("★★"))
    assert norm("U.S.") == norm("US")


def test_dates_numbers_never_entities():
    text = "On Friday 12 people met in September 2025 for $5 million in Paris."
    res, _ = resolve(("a", text, (("Friday", "DATE"), ("12", "CARDINAL"), ("September 2025", "DATE"),
                                  ("$5 million", "MONEY"), ("Paris", "GPE"))))
    assert [e.name for e in res.entities.values()] == ["Paris"]


@pytest.mark.parametrize("form", ["September 2026", "Early June", "13 June 2014", "182nd", "Thirty-First",
                                  "the 1990s", "10:30 GMT", "2-0"])
def test_date_like_forms_are_junk(form):
    assert is_junk(form)


@pytest.mark.parametrize("form", ["Arab Spring", "Black September", "Channel 4", "Mosul"])
def test_names_with_date_words_are_not_junk(form):
    assert not is_junk(form)


def test_date_spans_dropped_and_trailing_dates_stripped():
    text = ("Support continues until around September 2026. Mosul June 2014 was chaos; "
            "Mexico 2-0 win. JOHANNESBURG 1996-08-30 dateline. Channel 4 covered World Cup 2002.")
    res, _ = resolve(("a", text, (("September 2026", "EVENT"), ("Mosul June 2014", "GPE"), ("Mexico 2-0", "ORG"),
                                  ("JOHANNESBURG 1996-08-30", "GPE"), ("Channel 4", "ORG"),
                                  ("World Cup 2002", "EVENT"))))
    got = {m.text: m.kind for m in res.mentions["a"]}
    assert got == {"Mosul": "place", "Mexico": "organization", "JOHANNESBURG": "place",
                   "Channel 4": "organization", "World Cup 2002": "event"}  # an event keeps its year


def test_surname_acronym_and_alias_within_article():
    text = ("Syrian President Bashar al-Assad met the Islamic State in Iraq and Syria (ISIS) envoy "
            'Abdallah al-Rifai, known as "Abu Khadija," on Monday. Assad said al-Rifai\'s men and ISIS agreed.')
    res, _ = resolve(("a", text, (("Bashar al-Assad", "PERSON"), ("Islamic State", "ORG"), ("ISIS", "ORG"),
                                  ("Iraq", "GPE"), ("Syria", "GPE"), ("Abdallah al-Rifai", "PERSON"),
                                  ("Abu Khadija", "PERSON"), ("Assad", "PERSON"), ("al-Rifai's", "ORG"))))
    ents = {e.name: e for e in res.entities.values()}
    assert set(ents["Bashar al-Assad"].aliases) == {"Assad"}
    assert set(ents["Abdallah al-Rifai"].aliases) == {"Abu Khadija", "al-Rifai"}
    assert ents["Abdallah al-Rifai"].kind == "person"  # the ORG vote of "al-Rifai's" loses
    isis = ents["Islamic State in Iraq and Syria"]
    assert "ISIS" in isis.aliases and isis.kind == "organization"
    for m in res.mentions["a"]:
        assert text[m.start:m.end] == m.text
    assert not any(m.text.endswith("'s") for m in res.mentions["a"])


def test_headline_entity_needs_support():
    text = "Leader Killed in Joint Iraqi Operation in Anbar\n\nIraqi forces struck in Anbar."
    head = text.index("\n")
    ann = Annotation(spans(text, ("Joint Iraqi", "NORP"), ("Anbar", "GPE"), ("Iraqi forces", "NORP")),
                     recased=(), headline_cased=True)
    got = {c.text for c in candidates(text, head, ann)}
    assert "Joint Iraqi" not in got
    assert "Anbar" in got  # the body names it
    # found again in the re-cased headline: kept
    recased = spans(text[:head], ("Iraqi", "NORP"))
    ann2 = Annotation(ann.spans, recased, True)
    assert "Iraqi" in {c.text for c in candidates(text, head, ann2)}


def test_bare_surname_in_two_articles_stays_apart():
    res, _ = resolve(
        ("a", "Neil Jordan directed it. Jordan said so.", (("Neil Jordan", "PERSON"), ("Jordan", "PERSON"))),
        ("b", "Michael Jordan scored. Jordan smiled.", (("Michael Jordan", "PERSON"), ("Jordan", "PERSON"))),
        ("c", "Jordan was not there.", (("Jordan", "PERSON"),)),
    )
    keys = {src: {m.entity for m in ms} for src, ms in res.mentions.items()}
    assert keys["a"] == {"person/neil-jordan"}
    assert keys["b"] == {"person/michael-jordan"}
    assert keys["c"] == {"person/jordan"}  # ambiguous in the archive: its own entity


def test_lone_short_form_attached_when_unambiguous():
    res, _ = resolve(
        ("a", "Boris Yeltsin spoke in Moscow.", (("Boris Yeltsin", "PERSON"), ("Moscow", "GPE"))),
        ("b", "Yeltsin left hospital.", (("Yeltsin", "PERSON"),)),
        ("c", "The United Nations met. Later the U.N. voted.", (("United Nations", "ORG"), ("U.N.", "ORG"))),
        ("d", "The U.N. said no.", (("U.N.", "ORG"),)),
    )
    assert {m.entity for m in res.mentions["b"]} == {"person/boris-yeltsin"}
    assert {m.entity for m in res.mentions["d"]} == {"organization/united-nations"}


def test_full_names_merge_across_articles_and_case():
    res, _ = resolve(
        ("a", "Madeleine Albright arrived.", (("Madeleine Albright", "PERSON"),)),
        ("b", "ALBRIGHT VISIT. Madeleine Albright met Albright aides.",
         (("ALBRIGHT", "PERSON"), ("Madeleine Albright", "PERSON"), ("Albright", "PERSON"))),
    )
    assert list(res.entities) == ["person/madeleine-albright"]


def test_demonyms_attach_to_named_places():
    assert demonym_places("Iraqi")[0] == "Iraq"
    assert "Russia" in demonym_places("Russians")
    assert "South Korea" in demonym_places("South Korean")
    res, _ = resolve(("a", "Iraqi troops left Iraq.", (("Iraqi", "NORP"), ("Iraq", "GPE"))),
                     ("b", "Kurdish fighters.", (("Kurdish", "NORP"),)))
    assert res.entities["place/iraq"].name == "Iraq"
    assert {m.entity for m in res.mentions["a"]} == {"place/iraq"}
    assert "group/kurdish" in res.entities


def test_curation_wins_ignore_kinds_not_same():
    cur = curation_mod.parse(
        "entities:\n"
        "  - name: Islamic State\n    kind: organization\n    aliases: [ISIS, Daesh]\n"
        "  - name: Hafez al-Assad\n    kind: person\n"
        "ignore: [Comments]\n"
        "not_same: [[Assad, Hafez al-Assad]]\n"
        "kinds: {Anbar: place}\n")
    text = "ISIS and Daesh fighters. Comments. Hafez al-Assad ruled. Assad spoke. Anbar was quiet."
    res, _ = resolve(("a", text, (("ISIS", "ORG"), ("Daesh", "PERSON"), ("Comments", "ORG"),
                                  ("Hafez al-Assad", "PERSON"), ("Assad", "PERSON"), ("Anbar", "PERSON"))),
                     curation=cur)
    by_text = {m.text: m.entity for m in res.mentions["a"]}
    assert by_text["ISIS"] == by_text["Daesh"] == "organization/islamic-state"
    assert "Comments" not in by_text
    assert by_text["Assad"] != by_text["Hafez al-Assad"]
    assert by_text["Anbar"] == "place/anbar"
