"""The content-file index: a build reads only the files whose identity on disk changed.

Builds run in-process with SETTLE_NS at 0, so that files written a moment ago may be recorded;
one test keeps the real value to check that a file changed just now is not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import make_project

from briefing import config as config_mod
from briefing import file_index, sources
from briefing.build import build


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_index, "SETTLE_NS", 0)


def test_files_the_index_vouches_for_are_not_read(tmp_path: Path, settled: None):
    config = config_mod.load(make_project(tmp_path / "p"))
    first, _, _ = sources.discover(config, {})
    assert all(src.data is not None for src in first)
    index = file_index.entries(first)
    assert sorted(index) == [src.relpath for src in first]

    again, _, _ = sources.discover(config, index)
    assert [src.data for src in again] == [None, None, None]
    assert [src.digest for src in again] == [src.digest for src in first]
    assert [src.read() for src in again] == [src.data for src in first]

    # Another index (another project, an older layout) vouches for nothing it does not match.
    other = {rel: (0, 0, 0, 0, b"x" * 32) for rel in index}
    assert all(src.data is not None for src in sources.discover(config, other)[0])


def test_a_change_that_keeps_size_and_modification_time_is_still_seen(tmp_path: Path, settled: None):
    project = make_project(tmp_path / "p")
    config = config_mod.load(project)
    build(config, check_links=False)
    assert file_index.load(config)  # recorded by the build

    article = project / "content" / "2024" / "2024-05-02-port-strike.md"
    st = os.stat(article)
    text = article.read_text(encoding="utf-8")
    changed = text.replace("two days", "six days")
    assert len(changed) == len(text)
    article.write_text(changed, encoding="utf-8")
    os.utime(article, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `touch -d` or `rsync -t` would
    assert os.stat(article).st_mtime_ns == st.st_mtime_ns

    result = build(config, check_links=False)
    assert not result.noop and result.parsed == 1
    page = (project / "site" / "articles").rglob("index.html")
    assert any("six days" in p.read_text(encoding="utf-8") for p in page)


def test_a_file_changed_just_now_is_read_until_it_settles(tmp_path: Path):
    config = config_mod.load(make_project(tmp_path / "p"))
    found, _, _ = sources.discover(config, {})
    assert file_index.entries(found) == {}  # all three were written a moment ago
    build(config, check_links=False)
    assert file_index.load(config) == {}


def test_a_no_op_build_records_files_that_settled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = config_mod.load(make_project(tmp_path / "p"))
    build(config, check_links=False)
    assert file_index.load(config) == {}
    monkeypatch.setattr(file_index, "SETTLE_NS", 0)
    assert build(config, check_links=False).noop
    assert len(file_index.load(config)) == 3


def test_a_file_gone_before_it_is_read_is_a_problem_not_a_traceback(tmp_path: Path, settled: None):
    config = config_mod.load(make_project(tmp_path / "p"))
    index = file_index.entries(sources.discover(config, {})[0])
    found, _, _ = sources.discover(config, index)
    found[0].path.unlink()
    with pytest.raises(sources.ContentError) as caught:
        sources.parse(found[0], config)
    assert caught.value.problems[0].path == found[0].relpath
    assert "cannot be read" in caught.value.problems[0].message
