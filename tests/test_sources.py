"""Unit tests of the parse stage: front matter, .txt articles, summaries, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_path

from briefing import sources
from briefing.config import Config
from briefing.errors import ContentError
from briefing.model import SourceFile

CFG = Config(root=Path("/nowhere"))


def parse(data: bytes | str, name: str = "content/a.md"):
    raw = data.encode() if isinstance(data, str) else data
    return sources.parse(SourceFile(Path("/nowhere") / name, name, raw), CFG)


def errors(data: bytes | str, name: str = "content/a.md") -> list[str]:
    with pytest.raises(ContentError) as info:
        parse(data, name)
    return [str(p) for p in info.value.problems]


def test_markdown_article_with_every_field():
    a = parse("---\ntitle: Strike in Anbar\ndate: 2025-03-14\nslug: anbar-strike\nsummary: Short.\n"
              "author: Desk\nsource: Wire\nurl: https://example.org/x\ntags: [ISIS, Iraq]\ndraft: true\n"
              "region: middle-east\n---\nThe **strike** hit Anbar.\n")
    assert (a.title, a.slug, a.summary, a.author, a.publisher, a.url) == (
        "Strike in Anbar", "anbar-strike", "Short.", "Desk", "Wire", "https://example.org/x")
    assert a.date.isoformat() == "2025-03-14T00:00:00+00:00"
    assert a.tags == ("ISIS", "Iraq") and a.draft is True
    assert a.meta == {"region": "middle-east"}
    assert a.text == "Strike in Anbar\n\nThe strike hit Anbar."
    assert a.text[: a.headline_end] == "Strike in Anbar"
    assert a.body_line == 13


def test_datetime_with_timezone_is_kept_and_naive_time_is_refused():
    a = parse("---\ntitle: x\ndate: 2025-03-14T20:30:00+03:00\n---\nbody\n")
    assert a.date.utcoffset().total_seconds() == 3 * 3600
    assert errors("---\ntitle: x\ndate: 2025-03-14 20:30:00\n---\nbody\n") == [
        "content/a.md:3: date 2025-03-14T20:30:00 has a time but no timezone. Add one, e.g. "
        "'2025-03-14T20:00:00+03:00', or give the date alone."]


def test_slug_defaults_to_file_name_without_date_prefix():
    assert parse("---\ntitle: x\ndate: 2025-01-01\n---\nb", "content/2025-01-01-Big News.md").slug == "big-news"


def test_summary_defaults_to_first_paragraph_cut_at_a_sentence():
    long = " ".join(f"Sentence number {i} says something about the strike." for i in range(20))
    a = parse(f"---\ntitle: x\ndate: 2025-01-01\n---\n{long}\n\nSecond paragraph.\n")
    assert a.summary.startswith("Sentence number 0") and a.summary.endswith(".")
    assert len(a.summary) <= 280 and "Second" not in a.summary


def test_seed_article_parses_as_txt_with_date_from_file_name():
    seed = next(shared_path("seed").glob("*.txt"))
    a = parse(seed.read_bytes(), "content/2025-03-14-seed.txt")
    assert a.title.startswith("ISIS Leader in Iraq and Syria Killed")
    assert a.date.date().isoformat() == "2025-03-14"
    assert "Abdallah Maki Mosleh al-Rifai" in a.text
    assert '"Abu Khadija,"' in a.text  # plain text survives Markdown escaping unchanged
    assert a.text.count("\n\n") >= 5


def test_txt_may_start_with_front_matter():
    a = parse("---\ndate: 2025-02-01\ntags: [x]\n---\nHeadline here\n\nBody *not emphasis* #1.\n",
              "content/note.txt")
    assert a.title == "Headline here" and a.text.endswith("Body *not emphasis* #1.")


def test_every_problem_in_a_file_is_reported_with_its_line():
    assert errors("---\ntitle: [a, b]\ndate: yesterday\ntags: {x: 1}\ndraft: maybe\n---\n") == [
        "content/a.md:2: title must be a string, not a list.",
        "content/a.md:3: date 'yesterday' is not a date. Write it as YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS+HH:MM.",
        "content/a.md:4: tags must be a list like [iraq, isis], not a mapping.",
        "content/a.md:5: draft must be true or false, not 'maybe'.",
    ]


def test_missing_title_and_date():
    assert errors("---\ntags: [x]\n---\nbody\n") == [
        'content/a.md:1: missing title. Add `title: "..."` to the front matter.',
        "content/a.md:1: missing date. Add `date: YYYY-MM-DD` to the front matter.",
    ]


def test_javascript_url_is_refused():
    assert errors("---\ntitle: x\ndate: 2025-01-01\nurl: javascript:alert(1)\n---\n") == [
        "content/a.md:4: url 'javascript:alert(1)' must be a web address starting with http:// or https://."]


def test_parse_all_collects_problems_from_every_file():
    good = SourceFile(Path("/n/g.md"), "content/g.md", b"---\ntitle: g\ndate: 2025-01-01\n---\nok")
    bad1 = SourceFile(Path("/n/b1.md"), "content/b1.md", b"")
    bad2 = SourceFile(Path("/n/b2.md"), "content/b2.md", b"---\ntitle: x\n")
    articles, problems = sources.parse_all([good, bad1, bad2], CFG)
    assert [a.source for a in articles] == ["content/g.md"]
    assert [p.path for p in problems] == ["content/b1.md", "content/b2.md"]


def test_editor_temp_files_are_ignored():
    for name in (".a.md.swp", "a.md~", ".#a.md", "4913", "#a.md#"):
        assert sources.is_ignored_name(name), name
    assert not sources.is_ignored_name("a.md")


def test_discovery_sorts_content_from_assets_and_vouches_for_unchanged_files(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    """Names as os.path.splitext reads their suffix (any case, several dots); files the file index
    vouches for are not read, and are the SourceFile a read would have given, but for the bytes."""
    import time

    from briefing import file_index

    root = tmp_path / "p"
    content = root / "content" / "2025"
    content.mkdir(parents=True)
    names = ["a.md", "b.MARKDOWN", "c.v2.txt", "d.md.bak", "e", "f.png", "g.Md", ".h.md", "i.md~"]
    for name in names:
        (content / name).write_bytes(f"---\ntitle: {name}\ndate: 2025-01-01\n---\nText.\n".encode())
    later = time.time_ns() + 3600 * 10**9  # an hour on: the files have settled, the index may vouch for them
    monkeypatch.setattr(sources.time, "time_ns", lambda: later)
    config = Config(root=root)
    found, assets, problems = sources.discover(config)
    assert problems == []
    assert [s.relpath for s in found] == [f"content/2025/{n}" for n in ("a.md", "b.MARKDOWN", "c.v2.txt", "g.Md")]
    assert sorted(p.name for p in assets) == ["d.md.bak", "e", "f.png"]
    assert all(s.data is not None for s in found)
    again, _, _ = sources.discover(config, file_index.entries(found))
    assert all(s.data is None for s in again)  # vouched for by the index: not read
    assert again == [SourceFile(s.file, s.relpath, None, s.digest, s.identity) for s in found]
    assert [s.read() for s in again] == [s.data for s in found]


def test_a_parsed_article_carries_the_key_of_its_analysis():
    """The key its analysis is stored under is made when the article is parsed (kept in the
    parse cache): the one stored.local_key makes from its fields."""
    import dataclasses

    from briefing.model import analysis_key
    from briefing.stored import local_key

    art = parse("---\ntitle: Talks in Geneva\ndate: 2025-01-01\n---\nEnvoys met in **Geneva** on Monday.\n")
    assert art.analysis_key == analysis_key(art.source, art.headline_end, art.text, art.body)
    bare = dataclasses.replace(art, analysis_key="")
    assert local_key(bare) == local_key(art) == art.analysis_key
    assert local_key(dataclasses.replace(bare, text=art.text + " Again.")) != art.analysis_key
