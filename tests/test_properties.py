"""Property tests for the pure stages: parse, slugify, and Markdown rendering with woven mentions."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from briefing import markdown, sources
from briefing.config import Config
from briefing.errors import ContentError
from briefing.markdown import LinkedSpan
from briefing.model import Article, SourceFile
from briefing.slug import slugify

CONFIG = Config(root=Path("/nonexistent/project"))
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- parse -----------------------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
           | st.dates() | st.datetimes(timezones=st.none() | st.just(dt.UTC)))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
keys = st.sampled_from(sources.KNOWN_KEYS) | st.text(min_size=1, max_size=12)
front_matter = st.dictionaries(keys, values, max_size=8)
# Front matter that is usually valid, so the success path is explored as well as the errors.
plausible = st.fixed_dictionaries(
    {"title": st.text(min_size=1), "date": st.dates(min_value=dt.date(1900, 1, 1))},
    optional={"tags": st.lists(st.text(max_size=20), max_size=5), "summary": st.text(), "author": st.text(),
              "slug": st.text(max_size=30), "draft": st.booleans(), "extra_key": values},
)


def source(data: bytes, name: str = "content/2025/article.md") -> SourceFile:
    return SourceFile(file=Path("/nonexistent/project") / name, relpath=name, data=data)


def parse_or_error(data: bytes, name: str = "content/2025/article.md") -> Article | None:
    """Article, or None for a ContentError; any other exception fails the test."""
    try:
        return sources.parse(source(data, name), CONFIG)
    except ContentError as exc:
        assert exc.problems and all(p.path == name for p in exc.problems), exc.problems
        assert str(exc)
        return None


def emit(mapping: dict, allow_unicode: bool) -> str:
    return yaml.safe_dump(mapping, allow_unicode=allow_unicode, sort_keys=False)


@SETTINGS
@given(front=front_matter | plausible, body=st.text(), allow_unicode=st.booleans())
def test_parse_any_yaml_front_matter(front: dict, body: str, allow_unicode: bool) -> None:
    text = "---\n" + emit(front, allow_unicode) + "---\n" + body
    article = parse_or_error(text.encode("utf-8"))
    if article is None:
        return
    # It round-trips: what YAML wrote is what the article holds.
    loaded = yaml.safe_load(emit(front, allow_unicode))
    assert dict(article.meta) == {k: v for k, v in loaded.items() if k not in sources.KNOWN_KEYS}
    title = loaded.get("title")
    if isinstance(title, str):
        assert article.title == " ".join(title.split())
    if isinstance(loaded.get("date"), dt.date) and not isinstance(loaded["date"], dt.datetime):
        assert article.date.date() == loaded["date"]
    if isinstance(loaded.get("tags"), list):
        assert list(article.tags) == [" ".join(str(t).split()) for t in loaded["tags"] if str(t).strip()]
    if isinstance(loaded.get("draft"), bool):
        assert article.draft == loaded["draft"]
    assert article.date.tzinfo is not None
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", article.slug), article.slug
    assert article.text.startswith(article.title)
    assert article.headline_end == len(article.title)
    for start, end in article.linkable:
        assert 0 <= start <= end <= len(article.text) - article.headline_end


@SETTINGS
@given(text=st.text())
def test_parse_any_text_after_an_opening_fence(text: str) -> None:
    parse_or_error(("---\n" + text).encode("utf-8"))
    parse_or_error(text.encode("utf-8"), "content/2025-01-01-x.txt")


@SETTINGS
@given(data=st.binary(max_size=400))
def test_parse_any_bytes(data: bytes) -> None:
    parse_or_error(data)
    parse_or_error(b"---\ntitle: T\ndate: 2025-01-01\n---\n" + data)


# --- slugify ---------------------------------------------------------------------------------------


def check_slug(slug: str) -> None:
    assert slug, "empty slug"
    assert slug.isascii(), slug
    assert "/" not in slug and ".." not in slug and "\\" not in slug, slug
    assert re.fullmatch(r"[a-z0-9-]+", slug), slug


@settings(max_examples=1000, deadline=None)
@given(text=st.text(), fallback=st.sampled_from(["item", "article", ""]) | st.text(max_size=10))
def test_slugify_is_never_empty_and_always_safe(text: str, fallback: str) -> None:
    check_slug(slugify(text, fallback=fallback))


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(["..", "/", "\\", ".", "etc", "é", "北京", "🙂", " ", "-", "Ω"]), max_size=12))
def test_slugify_path_like_input(parts: list[str]) -> None:
    check_slug(slugify("".join(parts)))


def test_slugify_distinct_symbols_get_distinct_slugs() -> None:
    assert slugify("🙂") != slugify("🙃")
    assert slugify("🙂") == slugify("🙂")


# --- Markdown with mentions ------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Balance(HTMLParser):
    """Checks that tags balance, that no <a> sits inside another, and collects the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.mentions: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            if "a" in self.stack:
                self.errors.append(f"<a> inside <a> at {self.getpos()}")
            if (dict(attrs).get("class") or "").startswith("mention"):
                self.mentions.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void <{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'} at {self.getpos()}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(html: str) -> Balance:
    b = Balance()
    b.feed(html)
    b.close()
    assert not b.errors, (b.errors, html)
    assert not b.stack, (f"unclosed {b.stack}", html)
    return b


markdownish = st.text(alphabet=st.sampled_from(list("ab Z*_`[]()<>#!-+.1\n&\"'|:\\~=^")) | st.characters(),
                      max_size=200)
hostile = st.sampled_from(['"><script>alert(1)</script>', "javascript:alert(1)", "a&b", "'", "people/x/", ""])


@st.composite
def body_and_spans(draw: Any) -> tuple[str, list[LinkedSpan]]:
    body = draw(markdownish | st.text(max_size=200))
    plain = markdown.body_plain_text(body)
    n = len(plain)
    spans = []
    for _ in range(draw(st.integers(0, 8))):
        start = draw(st.integers(0, n))
        end = draw(st.integers(start, n))
        spans.append(LinkedSpan(start, end, draw(hostile), draw(st.sampled_from(["person", "place", "x\"y"])),
                                draw(st.sampled_from(["m-a", "m-b-2", '"id'])), draw(hostile)))
    # Spans that fall exactly on the linkable ranges, so mentions are actually woven in.
    _, ranges = markdown.body_plain_text_and_linkable(body)
    for start, end in draw(st.lists(st.sampled_from(ranges), max_size=3, unique=True)) if ranges else []:
        a = draw(st.integers(start, end))
        spans.append(LinkedSpan(a, draw(st.integers(a, end)), "people/x/", "person", "m-x", "X"))
    return body, spans


@settings(max_examples=500, deadline=None)
@given(case=body_and_spans())
def test_render_with_mentions_is_well_formed(case: tuple[str, list[LinkedSpan]]) -> None:
    body, spans = case
    plain_html = markdown.render(body)
    woven_html = markdown.render(body, spans=spans)
    plain = check_html(plain_html)
    woven = check_html(woven_html)
    assert "".join(woven.text) == "".join(plain.text)
    given_attrs = {(s.href, s.title, s.anchor) for s in spans}
    for attrs in woven.mentions:
        assert (attrs.get("href"), attrs.get("title", ""), attrs.get("id")) in given_attrs, attrs


@settings(max_examples=800, deadline=None)
@given(case=body_and_spans(), html=st.booleans())
def test_pieces_render_exactly_as_the_markdown(case: tuple[str, list[LinkedSpan]], html: bool) -> None:
    """The render stage weaves links into the pieces cached at parse time instead of parsing the
    Markdown again: the HTML must be the same, byte for byte."""
    body, spans = case
    text, ranges, pieces = markdown.parse_body(body, html)
    assert (text, ranges) == markdown.body_plain_text_and_linkable(body, html)
    assert pieces or not body.strip() or markdown.render(body, html=html) == ""
    if pieces:
        assert markdown.render_pieces(pieces, spans) == markdown.render(body, html=html, spans=spans)


def test_pieces_of_a_rich_body() -> None:
    body = ("# Title\n\nA *b & c* <x> [link](http://a) `code` \"q\"\n\n- one\n- **two**\n\n"
            "| a | b |\n|---|---|\n| Iraq & Syria | c |\n\nNote[^1].\n\n[^1]: About Baghdad.\n")
    plain, _, pieces = markdown.parse_body(body)
    spans = [LinkedSpan(plain.index(w), plain.index(w) + len(w), f"e/{w}/", "place", f"m-{w}", w)
             for w in ("Iraq", "Syria", "Baghdad", "one")]
    html = markdown.render_pieces(pieces, spans)
    assert html == markdown.render(body, spans=spans)
    assert html.count('class="mention') == 4


def test_render_weaves_a_mention_in_the_right_place() -> None:
    body = "The *army* said **Mosul** fell.\n\nAl-Sudani spoke."
    plain = markdown.body_plain_text(body)
    start = plain.index("Al-Sudani")
    html = markdown.render(body, spans=[LinkedSpan(start, start + 9, "people/al-sudani/", "person", "m-al-sudani",
                                                   'He said "no" & <left>')])
    assert ('<a href="people/al-sudani/" class="mention mention-person" id="m-al-sudani" '
            'title="He said &quot;no&quot; &amp; &lt;left&gt;">Al-Sudani</a> spoke.') in html
    check_html(html)


@settings(max_examples=200, deadline=None)
@given(text=markdownish)
def test_escape_plain_renders_the_same_characters(text: str) -> None:
    """A .txt body is escaped into Markdown; rendering it shows the text, never markup."""
    assume(text.strip())
    html = markdown.render(markdown.escape_plain(text))
    b = check_html(html)
    assert {tag for tag in re.findall(r"<([a-z0-9]+)", html)} <= {"p", "br"}, html
    shown = "".join("".join(b.text).split())
    assert shown == "".join(text.replace("\x00", "\ufffd").split())  # the same characters, bar spacing


def _snippet_start_reference(text: str, start: int) -> int:
    """Where the sentence around `start` begins, found the plain way (the first version of
    entity_pages.snippet): the end of the last sentence break finditer sees before `start`."""
    from briefing.entity_pages import _SENTENCE_END

    s = 0
    for match in _SENTENCE_END.finditer(text, 0, start):
        s = match.end()
    return s


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("ab .!?\"')\n”’")), max_size=80), st.data())
def test_snippet_finds_the_sentence_start_as_a_plain_scan_does(text: str, data: st.DataObject):
    """snippet() finds sentence breaks by bisecting the whole text's breaks, then scanning the
    rest: the same start as scanning text[:start] itself, quotes and breaks at the edge included."""
    from briefing.entity_pages import snippet

    assume(text)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    before, hit, _after = snippet(text, start, end, limit=10_000)
    expected = text[_snippet_start_reference(text, start):start]
    assert before == " ".join(expected.split(" ")).lstrip()
    assert hit == text[start:end]


