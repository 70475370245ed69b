"""An edit's resolution by region: the last resolution kept, and only what an edit can reach
resolved again (for the enrich stage, in place of resolving the whole archive).

Resolution (resolve.assign) reads other clusters of the archive in two ways:

- through a shared *link*: the same name or form (same-name merges, plurals, demonyms and the
  places they name), the same strong key, the same slug (which entity gets the bare key), the
  same entity in the end (a lone name attached to it);
- through a *lookup*: whether a word names some person anywhere (person_words_stay_people,
  merge_same_names), and which groups, before lone names are attached, are known by a short
  form or by a person's one-word form (_attach_lone: a lone name joins the one group it can
  mean).

A *region* is a set of clusters closed under links. Resolving a region alone, told by `Outside`
what the lookups find beyond it, gives its clusters the groups and entities that resolving the
whole archive gives them, and leaves every cluster outside as it was, as long as nothing outside
reads a lookup whose answer the region changed. So an edit is resolved by taking the region of
the edited articles' clusters, old and new, resolving it as it was and as it is now, and, where
a lookup's answer changed (a person named with a new word, a short form now known by one group
more), adding the clusters that read it and going again. The region as it was must come out as
the last result had it: that is checked every time, and the edit falls back to resolving the
whole archive when it does not (or when the region grows past `MAX_SHARE` of the archive, or
curated entities are involved).

The index of the last resolution (`RegionIndex`, made by `index_of` from a resolution's `Trace`)
keeps the links, who reads which lookup, and the lookups' answers counted over the archive.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from . import kinds
from .curation import Curation
from .model import Entity, Mention
from .names import acronym_letters, demonym_places, name_tokens, norm, slug, surname_keys
from .resolve import Assignment, LocalCluster, Outside, Trace, _short_form_keys, assign
from .stored import _local_of

_START = itemgetter(0)  # Mention.start

# A region larger than this share of the archive's clusters, and than MIN_REGION clusters:
# the archive is resolved whole instead (it costs about as much; a small archive never is).
MAX_SHARE = 0.25
MIN_REGION = 2000
# Rounds of adding the readers of changed lookups before giving up.
MAX_ROUNDS = 12


def link_keys(c: LocalCluster) -> set[tuple]:
    """What ties a cluster to others whatever the lookups say (kind left out: a pass may change it)."""
    keys = set(_name_links(c.name))
    keys.update(("n", norm(f)) for f in c.forms)
    keys.update(("s", s) for s in c.strong)
    if c.curated:
        keys.add(("c", c.curated))
    return keys


_NAME_LINKS: dict[str, frozenset[tuple]] = {}  # the same names recur in thousands of clusters
_NAME_READS: dict[tuple[str, bool], frozenset[tuple]] = {}


def _name_links(name: str) -> frozenset[tuple]:
    got = _NAME_LINKS.get(name)
    if got is None:
        own = norm(name)
        keys = {("n", own), ("g", slug(name))}
        keys.update(("n", s) for s in kinds._singulars(own))  # a plural's singular
        keys.update(("n", norm(p)) for p in demonym_places(name))  # a demonym's places
        got = _NAME_LINKS[name] = frozenset(keys)
    return got


def reader_keys(c: LocalCluster) -> frozenset[tuple]:
    """The lookups a cluster may read (more than it does: a reader too many only costs time)."""
    lone = c.lone
    got = _NAME_READS.get((c.name, lone))
    if got is None:
        keys = set()
        if lone:
            toks = name_tokens(c.name)
            keys.add(("a", toks))  # person_words_stay_people
            acronym = acronym_letters(c.name)
            keys.add(("f", ("#acronym", acronym) if acronym else toks))  # _attach_lone's short forms
            keys.add(("f", toks))  # kinds.person_for_short_name
        own = name_tokens(norm(c.name))
        if len(own) <= 1:
            keys.add(("p", own))  # merge_same_names
        got = _NAME_READS[(c.name, lone)] = frozenset(keys)
    return got


def person_words(c: LocalCluster) -> set[tuple[str, ...]]:
    """The words a person cluster names a person by (person_words_stay_people, person_names)."""
    out: set[tuple[str, ...]] = set()
    for form in set(c.forms) | {c.name}:
        toks = name_tokens(form)
        if len(toks) > 1:
            out.update(surname_keys(form))
            out.add(toks[:1])
    return out


def _short_writers(clusters: Sequence[LocalCluster], before_lone: Mapping[int, list[int]],
                   group_id: Callable[[int], str]) -> dict[tuple, set[str]]:
    """Each short-form key (_attach_lone) -> the groups known by it that a lone name may join."""
    out: dict[tuple, set[str]] = defaultdict(set)
    for root, members in before_lone.items():
        if all(clusters[i].lone for i in members):
            continue
        gid = group_id(root)
        for i in members:
            c = clusters[i]
            for form in (*c.forms, c.name):
                for key in _short_form_keys(c.kind, form, c.name):
                    out[key].add(gid)
    return out


def _people(clusters: Sequence[LocalCluster], before_lone: dict[int, list[int]],
            group_id: Callable[[int], str]) -> dict[tuple, set[str]]:
    return {toks: {group_id(r) for r in roots}
            for toks, roots in kinds.person_short_names(clusters, before_lone).items()}


@dataclass
class RegionIndex:
    """What `resolve_edit` needs of the last resolution besides its result. Clusters are named
    by numbers that stay theirs while the index is patched (`RegionEdit.patch`): an edited
    article's clusters are given new numbers, and the old ones are left with no entity."""

    sources: list[str]  # the articles, in order
    ids_of: dict[str, list[int]]  # each article's clusters, in order
    rank_of: list[int]  # cluster -> its article's place in `sources`
    place_of: list[int]  # cluster -> its place among its article's clusters
    keys: list[str]  # cluster -> its entity ("" once the cluster is gone)
    link_ids: dict[tuple, int]  # link key -> its number
    linked: list[list[int]]  # link number -> the clusters with that key
    links_of: list[tuple[int, ...]]  # cluster -> its link numbers
    readers: dict[tuple, list[int]]  # lookup key -> clusters that may read it
    words: Counter  # person word -> clusters naming a person by it (the model's kinds)
    persons: Counter  # the same, with the kinds after person_words_stay_people
    turned: dict[int, str]  # the clusters person_words_stay_people gave another kind: that kind
    short: dict[tuple, set[str]]  # short-form key -> entities of the groups known by it (before lone)
    people: dict[tuple, set[str]]  # one-word form -> entities of the people known by it
    _members: dict[str, list[int]] | None = field(default=None, repr=False)

    def members(self, entity: str) -> list[int]:
        if self._members is None:
            self._members = defaultdict(list)
            for i, key in enumerate(self.keys):
                self._members[key].append(i)
        return self._members.get(entity, [])

    def worn(self) -> bool:
        """Whether a quarter of its numbers are of clusters gone (each edit leaves its article's
        old clusters numbered): made from scratch again rather than patched further."""
        return self.keys.count("") * 4 > len(self.keys)

    def add(self, c: LocalCluster, rank: int, place: int, entity: str) -> int:
        """Number a new cluster, with its links and lookups."""
        i = len(self.keys)
        self.rank_of.append(rank)
        self.place_of.append(place)
        self.keys.append(entity)
        ids = []
        for key in link_keys(c):
            n = self.link_ids.get(key)
            if n is None:
                n = self.link_ids[key] = len(self.linked)
                self.linked.append([])
            self.linked[n].append(i)
            ids.append(n)
        self.links_of.append(tuple(ids))
        for key in reader_keys(c):
            self.readers.setdefault(key, []).append(i)
        return i

    def count_words(self, c: LocalCluster, kind: str, after: str, sign: int) -> None:
        """Count a cluster's person words in (sign 1) or out (-1), by its kind as the model gave
        it and after person_words_stay_people."""
        if kind != "person" and after != "person":
            return
        named = person_words(c)
        for counter, counted in ((self.words, kind == "person" and not c.curated), (self.persons, after == "person")):
            if counted:
                for word in named:
                    left = counter[word] + sign
                    if left:
                        counter[word] = left
                    else:
                        del counter[word]

    def writers(self, clusters: Sequence[LocalCluster], before_lone: dict[int, list[int]],
                entity_of: Callable[[int], str], sign: int) -> None:
        """Add (sign 1) or take away (-1) the short forms and one-word forms of people that the
        groups of a resolution of `clusters` are known by."""
        for table, found in ((self.short, _short_writers(clusters, before_lone, entity_of)),
                             (self.people, _people(clusters, before_lone, entity_of))):
            for key, entities in found.items():
                if sign > 0:
                    table.setdefault(key, set()).update(entities)
                else:
                    left = table.get(key, set()) - entities
                    if left:
                        table[key] = left
                    else:
                        table.pop(key, None)

    def to_plain(self) -> tuple:
        return (self.sources, self.ids_of, self.rank_of, self.place_of, self.keys, self.link_ids, self.linked,
                self.links_of, self.readers, dict(self.words), dict(self.persons), self.turned, self.short,
                self.people)

    @classmethod
    def from_plain(cls, data: tuple) -> RegionIndex:
        fields = list(data)
        fields[9], fields[10] = Counter(fields[9]), Counter(fields[10])
        return cls(*fields)


