"""An edit's resolution from the last one (`from_last`, for the enrich stage): moved, or guessed.

Resolution across the archive (resolve.py) reads of each article only its local clusters, and
of those only what `signature` keeps: each cluster's name, kind, strong keys, forms, kind votes,
and its mentions' text, kind and weight, in order; never where in the text a mention is. When
every article that changed since the last build has the signature it had then (a writer fixing
prose, or adding a paragraph about the people already named), with the same articles in the
same order and the same entity settings, resolving the archive again would give the very same
groups, entities and keys. Only the offsets of the changed articles' mentions move.

So the last result is taken as it is, and each changed article's mentions are made from its new
clusters, each with the entity its cluster had (cluster i of the new analysis is cluster i of the
old one: the signatures match in order). Tags are recomputed by the caller: they read the words.
A test compares the result with a resolution from scratch.

An edit that does change a signature (a sentence naming people the archive already knows) is
*guessed* (`guessed_mentions`): each changed cluster takes the entity of an old cluster of the
same article with the same signature or name, or else the one entity the archive knows by that
name, and the entities themselves stay as they were. The build goes on with the guess while a
forked child resolves the archive from scratch (`check_guess`): the other core, idle while one
process plans and renders. Before anything reaches the site the build asks `Guess.settle`: the
child either confirms the guess (mentions, entities and redirects equal, in order) or sends the
right result, and the build then makes the site again from it. A wrong guess costs time, never
a wrong page; an edit naming someone new is not guessed at all.
"""

from __future__ import annotations

import dataclasses
import marshal
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from . import kinds
from .config import TagsConfig
from .curation import Curation
from .model import Article, Enrichment, Entity, Mention
from .names import norm, slug
from .resolve import Assignment, LocalCluster, dedupe_forms
from .stored import Analyses, PhraseCounts, _counter, _local_of, decode_enrichment
from .tags import Lexicon, key_phrases, tag_archive
from .workers import Forked, keep_until_exit

if TYPE_CHECKING:  # an edit resolved by region is only handed on here
    from .region import RegionEdit

# A stored cluster, as stored.encode_local writes it:
# (source, name, kind, mentions, strong, forms, curated, demonym, votes), each mention being
# (start, end, text, kind, curated, weight).
RawCluster = tuple
_START = itemgetter(0)
_SOURCE = attrgetter("source")

# How much lower the check's priority is than the build's (os.nice). With two cores, three
# processes share them while the build plans (it, its cells worker, the check): at 10,000, at
# the check's priority the edit naming people took 2.54 s, at +4 2.53 s, at +10 2.44-2.47 s
# (alternating pairs): the build's own path is what the edit waits for, and the check, ~1.1 s
# of processor time, still answers by the swap.
CHECK_NICENESS = 10


def signature(clusters: Sequence[RawCluster]) -> tuple:
    """Everything of an article's clusters that resolution reads (offsets left out)."""
    return tuple(map(_cluster_signature, clusters))


def _cluster_signature(cluster: RawCluster) -> tuple:
    source, name, kind, mentions, strong, forms, curated, demonym, votes = cluster
    return (source, name, kind, frozenset(strong), tuple(sorted(forms)), curated, demonym, tuple(sorted(votes)),
            tuple(m[2:] for m in mentions))


def moved_mentions(last: Sequence[Mention], old: Sequence[RawCluster],
                   new: Sequence[RawCluster]) -> tuple[Mention, ...] | None:
    """An article's mentions for its `new` clusters, each with the entity (and kind) that its
    counterpart in `old` had in the last result `last`; None when `last` does not hold them all."""
    by_start = {m.start: m for m in last}
    out: list[Mention] = []
    for before, after in zip(old, new, strict=True):
        first = by_start.get(before[3][0][0]) if before[3] else None
        if first is None:
            return None
        kind, entity = first.kind, first.entity
        out += [Mention(m[0], m[1], m[2], kind, entity) for m in after[3]]
    out.sort(key=_START)
    return tuple(out)


def reusable(last: Any, sources: Sequence[str], keys: Sequence[str], settings: str) -> bool:
    """Whether `last` (ResultStore.load_last) was resolved from the same articles, in the same
    order, with the same entity settings."""
    return (isinstance(last, dict) and last.get("settings") == settings
            and tuple(last.get("sources", ())) == tuple(sources) and len(last.get("keys", ())) == len(keys))