_prose_pieces = st.one_of(
    st.text(alphabet="ab", min_size=1, max_size=40),
    st.sampled_from([" ", ". ", "! ", "?\n", "\n", "\n\n", '." ', ".’ ", ".) ", "  ", "\t", ". \xa0", "'", "”",
                     ". " + " " * 30, "\n" * 25, '"' * 3]))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_prose_pieces, min_size=1, max_size=60).map("".join), st.data())
def test_a_snippet_scanning_a_window_is_the_snippet_scanning_the_whole_text(text: str, data: st.DataObject):
    """snippet() scans only a window before the mention, as long as the snippet keeps: for any
    text (runs of breaks and quotes across the window's edge included) and any length kept, the
    same snippet as one scanning from the start of the text."""
    from briefing.entity_pages import _trimmed, snippet

    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 30)))
    limit = data.draw(st.sampled_from([0, 10, 40, 41, 60, 81, 120, 240]))
    whole = _trimmed(text, _snippet_start_reference(text, start), start, end, limit)
    assert snippet(text, start, end, limit) == whole


def _phrase_candidates_by_scan(text: str) -> dict[str, int]:
    """tags._candidates as first written: one regex match at a time, every test spelled out."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from briefing.tags import _WORD, GENERIC, lemma

    counts: dict[str, int] = {}
    run: list[str] = []
    last_end = -1
    for m in _WORD.finditer(text):
        word = m.group(0)
        between = text[last_end:m.start()] if last_end >= 0 else " "
        contiguous = between.strip() == "" and "\n" not in between
        attached = m.start() > 0 and text[m.start() - 1] in "-./"
        usable = (word.islower() and not attached and len(word) > 2 and word not in STOP_WORDS
                  and lemma(word) not in GENERIC and not word.endswith("ly")
                  and not (word.endswith("ed") and not word.endswith("eed") and len(word) > 4))
        if not usable or not contiguous:
            run = []
        if usable:
            run.append(lemma(word))
            counts[run[-1]] = counts.get(run[-1], 0) + 1
            if len(run) >= 2:
                key = f"{run[-2]} {run[-1]}"
                counts[key] = counts.get(key, 0) + 1
        last_end = m.end()
    return counts


_PHRASE_WORDS = st.sampled_from(["air", "strikes", "strike", "the", "city", "cities", "Mosul", "quickly",
                                 "reported", "agreed", "x-ray", "talks", "oil", "prices", "it’s", "a"])
_PHRASE_GAPS = st.sampled_from([" ", "  ", "\t", "\n", ", ", ". ", "-", "/", ".", " (", "3", "_", ""])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_PHRASE_WORDS, _PHRASE_GAPS), max_size=30), st.text(max_size=40))
def test_phrase_candidates_equal_a_plain_scan(pieces: list[tuple[str, str]], noise: str) -> None:
    """The memoised, split-based phrase counter counts what a word-by-word scan counts."""
    from briefing.tags import _candidates

    text = "".join(w + g for w, g in pieces) + noise
    assert dict(_candidates(text)) == _phrase_candidates_by_scan(text)


def _resolve_by_urlsplit(href: str, page_dir: str, base_path: str, files: set[str]):
    """links._resolve as first written: every href through urlsplit and unquote."""
    import posixpath
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(href)
    fragment = unquote(parts.fragment) if parts.fragment else ""
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "tel:", "data:")):
        if parts.scheme.lower() == "javascript":
            return None, "javascript: links are not allowed", ""
        return None, None, ""
    path = unquote(parts.path)
    if not path:
        return "", None, fragment
    if path.startswith("/"):
        if not path.startswith(base_path):
            return None, f"it is outside the site's base path {base_path}", ""
        target = path[len(base_path):]
    else:
        target = posixpath.normpath(posixpath.join(page_dir, path))
        if target == ".":
            target = ""
    if target.startswith("../") or target == "..":
        return None, "it points above the site's root", ""
    if target == "" or target.endswith("/"):
        target = target + "index.html"
    elif target not in files and target + "/index.html" in files:
        target = target + "/index.html"
    if target not in files:
        return None, f"no such file ({target}) in the site", ""
    return target, None, fragment


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab/.#?:%2F é-_~'()=&@\t", max_size=24), st.sampled_from(["", "people", "a/b"]))
def test_resolving_an_href_equals_urlsplit(href: str, page_dir: str) -> None:
    from briefing import links

    files = {"index.html", "people/index.html", "a/b/index.html", "a/index.html", "ab", "a/b/ab/index.html"}
    for base in ("/", "/site/"):
        assert links._resolve(href, page_dir, base, files) == _resolve_by_urlsplit(href, page_dir, base, files)


@st.composite
def dated_archive(draw: Any) -> Any:
    """An archive of articles over a few months, each mentioning some of a few entities and topics."""
    from briefing import archive as archive_stage
    from briefing.model import Enrichment, Entity, Mention, Topic

    keys = [f"person/p{i}" for i in range(6)] + [f"org/o{i}" for i in range(4)]
    topics = [f"t{i}" for i in range(5)]
    n = draw(st.integers(1, 40))
    articles, mentions, tagged = [], {}, {}
    for i in range(n):
        source = f"content/a{i}.md"
        day = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=draw(st.integers(0, 120)))
        articles.append(Article(source=source, title=f"A{i}", date=day, slug=f"a{i}", summary="", body="",
                                body_line=1, text="x", headline_end=1, content_hash=str(i)))
        named = draw(st.lists(st.sampled_from(keys), max_size=8))
        mentions[source] = tuple(Mention(j, j + 1, "x", k.split("/")[0], k) for j, k in enumerate(named))
        tagged[source] = tuple(draw(st.lists(st.sampled_from(topics), max_size=3, unique=True)))
    enrichment = Enrichment(mentions=mentions,
                            entities={k: Entity(k, k, k.split("/")[0]) for k in keys},
                            topics=tagged, topic_table={t: Topic(t, t) for t in topics})
    from briefing.config import EntitiesConfig, TagsConfig

    config = Config(root=Path("/"), entities=EntitiesConfig(min_articles=draw(st.integers(1, 3))),
                    tags=TagsConfig(min_articles=draw(st.integers(1, 3))))
    return archive_stage.build(articles, enrichment, config)


@given(dated_archive())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_recently_active_counts_alike_by_article_and_by_entity(archive: Any) -> None:
    """The home page's "recently active" counts, read from each recent article or bisected from
    each entity's article list (whichever is cheaper), are the same."""
    from briefing import entity_pages

    entries = tuple(tuple.__iter__(archive.entries))
    since = entries[0].article.date - dt.timedelta(weeks=6)
    recent = sum(1 for e in entries if e.article.date >= since)
    paged_e = frozenset(frozenset.__iter__(archive.paged_entities))
    paged_t = frozenset(frozenset.__iter__(archive.paged_topics))
    by_entry = entity_pages._recent_counts_by_entry(entries, recent, paged_e, paged_t)
    by_key = entity_pages._recent_counts_by_key(archive, entries, recent, paged_e, paged_t)
    assert by_entry == by_key
    assert sum(by_entry[0].values()) == sum(len({m.entity for m in e.mentions if m.entity in paged_e})
                                            for e in entries[:recent])
    assert entity_pages.recently_active(archive)["entities"] == [
        {"name": k, "url": entity_pages.entity_url(archive.entities[k]), "count": c, "kind": archive.entities[k].kind}
        for k, c in sorted(by_entry[0].items(), key=lambda kv: (-kv[1], kv[0]))[:10]]