def index_of(sources: Sequence[str], counts: Sequence[int], clusters: Sequence[LocalCluster], trace: Trace,
             assigned: Assignment) -> RegionIndex:
    """The index of a resolution of `clusters` (`counts[i]` of them from `sources[i]`, in order)
    that filled `trace`; the clusters as that resolution left them."""
    index = RegionIndex(list(sources), {}, [], [], [], {}, [], [], {}, Counter(), Counter(), {}, {}, {})
    i = 0
    for rank, (source, n) in enumerate(zip(sources, counts, strict=True)):
        ids = index.ids_of[source] = []
        for place in range(n):
            c = clusters[i]
            ids.append(index.add(c, rank, place, assigned.keys[i]))
            kind, after = trace.kinds[i], trace.kinds_after_words[i]
            index.count_words(c, kind, after, 1)
            if after != kind:
                index.turned[i] = after
            i += 1
    index.writers(clusters, trace.before_lone, assigned.keys.__getitem__, 1)
    return index


@dataclass
class _Side:
    """A region resolved as the archive was (old) or is (new)."""

    clusters: list[LocalCluster]
    refs: list[tuple[str, int]]  # each cluster's article and place in it
    ids: list[int]  # each cluster's number in the index (-1: an edited article's new cluster)
    assigned: Assignment
    trace: Trace
    needed: set[str]


