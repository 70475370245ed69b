"""Tags: normalisation, rule topics on lemmas and entities, TF-IDF key phrases."""

from __future__ import annotations

import datetime as dt
import types

from hypothesis import given, settings
from hypothesis import strategies as st

from briefing.config import TagsConfig, TopicRule
from briefing.model import Article, Entity, Mention
from briefing.tags import GENERIC, assign, key_phrases, lemma, tag_key


def article(source: str, body: str, tags: tuple[str, ...] = (), title: str = "Title") -> Article:
    text = f"{title}\n\n{body}"
    return Article(source=source, title=title, date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                   slug=source, summary="", body=body, body_line=3, text=text, headline_end=len(title),
                   content_hash="", tags=tags)


def test_lemma_and_keys():
    assert lemma("strikes") == "strike"
    assert lemma("cities") == "city"
    assert lemma("crises") == "crisis"
    assert lemma("news") == "news"
    assert tag_key("Air  Strikes") == tag_key("air strike") == "air-strike"


def test_front_matter_tags_merge_variants():
    arts = [article("a", "x", ("Air strikes", "Iraq")), article("b", "y", ("air strike",)),
            article("c", "z", ("air strike", " IRAQ "))]
    topics, table = assign(arts, {}, {}, TagsConfig(auto=False))
    assert topics["a"] == ("air-strike", "iraq")
    assert table["air-strike"].name == "air strike" and table["air-strike"].origin == "tag"
    assert set(table) == {"air-strike", "iraq"}


def test_rule_topics_match_lemmas_and_entities():
    rules = types.MappingProxyType({
        "Counterterrorism": TopicRule(phrases=("airstrike", "raid"), entities=()),
        "Diplomacy": TopicRule(phrases=("foreign minister",), entities=("person/fouad-hussein",)),
        "Assad": TopicRule(entities=("Bashar al-Assad",)),
    })
    arts = [article("a", "Two raids and several airstrikes hit the town."),
            article("b", "The foreign ministers met."),
            article("c", "Hussein spoke. Assad left.")]
    ents = {"person/fouad-hussein": Entity("person/fouad-hussein", "Fouad Hussein", "person"),
            "person/bashar-al-assad": Entity("person/bashar-al-assad", "Bashar al-Assad", "person", ("Assad",))}
    mentions = {"c": (Mention(13, 20, "Hussein", "person", "person/fouad-hussein"),
                      Mention(27, 32, "Assad", "person", "person/bashar-al-assad"))}
    topics, table = assign(arts, mentions, ents, TagsConfig(auto=False, topics=rules))
    assert topics["a"] == ("counterterrorism",)
    assert topics["b"] == ("diplomacy",)
    assert set(topics["c"]) == {"diplomacy", "assad"}
    assert all(t.origin == "rule" for t in table.values())


def test_auto_tags_rank_phrases_without_generic_words():
    arts = [
        article("a", "The drone strike hit the camp. A second drone strike followed. Officials said people "
                     "died this year. The drone strike was the third this time."),
        article("b", "World oil prices rose. Then oil prices fell later in the year as people sold. "
                     "Officials said so."),
        article("c", "The camp held refugees. Refugees left the camp each year."),
    ]
    phrases = key_phrases(arts, 3)
    assert phrases["a"][0] == "drone strike"
    assert phrases["b"][0] == "oil price"
    for chosen in phrases.values():
        for p in chosen:
            assert not set(p.split()) & GENERIC
    topics, table = assign(arts, {}, {}, TagsConfig(auto=True, auto_per_article=2))
    assert "drone-strike" in topics["a"] and table["drone-strike"].origin == "auto"
    off, table_off = assign(arts, {}, {}, TagsConfig(auto=False))
    assert not any(off.values()) and not table_off


def test_tag_keys_kept_by_one_build_serve_the_next_only_with_the_same_slugify(monkeypatch):
    from briefing import tags

    monkeypatch.setattr(tags, "_TAG_KEYS", {})
    version, kept = tags.tag_keys(["Oil prices", "oil price"])
    assert kept == {"Oil prices": "oil-price", "oil price": "oil-price"}

    monkeypatch.setattr(tags, "_TAG_KEYS", {})
    tags.remember_tag_keys(("0.0-another-slugify", {"crude": "not-this"}))
    assert tags.tag_key("crude") == "crude"
    monkeypatch.setattr(tags, "_TAG_KEYS", {})
    tags.remember_tag_keys((version, {"crude": "kept-key"}))
    assert tags.tag_key("crude") == "kept-key"  # taken as kept, not slugged again
    tags.remember_tag_keys("not a pair")
    assert tags.tag_key("barrel") == "barrel"


