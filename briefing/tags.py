"""Tags and topics: front-matter tags normalised, rule-defined topics, key phrases extracted.

Three origins share one table of topics, keyed by slug:
- "tag": front-matter tags, with case, spacing and singular/plural variants merged
  ("Air strikes", "air strike" -> `air-strike`);
- "rule": `tags.topics` in config.yaml, matched on lemmas (phrases) or on entities;
- "auto": key phrases of the text ranked across the archive by TF-IDF (`tags.auto`,
  `tags.auto_per_article`), without generic words ("year", "people", "official"...).

Lemmas come from a small rule-based lemmatiser (plural stripping), so the spaCy tagger never
has to run. Every topic is recorded; the page stage decides which get pages (min_articles).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from .config import TagsConfig
from .model import Article, Entity, Mention, Topic
from .names import norm, slug
from .stopwords import stop_words
from .workers import Forked

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_WORD_SPLIT = re.compile(f"({_WORD.pattern})")
_IRREGULAR = {
    "people": "people", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "feet": "foot", "teeth": "tooth", "crises": "crisis", "analyses": "analysis",
    "theses": "thesis", "media": "media", "data": "data", "news": "news", "series": "series",
    "species": "species", "politics": "politics", "economics": "economics", "physics": "physics",
    "aircraft": "aircraft", "police": "police",
}
GENERIC: frozenset[str] = frozenset("""
year month week day time today yesterday tomorrow people person man woman thing way part lot
number official spokesman spokeswoman statement report news country world place area group
end start case point side fact percent cent per million billion thousand hundred dozen
said say says told tell added according including include also would could might must
new old last first second third next former other many much several few good great big small
high low long well back still just even however since around among within without made make
take taken give given went come came going get got show showed called call told mr mrs ms
week weekend morning night evening hour minute return comment comments
""".split())


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """A cheap lemma: lower case, plural stripped ("strikes" -> "strike", "cities" -> "city")."""
    w = word.lower().replace("’", "'")
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or w.endswith(("ss", "us", "is", "'s")):
        return w.removesuffix("'s")
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "sses", "xes", "zes")):
        return w[:-2]
    if w.endswith("s"):
        return w[:-1]
    return w


def lemmas(text: str) -> list[str]:
    return [lemma(m.group(0)) for m in _WORD.finditer(text)]


# tag_key() of every tag seen, kept between builds (`tag_keys`, `remember_tag_keys`): it slugs
# with python-slugify (~10 µs a call), and an archive has tens of thousands of key phrases.
_TAG_KEYS: dict[str, str] = {}


def tag_key(tag: str) -> str:
    """The slug a tag is known by: words lemmatised, so variants meet."""
    got = _TAG_KEYS.get(tag)
    if got is None:
        got = _TAG_KEYS[tag] = slug(" ".join(lemmas(tag)) or tag)
    return got


def tag_keys(tags: Iterable[str]) -> tuple[str, dict[str, str]]:
    """tag_key() of `tags`, to keep for a later build (`remember_tag_keys`)."""
    return _slugify_version(), {tag: tag_key(tag) for tag in tags}


def remember_tag_keys(kept: Any) -> None:
    """Take the tag_key() results kept by `tag_keys` in an earlier build of the same code (and
    of the same python-slugify)."""
    if (isinstance(kept, (tuple, list)) and len(kept) == 2 and isinstance(kept[1], dict)
            and kept[0] == _slugify_version()):
        for tag, key in kept[1].items():
            _TAG_KEYS.setdefault(tag, key)


@lru_cache(maxsize=1)
def _slugify_version() -> str:
    from importlib.metadata import version

    return version("python-slugify")


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    if not n:
        return False
    first = needle[0]
    return any(haystack[i] == first and haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


Lexicon = Mapping[str, frozenset[str]]  # word class ("noun", "verb", "adj", "adv") -> words


def assign(articles: Sequence[Article], mentions: Mapping[str, Sequence[Mention]],
           entities: Mapping[str, Entity], config: TagsConfig,
           lexicon: Lexicon | None = None,
           phrases: Mapping[str, Counter] | None = None,
           chosen: Mapping[str, list[str]] | None = None) -> tuple[dict[str, tuple[str, ...]], dict[str, Topic]]:
    """Topic keys per article source, and the table of every topic.

    `lexicon` (word classes, see nlp.lexicon) keeps extracted phrases to nouns. `phrases` are
    the articles' `phrase_counts`, when already known (they are cached per article); `chosen`
    their `key_phrases`, when already found.
    """
    table: dict[str, Topic] = {}
    per_article: dict[str, list[str]] = {a.source: [] for a in articles}

    # rule topics first: their names are chosen by the site's author
    rules = {tag_key(name): (name, rule) for name, rule in config.topics.items()}
    for key, (name, _) in rules.items():
        table[key] = Topic(key, name, "rule")

    # front-matter tags: one name per key, the form written most often
    written: dict[str, Counter] = defaultdict(Counter)
    for art in articles:
        for tag in art.tags:
            tag = " ".join(str(tag).split())
            if not tag:
                continue
            key = tag_key(tag)
            written[key][tag] += 1
            per_article[art.source].append(key)
    for key, forms in written.items():
        if key not in table:
            name = max(forms, key=lambda f: (forms[f], f.islower(), -len(f), f))
            table[key] = Topic(key, name, "tag")

    text_lemmas = {a.source: lemmas(a.text) for a in articles} if rules else {}
    for key, (_, rule) in rules.items():
        rule_phrases = [lemmas(p) for p in rule.phrases]
        wanted = {norm(e) for e in rule.entities}
        for art in articles:
            seen = text_lemmas[art.source]
            hit = any(_contains(seen, p) for p in rule_phrases)
            if not hit and wanted:
                for m in mentions.get(art.source, ()):
                    ent = entities.get(m.entity)
                    names = {m.entity, m.text} | ({ent.name, *ent.aliases} if ent else set())
                    if wanted & {norm(n) for n in names} or m.entity in rule.entities:
                        hit = True
                        break
            if hit:
                per_article[art.source].append(key)

    if config.auto and config.auto_per_article > 0:
        if chosen is None:
            chosen = key_phrases(articles, config.auto_per_article, lexicon, phrases)
        for source, found in chosen.items():
            for phrase in found:
                key = tag_key(phrase)
                if key not in table:
                    table[key] = Topic(key, phrase, "auto")
                per_article[source].append(key)

    topics = {src: tuple(dict.fromkeys(keys)) for src, keys in per_article.items()}
    return topics, dict(sorted(table.items()))


def _noun_phrase(phrase: str, lexicon: Lexicon | None) -> bool:
    """Whether a phrase can be a tag: it ends in a noun and starts with no verb or adverb."""
    if lexicon is None:
        return True
    nouns, verbs, adjs, advs = (lexicon.get(k, frozenset()) for k in ("noun", "verb", "adj", "adv"))
    parts = phrase.split()
    head = parts[-1]
    known = head in nouns or head in verbs or head in adjs or head in advs
    if len(parts) == 1:
        if not known:
            # "airstrike", "counterterrorism": compounds the word lists lack
            return len(head) >= 5 and not head.endswith("ing")
        return head in nouns and head not in adjs and head not in advs
    if known and head not in nouns:
        return False
    first = parts[0]
    return not ((first in verbs or first in advs) and first not in nouns and first not in adjs)


def phrase_counts(article: Article) -> Counter:
    """The candidate key phrases of an article's body, counted (see `_candidates`)."""
    return _candidates(article.text[article.headline_end:] if article.headline_end else article.text)