@dataclass
class RegionEdit:
    """An edit resolved by region: the archive's mentions and entities after it, and what the
    index of the last resolution needs to become that of this one (`patch`)."""

    mentions: dict[str, tuple[Mention, ...]]
    entities: dict[str, Entity]
    old: _Side
    new: _Side
    changed: set[str]
    touched: set[str]  # the articles whose mentions were made again

    def patch(self, index: RegionIndex) -> None:
        """Make `index` (the one this edit was resolved from) the index of this resolution."""
        old, new = self.old, self.new
        for c, kind, after in zip(old.clusters, old.trace.kinds, old.trace.kinds_after_words, strict=True):
            index.count_words(c, kind, after, -1)
        index.writers(old.clusters, old.trace.before_lone, lambda root: old.assigned.keys[root], -1)
        for source in self.changed:
            for i in index.ids_of.get(source, ()):
                index.keys[i] = ""
                index.turned.pop(i, None)
            index.ids_of[source] = []
        rank = {source: r for r, source in enumerate(index.sources)}
        for c, (source, place), i, key, kind, after in zip(new.clusters, new.refs, new.ids, new.assigned.keys,
                                                          new.trace.kinds, new.trace.kinds_after_words, strict=True):
            if i < 0:
                i = index.add(c, rank[source], place, key)
                index.ids_of[source].append(i)
            index.keys[i] = key
            index.count_words(c, kind, after, 1)
            if after != kind:
                index.turned[i] = after
            else:
                index.turned.pop(i, None)
        index.writers(new.clusters, new.trace.before_lone, lambda root: new.assigned.keys[root], 1)
        index._members = None


