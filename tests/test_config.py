"""config.yaml validation: every problem at once, with its line and a way to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefing import config
from briefing.errors import ConfigError


def problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    return [str(p) for p in info.value.problems]


def test_defaults_without_a_config_file(tmp_path: Path):
    cfg = config.load(tmp_path)
    assert cfg.title == "Briefings" and cfg.output_path == tmp_path.resolve() / "site"
    assert cfg.base_path == "/" and cfg.entities.link == "first" and cfg.search.enabled


def test_every_problem_is_reported_with_its_line(tmp_path: Path):
    assert problems(tmp_path, "titel: x\nbase_url: example.org\npaginate: [1]\nnlp: {modle: x}\n"
                              "entities:\n  link: all\n  page_kinds: [person, planet]\n") == [
        "config.yaml:1: unknown key 'titel'. Did you mean 'title'? Known keys here: title, description, base_url, "
        "language, author, content_dir, output_dir, templates_dir, static_dir, paginate, markdown, nlp, entities, "
        "tags, search, publish, extra.",
        "config.yaml:2: base_url 'example.org' needs a scheme and a host, e.g. 'https://example.org/briefings/'.",
        "config.yaml:3: 'paginate' must be a whole number, not a list.",
        "config.yaml:4: unknown key 'nlp.modle'. Did you mean 'nlp.model'? Known keys here: model, batch_size, "
        "cache_dir.",
        "config.yaml:6: entities.link must be 'first' or 'every'.",
        "config.yaml:7: unknown entity kind 'planet'; kinds are person, organization, place, group, event.",
    ]


def test_base_url_path_becomes_the_base_path(tmp_path: Path):
    (tmp_path / "config.yaml").write_text('base_url: "https://example.org/briefings"\n')
    assert config.load(tmp_path).base_path == "/briefings/"


def test_topics_are_parsed_into_rules(tmp_path: Path):
    (tmp_path / "config.yaml").write_text("tags:\n  topics:\n    diplomacy: {phrases: [talks, visit]}\n")
    rule = config.load(tmp_path).tags.topics["diplomacy"]
    assert rule.phrases == ("talks", "visit") and rule.entities == ()


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    msgs = problems(tmp_path, "title: x\npaginate: [1\n")
    assert len(msgs) == 1 and msgs[0].startswith("config.yaml:2:")