@st.composite
def linked_entry(draw: Any) -> Any:
    """One article with linkable ranges and sorted mentions of a few entities, some in the headline,
    some straddling or outside a linkable range; and the archive it sits in."""
    from briefing import archive as archive_stage
    from briefing.model import Enrichment, Entity, Mention

    keys = [f"person/p{i}" for i in range(3)] + ["organization/o0"]
    title = "Headline"
    body_len = draw(st.integers(10, 120))
    text = title + markdown.BLOCK_SEPARATOR + "x" * body_len
    offset = len(title) + len(markdown.BLOCK_SEPARATOR)
    cuts = sorted(draw(st.lists(st.integers(0, body_len), max_size=10, unique=True)))
    # Alternate cuts open and close ranges: disjoint, sorted, possibly touching none.
    linkable = tuple((a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b)
    starts = sorted(draw(st.lists(st.integers(0, len(text) - 1), max_size=15)))
    mentions = tuple(Mention(s, min(len(text), s + draw(st.integers(1, 6))), "x", k.split("/")[0], k)
                     for s in starts for k in [draw(st.sampled_from(keys))])
    article = Article(source="content/a.md", title=title, date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                      slug="a", summary="", body="", body_line=1, text=text, headline_end=len(title),
                      content_hash="0", linkable=linkable)
    named = {m.entity for m in mentions}
    enrichment = Enrichment(mentions={"content/a.md": mentions},
                            entities={k: Entity(k, k.split("/")[1].upper(), k.split("/")[0]) for k in keys},
                            topics={"content/a.md": ()}, topic_table={})
    from briefing.config import EntitiesConfig

    config = Config(root=Path("/"), entities=EntitiesConfig(min_articles=1))
    built = archive_stage.build([article], enrichment, config)
    assert offset == article.headline_end + len(markdown.BLOCK_SEPARATOR)
    return built, config, named


@given(linked_entry())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_an_entity_pages_first_link_is_the_one_the_article_weaves(case: Any) -> None:
    """An entity page points at an article's first link to the entity, found from that entity's
    mentions alone; it is the span (and anchor) the article page weaves among all its links."""
    from briefing import entity_pages, pages

    built, config, named = case
    entry = built.entries[0]
    spans, _ = pages.mention_links(entry, built, config)
    for key in named:
        entity = built.entities[key]
        woven = [s for s in spans if s.href == entity_pages.entity_url(entity)]
        found = entity_pages.first_linked(entry, entity) if key in built.paged_entities else None
        if woven:
            assert found == (woven[0].start, woven[0].end)
            assert woven[0].anchor == entity_pages.anchor_for(entity.slug, 0)
        else:
            assert found is None


@st.composite
def archive_and_edit(draw: Any) -> Any:
    """An archive, and the same archive after random edits of the kinds a rebuild meets: bytes
    (and dates) changed, mentions moved (`remade`), topics moved, articles added or removed,
    entities and topics renamed or dropped; the second enrichment made from the first."""
    from briefing.config import EntitiesConfig, TagsConfig
    from briefing.model import Enrichment, Entity, Mention, Topic

    keys = [f"person/p{i}" for i in range(5)] + [f"organization/o{i}" for i in range(3)]
    topic_keys = [f"t{i}" for i in range(4)]

    def article(i: int, version: int, day: int) -> Article:
        return Article(source=f"content/a{i}.md", title=f"A{i}.{version}",
                       date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day), slug=f"a{i}",
                       summary="", body="", body_line=1, text="x", headline_end=1, content_hash=f"{i}.{version}")

    def mentions() -> tuple:
        return tuple(Mention(j, j + 1, "x", k.split("/")[0], k)
                     for j, k in enumerate(draw(st.lists(st.sampled_from(keys), max_size=6))))

    n = draw(st.integers(1, 25))
    before = {i: article(i, 0, draw(st.integers(0, 60))) for i in range(n)}
    basis = Enrichment(mentions={a.source: mentions() for a in before.values()},
                       entities={k: Entity(k, k, k.split("/")[0]) for k in keys},
                       topics={a.source: tuple(draw(st.lists(st.sampled_from(topic_keys), max_size=2, unique=True)))
                               for a in before.values()},
                       topic_table={t: Topic(t, t) for t in topic_keys},
                       redirects={"person/old": "person/p0"})
    after = dict(before)
    now_mentions, now_topics, remade = dict(basis.mentions), dict(basis.topics), set()
    for i in draw(st.lists(st.integers(0, n + 2), max_size=6)):
        what = draw(st.sampled_from(["bytes", "date", "mentions", "topics", "add", "remove"]))
        source = f"content/a{i}.md"
        if what == "remove" and i in after:
            del after[i]
            now_mentions.pop(source, None)
            now_topics.pop(source, None)
        elif what in ("bytes", "date", "add") and (i in after or what == "add"):
            after[i] = article(i, draw(st.integers(1, 9)), draw(st.integers(0, 60)) if what != "bytes" else
                               (after[i].date - dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).days if i in after else 0)
            if source not in now_mentions:
                now_mentions[source], now_topics[source] = mentions(), ()
                remade.add(source)
        elif what == "mentions" and i in after:
            now_mentions[source] = mentions()
            remade.add(source)
        elif what == "topics" and i in after:
            now_topics[source] = tuple(draw(st.lists(st.sampled_from(topic_keys), max_size=2, unique=True)))
    entities = dict(basis.entities)
    if draw(st.booleans()):
        entities["person/p1"] = Entity("person/p1", "Renamed", "person")
    if draw(st.booleans()):
        del entities["organization/o2"]
    table = dict(basis.topic_table)
    if draw(st.booleans()):
        table["t1"] = Topic("t1", "Renamed")
    enrichment = Enrichment(mentions=now_mentions, entities=entities, topics=now_topics, topic_table=table,
                            redirects=basis.redirects if draw(st.booleans()) else {"person/old": "person/p1"},
                            basis=basis, basis_key="k", remade=frozenset(remade))
    config = Config(root=Path("/"), entities=EntitiesConfig(min_articles=draw(st.integers(1, 3))),
                    tags=TagsConfig(min_articles=draw(st.integers(1, 3))))
    return list(before.values()), basis, list(after.values()), enrichment, config