def resolve_edit(index: RegionIndex, changed: Iterable[str], old_raw: Callable[[str], Sequence[tuple]],
                 new_raw: Callable[[str], Sequence[tuple]], mentions: Mapping[str, Sequence[Mention]],
                 entities: Mapping[str, Entity], curation: Curation, *, demonyms: bool = True,
                 max_share: float = MAX_SHARE, min_region: int = MIN_REGION) -> RegionEdit | None:
    """The archive after the articles `changed` changed, from the last resolution (`index`, its
    `mentions` and `entities`); None when it must be resolved whole (also when the region grows
    past `max_share` of the archive's clusters and past `min_region` clusters).

    `old_raw(source)`, `new_raw(source)`: an article's clusters as stored (same_names.RawCluster)
    as they were and as they are (the same for an article not changed)."""
    if curation.entities:  # curated entities bring redirects and names the links do not follow
        return None
    changed = set(changed)
    if any(source not in index.ids_of for source in changed):
        return None
    limit = max(max_share * len(index.keys), min_region)
    region: set[int] = set()
    seen_links: set[int] = set()
    seen_entities: set[str] = set()
    linked, links_of, keys = index.linked, index.links_of, index.keys

    def close(start: Iterable[int], links: Iterable[int] = ()) -> bool:
        """Add `start` and the clusters linked to them; False when the region grows too large."""
        todo = [i for i in start if i not in region]
        region.update(todo)
        more = list(links)
        while todo or more:
            for n in more:
                if n not in seen_links:
                    seen_links.add(n)
                    fresh = [j for j in linked[n] if keys[j] and j not in region]
                    region.update(fresh)
                    todo += fresh
            if len(region) > limit:
                return False
            more = []
            while todo:
                i = todo.pop()
                entity = keys[i]
                if entity not in seen_entities:
                    seen_entities.add(entity)
                    fresh = [j for j in index.members(entity) if j not in region]
                    region.update(fresh)
                    todo += fresh
                more += links_of[i]
        return len(region) <= limit

    new_of_changed = [c for source in changed for c in _local_of(tuple(new_raw(source)), ()).clusters]
    new_links = {index.link_ids[key] for c in new_of_changed for key in link_keys(c) if key in index.link_ids}
    if not close([i for source in changed for i in index.ids_of[source]], new_links):
        return None
    for _ in range(MAX_ROUNDS):
        old, new, more = _resolve_region(index, region, changed, old_raw, new_raw, curation, demonyms)
        if old is None or new is None:
            return None  # the region as it was did not come out as the last result had it
        if any(entities.get(key) != entity for key, entity in old.assigned.entities.items()):
            return None
        if not more:
            return _result(old, new, changed, mentions, entities)
        if not close(more):
            return None
    return None


def _resolve_region(index: RegionIndex, region: set[int], changed: set[str],
                    old_raw: Callable[[str], Sequence[tuple]], new_raw: Callable[[str], Sequence[tuple]],
                    curation: Curation, demonyms: bool) -> tuple[_Side | None, _Side | None, set[int]]:
    """The region resolved as it was and as it is, and the clusters outside it that must join it
    (an empty set when none)."""
    rank_of, place_of = index.rank_of, index.place_of
    by_rank: dict[int, list[int]] = defaultdict(list)
    for i in sorted(region, key=lambda i: (rank_of[i], place_of[i])):
        by_rank[rank_of[i]].append(i)
    ranks = {source: r for r, source in enumerate(index.sources)}
    for source in changed:  # (a changed article with no cluster before)
        by_rank.setdefault(ranks[source], [])
    order = sorted(by_rank)

    def gather(side_raw: Callable[[str], Sequence[tuple]], new: bool) -> tuple[list, list, list[int]] | None:
        """The region's clusters on one side, in the archive's order; None when an article does
        not have the clusters the index numbers (an index not of this archive: never kept so)."""
        picked, refs, ids = [], [], []
        for r in order:
            source = index.sources[r]
            raw = side_raw(source)
            if new and source in changed:
                picked += raw
                refs += [(source, p) for p in range(len(raw))]
                ids += [-1] * len(raw)
                continue
            if len(raw) != len(index.ids_of[source]):
                return None
            for i in by_rank[r]:
                picked.append(raw[place_of[i]])
                refs.append((source, place_of[i]))
                ids.append(i)
        return _local_of(tuple(picked), ()).clusters, refs, ids

    gathered = gather(old_raw, False)
    if gathered is None:
        return None, None, set()
    old_cls, old_refs, old_ids = gathered
    if any(c.curated for c in old_cls):
        return None, None, set()
    own_words = Counter(w for c in old_cls if c.kind == "person" and not c.curated for w in person_words(c))
    own_persons = Counter(w for c, i in zip(old_cls, old_ids, strict=True)
                          if index.turned.get(i, c.kind) == "person" for w in person_words(c))
    region_entities = {index.keys[i] for i in region}

    def outside() -> Outside:
        words, persons = index.words, index.persons
        return Outside(
            words=lambda key: words.get(key, 0) > own_words.get(key, 0),
            persons=lambda key: persons.get(key, 0) > own_persons.get(key, 0),
            short=lambda key: {e for e in index.short.get(key, ()) if e not in region_entities},
            people=lambda key: {e for e in index.people.get(key, ()) if e not in region_entities})

    def resolve(cls: list[LocalCluster], refs: list, ids: list[int]) -> _Side:
        out, trace = outside(), Trace()
        assigned = assign(cls, curation, demonyms=demonyms, outside=out, trace=trace)
        return _Side(cls, refs, ids, assigned, trace, out.needed)

    old = resolve(old_cls, old_refs, old_ids)
    gathered = gather(new_raw, True)
    if gathered is None:
        return None, None, set()
    new_cls, new_refs, new_ids = gathered
    if any(c.curated for c in new_cls):
        return None, None, set()
    new_words = Counter(w for c in new_cls if c.kind == "person" and not c.curated for w in person_words(c))
    new = resolve(new_cls, new_refs, new_ids)
    if old.needed or new.needed:
        return old, new, {i for e in old.needed | new.needed for i in index.members(e)} - region
    if (any(key != index.keys[i] for key, i in zip(old.assigned.keys, old_ids, strict=True))
            or old.assigned.entities.keys() != region_entities):
        return None, None, set()
    more: set[int] = set()

    def readers(family: str, keys: Iterable) -> None:
        for key in keys:
            more.update(i for i in index.readers.get((family, key), ()) if index.keys[i])

    # A person named by a word somewhere, or no longer: the lone names of that word read it.
    readers("a", [w for w in own_words.keys() | new_words.keys()
                  if (index.words[w] > 0) != (index.words[w] - own_words[w] + new_words[w] > 0)])
    new_persons = Counter(w for c, kind in zip(new.clusters, new.trace.kinds_after_words, strict=True)
                          if kind == "person" for w in person_words(c))
    readers("p", [w for w in own_persons.keys() | new_persons.keys()
                  if (index.persons[w] > 0) != (index.persons[w] - own_persons[w] + new_persons[w] > 0)])
    # A short form known by more or fewer groups, a one-word form by other people.
    before, after = (_short_counts(side) for side in (old, new))
    readers("f", [key[1] for key in before.keys() | after.keys() if before.get(key) != after.get(key)])
    before_people, after_people = (_people_mentions(side) for side in (old, new))
    readers("f", [toks for toks in before_people.keys() | after_people.keys()
                  if before_people.get(toks) != after_people.get(toks)])
    return old, new, more - region


