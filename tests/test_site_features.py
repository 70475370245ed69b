"""Site features on small archives: renamed entities redirect, link policy, page thresholds."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from conftest import make_project, run_cli

from briefing import links

CURATION = textwrap.dedent("""\
    entities:
      - name: Port of Rotterdam Authority
        kind: organization
        aliases: [Port Authority]
        description: "Runs Europe's largest port."
        links: ["https://en.wikipedia.org/wiki/Port_of_Rotterdam"]
        formerly: ["organization/rotterdam-port-board"]
    """)


def build(root: Path) -> Path:
    result = run_cli("build", "--project", str(root))
    assert result.returncode == 0, result.stderr
    return root / "site"


def test_renamed_entity_keeps_its_old_url_working(tmp_path: Path):
    root = make_project(tmp_path / "p")
    (root / "entities.yaml").write_text(CURATION)
    site = build(root)
    new = site / "organizations/port-of-rotterdam-authority/index.html"
    assert "Runs Europe&#39;s largest port." in new.read_text()
    old = (site / "organizations/rotterdam-port-board/index.html").read_text()
    assert 'http-equiv="refresh" content="0; url=/organizations/port-of-rotterdam-authority/"' in old
    assert ("/organizations/rotterdam-port-board/ /organizations/port-of-rotterdam-authority/ 301"
            in (site / "_redirects").read_text())
    assert links.check(site) == []


def test_every_mention_linked_when_configured(tmp_path: Path):
    root = make_project(tmp_path / "p", config='title: T\nbase_url: "https://example.org/"\n'
                                                "search: {enabled: false}\nentities: {link: every}\n")
    site = build(root)
    page = (site / "articles/strike-ends/index.html").read_text()
    rutte = re.findall(r'<a href="/people/mark-rutte/" class="mention mention-person" id="(m-mark-rutte[-0-9]*)"',
                       page)
    assert rutte == ["m-mark-rutte", "m-mark-rutte-2"]  # "Mark Rutte" and then "Rutte"


def test_first_mention_only_by_default(tmp_path: Path):
    site = build(make_project(tmp_path / "p"))
    page = (site / "articles/strike-ends/index.html").read_text()
    assert len(re.findall(r'href="/people/mark-rutte/" class="mention', page)) == 1


def test_entities_below_the_threshold_get_no_page_and_stay_unlinked(tmp_path: Path):
    root = make_project(tmp_path / "p", config='title: T\nbase_url: "https://example.org/"\n'
                                                "search: {enabled: false}\nentities: {min_articles: 2}\n")
    site = build(root)
    assert (site / "places/netherlands/index.html").exists()  # in two articles
    assert not (site / "people/mark-rutte").exists()  # in one article only
    page = (site / "articles/strike-ends/index.html").read_text()
    assert "Mark Rutte" in page and "/people/mark-rutte/" not in page
    assert links.check(site) == []


def test_topic_pages_need_two_articles(tmp_path: Path):
    site = build(make_project(tmp_path / "p"))
    assert (site / "topics/port/index.html").exists()  # tagged "ports" on three articles
    assert (site / "topics/labour/index.html").exists()  # two
    assert not (site / "topics/trade").exists()  # one
    topic = (site / "topics/port/index.html").read_text()
    assert topic.count('class="card"') == 3 and "Most associated" in topic


def test_a_changed_stylesheet_changes_the_version_in_every_page(tmp_path: Path):
    root = make_project(tmp_path / "p")
    site = build(root)
    before = re.search(r'style\.css\?v=(\w+)', (site / "index.html").read_text()).group(1)
    (root / "static" / "assets").mkdir(parents=True)
    (root / "static" / "assets" / "style.css").write_text("body { color: rebeccapurple; }\n")
    build(root)
    for page in (site / "index.html", site / "articles/strike-ends/index.html"):
        after = re.search(r'style\.css\?v=(\w+)', page.read_text()).group(1)
        assert after != before
    assert "rebeccapurple" in (site / "assets/style.css").read_text()


def test_a_static_link_out_of_the_project_is_refused(tmp_path: Path):
    root = make_project(tmp_path / "p")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web\n")
    (root / "static").mkdir()
    (root / "static" / "leak.txt").symlink_to(secret)
    result = run_cli("build", "--project", str(root))
    assert result.returncode == 1
    assert "static/leak.txt: is a link to a file outside the project; refusing to copy it." in result.stderr
    assert not (root / "site").exists()


def test_merging_by_curated_alias_keeps_the_old_url(tmp_path: Path):
    root = make_project(tmp_path / "p")
    site = build(root)
    assert (site / "people/mark-rutte/index.html").exists()
    # The desk decides "Mark Rutte" is to be filed under a fuller name: a rename by curation.
    (root / "entities.yaml").write_text("entities:\n  - name: Mark Rutte (Dutch prime minister)\n"
                                        "    kind: person\n    aliases: [Mark Rutte, Rutte]\n")
    build(root)
    old = (site / "people/mark-rutte/index.html").read_text()
    assert 'http-equiv="refresh" content="0; url=/people/mark-rutte-dutch-prime-minister/"' in old
    assert "/people/mark-rutte/ /people/mark-rutte-dutch-prime-minister/ 301" in (site / "_redirects").read_text()
    assert links.check(site) == []
