"""The plain data that flows between the stages of a build.

Every stage takes frozen dataclasses and returns new ones; no stage fills in a field that an
earlier one left empty. The flow (see shared/DESIGN.md):

    SourceFile --parse--> Article --enrich--> Annotations --resolve--> Enrichment
    (Article + Enrichment) --index--> Archive --plan--> Page --render--> Output --write--> Manifest
"""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

# Kinds of entity, and the URL section each one's pages live under.
KINDS: tuple[str, ...] = ("person", "organization", "place", "group", "event")
KIND_SECTIONS: Mapping[str, str] = {
    "person": "people",
    "organization": "organizations",
    "place": "places",
    "group": "groups",
    "event": "events",
}
KIND_NAMES: Mapping[str, str] = {
    "person": "Person",
    "organization": "Organisation",
    "place": "Place",
    "group": "Group",
    "event": "Event",
}
KIND_LABELS: Mapping[str, str] = {
    "person": "People",
    "organization": "Organisations",
    "place": "Places",
    "group": "Groups",
    "event": "Events",
}


@dataclass(frozen=True)
class SourceFile:
    """One file found under content/. Its bytes are read at most once, and not at all when the
    last build's file index vouches for their digest (file_index.py) and no stage needs them."""

    # Absolute path on disk: a string (a Path made for each of 10,000 unchanged files, never read,
    # was a third of discovering them), or a Path.
    file: str | os.PathLike[str]
    relpath: str  # POSIX path relative to the project root, e.g. "content/2025/iraq.md"
    data: bytes | None  # None: not read (see `read`)
    digest: bytes = b""  # sha256 of the bytes (of `data`, when it is given)
    identity: tuple[int, int, int, int] | None = None  # file_index.identity, when the index may record it

    def __post_init__(self) -> None:
        if not self.digest and self.data is not None:
            object.__setattr__(self, "digest", hashlib.sha256(self.data).digest())

    @property
    def path(self) -> Path:
        return Path(self.file)

    def read(self) -> bytes:
        """The file's bytes. Raises OSError when a file not read at discovery cannot be read now."""
        return self.data if self.data is not None else self.path.read_bytes()


@dataclass(frozen=True)
class Article:
    """A parsed content file: front matter validated, body as Markdown, plain text extracted."""

    source: str  # the relpath of its SourceFile; the article's identity in every later stage
    title: str
    date: dt.datetime  # timezone-aware; a bare date becomes midnight UTC
    slug: str
    summary: str
    body: str  # Markdown source of the body (a .txt body is escaped into Markdown)
    body_line: int  # 1-based line in the file where the body starts
    text: str  # plain text analysed for entities: title, blank line, body text
    headline_end: int  # text[:headline_end] is the title
    content_hash: str  # sha256 of the file's bytes
    # (start, end) ranges of the body plain text where a mention can become a link: text
    # outside headings, links and code, within one run of formatting (see markdown.py).
    linkable: tuple[tuple[int, int], ...] = ()
    author: str | None = None
    publisher: str | None = None  # front matter `source`
    url: str | None = None
    tags: tuple[str, ...] = ()  # as written in front matter (normalised later)
    draft: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)  # every other front-matter key
    # The body rendered once, its linkable text left as slots (markdown.parse_body): the render
    # stage weaves mention links into these instead of parsing the Markdown again.
    body_pieces: tuple = ()
    # `analysis_key` of the article, made when it is parsed (and kept with it in the parse cache):
    # a rebuild would otherwise hash 60 MB of text to key the analyses of 10,000 articles. Empty
    # in an Article made otherwise (stored.local_key makes it then); a copy with another text or
    # body (dataclasses.replace) must not keep it.
    analysis_key: str = field(default="", compare=False)

    @property
    def word_count(self) -> int:
        return len(self.text.split())

    @property
    def may_link_locally(self) -> bool:
        """False only when the body holds no Markdown link ("](") to another file: a packed
        Article (`pack`) answers from what was found when it was packed, without touching its
        body (a plan asks each of 10,000 articles, in a process that has just forked)."""
        packed = self.__dict__.get("_packed")
        if packed is not None:
            return packed[2]
        return "](" in self.body


