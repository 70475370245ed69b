"""Resolution: raw model spans -> clean mentions -> one canonical entity per real-world entity.

Pure functions on plain dataclasses (defined here), in three steps:

1. `candidates` (clusters.py): clean each predicted span (articles, possessives, titles), drop
   junk, keep a headline or Title Case heading span only when it is supported (found in the body,
   or in the re-cased headline), and weigh each label against the words around it (kinds.py).
2. `local_clusters` (clusters.py): within one article, tie short forms to full names (surnames,
   "the Framework" after "Coordination Framework", acronyms defined in parentheses, `known as
   "..."` aliases) and vote one kind per entity.
3. `resolve_archive` (here): across articles, merge clusters by full name and strong aliases
   (acronym, known-as, curated), give one name one kind by archive-wide vote, then attach a lone
   short form ("Clinton") only when one entity in the whole archive could be meant; curation
   always wins.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

from . import kinds
from .curation import EMPTY, Curation
from .model import Entity, Mention
from .names import (
    acronym_letters,
    initials,
    is_short_form,
    is_shouting,
    name_tokens,
    norm,
    slug,
    surname_keys,
)


@dataclass(frozen=True)
class Span:
    """One span predicted by the pipeline (cached as is)."""

    start: int
    end: int
    label: str
    ent_id: str = ""  # the curated name, when the entity_ruler found it


@dataclass(frozen=True)
class Annotation:
    """What the model said about one article: the only output of the expensive stage."""

    spans: tuple[Span, ...]  # on Article.text
    recased: tuple[Span, ...] = ()  # on the re-cased headline (same offsets)
    headline_cased: bool = False  # the headline is Title Case or ALL CAPS


@dataclass(slots=True)
class Candidate:
    start: int
    end: int
    text: str
    kind: str
    curated: str = ""  # curated entity name
    weight: float = 1.0  # how sure the kind is (kinds.py)


class Seen(NamedTuple):
    """A Candidate as stored between builds (stored.decode_local): resolution only reads it, and
    an archive has hundreds of thousands, made anew every build."""

    start: int
    end: int
    text: str
    kind: str
    curated: str
    weight: float


@dataclass(slots=True)
class LocalCluster:
    """One entity as seen inside one article."""

    source: str
    name: str
    kind: str
    mentions: list[Candidate] | list[Seen]
    strong: set[str] = field(default_factory=set)  # norms that identify it across articles
    # A Counter while the article is analysed; a plain dict when read back (stored.decode_local).
    forms: dict[str, int] = field(default_factory=Counter)  # display form -> mentions
    curated: str = ""
    demonym: bool = False  # a nationality word attached to its place: never names the entity
    votes: dict[str, float] = field(default_factory=Counter)  # kind -> weighted votes (kinds.py)
    # `lone`, once asked: resolution asks it of every cluster several times, and changes
    # none of what it reads (name, curated, strong).
    _lone: bool | None = field(default=None, compare=False, repr=False)

    @property
    def lone(self) -> bool:
        """Only known by one short name here ("Clinton"): attached across articles with care."""
        got = self._lone
        if got is None:
            got = self._lone = not self.curated and len(self.strong) <= 1 and len(name_tokens(self.name)) <= 1
        return got


class _Union:
    def __init__(self, n: int):
        self.parent = list(range(n))
        self.joined: list[int] = []  # the roots merged since the last `_regroup`, both sides

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
            self.joined += (ra, rb)


# -- 3. across the archive --------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    mentions: Mapping[str, tuple[Mention, ...]]
    entities: Mapping[str, Entity]
    redirects: Mapping[str, str]


@dataclass(frozen=True)
class Assignment:
    """The archive resolved before its mentions are made: each cluster's entity. What a check
    of a guess compares (guess_check.check_guess): a mention is its cluster's span, with the
    entity's kind and key."""

    clusters: Sequence[LocalCluster]
    keys: list[str]  # the entity of each of `clusters`
    entities: dict[str, Entity]  # by key, sorted
    redirects: dict[str, str]  # sorted

    def resolved(self) -> Resolved:
        mentions: dict[str, list[Mention]] = defaultdict(list)
        new = tuple.__new__  # Mention(...) costs more, 400,000 times
        entities = self.entities
        for c, key in zip(self.clusters, self.keys, strict=True):
            kind = entities[key].kind
            mentions[c.source] += [new(Mention, (m.start, m.end, m.text, kind, key)) for m in c.mentions]
        return Resolved({src: tuple(sorted(ms, key=_START)) for src, ms in sorted(mentions.items())},
                        self.entities, self.redirects)