# -- an edit naming people already known: guessed, and checked aside ---------------------------


class EntityNames:
    """The archive's entities, and an index of them by the normalised form of their names and
    aliases (made on first use); entities a guess adds are added to both."""

    def __init__(self, entities: Mapping[str, Entity]):
        self.entities = dict(entities)
        self.added = False
        self._index: dict[str, dict[str, None]] | None = None

    def _forms(self) -> dict[str, dict[str, None]]:
        if self._index is None:
            self._index = {}
            for entity in self.entities.values():
                self._add_forms(entity)
        return self._index

    def _add_forms(self, entity: Entity) -> None:
        assert self._index is not None
        for form in (entity.name, *entity.aliases):
            self._index.setdefault(norm(form), {})[entity.key] = None

    def find(self, name: str, kind: str) -> str | None:
        """The one entity known by `name`: when several are, the one of `kind`, and when still
        several, the one whose name it is (in a large archive "International Monetary Fund" is
        also an alias of a committee's); None when none or many."""
        own = norm(name)
        keys = list(self._forms().get(own, ()))
        if len(keys) > 1:
            keys = [key for key in keys if self.entities[key].kind == kind]
        if len(keys) > 1:
            keys = [key for key in keys if norm(self.entities[key].name) == own]
        return keys[0] if len(keys) == 1 else None

    def known(self, name: str) -> bool:
        return norm(name) in self._forms()

    def add(self, entity: Entity) -> None:
        self._forms()
        self.entities[entity.key] = entity
        self._add_forms(entity)
        self.added = True


def guessed_mentions(last: Sequence[Mention], old: Sequence[RawCluster], new: Sequence[RawCluster],
                     names: EntityNames, unseen: Callable[[RawCluster], Entity | None]) -> tuple[Mention, ...] | None:
    """An article's mentions for its `new` clusters, each with the entity of an `old` cluster with
    the same signature, else with the same name and kind, else the one entity known by its name,
    else, for a name no entity is known by, the entity `unseen(cluster)` (added to `names`);
    None when a cluster finds none (`last`: the article's mentions in the last result)."""
    by_start = {m.start: m for m in last}
    same: dict[tuple, str] = {}
    named: dict[tuple[str, str], str] = {}
    for cluster in old:
        first = by_start.get(cluster[3][0][0]) if cluster[3] else None
        if first is None:
            return None
        same.setdefault(_cluster_signature(cluster), first.entity)
        named.setdefault((cluster[1], cluster[2]), first.entity)
    out: list[Mention] = []
    for cluster in new:
        entity = (same.get(_cluster_signature(cluster)) or named.get((cluster[1], cluster[2]))
                  or names.find(cluster[1], cluster[2]))
        if entity is None and not names.known(cluster[1]):
            made = unseen(cluster)
            if made is None or made.key in names.entities:
                return None
            names.add(made)
            entity = made.key
        if entity is None or entity not in names.entities:
            return None
        kind = names.entities[entity].kind
        out += [Mention(m[0], m[1], m[2], kind, entity) for m in cluster[3]]
    out.sort(key=_START)
    return tuple(out)


def lone_entity(cluster: LocalCluster, curation: Curation) -> Entity | None:
    """The entity resolution makes of a cluster that joins no other (resolve._entities, for one
    cluster); None for a curated one."""
    if cluster.curated:
        return None
    name = cluster.name
    kind = curation.kind_of(name) or kinds.archive_kind([cluster])
    own = norm(name)
    aliases = dedupe_forms(f for f in cluster.forms if norm(f) != own)
    return Entity(f"{kind}/{slug(name)}", name, kind, tuple(sorted(aliases)))


def without_unmentioned(entities: dict[str, Entity], mentions: Mapping[str, Sequence[Mention]],
                        maybe_gone: set[str]) -> dict[str, Entity]:
    """`entities` less those of `maybe_gone` that no article mentions any more (resolution makes
    an entity only of mentions)."""
    gone = set(maybe_gone)
    for ms in mentions.values():
        if not gone:
            break
        for m in ms:
            gone.discard(m.entity)
    return {k: e for k, e in entities.items() if k not in gone} if gone else entities