_WORDS = ["port", "strike", "port strike", "ports", "trade figure", "figure", "café", "naïve port", "ß", "x"]


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.dictionaries(st.sampled_from(_WORDS), st.integers(1, 300), max_size=6), max_size=12),
       wanted=st.sets(st.sampled_from(_WORDS + ["absent", "rt str", "\x00"]), max_size=4))
def test_the_articles_holding_phrases_are_found_in_their_stored_counts(counts: list[dict[str, int]],
                                                                      wanted: set[str]) -> None:
    """PhraseCounts.holding searches the stored (marshal) counts of every article at once: it
    finds exactly the articles whose counts hold one of the phrases, whatever phrases are part
    of others, non-ASCII, or made of the bytes where one article's counts meet the next's."""
    import marshal
    from collections import Counter

    from briefing.stored import Analyses, PhraseCounts

    blobs = {f"content/{i}.md": (b"", marshal.dumps(tuple(c.items()))) for i, c in enumerate(counts)}
    held = PhraseCounts(Analyses(blobs)).holding(wanted)
    assert held == {f"content/{i}.md" for i, c in enumerate(counts) if not wanted.isdisjoint(Counter(c))}


_PHRASES = ["oil price", "oil prices", "Oil Price", "drone strike", "drone strikes", "port", "ports", "café",
            "cafe", "trade", "x", "air strike"]


@settings(max_examples=200, deadline=None)
@given(chosen=st.lists(st.lists(st.sampled_from(_PHRASES), max_size=5), max_size=10),
       tags=st.lists(st.lists(st.sampled_from(_PHRASES + ["Trade", " port "]), max_size=3), max_size=10))
def test_auto_topics_are_the_first_chosen_form_of_each_key_after_the_front_matter(
        chosen: list[list[str]], tags: list[list[str]]) -> None:
    """assign's key-phrase step against it written plainly: each article's keys in order, front
    matter first, each once; a phrase's topic named as the first article choosing it writes it,
    unless a front-matter tag has that key."""
    from briefing.model import Topic

    arts = [article(f"a{i}", "x", tuple(tags[i]) if i < len(tags) else ()) for i in range(len(chosen))]
    picked = {a.source: found for a, found in zip(arts, chosen, strict=True)}
    topics, table = assign(arts, {}, {}, TagsConfig(auto=True, auto_per_article=5), chosen=picked)
    front, front_table = assign(arts, {}, {}, TagsConfig(auto=False))
    expected_table = dict(front_table)
    for found in chosen:
        for phrase in found:
            expected_table.setdefault(tag_key(phrase), Topic(tag_key(phrase), phrase, "auto"))
    assert table == dict(sorted(expected_table.items()))
    assert list(table) == sorted(table)
    for a, found in zip(arts, chosen, strict=True):
        assert topics[a.source] == tuple(dict.fromkeys([*front[a.source], *map(tag_key, found)]))


def test_tags_made_before_the_mentions_are_known_are_those_made_after_unless_rules_read_them():
    """tags.early_tags (made while the model runs) is `assign` with the mentions, whatever they
    are, when no topic rule reads them; with rules, which match entities, it makes none."""
    from briefing.tags import early_tags

    arts = [article("a", "x", ("Ports",)), article("b", "y")]
    found = ({"a": ["dock strike"], "b": ["dock strikes", "union"]}, {"dock strike": 2, "union": 1})
    mentions = {"b": (Mention(0, 1, "Rutte", "person", "person/mark-rutte"),)}
    ents = {"person/mark-rutte": Entity("person/mark-rutte", "Mark Rutte", "person")}
    plain = TagsConfig(auto=True, auto_per_article=2)
    assert early_tags(arts, found, plain, None) == assign(arts, mentions, ents, plain, None, None, found[0])
    ruled = TagsConfig(auto=True, auto_per_article=2,
                       topics=types.MappingProxyType({"Dutch politics": TopicRule(entities=("Mark Rutte",))}))
    assert early_tags(arts, found, ruled, None) is None
    assert "dutch-politics" in assign(arts, mentions, ents, ruled, None, None, found[0])[0]["b"]