def _short_counts(side: _Side) -> dict[tuple, int]:
    writers = _short_writers(side.clusters, side.trace.before_lone, str)
    return {key: len(groups) for key, groups in writers.items()}


def _people_mentions(side: _Side) -> dict[tuple, list[int]]:
    """Each one-word form of a person -> how often each person known by it is named (what
    person_for_short_name weighs), in order."""
    clusters, groups = side.clusters, side.trace.before_lone
    return {toks: sorted(sum(len(clusters[i].mentions) for i in groups[r]) for r in roots)
            for toks, roots in kinds.person_short_names(clusters, groups).items()}


def _result(old: _Side, new: _Side, changed: set[str], mentions: Mapping[str, Sequence[Mention]],
            entities: Mapping[str, Entity]) -> RegionEdit | None:
    gone = old.assigned.entities.keys()
    out = {key: entity for key, entity in entities.items() if key not in gone}
    for key, entity in new.assigned.entities.items():
        if key in out:
            return None  # an entity outside with this key: not possible when slugs link (checked)
        out[key] = entity
    starts: dict[str, set[int]] = defaultdict(set)
    for c, (source, _) in zip(old.clusters, old.refs, strict=True):
        starts[source].update(m.start for m in c.mentions)
    made: dict[str, list[Mention]] = defaultdict(list)
    new_entities = new.assigned.entities
    for c, key, (source, _) in zip(new.clusters, new.assigned.keys, new.refs, strict=True):
        kind = new_entities[key].kind
        made[source] += [Mention(m.start, m.end, m.text, kind, key) for m in c.mentions]
    result = dict(mentions)
    touched = starts.keys() | made.keys() | changed
    for source in touched:
        away = starts.get(source, set())
        kept = [] if source in changed else [m for m in mentions.get(source, ()) if m.start not in away]
        result[source] = tuple(sorted(kept + made.get(source, []), key=_START))
    return RegionEdit(result, dict(sorted(out.items())), old, new, changed, set(touched))
