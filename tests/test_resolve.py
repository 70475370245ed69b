"""Resolution logic on hand-made spans: exact, fast, no model."""

from __future__ import annotations

import re

import pytest

from briefing import curation as curation_mod
from briefing.clusters import candidates, local_clusters
from briefing.names import clean_span, demonym_places, is_junk, norm, slug
from briefing.resolve import Annotation, Span, resolve_archive


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


# -- headings, kinds, groups, back-references ---------------------------------------------------


def heading(text: str, line: str) -> tuple[int, int]:
    start = text.index(line)
    return start, start + len(line)


def test_title_case_heading_entity_needs_body_support():
    text = ("Coalition widens strikes\n\nKobani and Turkey\n\nThe fight for Kobani goes on.\n\n"
            "Outlook\n\nAirpower can slow the group.")
    heads = [heading(text, "Kobani and Turkey"), heading(text, "Outlook")]
    ann = Annotation(spans(text, ("Kobani", "GPE"), ("Turkey", "GPE"), ("Outlook\n\nAirpower", "ORG")))
    got = [c.text for c in candidates(text, len("Coalition widens strikes"), ann, headings=heads)]
    assert got == ["Kobani", "Kobani"]  # "Turkey" only in the heading; the span from "Outlook" on is junk
    # without heading ranges (a sentence-case heading, or no Markdown), the old reading stands
    assert "Turkey" in [c.text for c in candidates(text, 24, ann)]


def test_heading_supported_by_a_fuller_name_or_curation():
    cur = curation_mod.parse("entities:\n  - name: Anbar\n    kind: place\n")
    text = "Title\n\nWhy Sadr Matters\n\nWhy Anbar\n\nMuqtada al-Sadr spoke."
    heads = [heading(text, "Why Sadr Matters"), heading(text, "Why Anbar")]
    ann = Annotation(spans(text, ("Sadr", "PERSON"), ("Anbar", "GPE"), ("Muqtada al-Sadr", "PERSON")))
    got = [c.text for c in candidates(text, 5, ann, cur, heads)]
    assert got == ["Sadr", "Anbar", "Muqtada al-Sadr"]


def test_kind_cues_around_a_name():
    text = ("Residents of Nineveh province fled. Remaining territory: Tal Afar to the west. Aleppo, Hama and "
            "Homs fell. Leaders in provinces such as Anbar and Salahuddin worry. Columns moved towards Samarra. "
            "Kobani, a Kurdish town, held. Tikrit, the home town of Saddam Hussein, fell. The regional capital, "
            "Erbil, is calm. Venture capital, Sequoia said.")
    res, _ = resolve(("a", text, (("Nineveh", "PERSON"), ("Tal Afar", "PERSON"), ("Hama", "PERSON"), ("Homs", "GPE"),
                                  ("Anbar", "GPE"), ("Salahuddin", "PERSON"), ("Samarra", "NORP"), ("Kobani", "GPE"),
                                  ("Kurdish", "NORP"), ("Tikrit", "GPE"), ("Saddam Hussein", "PERSON"),
                                  ("Erbil", "ORG"), ("Sequoia", "ORG"))))
    kind = {m.text: m.kind for m in res.mentions["a"]}
    for place in ("Nineveh", "Tal Afar", "Hama", "Salahuddin", "Samarra", "Erbil"):
        assert kind[place] == "place", place
    assert kind["Kurdish"] == "group"  # an adjective before a place noun says nothing
    assert kind["Saddam Hussein"] == "person"  # "home town of" is about a person
    assert kind["Sequoia"] == "organization"


def test_one_name_one_kind_by_archive_vote():
    res, _ = resolve(
        ("a", "A raid near Idlib province. Idlib was quiet.", (("Idlib", "GPE"),)),
        ("b", "An offensive from Idlib began. In Idlib it ruled.", (("Idlib", "ORG"), ("Idlib", "GPE"))),
        ("c", "Idlib, Syria.", (("Idlib", "GPE"), ("Syria", "GPE"))),
        ("d", "Hasakah fell.", (("Hasakah", "ORG"),)),
        ("e", "The Hasakah province camp.", (("Hasakah province", "GPE"),)),
    )
    assert [k for k in res.entities if "idlib" in k] == ["place/idlib"]
    assert [k for k in res.entities if "hasakah" in k] == ["place/hasakah"]