def check_guess(guess: Enrichment, resolve: Callable[[], tuple[list[str], Assignment]],
                last_keys: Callable[[], LastKeys | None] = lambda: None,
                by_region: Callable[[], RegionEdit | None] = lambda: None) -> tuple | None:
    """In the forked child: resolve the edit by region (`by_region()`, region.py) or else from
    scratch (`resolve()` -> the sources, in order, and each of their clusters' entity); None when
    the guess holds exactly the mentions, entities and redirects of that resolution, in the same
    order, else them, as plain tuples (stored.encode_enrichment's first, second and last parts).
    `last_keys()`: the entity of each cluster in the result the guess was made from
    (`cluster_keys`), when kept."""
    edit = by_region()
    if edit is not None:
        if _edit_holds(guess, edit):
            return None
        return ({source: tuple(tuple(m) for m in ms) for source, ms in edit.mentions.items()},
                {k: (x.key, x.name, x.kind, x.aliases, x.description, x.links) for k, x in edit.entities.items()},
                dict(guess.basis.redirects if guess.basis is not None else guess.redirects))
    sources, assigned = resolve()
    keep_until_exit(assigned)
    if holds(guess, sources, assigned, last_keys()):
        return None
    resolved = assigned.resolved()
    return ({source: tuple(tuple(m) for m in resolved.mentions.get(source, ())) for source in sources},
            {k: (x.key, x.name, x.kind, x.aliases, x.description, x.links) for k, x in resolved.entities.items()},
            dict(resolved.redirects))


def _edit_holds(guess: Enrichment, edit: RegionEdit) -> bool:
    """Whether `guess` has the mentions and entities of an edit resolved by region, in order
    (the redirects are the last result's: region.py resolves no curated entity)."""
    if list(guess.mentions) != list(edit.mentions) or list(guess.entities.items()) != list(edit.entities.items()):
        return False
    basis = guess.basis
    if basis is None or guess.redirects != basis.redirects:
        return False
    return all(guess.mentions[source] == edit.mentions[source] for source in edit.touched | guess.remade)


def holds(guess: Enrichment, sources: list[str], assigned: Assignment, last_keys: LastKeys | None = None) -> bool:
    """Whether `guess` has the mentions (by source, in `sources` order), entities and redirects
    that `assigned.resolved()` would make, in the same order: compared cluster by cluster, each
    of its mentions looked up in the guess by start, without making a resolution's 100,000s of
    mentions. With `last_keys`, the entities of the clusters of the result the guess was made
    from (`guess.basis`), an article the guess took unchanged from that result is compared by
    its clusters' entities alone (`_holds_by_keys`)."""
    if (list(assigned.entities.items()) != list(guess.entities.items())
            or list(assigned.redirects.items()) != list(guess.redirects.items())
            or list(guess.mentions) != sources):
        return False
    if last_keys is not None:
        held = _holds_by_keys(guess, sources, assigned, last_keys)
        if held is not None:
            return held
    counts = dict.fromkeys(sources, 0)
    for source, clusters, keys in _by_source(assigned):
        if source not in counts or not _clusters_hold(guess.mentions[source], clusters, keys, assigned.entities):
            return False
        counts[source] = 1
    # an article the resolution gives no cluster must have no mention in the guess either
    return all(n or not guess.mentions[source] for source, n in counts.items())


def _by_source(assigned: Assignment) -> Iterator[tuple[str, Sequence[LocalCluster], Sequence[str]]]:
    """Each article's run of clusters (they come article by article) and their entities."""
    clusters, keys = assigned.clusters, assigned.keys
    start = 0
    for source, run in groupby(map(_SOURCE, clusters)):
        end = start + sum(1 for _ in run)
        yield source, clusters[start:end], keys[start:end]
        start = end


def _clusters_hold(guessed: Sequence[Mention], clusters: Sequence[LocalCluster], keys: Sequence[str],
                   entities: Mapping[str, Entity]) -> bool:
    """Whether an article's guessed mentions are exactly those its `clusters` make with `keys`
    (the entity of each), in order of their starts."""
    starts = dict(zip(map(_START, guessed), guessed, strict=True))
    if len(starts) != len(guessed) or list(starts) != sorted(starts):  # a resolution's: in order, none together
        return False
    count = 0
    for cluster, key in zip(clusters, keys, strict=True):
        kind = entities[key].kind
        for m in cluster.mentions:
            got = starts.get(m.start)
            if got is None or got[1] != m.end or got[2] != m.text or got[3] != kind or got[4] != key:
                return False
        count += len(cluster.mentions)
    return count == len(guessed)  # every mention of the guess is one of the resolution's