@dataclass
class Outside:
    """What resolving one region of the archive (region.py) is told of the clusters outside it.

    Every pass reads other clusters either through a shared name, strong key or slug, which a
    region holds all of, or through one of these lookups, which cross its edge: whether some
    person outside is named with a word (by the kinds the model gave, and after
    person_words_stay_people), and which groups outside are known by a short form or a one-word
    form of a person (before lone names are attached; a group by its entity's key). A lone name
    in the region that would join a group outside puts it in `needed` instead."""

    words: Callable[[tuple[str, ...]], bool] = lambda key: False
    persons: Callable[[tuple[str, ...]], bool] = lambda key: False
    short: Callable[[tuple], Collection[str]] = lambda key: ()
    people: Callable[[tuple[str, ...]], Collection[str]] = lambda key: ()
    needed: set[str] = field(default_factory=set)


@dataclass
class Trace:
    """What a resolution leaves for region.py: each cluster's kind as the model gave it and
    after person_words_stay_people, and the groups before lone names were attached."""

    kinds: list[str] = field(default_factory=list)
    kinds_after_words: list[str] = field(default_factory=list)
    before_lone: dict[int, list[int]] = field(default_factory=dict)


def resolve_archive(clusters: Sequence[LocalCluster], curation: Curation = EMPTY, *,
                    demonyms: bool = True) -> Resolved:
    """One canonical entity per real-world entity across all articles' clusters."""
    return assign(clusters, curation, demonyms=demonyms).resolved()


def assign(clusters: Sequence[LocalCluster], curation: Curation = EMPTY, *, demonyms: bool = True,
           outside: Outside | None = None, trace: Trace | None = None) -> Assignment:
    """`resolve_archive`, but each cluster's entity rather than each article's mentions.
    `outside`: what a region (region.py) is told of the archive around it; `trace`: filled for
    region.py."""
    if trace is not None:
        trace.kinds = [c.kind for c in clusters]
    kinds.person_words_stay_people(clusters, outside.words if outside else None)
    if trace is not None:
        trace.kinds_after_words = [c.kind for c in clusters]
    n = len(clusters)
    uf = _Union(n)
    index: dict[tuple[str, str], int] = {}
    for i, cl in enumerate(clusters):
        strong = cl.strong
        keys = ([("curated", cl.curated)] if cl.curated else
                [(cl.kind, s) for s in (strong if len(strong) == 1 else sorted(strong))])
        for key in keys:
            if key in index:
                j = index[key]
                if not (clusters[j].curated or cl.curated) and curation.apart(clusters[j].name, cl.name):
                    continue
                uf.union(j, i)
            else:
                index[key] = i
    groups = _groups(uf, n)
    kinds.merge_same_names(clusters, groups, uf, curation, outside.persons if outside else None)
    groups = _regroup(uf, groups)
    if demonyms:
        kinds.attach_demonyms(clusters, groups, uf, curation)
        groups = _regroup(uf, groups)
    kinds.merge_group_plurals(clusters, groups, uf, curation)
    groups = _regroup(uf, groups)
    if trace is not None:
        trace.before_lone = dict(groups)  # (_regroup replaces a merged group's list, never changes one)
    _attach_lone(clusters, groups, uf, curation, outside)
    groups = _regroup(uf, groups)
    return _entities(clusters, groups, curation)


def _groups(uf: _Union, n: int) -> dict[int, list[int]]:
    """Each root (its smallest member) -> its members, in order. A union points the larger root
    at the smaller and a find points a member at its grandparent, so every parent precedes its
    child: one pass in order finds every root, and leaves each member pointing at it."""
    parent = uf.parent
    for i in range(n):
        parent[i] = parent[parent[i]]
    groups: dict[int, list[int]] = defaultdict(list)
    for i, root in enumerate(parent):
        groups[root].append(i)
    uf.joined = []
    return groups