def test_bare_word_labelled_person_joins_the_place_unless_a_person_has_that_name():
    res, _ = resolve(
        ("a", "Victory in Baghouz. Baghouz was the last patch.", (("Baghouz", "GPE"),)),
        ("b", "Baghouz falls; the caliphate ends.", (("Baghouz", "PERSON"),)),
        ("c", "Troops crossed into Jordan. Jordan closed the border.", (("Jordan", "GPE"),)),
        ("d", "Michael Jordan scored.", (("Michael Jordan", "PERSON"),)),
        ("e", "Jordan said so.", (("Jordan", "PERSON"),)),
    )
    assert {m.entity for m in res.mentions["b"]} == {"place/baghouz"}
    # a person is called Jordan here: the bare word stays a person (and is his, being the only one)
    assert {m.entity for m in res.mentions["e"]} == {"person/michael-jordan"}
    assert {m.entity for m in res.mentions["c"]} == {"place/jordan"}


def test_lone_organization_word_joins_the_person_it_stands_for():
    res, _ = resolve(
        ("a", "Sistani's call to arms. Grand Ayatollah Ali al-Sistani spoke.",
         (("Sistani", "ORG"), ("Ali al-Sistani", "PERSON"))),
        ("b", "June 2014: Sistani's call.", (("Sistani", "ORG"),)),
        ("c", "Kata'ib Hezbollah fired rockets.", (("Kata'ib Hezbollah", "PERSON"),)),
        ("d", "Hezbollah fought in Syria.", (("Hezbollah", "ORG"), ("Syria", "GPE"))),
    )
    assert {m.entity for m in res.mentions["b"]} == {"person/ali-al-sistani"}
    # "Hezbollah" was never seen standing for the (mislabelled) person "Kata'ib Hezbollah"
    assert {m.entity for m in res.mentions["d"] if m.text == "Hezbollah"} == {"organization/hezbollah"}


def test_singular_and_plural_groups_are_one():
    res, _ = resolve(
        ("a", "The caliph of all Muslims. Every Muslim authority rejected it.",
         (("Muslims", "NORP"), ("Muslim", "NORP"))),
        ("b", "Kurds and Arabs. A Kurd spoke.", (("Kurds", "NORP"), ("Arabs", "NORP"), ("Kurd", "NORP"))),
    )
    groups = sorted(e.name for e in res.entities.values() if e.kind == "group")
    assert groups == ["Arabs", "Kurds", "Muslims"]


def test_capitalised_head_word_refers_back_to_an_organisation():
    text = ("He was nominated by the Coordination Framework, an alliance. Sadr tried to exclude the Framework. "
            "Ministries went to the Framework's parties.")
    res, _ = resolve(("a", text, (("Coordination Framework", "ORG"), ("Framework", "FAC"), ("Sadr", "PERSON"))))
    keys = {m.text: m.entity for m in res.mentions["a"]}
    assert keys["Framework"] == keys["Coordination Framework"] == "organization/coordination-framework"
    # a bare head word, or one used before the full name, is not a back-reference
    for text in ("Framework rules apply. The Coordination Framework met.",
                 "The Framework met. Later the Coordination Framework met."):
        res, _ = resolve(("b", text, (("Coordination Framework", "ORG"), ("Framework", "FAC"))))
        assert len(res.entities) == 2, text


def nth(text: str, surface: str, n: int, label: str) -> Span:
    """A span on the n-th (0-based) occurrence of `surface`."""
    starts = [m.start() for m in re.finditer(re.escape(surface), text)]
    return Span(starts[n], starts[n] + len(surface), label)