def _holds_by_keys(guess: Enrichment, sources: list[str], assigned: Assignment, last_keys: LastKeys) -> bool | None:
    """`holds` for a guess made from the result `guess.basis` whose clusters' entities were
    `last_keys`, its entities and redirects already compared; None when it cannot tell.

    An article the edit left alone (not in `guess.remade`) has the clusters it had then, and
    the guess has its mentions of then: the very tuple. Those mentions are what its clusters
    made with their entities of then, each with its entity's kind, and every entity kept has
    its kind of then; so they are what the resolution makes exactly when it gives the article's
    clusters the same entities. The articles between two edited ones are compared as one run of
    keys (one C comparison), the edited ones mention by mention.
    """
    basis = guess.basis
    counts, last = last_keys
    if basis is None or list(counts) != sources:
        return None
    before, entities, kept = basis.mentions, assigned.entities, guess.entities  # (the last two equal)
    for key, entity in basis.entities.items():  # the kinds of then, where an entity is kept
        now = kept.get(key)
        if now is not None and now is not entity and now.kind != entity.kind:
            return None
    runs = {source: (clusters, keys) for source, clusters, keys in _by_source(assigned)}
    keys = assigned.keys
    i = j = i0 = j0 = 0  # in the resolution's keys and the last ones; where the run of unchanged articles began
    for source in sources:
        clusters, own = runs.get(source, ((), ()))
        n, m = len(clusters), counts[source]
        if source in guess.remade:
            if keys[i0:i] != last[j0:j] or not _clusters_hold(guess.mentions[source], clusters, own, entities):
                return False
            i0, j0 = i + n, j + m
        elif n != m or guess.mentions[source] is not before.get(source):
            return None  # not taken from the last result as it was: compared mention by mention
        i, j = i + n, j + m
    if i != len(keys) or j != len(last):
        return None
    return keys[i0:i] == last[j0:j]


# The entity of each cluster of a result (see `cluster_keys`): how many clusters each article
# has, articles in order, and their entities, one list.
LastKeys = tuple[dict[str, int], list[str]]


def cluster_keys(sources: Sequence[str], mentions: Mapping[str, Sequence[Mention]],
                 clusters_of: Callable[[str], Sequence[RawCluster]]) -> LastKeys | None:
    """The entity of each cluster (`clusters_of(source)`, as stored) in a result's `mentions`:
    that of all its mentions, which must be one. None when a cluster has no mention, a mention
    of a cluster is not in the result or has another entity than the cluster's first, or the
    result has a mention no cluster has: kept only when it says what made the result."""
    counts: dict[str, int] = {}
    keys: list[str] = []
    for source in sources:
        ms = mentions.get(source, ())
        entity_at = {m.start: m.entity for m in ms}
        clusters = clusters_of(source)
        covered = 0
        for cluster in clusters:
            spans = cluster[3]
            key = entity_at.get(spans[0][0]) if spans else None
            if key is None or any(entity_at.get(span[0]) != key for span in spans):
                return None
            keys.append(key)
            covered += len(spans)
        if covered != len(ms) or len(entity_at) != len(ms):
            return None
        counts[source] = len(clusters)
    return counts, keys


class Guess:
    """A guessed enrichment and its check, running in a forked child (`check_guess`)."""

    def __init__(self, check: Forked, correct: Callable[[tuple], Enrichment]):
        self.check = check
        self.correct = correct  # the right enrichment, from the child's answer
        self.answered = False
        self.right: Enrichment | None = None

    def settle(self) -> Enrichment | None:
        """Wait for the check: None when the guess was right, else the right enrichment."""
        if not self.answered:
            answer = self.check.result()
            self.answered = True
            if answer is not None:
                self.right = self.correct(answer)
        return self.right

    def close(self) -> None:
        self.check.close()



