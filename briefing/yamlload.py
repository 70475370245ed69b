"""Safe YAML loading that keeps line numbers and refuses duplicate keys.

Front matter, config.yaml and entities.yaml all come through here, so every YAML problem is
reported the same way: `path:line: what is wrong`.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import Problem


class LineMap(dict):
    """A dict that also remembers the 1-based line of each key (`lines[key]`)."""

    lines: dict[Any, int]


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings are LineMaps and which rejects duplicate keys."""

    line_offset = 0  # file line of the text's first line, minus one


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class BadValue(yaml.MarkedYAMLError):
    """Well-formed YAML whose value cannot be what it looks like (e.g. the date 2025-02-30)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key here is a list or mapping, not a name", key_node.start_mark
            ) from None
        if key in result:
            raise DuplicateKey(
                None, None, f"duplicate key {key!r} (first on line {result.lines[key]}). Keep only one of them",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1 + loader.line_offset
    return result


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode):  # noqa: ANN202
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise BadValue(
            None, None, f"{node.value!r} is not a real date ({exc}). Write a real date as YYYY-MM-DD",
            node.start_mark,
        ) from None


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


_OPENERS = (("quoted scalar", "a quote"), ("flow sequence", "a '[' list"), ("flow mapping", "a '{' mapping"))


def line_of(mapping: Any, key: Any, default: int | None = None) -> int | None:
    """The line a key was written on, when the mapping came from `load`."""
    lines = getattr(mapping, "lines", None)
    if lines is None:
        return default
    return lines.get(key, default)


def load(text: str, path: str, first_line: int = 1) -> Any:
    """Parse YAML text; raise YamlProblem with the file's line number on any error.

    `first_line` is the file line that text's first line sits on (front matter starts on 2).
    """
    try:
        loader = _Loader(text)
        loader.line_offset = first_line - 1
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, BadValue):
            raise YamlProblem(Problem(path, mark.line + first_line if mark else first_line, f"{what}.")) from None
        unclosed = exc.context_mark is not None and ("end of stream" in str(what) or "<stream end>" in str(what))
        if unclosed:
            mark = exc.context_mark  # where the unclosed thing starts, not the end of the text
        line = mark.line + first_line if mark else first_line
        if "\t" in text and "tab" in str(what).lower() or "found character '\\t'" in str(exc):
            what = "a tab character; YAML indents with spaces only. Replace the tab with spaces"
        elif unclosed:
            opened = next((name for key, name in _OPENERS if key in str(exc.context)), "something")
            what = f"{opened} opened on this line is never closed. Close it"
        elif "mapping values are not allowed" in str(what):
            what = f"{what}. Put a value that contains ': ' in quotes, and check the indentation"
        elif not isinstance(exc, DuplicateKey):
            what = f"{what}. Check the quotes and indentation here"
        raise YamlProblem(Problem(path, line, f"YAML syntax error: {what}.")) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(path, first_line, f"YAML error: {exc}")) from None
    except RecursionError:
        raise YamlProblem(Problem(path, first_line, "YAML nested too deeply (lists or mappings inside one "
                                  "another thousands of levels down). Flatten it.")) from None


class YamlProblem(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))