def test_cross_article_care_with_short_words():
    res, _ = resolve(
        # "the Parliament" is the European Parliament here, but not in every article
        ("a", "The European Parliament voted. Later the Parliament met.", (("European Parliament", "ORG"),
                                                                           ("Parliament", "ORG"))),
        ("b", "Parliament debated the bill.", (("Parliament", "ORG"),)),
        # a word used alone far more often than the person is named is not that person
        ("e", "Mohammed Islam was charged. Islam denied it.", (("Mohammed Islam", "PERSON"), ("Islam", "ORG"))),
        ("f", "Islam teaches. Islam grew. Islam spread.", (("Islam", "ORG"),)),
    )
    assert {m.entity for m in res.mentions["a"]} == {"organization/european-parliament"}
    assert {m.entity for m in res.mentions["b"]} == {"organization/parliament"}
    assert {m.entity for m in res.mentions["f"]} == {"organization/islam"}


def test_surname_labelled_a_place_is_still_the_person():
    one = "Andre Agassi won. Agassi smiled."
    two = "Agassi fear for Melbourne. Agassi was serving."
    clusters = local_clusters("a", one, candidates(one, 0, Annotation(spans(one, ("Andre Agassi", "PERSON"),
                                                                            ("Agassi", "PERSON")))))
    ann = Annotation((nth(two, "Agassi", 0, "GPE"), nth(two, "Melbourne", 0, "GPE"), nth(two, "Agassi", 1, "PERSON")))
    clusters += local_clusters("b", two, candidates(two, 0, ann))
    assert next(c for c in clusters if c.source == "b" and c.name == "Agassi").kind == "place"  # 1.5 to 1
    res = resolve_archive(clusters)
    assert {m.entity for m in res.mentions["b"] if m.text == "Agassi"} == {"person/andre-agassi"}


@pytest.mark.parametrize("seed", range(30))
def test_groups_remade_from_the_last_pass_equal_groups_made_afresh(seed: int):
    """resolve._regroup changes only the groups a pass merged: after passes of random unions it
    must equal _groups made from scratch, roots, members and order (which later passes read)."""
    import random

    from briefing.resolve import _groups, _regroup, _Union

    rng = random.Random(seed)
    n = rng.randint(1, 400)
    uf = _Union(n)
    for _ in range(rng.randint(0, n)):
        uf.union(rng.randrange(n), rng.randrange(n))
    groups = _groups(uf, n)
    for _ in range(4):  # passes, each with a few unions, some joining groups merged before
        for _ in range(rng.choice([0, 1, 3, n // 4])):
            uf.union(rng.randrange(n), rng.randrange(n))
        groups = _regroup(uf, groups)
        fresh = _groups(_copy(uf), n)
        assert list(groups.items()) == list(fresh.items())


def _copy(uf):  # noqa: ANN001, ANN202 - a union-find of the same sets (_groups compresses it)
    from briefing.resolve import _Union

    other = _Union(len(uf.parent))
    other.parent = list(uf.parent)
    return other


def test_the_names_memo_keeps_initials_for_the_next_build(tmp_path):
    """A resolution asks the initials of every multi-word name (resolve._short_form_keys): they
    are kept with the normalised names (names.memo) in the cache, and an earlier build's are
    taken as they are (names.remember)."""
    import subprocess
    import sys
    import textwrap

    from conftest import make_project

    from briefing import names, sealed

    project = make_project(tmp_path / "p")
    # A process of its own: this one's memo may hold these names already (then nothing is saved).
    subprocess.run([sys.executable, "-m", "briefing", "build", "--project", str(project), "--wait", "--quiet"],
                   check=True, capture_output=True)
    [memo] = (project / ".briefing-cache").rglob("names-*.pickle")
    kept = sealed.load(memo)
    assert len(kept) == 4 and kept[3]["Port of Rotterdam Authority"] == "PRA"
    assert names.initials("Port of Rotterdam Authority") == "PRA"
    # In a fresh process, what a kept memo says is what initials() answers.
    planted = (kept[0], kept[1], kept[2], {**kept[3], "Port of Rotterdam Authority": "KEPT"})
    script = textwrap.dedent("""
        import sys
        from briefing import names
        from briefing.sealed import load
        names.remember(*load(__import__("pathlib").Path(sys.argv[1])))
        print(names.initials("Port of Rotterdam Authority"), names.initials("Dutch Port Union"))
    """)
    sealed.dump(planted, memo)
    out = subprocess.run([sys.executable, "-c", script, str(memo)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["KEPT", "DPU"]
