"""A cache of parsed Articles, so a rebuild parses only the content files whose bytes changed.

One pickle in the cache folder, `articles-<fingerprint>.pickle`, maps each file's relpath to
(sha256 of its bytes, its Article). The fingerprint covers everything else parsing depends on:
`markdown.html`, `content_dir` and the source of the parse code, so changing any of them starts
from an empty cache. Only files that parsed are stored: a file with problems is parsed, and
reported, on every build. An unreadable, corrupt or incompatible pickle is an empty cache; one
that cannot be written only makes the next build slower.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import sealed, sources
from .cache_writes import CacheWrites
from .config import Config
from .errors import ContentError, Problem
from .model import Article, SourceFile

VERSION = "2"  # bump when what is stored changes (2: Article.body_pieces)
PARSE_CODE = ("sources.py", "markdown.py", "yamlload.py", "slug.py", "model.py")

Entries = dict[str, tuple[bytes, Article]]


def fingerprint(config: Config) -> str:
    """Digest of what an Article depends on besides its file's bytes and path."""
    h = hashlib.sha256(f"{VERSION}\0{config.markdown.html}\0{config.content_dir}\0".encode())
    here = Path(__file__).parent
    for name in PARSE_CODE:
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    return h.hexdigest()[:20]


def parse_all(found: list[SourceFile], config: Config,
              writes: CacheWrites | None = None) -> tuple[list[Article], list[Problem], int]:
    """`sources.parse_all`, reusing the Article of each file whose bytes are unchanged.

    Also returns how many files were actually parsed. The cache is saved by `writes` when given
    (see cache_writes.py), else at once.
    """
    path = config.cache_path / f"articles-{fingerprint(config)}.pickle"
    cached = _load(path)
    entries: Entries = {}
    articles: list[Article] = []
    problems: list[Problem] = []
    parsed = 0
    changed = False
    for src in found:
        digest = hashlib.sha256(src.data).digest()
        hit = cached.get(src.relpath)
        if (isinstance(hit, tuple) and len(hit) == 2 and hit[0] == digest and isinstance(hit[1], Article)
                and hit[1].source == src.relpath):
            article = hit[1]
        else:
            parsed += 1
            try:
                article = sources.parse(src, config)
            except ContentError as exc:
                problems.extend(exc.problems)
                continue
            changed = True
        articles.append(article)
        entries[src.relpath] = (digest, article)
    if changed or entries.keys() != cached.keys():
        CacheWrites.or_at_once(writes).add(lambda: _save(path, entries))
    return articles, problems, parsed


def _load(path: Path) -> dict:
    data = sealed.load(path)  # missing, truncated, foreign or written by other code: start afresh
    return data if isinstance(data, dict) else {}


def _save(path: Path, entries: Entries) -> None:
    """Write atomically, then remove the pickles of other settings (never read again)."""
    try:
        sealed.dump(entries, path)
        for old in path.parent.glob("articles-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass
