"""Acceptance on the seed article (copied to a temp dir, never into content/), with no curation file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from briefing import config as config_mod
from briefing import sources
from briefing.enrich import Enricher
from briefing.entities_cli import extract_record

SEED_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "seed"


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    files = sorted(SEED_DIR.glob("*.txt")) if SEED_DIR.is_dir() else []
    if not files:
        pytest.fail(f"the seed article is missing from {SEED_DIR} (../shared/seed beside the repository)")
    root = tmp_path_factory.mktemp("seed")
    copy = root / "content" / "2025-03-14-seed.txt"
    copy.parent.mkdir()
    shutil.copy(files[0], copy)
    config = config_mod.Config(root=root)
    assert not config.curation_path.exists()
    art = sources.parse(sources.read_source(copy, root), config, require_date=False)
    enrichment = Enricher(config).run([art])
    return art, enrichment


def by_name(enrichment):
    return {e.name: e for e in enrichment.entities.values()}


def mentions_of(art, enrichment, name):
    key = by_name(enrichment)[name].key
    return [m.text for m in enrichment.mentions[art.source] if m.entity == key]


def test_people_tied_to_their_short_forms(seed):
    art, enr = seed
    names = by_name(enr)
    for person in ("Abdallah Maki Mosleh al-Rifai", "Mohammed Shia al-Sudani", "Bashar al-Assad",
                   "Donald Trump", "Fouad Hussein"):
        assert names[person].kind == "person", person
    assert {"Abu Khadija", "al-Rifai"} <= set(mentions_of(art, enr, "Abdallah Maki Mosleh al-Rifai"))
    assert "al-Sudani" in mentions_of(art, enr, "Mohammed Shia al-Sudani")
    assert "Assad" in mentions_of(art, enr, "Bashar al-Assad")
    kinds = [e for e in enr.entities.values() if e.kind == "person"]
    assert not any(e.name in ("Abu Khadija", "Assad", "al-Sudani", "al-Rifai") for e in kinds)


def test_isis_is_one_entity_with_its_long_form(seed):
    art, enr = seed
    isis = [e for e in enr.entities.values() if "ISIS" in (e.name, *e.aliases)]
    assert len(isis) == 1 and isis[0].kind == "organization"
    texts = [m.text for m in enr.mentions[art.source] if m.entity == isis[0].key]
    assert "ISIS" in texts and any(t.startswith("Islamic State") for t in texts)


def test_places(seed):
    _, enr = seed
    names = by_name(enr)
    for place in ("Iraq", "Syria", "Anbar", "Turkey", "Jordan", "Lebanon", "Iran", "Tehran"):
        assert names[place].kind == "place", place


def test_no_junk(seed):
    art, enr = seed
    for e in enr.entities.values():
        assert e.name != "Joint Iraqi"
        assert not e.name.lower().startswith("the ")
        assert not e.name.endswith(("'s", "’s"))
    for m in enr.mentions[art.source]:
        assert art.text[m.start:m.end] == m.text
        assert "Joint" not in m.text


def test_extract_record_shape(seed):
    art, enr = seed
    record = extract_record(art, enr)
    assert record["text"] == art.text and record["text"].startswith(art.title)
    assert {"source", "title", "text", "mentions", "entities", "tags"} <= set(record)
    keys = {e["key"] for e in record["entities"]}
    assert all(m["entity"] in keys for m in record["mentions"])