@given(archive_and_edit())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_cell_that_changed_is_one_that_may_differ(case: Any) -> None:
    """The cells archive.may_differ names are all that can change between an archive and the
    archive of an enrichment made from the first one's: the page stage digests only those."""
    from briefing import archive as archive_stage
    from briefing.depends import ALL, AT_MOST

    before, basis, after, enrichment, config = case
    then = archive_stage.build(before, basis, config)
    now = archive_stage.build(after, enrichment, config)
    cells: set = set()
    limits = {archive_stage.common_limit(len(before)), archive_stage.common_limit(len(after))}
    for archive in (then, now):
        for name in ("by_source", "facets", "entities", "entity_sources", "paged_entities", "topics",
                     "topic_sources", "paged_topics", "redirects"):
            box = getattr(archive, name)
            cells.update((name, key) for key in (frozenset.__iter__(box) if isinstance(box, frozenset) else
                                                 dict.__iter__(box)))
        cells.update(("entity_sources" + AT_MOST, (k, limit)) for k in dict.__iter__(archive.entities)
                     for limit in limits)
        cells.update(("topic_sources" + AT_MOST, (k, limit)) for k in dict.__iter__(archive.topics) for limit in limits)
        cells.update(("paged_entities", k) for k in dict.__iter__(archive.entity_sources))
    ordered = sorted(cells, key=repr)
    ordered = [c for c in ordered if c[1] is not ALL]
    a, b = archive_stage.cells(then).digests(ordered), archive_stage.cells(now).digests(ordered)
    changed = {c for i, c in enumerate(ordered) if a[8 * i:8 * i + 8] != b[8 * i:8 * i + 8]}
    suspects = archive_stage.may_differ(now, enrichment, {x.source: x.content_hash for x in before})
    assert changed <= suspects, changed - suspects


def test_an_archive_entry_made_fast_is_an_entry():
    """archive._entry skips the frozen dataclass's __init__; what it makes equals, prints and
    stays frozen as Entry(...) does."""
    import dataclasses

    import pytest

    from briefing.archive import Entry, _entry

    article = Article(source="content/a.md", title="A", date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), slug="a",
                      summary="", body="", body_line=1, text="A", headline_end=1, content_hash="0")
    fast, plain = _entry(article, (), ("t",), "articles/a/"), Entry(article, (), ("t",), "articles/a/")
    assert fast == plain and repr(fast) == repr(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.url = "elsewhere/"  # type: ignore[misc]