def _regroup(uf: _Union, groups: dict[int, list[int]]) -> dict[int, list[int]]:
    """`_groups(uf, n)` from the groups before the last pass's unions, changing only the groups
    they merged (a pass merges a few hundred of 20,000). Every root merged was a root of
    `groups`, and the one a merge keeps is the smaller, already before the others in order."""
    joined = set(uf.joined)
    uf.joined = []
    merged: dict[int, list[int]] = defaultdict(list)
    for root in joined:
        merged[uf.find(root)].append(root)
    for root, parts in merged.items():
        members = [i for part in parts for i in groups[part]]
        members.sort()
        for part in parts:
            if part != root:
                del groups[part]
        groups[root] = members
    return groups


def _attach_lone(clusters: Sequence[LocalCluster], groups: dict[int, list[int]], uf: _Union,
                 curation: Curation, outside: Outside | None = None) -> None:
    """Attach entities known only by one short name to the single entity it can mean; a lone
    word labelled an organization may mean a person ("Sistani's call")."""
    people = kinds.person_short_names(clusters, groups)
    lone_groups = [root for root, members in groups.items()
                   if (clusters[root].lone if len(members) == 1 else all(clusters[i].lone for i in members))]
    # What each lone group asks the index for: its kind, and its acronym or its words. Only
    # those keys are indexed (at 10,000 articles 2,300 of the 21,000 distinct names give one).
    asks: dict[int, tuple[str, tuple[str, ...]]] = {}
    for root in lone_groups:
        members = groups[root]
        cl = clusters[root]
        acronym = acronym_letters(cl.name)
        kind = kinds.archive_kind([cl] if len(members) == 1 else [clusters[i] for i in members])
        asks[root] = (kind, ("#acronym", acronym) if acronym else name_tokens(cl.name))
    asked = set(asks.values())
    short_index: dict[tuple[str, tuple[str, ...]], set[int]] = defaultdict(set)
    keys_of: dict[tuple[str, str, str], tuple] = {}  # the same names recur in thousands of clusters
    for root, members in groups.items():
        if root in asks:
            continue
        for i in members:
            cl = clusters[i]
            kind, name = cl.kind, cl.name
            for form in (*cl.forms, name):
                named = (kind, form, name)
                keys = keys_of.get(named)
                if keys is None:
                    keys = keys_of[named] = tuple(k for k in _short_form_keys(kind, form, name) if k in asked)
                for key in keys:
                    short_index[key].add(root)
    for root in lone_groups:
        targets = short_index.get(asks[root], set())
        beyond = outside.short(asks[root]) if outside is not None else ()
        target = next(iter(targets)) if len(targets) == 1 and not beyond else None
        if len(beyond) == 1 and not targets:
            outside.needed.update(beyond)  # type: ignore[union-attr]
            continue
        if not targets and not beyond:
            found = kinds.person_for_short_name(clusters, groups, root, people, outside.people if outside else None)
            if isinstance(found, str):
                outside.needed.add(found)  # type: ignore[union-attr]
                continue
            target = found
        if target is None:
            continue
        cl = clusters[root]
        target_names = {clusters[i].name for i in groups[target]}
        if any(curation.apart(cl.name, t) for t in target_names):
            continue
        uf.union(target, root)