def cluster_keys_since(last_keys: LastKeys, sources: Sequence[str], result: Enrichment,
                       clusters_of: Callable[[str], Sequence[RawCluster]]) -> LastKeys | None:
    """`cluster_keys` of a `result` made from its `basis`, whose keys were `last_keys`, by new
    mentions for the articles in `result.remade` alone (a reused resolution, or a guess its
    check confirmed): every other article has the basis's very mentions, so its clusters' keys
    are taken as they were, and only the remade articles' are derived (a few clusters, not
    65,000). None when the result is not such a one."""
    counts, last = last_keys
    basis = result.basis
    if basis is None or list(counts) != list(sources):
        return None
    remade, now, then = result.remade, result.mentions, basis.mentions
    new_counts: dict[str, int] = {}
    keys: list[str] = []
    at = run = 0  # where the last keys of the run of articles taken as they were begins
    for source in sources:
        n = counts[source]
        if source in remade:
            own = cluster_keys([source], now, clusters_of)
            if own is None:
                return None
            keys += last[run:at]
            keys += own[1]
            new_counts[source] = own[0][source]
            run = at + n
        elif now.get(source) is not then.get(source):
            return None
        else:
            new_counts[source] = n
        at += n
    keys += last[run:at]
    return new_counts, keys

# -- the enrich stage's entry ---------------------------------------------------------------


def early_key_phrases(ordered: Sequence[Article], keys: list[str], phrases: PhraseCounts, new: Mapping[str, Any],
                      entries: Mapping[str, tuple[bytes, bytes]], last: Any, tags_config: TagsConfig,
                      lexicon: Lexicon) -> tuple[dict[str, list[str]], dict[str, int]] | None:
    """The key phrases `from_last` finds for its tags (and their document frequencies), found
    before the model has answered: they read each article's phrase counts, which are of its
    text alone (`new`: those of the articles whose analysis the model is making), never its
    mentions. None when the last build's are not there to start from."""
    per_article = tags_config.auto_per_article
    last_chosen, last_df = last.get("key_phrases"), last.get("phrase_df")
    if not (tags_config.auto and per_article > 0 and isinstance(last_chosen, dict) and isinstance(last_df, dict)):
        return None
    before = {}
    for art, then, now in zip(ordered, last["keys"], keys, strict=True):
        if then != now:
            blob = entries.get(then)
            if blob is None or art.source not in new:
                return None
            before[art.source] = _counter(marshal.loads(blob[1]))
    df: dict[str, int] = {}
    found = key_phrases(ordered, per_article, lexicon, _WithNew(phrases, new), last=last_chosen, before=before,
                        last_df=last_df, df_kept=df)
    return found, df


class _WithNew(Mapping[str, Any]):
    """Phrase counts: `new` for the articles it has, the stored ones (`PhraseCounts`) for the rest."""

    def __init__(self, stored: PhraseCounts, new: Mapping[str, Any]):
        self.stored, self.new = stored, new

    def __getitem__(self, source: str) -> Any:
        got = self.new.get(source)
        return got if got is not None else self.stored[source]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.stored, *self.new]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*self.stored, *self.new]))

    def holding(self, phrases: set[str]) -> set[str]:
        """The articles holding any of `phrases` (those in `new` looked at afresh)."""
        return ({s for s in self.stored.holding(phrases) if s not in self.new}
                | {s for s, counts in self.new.items() if not phrases.isdisjoint(counts)})


