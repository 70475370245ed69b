"""The curation file: validation with lines, and its effect on a real run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from briefing import curation as curation_mod
from briefing.config import Config
from briefing.enrich import Enricher
from briefing.errors import CurationError
from briefing.model import Article


def article(source: str, title: str, body: str) -> Article:
    text = f"{title}\n\n{body}"
    return Article(source=source, title=title, date=dt.datetime(2025, 3, 14, tzinfo=dt.UTC),
                   slug=source, summary="", body=body, body_line=3, text=text, headline_end=len(title),
                   content_hash="")


ARTICLES = [
    article("a.md", "A strike in the desert", 'Abdallah Maki Mosleh al-Rifai, known as "Abu Khadija", was killed in '
            "Anbar. Daesh fighters fled toward the Syrian border. Comments"),
    article("b.md", "Talks in Baghdad", "Abu Khadija was discussed when Fouad Hussein met envoys in Baghdad."),
]


def test_valid_file_loads(tmp_path: Path):
    path = tmp_path / "entities.yaml"
    path.write_text(
        "entities:\n"
        "  - name: Islamic State\n"
        "    kind: organization\n"
        "    aliases: [ISIS, ISIL, Daesh]\n"
        "    description: Jihadist group.\n"
        "    links: ['https://en.wikipedia.org/wiki/Islamic_State']\n"
        "    formerly: [organization/isis]\n"
        "ignore: [Comments]\n"
        "not_same: [[Assad, Hafez al-Assad]]\n"
        "kinds: {Anbar: place}\n", encoding="utf-8")
    cur = curation_mod.load(path)
    assert cur.find("daesh").name == "Islamic State"
    assert cur.ignored("comments")
    assert cur.apart("Hafez al-Assad", "assad")
    assert cur.kind_of("Anbar") == "place"
    assert curation_mod.load(tmp_path / "missing.yaml") is curation_mod.EMPTY


@pytest.mark.parametrize("text, line, words", [
    ("entities:\n  - name: X\n    kind: persn\n", 3, "kind must be one of"),
    ("entities:\n  - name: X\n    kind: person\n    alias: [Y]\n", 4, "Did you mean 'aliases'"),
    ("entities:\n  - kind: person\n", 2, "needs a 'name'"),
    ("entitys: []\n", 1, "Did you mean 'entities'"),
    ("kinds: {Anbar: city}\n", 1, "kinds are"),
    ("entities:\n  - name: X\n    kind: person\n    links: [wikipedia]\n", 4, "http"),
    ("not_same: [[Assad]]\n", 1, "two or more"),
    ("entities:\n  - name: X\n    name: Y\n", 3, "duplicate key"),
    ("ignore: [a\n", 1, "YAML"),
])
def test_problems_name_the_line(text, line, words):
    with pytest.raises(CurationError) as info:
        curation_mod.parse(text, "entities.yaml")
    problems = info.value.problems
    assert any(p.line == line and words in p.message for p in problems), problems
    assert str(info.value).startswith("entities.yaml:")


def test_alias_claimed_twice_names_both():
    text = ("entities:\n"
            "  - name: Islamic State\n    kind: organization\n    aliases: [ISIS]\n"
            "  - name: Islamic State in Iraq and Syria\n    kind: organization\n    aliases: [isis]\n")
    with pytest.raises(CurationError) as info:
        curation_mod.parse(text, "entities.yaml")
    msg = str(info.value)
    assert "Islamic State" in msg and "Islamic State in Iraq and Syria" in msg
    assert "entities.yaml:5" in msg and "line 2" in msg


def test_curation_changes_the_result_and_the_cache(tmp_path: Path):
    config = Config(root=tmp_path)
    enricher = Enricher(config)
    plain = enricher.run(ARTICLES)
    assert plain.model_calls == 2

    config.curation_path.write_text(
        "entities:\n"
        "  - name: Islamic State\n    kind: organization\n    aliases: [Daesh]\n"
        "    description: Jihadist group.\n    formerly: [organization/daesh]\n"
        "  - name: Abdallah Maki Mosleh al-Rifai\n    kind: person\n    aliases: [Abu Khadija]\n"
        "ignore: [Comments]\n", encoding="utf-8")
    curated = enricher.run(ARTICLES)
    assert curated.model_calls == 2  # new ruler patterns: a different pipeline, so a new cache
    ent = curated.entities["organization/islamic-state"]
    assert ent.description == "Jihadist group." and "Daesh" in ent.aliases
    # `formerly` and curated aliases (how a merge or rename is written) keep old URLs working.
    assert curated.redirects == {"organization/daesh": "organization/islamic-state",
                                 "person/abu-khadija": "person/abdallah-maki-mosleh-al-rifai"}
    rifai = curated.entities["person/abdallah-maki-mosleh-al-rifai"]
    assert {m.entity for m in curated.mentions["b.md"] if m.text == "Abu Khadija"} == {rifai.key}
    assert not any(m.text == "Comments" for ms in curated.mentions.values() for m in ms)

    # a description only: resolution changes, the model does not run again
    config.curation_path.write_text(config.curation_path.read_text().replace("Jihadist group.", "Group."),
                                    encoding="utf-8")
    again = enricher.run(ARTICLES)
    assert again.model_calls == 0
    assert again.entities["organization/islamic-state"].description == "Group."


def test_broken_curation_is_a_user_error(tmp_path: Path):
    config = Config(root=tmp_path)
    config.curation_path.write_text("entities:\n  - name: X\n    kind: nobody\n", encoding="utf-8")
    with pytest.raises(CurationError, match="entities.yaml:3"):
        Enricher(config).run(ARTICLES)