def _short_form_keys(kind: str, form: str, name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The short forms under which a lone name may find the entity known by `form`."""
    keys = []
    toks = name_tokens(form)
    if len(toks) > 1 and kind == "person":
        keys += [(kind, key) for key in surname_keys(form)]
    if len(toks) > 1 and initials(form):
        keys.append((kind, ("#acronym", initials(form))))
    elif toks and not (kind != "person" and is_short_form(form, name) == "suffix"):
        # "the Parliament" meant the European Parliament in one article, not in all
        keys.append((kind, toks))
    return tuple(keys)


def _entities(clusters: Sequence[LocalCluster], groups: dict[int, list[int]], curation: Curation) -> Assignment:
    entities: dict[str, Entity] = {}
    keys: list[str] = [""] * len(clusters)
    redirects: dict[str, str] = {}
    for members in _most_mentioned_first(clusters, groups):
        if len(members) == 1 and not clusters[members[0]].curated:  # most entities: one article's
            c = clusters[members[0]]
            name = c.name
            kind = curation.kind_of(name) or kinds.archive_kind([c])
            key = _unique_key(f"{kind}/{slug(name)}", entities, [c])
            own = norm(name)
            aliases = [f for f in c.forms if norm(f) != own]
            entities[key] = Entity(key, name, kind, tuple(sorted(dedupe_forms(aliases))) if aliases else ())
            keys[members[0]] = key
            continue
        cls = [clusters[i] for i in members]
        curated = next((c.curated for c in cls if c.curated), "")
        cur = curation.find(curated) if curated else None
        forms: set[str] = set()
        for c in cls:
            forms.update(c.forms)
        if cur is not None:
            name, kind = cur.name, cur.kind
        else:
            name = _canonical_name(cls)
            kind = curation.kind_of(name) or kinds.archive_kind(cls)
        key = _unique_key(f"{kind}/{slug(name)}", entities, cls)
        own = norm(name)
        aliases = {f for f in forms if norm(f) != own}
        if cur is not None:
            aliases.update(a for a in cur.aliases if norm(a) != own)
        aliases = dedupe_forms(aliases)
        entities[key] = Entity(key, name, kind, tuple(sorted(aliases)),
                               cur.description if cur else "", cur.links if cur else ())
        for i in members:
            keys[i] = key
        if cur is not None:
            # Old URLs keep working: names listed as `formerly`, and curated aliases, which is
            # how a merge ("X is an alias of Y") or a rename (the old name kept as an alias)
            # is written; keys of entities that still exist are dropped below.
            for old in (*cur.formerly, *cur.aliases):
                old_key = old if "/" in old else f"{kind}/{slug(old)}"
                if old_key != key:
                    redirects.setdefault(old_key, key)
    return Assignment(clusters, keys, dict(sorted(entities.items())),
                      dict(sorted((k, v) for k, v in redirects.items() if k not in entities)))


_START = itemgetter(0)  # Mention.start


def _most_mentioned_first(clusters: Sequence[LocalCluster], groups: dict[int, list[int]]) -> list[list[int]]:
    """The groups, most mentioned first (then by their first article), so that the bare key of
    a name goes to the best-known entity of that name; in their order where that ties."""
    keyed = []
    for members in groups.values():
        if len(members) == 1:  # most of them
            c = clusters[members[0]]
            keyed.append((-len(c.mentions), c.source, members))
        else:
            keyed.append((-sum(len(clusters[i].mentions) for i in members),
                          min(clusters[i].source for i in members), members))
    keyed.sort(key=_COUNT_AND_SOURCE)
    return [members for _, _, members in keyed]


_COUNT_AND_SOURCE = itemgetter(0, 1)


def _canonical_name(cls: list[LocalCluster]) -> str:
    if len(cls) == 1:  # most entities: whichever list below is taken, it is this one name
        return cls[0].name
    names: Counter = Counter()
    full = [c for c in cls if not c.lone and not c.demonym] or [c for c in cls if not c.demonym] or cls
    for c in full:
        names[c.name] += 1
    return max(names, key=lambda f: (not is_shouting(f), names[f], len(name_tokens(f)), len(f), f))


def _unique_key(key: str, taken: Mapping[str, Entity], cls: list[LocalCluster]) -> str:
    if key not in taken:
        return key
    first = min(c.source for c in cls)
    suffix = slug(first)[-24:].strip("-")
    candidate = f"{key}--{suffix}"
    i = 2
    while candidate in taken:
        candidate = f"{key}--{suffix}-{i}"
        i += 1
    return candidate


def dedupe_forms(forms: Iterable[str]) -> set[str]:
    """One display form per norm, preferring mixed case."""
    best: dict[str, str] = {}
    for f in sorted(forms):
        k = norm(f)
        if k not in best or (is_shouting(best[k]) and not is_shouting(f)):
            best[k] = f
    return set(best.values())