def _candidates(text: str) -> Counter:
    """Lemmatised 1- and 2-word phrases of lower-case content words, within runs of them.

    A run is broken by any other word, a line break or punctuation, and a word glued to the one
    before by `-`, `.` or `/` is not a content word.
    """
    found_items: list[str] = []  # counted at the end, in C
    run: list[str] = []
    usable_lemma = _USABLE_LEMMA
    parts = _WORD_SPLIT.split(text)  # [before, word, between, word, ..., after]
    for i in range(1, len(parts), 2):
        word = parts[i]
        before = parts[i - 1]
        found = usable_lemma.get(word, _UNSEEN)
        if found is _UNSEEN:
            found = _usable_lemma(word)
        if found is None or (before and before[-1] in "-./"):
            run = []
            continue
        if run and (not before.isspace() or "\n" in before):
            run = []
        run.append(found)
        found_items.append(found)
        if len(run) >= 2:
            found_items.append(f"{run[-2]} {found}")
    return Counter(found_items)


# word -> its lemma when the word can be part of a key phrase, else None (the same words recur
# across articles; `_candidates` is a fifth of the analysis of an article without this).
_USABLE_LEMMA: dict[str, str | None] = {}
_UNSEEN = object()


def _usable_lemma(word: str) -> str | None:
    found = None
    if (word.islower() and len(word) > 2 and word not in stop_words() and not word.endswith("ly")
            and not (word.endswith("ed") and not word.endswith("eed") and len(word) > 4)):
        lem = lemma(word)
        if lem not in GENERIC:
            found = lem
    if len(_USABLE_LEMMA) >= 500_000:
        _USABLE_LEMMA.clear()
    _USABLE_LEMMA[word] = found
    return found