def from_last(ordered: Sequence[Article], keys: list[str], found: Analyses, phrases: Mapping[str, Any],
              entries: Mapping[str, tuple[bytes, bytes]], last: Any, known: Enrichment | None, model_calls: int,
              tags_config: TagsConfig, lexicon: Lexicon, kept: dict[str, list[str]], df_kept: dict[str, int],
              curation: Curation,
              afresh: Callable[[], tuple] | None,
              read_names: Callable[[], Any] = lambda: None,
              last_keys: Callable[[], LastKeys | None] = lambda: None,
              by_region: Callable[[], RegionEdit | None] = lambda: None,
              here: Callable[[], RegionEdit | None] | None = None,
              key_phrases_found: tuple[dict[str, list[str]], dict[str, int]] | None = None,
              ) -> tuple[Enrichment, Guess | None] | None:
    """The enrichment of the archive from the last one (`known`, made from the articles whose
    Local keys were `last["keys"]`): its mentions moved when no changed article changed what
    resolution reads; else, given `afresh` (resolution from scratch), a guess, with its check
    running in a forked child; None when neither can be had.

    `keys`: each article's Local key, in order; `found`: each article's stored analysis;
    `phrases`: their phrase counts; `entries`: the LocalStore's (which still holds the changed
    articles' last analyses); `kept`: filled with each article's key phrases, `df_kept` with the phrases' document
    frequencies. `read_names()` takes the names normalised by earlier builds (names.memo), before
    a guess looks names up (and a check resolves them all). `key_phrases_found`: the articles' key
    phrases and their document frequencies, when found already (`early_key_phrases`)."""
    if known is None:  # no last result of these articles, in this order, with these settings
        return None
    changed = [(art.source, before) for art, before, now in zip(ordered, last["keys"], keys, strict=True)
               if before != now]
    olds, news, phrases_before = {}, {}, {}
    same = True
    for source, before in changed:
        blob = entries.get(before)
        if blob is None:
            return None
        olds[source], phrases_before[source] = marshal.loads(blob[0]), _counter(marshal.loads(blob[1]))
        news[source] = found.clusters(source)
        same = same and signature(olds[source]) == signature(news[source])
    last_chosen = last.get("key_phrases")
    last_df = last.get("phrase_df")

    def tagged(mentions: Mapping[str, tuple], entities: Mapping[str, Any]) -> tuple[dict, dict]:
        return tag_archive(ordered, mentions, entities, phrases, tags_config, lexicon, kept,
                           last=last_chosen if isinstance(last_chosen, dict) else None, before=phrases_before,
                           last_df=last_df if isinstance(last_df, dict) else None, df_kept=df_kept,
                           found=key_phrases_found)

    def resolved_here() -> tuple[Enrichment, None] | None:
        """The edit resolved by region in this process (`here`), when no guess can be made or
        checked aside; None when it cannot be either."""
        edit = None
        if here is not None:
            read_names()
            edit = here()
        if edit is None:
            return None
        topics, table = tagged(edit.mentions, edit.entities)
        return Enrichment(mentions=edit.mentions, entities=edit.entities, topics=topics, topic_table=table,
                          redirects=known.redirects, model_calls=model_calls, basis=known,
                          basis_key=last["inputs"], remade=frozenset(edit.touched)), None
    if not same and afresh is None:
        return resolved_here()
    if not same:
        read_names()
    mentions = dict(known.mentions)
    names = EntityNames(known.entities)

    def unseen(cluster: tuple) -> Any:
        return lone_entity(_local_of((cluster,), ()).clusters[0], curation)
    for source, old in olds.items():
        before_mentions = known.mentions.get(source, ())
        moved = (moved_mentions(before_mentions, old, news[source]) if same
                 else guessed_mentions(before_mentions, old, news[source], names, unseen))
        if moved is None:
            return resolved_here()
        mentions[source] = moved
    if same:
        topics, table = tagged(mentions, known.entities)
        return Enrichment(mentions=mentions, entities=known.entities, topics=topics, topic_table=table,
                          redirects=known.redirects, model_calls=model_calls, reused=True,
                          basis=known, basis_key=last["inputs"], remade=frozenset(olds)), None
    entities = dict(sorted(names.entities.items())) if names.added else known.entities
    entities = without_unmentioned(entities, mentions, {
        m.entity for source in olds for m in known.mentions.get(source, ())})
    guessed = dataclasses.replace(known, mentions=mentions, entities=entities, reused=False, guessed=True,
                                  model_calls=model_calls, basis=known, basis_key=last["inputs"],
                                  remade=frozenset(olds))
    # The build asks for the answer only at the swap: the child yields the processor to the
    # build (and to its cells worker) and takes what they leave (CHECK_NICENESS).
    check = Forked(lambda: check_guess(guessed, afresh, last_keys, by_region), nice=CHECK_NICENESS)
    if not check.forked:  # the check would run here, after the guess: resolve at once instead
        return resolved_here()

    def correct(answer: tuple) -> Enrichment:
        right = decode_enrichment((answer[0], answer[1], {}, {}, answer[2]))
        assert right is not None  # our own child's
        topics, table = tagged(right.mentions, right.entities)
        return dataclasses.replace(right, topics=topics, topic_table=table, reused=False, model_calls=model_calls)
    topics, table = tagged(mentions, entities)
    return dataclasses.replace(guessed, topics=topics, topic_table=table), Guess(check, correct)
