"""The render stage's speed-ups change no byte.

Renderer's Jinja environment takes `x.name` on a plain dict as the item at once, keeps each
template's globals in a plain dict, never re-checks template files, and offers `url`, `abs_url`
and `asset` as filters too (the theme uses those). Every page of the sample archive must render
exactly as stock Jinja renders it, and the fast lookup must agree with Jinja's on every kind of
object and name, errors included.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import defaultdict
from pathlib import Path

import jinja2
import pytest
from conftest import REPO, make_project
from markupsafe import Markup

from briefing import config as config_mod
from briefing import pages
from briefing.build import build
from briefing.render import Renderer


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    """The repository's sample archive (aliases, links, pagination, search), built once, planned."""
    root = tmp_path_factory.mktemp("sample")
    shutil.copytree(REPO / "content", root / "content")
    for name in ("config.yaml", "entities.yaml"):
        shutil.copy(REPO / name, root / name)
    cfg = config_mod.load(root)
    state = build(cfg, output=root / "site", check_links=False).preview
    assert state is not None
    return state.renderer, pages.plan(state.archive, cfg, state.asset_urls).all_pages()


def stock(renderer: Renderer) -> jinja2.Environment:
    """Stock Jinja with the Renderer's loader, options, globals and filters."""
    env = jinja2.Environment(loader=renderer.env.loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(renderer.env.globals)
    env.filters.update({name: renderer.env.filters[name] for name in ("url", "abs_url", "asset")})
    return env


def test_every_sample_page_renders_as_stock_jinja_renders_it(sample):
    renderer, planned = sample
    env = stock(renderer)
    assert {p.template for p in planned} >= {"article.html", "entity.html", "topic.html", "kind_index.html",
                                             "archive.html", "index.html", "feed.xml", "sitemap.xml",
                                             "search.html", "404.html", "redirect.html", "robots.txt",
                                             "_redirects.txt"}
    for page in planned:
        expected = env.get_template(page.template).render(page=page.context, page_url=page.url)
        assert renderer.render(page) == expected.encode("utf-8"), page.path


@dataclasses.dataclass
class Thing:
    name: str = "a dataclass"


def outcome(env: jinja2.Environment, source: str, **context: object) -> str:
    try:
        return "ok: " + env.from_string(source).render(**context)
    except Exception as exc:  # noqa: BLE001 (the error and its message are part of the behaviour)
        return f"{type(exc).__name__}: {exc}"


CASES = [
    "{{ d.name }}",
    "{{ d.missing }}",
    "{{ d.missing is defined }}",
    "{{ d.items()|list }}",  # a dict attribute is the method, even with an item of that name
    "{{ d.get('name') }} {{ d.get('nope', 'default') }}",
    "{{ d.keys|string == d['keys']|string }}",
    "{{ d.__class__.__name__ }}",
    "{{ d.nested.deeper }}",
    "{{ d.nested.missing }}",
    "{{ dd.name }} {{ dd.fresh }} {{ dd|length }}",  # a dict subclass takes Jinja's own way
    "{{ m.upper() }} {{ m.nope }}",
    "{{ t.name }} {{ t.missing }}",
    "{% for r in rows|groupby('letter') %}{{ r.grouper }}{{ r.list|length }} {% endfor %}",
    "{{ url('a/b/') }} {{ 'a/b/'|url }} {{ abs_url('/x') }} {{ '/x'|abs_url }}",
    "{{ asset('s.css') }} {{ 's.css'|asset }} {{ asset('t.css') }} {{ 't.css'|asset }}",
]


@pytest.mark.parametrize("source", CASES)
def test_the_fast_lookup_agrees_with_jinja(tmp_path: Path, source: str):
    root = make_project(tmp_path / "p", 'title: "T"\nbase_url: "https://example.org/sub/"\n', articles=1)
    renderer = Renderer(config_mod.load(root), asset_versions={"s.css": "abc"})
    env = stock(renderer)

    def context() -> dict:
        return {"d": {"name": "<b>n</b>", "items": "an item", "keys": "k", "nested": {"deeper": 1}},
                "dd": defaultdict(list, name="dd"), "m": Markup("<i>m</i>"), "t": Thing(),
                "rows": [{"letter": "B"}, {"letter": "A"}, {"letter": "B"}]}

    fast, slow = context(), context()
    assert outcome(renderer.env, source, **fast) == outcome(env, source, **slow)
    assert fast == slow  # and neither left anything behind (a defaultdict's lookups add keys)


def test_compiled_templates_are_kept_and_an_edited_template_is_compiled_again(tmp_path: Path):
    root = make_project(tmp_path / "p", 'title: "T"\n', articles=1)
    (root / "templates").mkdir()
    (root / "templates" / "note.html").write_text("first {{ x }}")
    cfg = config_mod.load(root)
    assert Renderer(cfg).env.get_template("note.html").render(x=1) == "first 1"
    kept = sorted((cfg.cache_path / "templates").iterdir())
    assert kept, "the compiled template was not kept"
    # A second environment loads it instead of compiling: the parser is never called.
    second = Renderer(cfg)
    second.env._parse = None  # type: ignore[method-assign] # compiling would call it
    assert second.env.get_template("note.html").render(x=2) == "first 2"
    (root / "templates" / "note.html").write_text("second {{ x }}")
    assert Renderer(cfg).env.get_template("note.html").render(x=3) == "second 3"


def test_a_cache_folder_that_cannot_be_written_only_means_compiling(tmp_path: Path):
    root = make_project(tmp_path / "p", 'title: "T"\n', articles=1)
    cfg = config_mod.load(root)
    cfg.cache_path.mkdir(parents=True, exist_ok=True)
    (cfg.cache_path / "templates").write_text("a file where the folder would be")
    assert b"<html" in Renderer(cfg).render(pages.Page("404.html", "404.html", "404.html", {"title": "x"}))


def test_what_jinja_folds_as_it_compiles_is_not_taken_from_a_kept_template(tmp_path: Path):
    """`{{ 's.css'|asset }}` is worked out when the template compiles: the stylesheet's version
    (or the base URL) changed, the kept compiled template is not used."""
    root = make_project(tmp_path / "p", 'title: "T"\n', articles=1)
    (root / "templates").mkdir()
    (root / "templates" / "note.html").write_text("{{ 's.css'|asset }} {{ 'a/'|abs_url }}")
    cfg = config_mod.load(root)
    assert Renderer(cfg, asset_versions={"s.css": "v1"}).env.get_template("note.html").render() \
        == "/s.css?v=v1 http://localhost:8000/a/"
    assert Renderer(cfg, asset_versions={"s.css": "v2"}).env.get_template("note.html").render() \
        == "/s.css?v=v2 http://localhost:8000/a/"
    moved = dataclasses.replace(cfg, base_url="https://elsewhere.example/")
    assert Renderer(moved, asset_versions={"s.css": "v2"}).env.get_template("note.html").render() \
        == "/s.css?v=v2 https://elsewhere.example/a/"
    assert len(list((cfg.cache_path / "templates").iterdir())) == 1  # one file, replaced