def key_phrases(articles: Sequence[Article], per_article: int, lexicon: Lexicon | None = None,
                phrases: Mapping[str, Counter] | None = None, *, last: Mapping[str, list[str]] | None = None,
                before: Mapping[str, Counter] | None = None, last_df: Mapping[str, int] | None = None,
                df_kept: dict[str, int] | None = None) -> dict[str, list[str]]:
    """The top phrases of each article by TF-IDF across the archive.

    `last` and `before`: the result of the last build, and the phrase counts then of the
    articles whose counts changed since (the same articles otherwise). Only the articles whose
    choice can have moved are scored again: those, and those holding a phrase that one of them
    gained or lost (its document frequency moved) where that phrase now ranks above the
    article's last chosen phrase (`_choice_holds`). The others keep their `last` phrases.
    `last_df`: the last build's document frequencies (what `df_kept` is filled with), updated
    by the changed articles' difference instead of counted again over every article.
    """
    sources = [a.source for a in articles]
    rank = _Ranking(len(articles), lexicon)
    again: set[str] | None = None
    if last is not None and before is not None and last.keys() == set(sources):
        counts: Mapping[str, Counter] = (phrases if phrases is not None
                                         else {a.source: phrase_counts(a) for a in articles})
        moved: set[str] = set()
        for source, then in before.items():
            moved.update(then.keys() ^ counts[source].keys())
        if last_df is not None:
            df = _df_moved(last_df, before, counts)
        else:
            df = _df(counts[s] for s in sources)
        holding = getattr(counts, "holding", None)
        suspects = (holding(moved) if holding is not None
                    else {s for s in sources if not moved.isdisjoint(counts[s])})
        again = set(before) | {s for s in suspects - before.keys()
                               if not _choice_holds(last[s], counts[s], moved, df, rank, per_article)}
    else:
        counts = {a.source: phrases[a.source] if phrases is not None else phrase_counts(a) for a in articles}
        df = _df(counts.values())
    if df_kept is not None:
        df_kept.clear()
        df_kept.update(df)
    out: dict[str, list[str]] = {}
    for art in articles:
        if again is not None and art.source not in again:
            out[art.source] = list(last[art.source])  # type: ignore[index]
            continue
        scored = []
        for phrase, tf in counts[art.source].items():
            got = rank(phrase, tf, df[phrase])
            if got is not None:
                scored.append(got)
        scored.sort()
        chosen: list[str] = []
        for _, phrase in scored:
            if len(chosen) >= per_article:
                break
            parts = phrase.split()
            if any(p in c2.split() for c2 in chosen for p in parts):
                continue  # "air strike" chosen: no "strike" as well
            chosen.append(phrase)
        out[art.source] = chosen
    return out


class _Ranking:
    """A phrase's place in an article's ranking: (-score, phrase), lowest first, or None when it
    is no candidate. One function for scoring and for `_choice_holds`: the same floats."""

    def __init__(self, n: int, lexicon: Lexicon | None):
        self.n = n
        self.too_common = max(2, 0.5 * n)
        self.lexicon = lexicon
        self.nouny: dict[str, bool] = {}  # phrase -> _noun_phrase(phrase): the same phrases recur

    def __call__(self, phrase: str, tf: int, seen_in: int) -> tuple[float, str] | None:
        if (tf < 2 and seen_in < 2) or seen_in > self.too_common:
            return None  # said once, nowhere else: not a theme; or in most articles: says nothing
        ok = self.nouny.get(phrase)
        if ok is None:
            ok = self.nouny[phrase] = _noun_phrase(phrase, self.lexicon)
        if not ok:
            return None
        idf = math.log((self.n + 1) / (seen_in + 1)) + 1
        weight = 1.5 if " " in phrase else 1.0
        return -(tf * idf * weight), phrase


def _choice_holds(chosen: list[str], counts: Mapping[str, int], moved: set[str], df: Mapping[str, int],
                  rank: _Ranking, per_article: int) -> bool:
    """Whether an unchanged article's last choice (`chosen`) is still what scoring it again
    would choose, when only the `moved` phrases' document frequencies (now `df`) moved.

    The choice is greedy down the ranking and stops at its last phrase: what ranks below that
    is never looked at. A moved phrase that was not chosen either ranked below it, or above it
    and was passed over for overlapping a phrase chosen before it. When none of the article's
    moved phrases was chosen and none now ranks above its last chosen phrase, the greedy pass
    meets the same phrases in the same order up to that one, and chooses the same. An article
    whose choice ran out of candidates (fewer than `per_article`) is scored again: a new
    candidate would be taken.
    """
    if len(chosen) != per_article or not moved.isdisjoint(chosen):
        return False
    last = chosen[-1]
    tf = counts.get(last)
    cutoff = rank(last, tf, df[last]) if tf is not None else None
    if cutoff is None:
        return False
    for phrase in moved:
        tf = counts.get(phrase)
        if tf is not None:
            got = rank(phrase, tf, df.get(phrase, 0))
            if got is not None and got < cutoff:
                return False
    return True


