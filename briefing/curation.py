"""The curation file (entities.yaml): human judgements that always win over the model.

    entities:                       # canonical entities, their aliases and descriptions
      - name: Islamic State
        kind: organization
        aliases: [ISIS, ISIL, Daesh]
        description: "..."
        links: ["https://en.wikipedia.org/wiki/Islamic_State"]
        formerly: ["organization/isis"]   # old keys or names whose URLs redirect here
    ignore: ["Comments"]            # surface forms that are never entities
    not_same: [["Assad", "Hafez al-Assad"]]   # forms never tied together
    kinds: {"Anbar": place}         # kind fixes for forms the model gets wrong

Every problem is reported with its line; an alias claimed by two entities names both.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlload
from .errors import CurationError, Problem
from .model import KINDS
from .names import clean_span, norm

_TOP_KEYS = ("entities", "ignore", "not_same", "kinds")
_ENTITY_KEYS = ("name", "kind", "aliases", "description", "links", "formerly")


@dataclass(frozen=True)
class CuratedEntity:
    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    links: tuple[str, ...] = ()
    formerly: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Curation:
    entities: tuple[CuratedEntity, ...] = ()
    ignore: frozenset[str] = frozenset()  # norms
    not_same: frozenset[frozenset[str]] = frozenset()  # pairs of norms
    kinds: Mapping[str, str] = field(default_factory=dict)  # norm -> kind
    _index: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    def find(self, form: str) -> CuratedEntity | None:
        """The curated entity whose name or alias is `form` (compared by norm)."""
        i = self._index.get(norm(form))
        return self.entities[i] if i is not None else None

    def ignored(self, form: str) -> bool:
        return norm(form) in self.ignore

    def apart(self, a: str, b: str) -> bool:
        """Whether a not_same judgement keeps forms `a` and `b` apart."""
        return bool(self.not_same) and frozenset((norm(a), norm(b))) in self.not_same

    def kind_of(self, form: str) -> str | None:
        return self.kinds.get(norm(form))

    def patterns(self) -> list[dict[str, str]]:
        """entity_ruler patterns: every curated name and alias, labelled with its kind."""
        from .names import KIND_LABELS

        out = []
        for ent in self.entities:
            for form in ent.forms:
                out.append({"label": KIND_LABELS[ent.kind], "pattern": form, "id": ent.name})
        return out

    def patterns_digest(self) -> str:
        """Digest of what changes the model's output (the ruler patterns), not descriptions."""
        return _digest(self.patterns())

    def digest(self) -> str:
        """Digest of every judgement that changes resolution."""
        return _digest({
            "entities": [[e.name, e.kind, list(e.aliases), list(e.formerly)] for e in self.entities],
            "ignore": sorted(self.ignore),
            "not_same": sorted(sorted(p) for p in self.not_same),
            "kinds": sorted(self.kinds.items()),
        })


def _digest(data: Any) -> str:
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:16]


EMPTY = Curation()


def load(path: Path, display: str | None = None) -> Curation:
    """Read and validate a curation file; a missing file is an empty curation."""
    shown = display or path.name
    if not path.exists():
        return EMPTY
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CurationError(Problem(shown, None, f"not UTF-8 (byte offset {exc.start}). Save it as UTF-8.")) from None
    return parse(text, shown)


def parse(text: str, path: str = "entities.yaml") -> Curation:
    """Validate curation YAML text; raise CurationError listing every problem."""
    try:
        data = yamlload.load(text, path)
    except yamlload.YamlProblem as exc:
        raise CurationError(exc.problem) from None
    if data is None:
        return EMPTY
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise CurationError(Problem(path, 1, "the curation file must be a mapping with keys "
                                    + ", ".join(_TOP_KEYS) + "."))
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(Problem(path, yamlload.line_of(data, key), _unknown(key, _TOP_KEYS, "")))

    entities = _entities(data, path, problems)
    ignore = frozenset(norm(f) for f in _strings(data, "ignore", path, problems))
    not_same = _not_same(data, path, problems)
    kinds = _kinds(data, path, problems)
    index = _index(entities, data, path, problems)
    if problems:
        raise CurationError(problems)
    return Curation(tuple(e for e, _ in entities), ignore, not_same, kinds, index)


def _unknown(key: Any, known: tuple[str, ...], where: str) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"unknown key '{key}'{where}.{hint} Known keys: {', '.join(known)}."


def _line(mapping: Any, key: Any, default: int | None) -> int | None:
    return yamlload.line_of(mapping, key, default)


