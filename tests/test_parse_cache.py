"""The parse cache: a rebuild parses only the content files whose bytes changed.

Counted through BuildResult.parsed. Each build writes to a new output folder, so it is never a
no-op (which would skip parsing altogether) and always reaches the parse stage.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import make_project, write_article

from briefing import config as config_mod
from briefing import parse_cache, sources
from briefing.build import build
from briefing.config import MarkdownConfig
from briefing.errors import ContentError


def build_into(project: Path, name: str, **changes: object):  # noqa: ANN201
    config = config_mod.load(project).with_changes(**changes)
    return build(config, output=project / name, check_links=False)


def cache_files(project: Path) -> list[Path]:
    return sorted((project / ".briefing-cache").glob("articles-*.pickle"))


def test_rebuild_parses_only_what_changed(project: Path):
    first = build_into(project, "out1")
    assert (first.articles, first.parsed) == (3, 3)
    assert [name for name, _, detail in first.timings if detail == "3 articles, 3 parsed"] == ["parse"]

    second = build_into(project, "out2")
    assert second.parsed == 0
    assert second.articles_list == sources.parse_all(sources.discover(config_mod.load(project))[0],
                                                     config_mod.load(project))[0]

    edited = project / "content/2024/2024-05-09-strike-ends.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("welcomed", "praised"), encoding="utf-8")
    third = build_into(project, "out3")
    assert third.parsed == 1
    assert "praised" in next(a.body for a in third.articles_list if a.source.endswith("strike-ends.md"))
    assert len(cache_files(project)) == 1


def test_corrupt_or_foreign_pickle_is_an_empty_cache(project: Path):
    config = config_mod.load(project)
    found = sources.discover(config)[0]
    assert parse_cache.parse_all(found, config)[2] == 3
    (path,) = cache_files(project)
    for junk in (b"", b"not a pickle", path.read_bytes()[:50], b"\x80\x04K\x01."):  # last: the int 1
        path.write_bytes(junk)
        articles, problems, parsed = parse_cache.parse_all(found, config)
        assert (len(articles), problems, parsed) == (3, [], 3)
        assert parse_cache.parse_all(found, config)[2] == 0  # rewritten whole


def test_a_bad_file_is_reported_on_every_build(project: Path):
    bad = project / "content/2024/bad.md"
    bad.write_text("---\ntitle: Bad\ndate: 2024-13-01\n---\nBody.\n", encoding="utf-8")
    messages = []
    for name in ("out1", "out2"):
        with pytest.raises(ContentError) as exc:
            build_into(project, name)
        messages.append([str(p) for p in exc.value.problems])
    assert messages[0] == messages[1]
    assert len(messages[0]) == 1 and messages[0][0].startswith("content/2024/bad.md:3: ")

    bad.write_text("---\ntitle: Fixed\ndate: 2024-12-01\n---\nBody.\n", encoding="utf-8")
    fixed = build_into(project, "out3")
    assert (fixed.articles, fixed.parsed) == (4, 1)  # the good files were cached by the failed builds


def test_changing_markdown_html_parses_again(project: Path):
    write_article(project, "2024/raw.md", "Raw HTML", "2024-07-01", "Before <b>bold</b> after.")
    assert build_into(project, "out1").parsed == 4
    html = build_into(project, "out2", markdown=MarkdownConfig(html=True))
    assert html.parsed == 4
    raw = next(a for a in html.articles_list if a.source.endswith("raw.md"))
    assert raw == sources.parse(sources.read_source(project / "content/2024/raw.md", project),
                                config_mod.load(project).with_changes(markdown=MarkdownConfig(html=True)))
    assert len(cache_files(project)) == 1  # the other setting's pickle is removed


def test_a_change_to_the_parse_code_changes_the_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = config_mod.load(make_project(tmp_path / "p"))
    before = parse_cache.fingerprint(config)
    assert parse_cache.fingerprint(config.with_changes(content_dir="posts")) != before
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: real(p) + (b"#" if p.name == "yamlload.py" else b""))
    assert parse_cache.fingerprint(config) != before



def test_many_files_are_parsed_by_workers_while_the_model_loads(project: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    """A first build of a large archive parses in forked workers (and loads the model
    meanwhile): the same Articles and the same problems, in the same order, as one process."""
    for i in range(parse_cache.PARALLEL_PARSE_MIN + 20):
        write_article(project, f"many/a{i:04d}.md", title=f"Report {i}", date=f"2023-01-{i % 28 + 1:02d}",
                      body=f"Officials in Basra said *talks* would resume on day {i}.\n")
    for name in ("bad1", "bad2"):
        (project / f"content/many/{name}.md").write_text("---\ntitle: Bad\ndate: 2024-13-01\n---\nBody.\n",
                                                         encoding="utf-8")
    config = config_mod.load(project)
    found = sources.discover(config)[0]
    expected = sources.parse_all(found, config)
    pids = tmp_path / "pids"
    parse = sources.parse

    def recorded(src: object, config: object) -> object:
        with open(pids, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
        return parse(src, config)  # type: ignore[arg-type]
    monkeypatch.setattr(sources, "parse", recorded)
    calls = []
    articles, problems, parsed = parse_cache.parse_all(found, config, jobs=2, meanwhile=lambda: calls.append(1))
    assert (articles, problems) == expected and len(problems) == 2
    assert parsed == len(found) and calls == [1]
    parsed_by = pids.read_text(encoding="utf-8").split()
    assert len(parsed_by) == len(found) and str(os.getpid()) not in parsed_by  # all by the workers
    assert all(a.body_pieces for a in articles)
    assert parse_cache.parse_all(found, config, jobs=2, meanwhile=lambda: calls.append(2))[2] == 2  # the bad ones
    assert calls == [1]  # two files to parse: no workers, no model


def test_cached_articles_keep_their_text_packed_until_read(tmp_path: Path):
    """The parse cache holds each article's body, text and pieces packed (model.pack): read
    back, an article equals the one parsed, answers whether its body may hold a link without
    unpacking, and unpacks on first read of any of those fields."""
    import dataclasses
    import pickle

    from briefing.model import pack

    project = make_project(tmp_path / "p")
    write_article(project, "odd.md", "Odd", "2025-01-02", "Caf\u00e9 [a link](other.md), d\u00e9j\u00e0 vu.")
    write_article(project, "other.md", "Other", "2025-01-03", "Plain prose, nothing linked.")
    config = config_mod.load(project)
    parsed = {a.source: a for a in parse_cache.parse_all(sources.discover(config)[0], config)[0]}
    stored = {rel: pickle.loads(pickle.dumps(pack(a))) for rel, a in parsed.items()}
    for rel, article in stored.items():
        assert "_packed" in article.__dict__
        assert article.may_link_locally == ("](" in parsed[rel].body)
        assert "_packed" in article.__dict__  # answered from the packed body
        assert article == parsed[rel] and "_packed" not in article.__dict__  # compared: unpacked
        assert pack(article) == article
    # Text surrogate-escaped (from bytes that are not UTF-8) survives packing.
    odd = dataclasses.replace(parsed["content/odd.md"], body="a lone \udce9 byte")
    assert pickle.loads(pickle.dumps(pack(odd))).body == "a lone \udce9 byte"
