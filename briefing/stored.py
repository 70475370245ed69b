"""The stored forms of enrichment: what one article contributes on its own (`Local`, kept per
article in the LocalStore) and the whole archive's result (kept in the ResultStore), as plain
tuples that load several times faster than pickles of the objects."""

from __future__ import annotations

import bisect
import itertools
import marshal
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .model import Article, Enrichment, Entity, Mention, Topic, analysis_key
from .resolve import Candidate, LocalCluster, Seen


@dataclass
class Local:
    """What one article contributes to enrichment before the archive is seen."""

    clusters: list[LocalCluster]  # its entities as seen within it
    phrases: Counter  # candidate key phrases, counted (tags.phrase_counts)


def encode_enrichment(e: Enrichment) -> tuple:
    """An Enrichment as plain tuples and dicts (for ResultStore: loads several times faster than
    a pickle of 400,000 Mention objects); model_calls is not kept."""
    return ({source: tuple((m.start, m.end, m.text, m.kind, m.entity) for m in ms)
             for source, ms in e.mentions.items()},
            {k: (x.key, x.name, x.kind, x.aliases, x.description, x.links) for k, x in e.entities.items()},
            dict(e.topics), {k: (t.key, t.name, t.origin) for k, t in e.topic_table.items()}, dict(e.redirects))


def decode_enrichment(data: Any) -> Enrichment | None:
    """`encode_enrichment`'s input back (with model_calls 0, reused), or None when `data` is not one."""
    try:
        mentions, entities, topics, table, redirects = data
        return Enrichment(mentions={source: tuple(Mention(*m) for m in ms) for source, ms in mentions.items()},
                          entities={k: Entity(*x) for k, x in entities.items()}, topics=topics,
                          topic_table={k: Topic(*t) for k, t in table.items()}, redirects=redirects, reused=True)
    except (TypeError, ValueError, AttributeError):
        return None


def local_key(article: Article) -> str:
    """Everything of the article its Local depends on (model.analysis_key): made when it was
    parsed, or now."""
    return article.analysis_key or analysis_key(article.source, article.headline_end, article.text, article.body)


def encode_local(local: Local) -> tuple[bytes, bytes]:
    """`local` as two blobs, its clusters and its phrase counts: nested tuples of plain values in
    marshal's format, which loads several times faster than a pickle of the same objects. Apart,
    because a build that reuses the last resolution reads only the phrase counts of the articles
    it did not change (a quarter of the time of reading everything)."""
    clusters = tuple((cl.source, cl.name, cl.kind, tuple(astuple_candidate(c) for c in cl.mentions), cl.strong,
                      tuple(cl.forms.items()), cl.curated, cl.demonym, tuple(cl.votes.items()))
                     for cl in local.clusters)
    return marshal.dumps(clusters), marshal.dumps(tuple(local.phrases.items()))


def astuple_candidate(c: Candidate) -> tuple:
    return (c.start, c.end, c.text, c.kind, c.curated, c.weight)


def decode_local(data: tuple[bytes, bytes]) -> Local:
    """The Local that `encode_local` wrote: new objects each time (resolution mutates them)."""
    return _local_of(marshal.loads(data[0]), marshal.loads(data[1]))  # only ever from the sealed LocalStore


def _local_of(clusters: tuple, phrases: tuple) -> Local:
    return Local([LocalCluster(source, name, kind, list(map(_seen, mentions)), set(strong), dict(forms),
                               curated, demonym, dict(votes))
                  for source, name, kind, mentions, strong, forms, curated, demonym, votes in clusters],
                 _counter(phrases))


class Analyses:
    """Each article's stored analysis (encode_local's two blobs, by source), read when asked."""

    def __init__(self, blobs: dict[str, tuple[bytes, bytes]]):
        self.blobs = blobs

    def clusters(self, source: str) -> tuple:
        """The article's clusters as stored (same_names.RawCluster)."""
        return marshal.loads(self.blobs[source][0])

    def phrases(self, source: str) -> Counter:
        return _counter(marshal.loads(self.blobs[source][1]))

    def local_clusters(self, source: str) -> list:
        """The article's clusters as resolution takes them (new objects), its phrases left out."""
        return _local_of(marshal.loads(self.blobs[source][0]), ()).clusters

    def local(self, source: str, phrases: Counter | None = None) -> Local:
        """The article's Local, new objects (resolution mutates them); with its `phrases` when read already."""
        if phrases is None:
            return decode_local(self.blobs[source])
        return Local(_local_of(marshal.loads(self.blobs[source][0]), ()).clusters, phrases)


class PhraseCounts(Mapping[str, Counter]):
    """Each article's phrase counts (`Analyses.phrases`), decoded when first asked for: a build
    that reuses the last resolution needs those of the few articles whose key phrases can move."""

    def __init__(self, analyses: Analyses):
        self.analyses = analyses
        self.decoded: dict[str, Counter] = {}

    def __getitem__(self, source: str) -> Counter:
        got = self.decoded.get(source)
        if got is None:
            got = self.decoded[source] = self.analyses.phrases(source)
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self.analyses.blobs)

    def __len__(self) -> int:
        return len(self.analyses.blobs)

    def __contains__(self, source: object) -> bool:
        return source in self.analyses.blobs

    def changed(self, source: str) -> None:
        """The article's analysis was replaced (Analyses.blobs): decode it afresh when asked."""
        self.decoded.pop(source, None)

    def holding(self, phrases: set[str]) -> set[str]:
        """The articles whose counts hold any of `phrases`. Marshal writes a string as its UTF-8
        bytes, so an article whose stored counts lack those bytes cannot hold the phrase: only
        the others are decoded to make sure."""
        if not phrases:
            return set()
        # Each phrase searched for in all the counts joined, one C call each: a regular expression
        # of several phrases has no fast literal search, and one call per article costs more.
        # A match across two articles' counts only names one more article to decode.
        sources = list(self.analyses.blobs)
        blobs = [blob for _, blob in self.analyses.blobs.values()]
        starts = list(itertools.accumulate(map(len, blobs), initial=0))
        joined = b"".join(blobs)
        found: set[int] = set()
        for phrase in phrases:
            for match in re.finditer(re.escape(phrase.encode("utf-8", "surrogatepass")), joined):
                found.add(bisect.bisect_right(starts, match.start()) - 1)
        return {sources[i] for i in found if not phrases.isdisjoint(self[sources[i]])}


_seen = Seen._make


def _counter(pairs: Iterable[tuple[Any, int]]) -> Counter:
    """Counter(dict(pairs)), without Counter.update's per-call Mapping check (a third of the time
    of loading ten thousand articles' analyses)."""
    counter: Counter = Counter.__new__(Counter)  # an empty dict: Counter.__init__ only updates it
    dict.update(counter, pairs)
    return counter