def _str_list(value: Any, path: str, line: int | None, what: str, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(Problem(path, line, f"{what} must be a list of non-empty strings."))
        return ()
    return tuple(v.strip() for v in value)


def _strings(data: Mapping, key: str, path: str, problems: list[Problem]) -> tuple[str, ...]:
    return _str_list(data.get(key), path, _line(data, key, 1), f"'{key}'", problems)


def _entities(data: Mapping, path: str, problems: list[Problem]) -> list[tuple[CuratedEntity, int | None]]:
    raw = data.get("entities")
    top = _line(data, "entities", 1)
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem(path, top, "'entities' must be a list of entries, each with a name and a kind."))
        return []
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            problems.append(Problem(path, top,
                                    f"entry {i + 1} of 'entities' must be a mapping with a name and a kind."))
            continue
        line = _line(item, "name", None) or (min(item.lines.values()) if getattr(item, "lines", None) else top)
        before = len(problems)
        for key in item:
            if key not in _ENTITY_KEYS:
                problems.append(Problem(path, _line(item, key, line), _unknown(key, _ENTITY_KEYS, " in an entity")))
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(path, line, "an entity needs a 'name' (a non-empty string)."))
            name = ""
        kind = item.get("kind")
        if kind not in KINDS:
            problems.append(Problem(path, _line(item, "kind", line),
                                    f"entity {name!r}: kind must be one of {', '.join(KINDS)}, not {kind!r}."))
        description = item.get("description", "")
        if description is None:
            description = ""
        if not isinstance(description, str):
            problems.append(Problem(path, _line(item, "description", line),
                                    f"entity {name!r}: description must be a string."))
            description = ""
        aliases = _str_list(item.get("aliases"), path, _line(item, "aliases", line),
                            f"entity {name!r}: aliases", problems)
        links = _str_list(item.get("links"), path, _line(item, "links", line), f"entity {name!r}: links", problems)
        for link in links:
            if not link.startswith(("http://", "https://")):
                problems.append(Problem(path, _line(item, "links", line),
                                        f"entity {name!r}: link {link!r} must start with http:// or https://."))
        formerly = _str_list(item.get("formerly"), path, _line(item, "formerly", line),
                             f"entity {name!r}: formerly", problems)
        if len(problems) == before:
            out.append((CuratedEntity(name.strip(), kind, aliases, description.strip(), links, formerly), line))
    return out


def _not_same(data: Mapping, path: str, problems: list[Problem]) -> frozenset[frozenset[str]]:
    raw = data.get("not_same")
    line = _line(data, "not_same", 1)
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        problems.append(Problem(path, line,
                                "'not_same' must be a list of groups, e.g. [[\"Assad\", \"Hafez al-Assad\"]]."))
        return frozenset()
    pairs = set()
    for group in raw:
        if (not isinstance(group, list) or len(group) < 2
                or not all(isinstance(g, str) and g.strip() for g in group)):
            problems.append(Problem(path, line, f"'not_same' entry {group!r} must be a list of two or more names."))
            continue
        norms = [norm(g) for g in group]
        for i, a in enumerate(norms):
            for b in norms[i + 1:]:
                if a != b:
                    pairs.add(frozenset((a, b)))
    return frozenset(pairs)


def _kinds(data: Mapping, path: str, problems: list[Problem]) -> Mapping[str, str]:
    raw = data.get("kinds")
    line = _line(data, "kinds", 1)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, line, "'kinds' must be a mapping of name to kind, e.g. {\"Anbar\": place}."))
        return {}
    out = {}
    for form, kind in raw.items():
        if kind not in KINDS:
            problems.append(Problem(path, _line(raw, form, line),
                                    f"kinds: {form!r} has kind {kind!r}; kinds are {', '.join(KINDS)}."))
        else:
            out[norm(str(form))] = kind
    return out


def _index(entities: list[tuple[CuratedEntity, int | None]], data: Mapping, path: str,
           problems: list[Problem]) -> dict[str, int]:
    index: dict[str, int] = {}
    owner_line: dict[int, int | None] = {}
    for i, (ent, line) in enumerate(entities):
        owner_line[i] = line
        for form in ent.forms:
            key = norm(form)
            other = index.get(key)
            if other is None:
                index[key] = i
                cleaned = clean_span(form, 0, len(form), ent.kind)
                if cleaned and cleaned != (0, len(form)):
                    index.setdefault(norm(form[cleaned[0]:cleaned[1]]), i)
            elif other != i:
                first = entities[other][0]
                problems.append(Problem(
                    path, line,
                    f"{form!r} is claimed by both {first.name!r} (line {owner_line[other]}) and {ent.name!r}. "
                    "Keep it on one entity, or list the pair under not_same if they are different.",
                ))
    return index