# The fields of an Article that hold its text whole. An Article read back from the parse cache
# has them packed (`pack`: the body as UTF-8, the others in one marshal blob), unpacked on first
# read: a rebuild after an edit reads the text of the few articles it renders, and 10,000
# articles' bodies, texts and rendered pieces cost more than twice the rest of them to load.
PACKED_FIELDS = ("body", "text", "linkable", "body_pieces")


class _Packed:
    """An Article field that a packed Article holds in its blob: unpacked into the instance's
    own attributes on first read (a non-data descriptor: those then shadow it)."""

    def __init__(self, name: str, default: Any):
        self.name = name
        self.default = default

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self.default
        state = obj.__dict__
        packed = state.pop("_packed", None)
        if packed is None:
            raise AttributeError(self.name)
        body, rest, _ = packed
        state["body"] = body.decode("utf-8", "surrogatepass")
        state.update(zip(PACKED_FIELDS[1:], marshal.loads(rest), strict=True))
        return state[self.name]


for _name in PACKED_FIELDS:
    setattr(Article, _name, _Packed(_name, getattr(Article, _name, None)))


def pack(article: Article) -> Article:
    """A copy of `article` holding its PACKED_FIELDS packed, as the parse cache stores it
    (still packed when it came packed and was never read)."""
    state = dict(article.__dict__)
    if "_packed" not in state:
        body = state.pop("body").encode("utf-8", "surrogatepass")
        state["_packed"] = (body, marshal.dumps(tuple(state.pop(name) for name in PACKED_FIELDS[1:])), b"](" in body)
    packed = object.__new__(Article)
    packed.__dict__.update(state)
    return packed


def analysis_key(source: str, headline_end: int, text: str, body: str) -> str:
    """Everything of an article its analysis (enrich.Local) depends on: source, text, headline,
    Markdown body."""
    raw = f"{source}\0{headline_end}\0{text}\0{body}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


class Mention(NamedTuple):
    """An entity mention in an article's plain text, resolved to a canonical entity.

    A named tuple, not a frozen dataclass like the rest: an archive of 10,000 articles has
    400,000 of them, made on every build, and a tuple is made three times faster.
    """

    start: int  # character offsets into Article.text, end exclusive
    end: int
    text: str
    kind: str  # one of KINDS
    entity: str  # canonical key, e.g. "person/bashar-al-assad"


@dataclass(frozen=True)
class Entity:
    """One real-world entity, canonical across the archive."""

    key: str  # "<kind>/<slug>"
    name: str
    kind: str
    aliases: tuple[str, ...] = ()  # other surface forms seen or curated, sorted
    description: str = ""
    links: tuple[str, ...] = ()  # e.g. Wikipedia / Wikidata URLs from curation

    @property
    def slug(self) -> str:
        return self.key.split("/", 1)[1]


@dataclass(frozen=True)
class Topic:
    """A tag or rule-defined topic."""

    key: str  # slug
    name: str
    origin: str = "tag"  # "tag" (front matter), "rule" (config topics) or "auto" (extracted)


@dataclass(frozen=True)
class Enrichment:
    """What enrichment + resolution add to the archive: the output of the entities stage."""

    mentions: Mapping[str, tuple[Mention, ...]]  # article source -> mentions, sorted by start
    entities: Mapping[str, Entity]  # key -> entity
    topics: Mapping[str, tuple[str, ...]]  # article source -> topic keys
    topic_table: Mapping[str, Topic]  # topic key -> topic
    redirects: Mapping[str, str] = field(default_factory=dict)  # old entity key -> new key
    model_calls: int = 0  # articles the NER model actually ran on (cache misses)
    reused: bool = False  # the last build's resolution was taken, not done again (same_names.py)
    guessed: bool = False  # an edit's entities guessed from the last resolution, checked aside (same_names.py)
    # Where it is from, not what it holds (left out of ==): the key it is stored under
    # (enrich.ResultStore; "" when it is not); the stored enrichment it was made from by moving
    # the mentions of the articles in `remade` (same_names.py), and that one's key (None and ""
    # when resolved afresh). All else it holds of the other articles is that one's: the page
    # stage digests only what may differ (archive.may_differ).
    key: str = field(default="", compare=False)
    basis: Enrichment | None = field(default=None, compare=False, repr=False)
    basis_key: str = field(default="", compare=False)
    remade: frozenset[str] = field(default=frozenset(), compare=False)
