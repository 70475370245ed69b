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
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from . import kinds
from .config import TagsConfig
from .curation import Curation
from .guess_check import Guess, LastKeys, check_guess
from .model import Article, Enrichment, Entity, Mention
from .names import norm, slug
from .resolve import LocalCluster, dedupe_forms
from .stored import Analyses, PhraseCounts, _counter, _local_of, decode_enrichment
from .tags import Lexicon, key_phrases, tag_archive
from .workers import Forked

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

    def indexed(self) -> EntityNames:
        """Itself, its index made now (while the build waits for the model)."""
        self._forms()
        return self

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
              tags_found: tuple[dict, dict] | None = None,
              names_found: EntityNames | None = None,
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
    phrases and their document frequencies, when found already (`early_key_phrases`), with
    `tags_found` what tags.early_tags made of them; `names_found`: an EntityNames of `known`'s
    entities, its index made already and unused since."""
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
                           found=key_phrases_found, assigned=tags_found if key_phrases_found is not None else None)

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
    names = names_found if names_found is not None else EntityNames(known.entities)

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
