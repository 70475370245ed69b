"""500 real BBC articles (read from ../shared, never copied into the repo), served under a sub-path:
the built site's every internal link and anchor resolves, and each article has its page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from conftest import run_cli, shared_path

from briefing import links


@pytest.mark.timeout(900)
def test_link_check_passes_on_500_bbc_articles_under_a_sub_path(tmp_path: Path):
    corpus = shared_path("corpora", "bbc-news", "articles.jsonl")
    root = tmp_path / "bbc"
    content = root / "content"
    content.mkdir(parents=True)
    start = dt.date(2004, 1, 1)
    with corpus.open(encoding="utf-8") as fh:
        for i, line in zip(range(500), fh, strict=False):
            item = json.loads(line)
            date = start + dt.timedelta(days=i)  # the corpus has no dates: spread them over the years
            front = {"title": item["title"], "date": date, "tags": item["tags"], "slug": item["id"]}
            (content / f"{item['id']}.md").write_text(
                "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + item["body"] + "\n", encoding="utf-8")
    (root / "config.yaml").write_text('title: "BBC sample"\nbase_url: "https://example.org/deep/sub/path/"\n'
                                      "search: {enabled: false}\n")
    result = run_cli("build", "--project", str(root), timeout=900)
    assert result.returncode == 0, result.stderr
    site = root / "site"
    assert len(list((site / "articles").iterdir())) == 500
    assert len(list((site / "people").iterdir())) > 100
    assert links.check(site, "/deep/sub/path/") == []