# -- for the enrich stage ---------------------------------------------------------------------


def _df(counts: Iterable[Counter]) -> Counter:
    """In how many articles each phrase occurs."""
    df: Counter = Counter()
    for c in counts:
        df.update(c.keys())
    return df


def _df_moved(last_df: Mapping[str, int], before: Mapping[str, Counter], counts: Mapping[str, Counter]) -> Counter:
    """`_df` of every article's `counts`, from the last build's (`last_df`) and the counts then
    of the articles changed since (`before`)."""
    df: Counter = Counter.__new__(Counter)
    dict.update(df, last_df)
    for source, then in before.items():
        now = counts[source].keys()
        for phrase in then.keys() - now:
            left = df[phrase] - 1
            if left > 0:
                df[phrase] = left
            else:
                del df[phrase]
        for phrase in now - then.keys():
            df[phrase] += 1
    return df


def tag_archive(articles: Sequence[Article], mentions: Mapping[str, tuple[Mention, ...]],
                entities: Mapping[str, Entity], phrases: Mapping[str, Counter], config: TagsConfig,
                lexicon: Lexicon | None, kept: dict[str, list[str]] | None = None, *,
                last: Mapping[str, list[str]] | None = None,
                before: Mapping[str, Counter] | None = None, last_df: Mapping[str, int] | None = None,
                df_kept: dict[str, int] | None = None,
                found: tuple[dict[str, list[str]], dict[str, int]] | None = None,
                assigned: tuple[dict, dict] | None = None) -> tuple[dict, dict]:
    """Tags alone, for mentions already resolved: (article -> topic keys, topic table).

    `last`, `before`, `last_df`: the key phrases of the last build, the phrase counts then of
    the articles changed since, and the document frequencies then: only the articles whose key
    phrases can have moved are scored again (key_phrases). `found`: the key phrases and their
    document frequencies, when found already (they read no mention: see same_names.early_key_phrases);
    `assigned`: what `assign` makes of them, when made already (`early_tags`)."""
    if found is not None:
        if kept is not None:
            kept.update(found[0])
        if df_kept is not None:
            df_kept.clear()
            df_kept.update(found[1])
        if assigned is not None and not config.topics:
            return assigned
        return assign(articles, mentions, entities, config, lexicon, phrases, found[0])
    with key_phrases_meanwhile(articles, phrases, config, lexicon, kept, last, before, last_df, df_kept) as chosen:
        return assign(articles, mentions, entities, config, lexicon, phrases, chosen())


def early_tags(articles: Sequence[Article], found: tuple[dict[str, list[str]], dict[str, int]], config: TagsConfig,
               lexicon: Lexicon | None) -> tuple[dict, dict] | None:
    """`assign` of the articles and their key phrases (`found`), before their mentions are
    known: without topic rules it reads none (the front matter's tags and the key phrases are of
    the text alone); None with rules, which match entities."""
    if config.topics:
        return None
    return assign(articles, {}, {}, config, lexicon, None, found[0])


@contextmanager
def key_phrases_meanwhile(articles: Sequence[Article], phrases: Mapping[str, Counter], config: TagsConfig,
                          lexicon: Lexicon | None, kept: dict[str, list[str]] | None,
                          last: Mapping[str, list[str]] | None = None,
                          before: Mapping[str, Counter] | None = None,
                          last_df: Mapping[str, int] | None = None,
                          df_kept: dict[str, int] | None = None) -> Iterator[Callable[[], Any]]:
    """A function giving each article's key phrases (None when not wanted), also put in `kept`
    (and the phrases' document frequencies in `df_kept`). From scratch they read only each
    article's own counts: a forked worker finds them while the caller goes on."""
    per_article = config.auto_per_article
    if not (config.auto and per_article > 0):
        yield lambda: None
        return
    if last is not None and before is not None:  # a few articles changed: few to score again
        got = key_phrases(articles, per_article, lexicon, phrases, last=last, before=before, last_df=last_df,
                          df_kept=df_kept)
        if kept is not None:
            kept.update(got)
        yield lambda: got
        return

    def in_child() -> tuple[dict[str, list[str]], dict[str, int] | None]:
        df: dict[str, int] | None = {} if df_kept is not None else None
        return key_phrases(articles, per_article, lexicon, phrases, df_kept=df), df
    chosen = Forked(in_child)

    def result() -> dict[str, list[str]]:
        got, df = chosen.result()
        if kept is not None:
            kept.update(got)
        if df_kept is not None and df is not None:
            df_kept.clear()
            df_kept.update(df)
        return got
    try:
        yield result
    finally:
        chosen.close()
