"""A cache of parsed Articles, so a rebuild parses only the content files whose bytes changed.

One pickle in the cache folder, `articles-<fingerprint>.pickle`, maps each file's relpath to
(sha256 of its bytes, its Article with its text fields packed: model.pack, read when first
used). The fingerprint covers everything else parsing depends on:
`markdown.html`, `content_dir` and the source of the parse code, so changing any of them starts
from an empty cache. Only files that parsed are stored: a file with problems is parsed, and
reported, on every build. An unreadable, corrupt or incompatible pickle is an empty cache; one
that cannot be written only makes the next build slower.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from . import sealed, sources
from .cache_writes import CacheWrites
from .config import Config
from .errors import ContentError, Problem
from .model import Article, SourceFile, pack

VERSION = "5"  # bump when what is stored changes (2: Article.body_pieces; 3: Article.analysis_key; 4: packed; 5: links)
PARSE_CODE = ("sources.py", "markdown.py", "yamlload.py", "slug.py", "model.py")

Entries = dict[str, tuple[bytes, Article]]

# At least this many files to parse go to forked workers (fewer cost more to send than to parse).
PARALLEL_PARSE_MIN = 400


def fingerprint(config: Config) -> str:
    """Digest of what an Article depends on besides its file's bytes and path."""
    h = hashlib.sha256(f"{VERSION}\0{config.markdown.html}\0{config.content_dir}\0".encode())
    here = Path(__file__).parent
    for name in PARSE_CODE:
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    return h.hexdigest()[:20]


def parse_all(found: list[SourceFile], config: Config, writes: CacheWrites | None = None, *,
              jobs: int = 1, meanwhile: Callable[[], None] | None = None,
              ) -> tuple[list[Article], list[Problem], int]:
    """`sources.parse_all`, reusing the Article of each file whose bytes are unchanged.

    Also returns how many files were actually parsed. Many files to parse (a first build) are
    parsed by `jobs` forked workers, while this process runs `meanwhile` (the build loads the
    model then). The cache is saved by `writes` when given (see cache_writes.py), else at once.
    """
    path = config.cache_path / f"articles-{fingerprint(config)}.pickle"
    cached = _load(path)
    digests = [src.digest for src in found]
    known: dict[int, Article] = {}
    todo: list[int] = []
    for i, (src, digest) in enumerate(zip(found, digests, strict=True)):
        hit = cached.get(src.relpath)
        if (isinstance(hit, tuple) and len(hit) == 2 and hit[0] == digest and isinstance(hit[1], Article)
                and hit[1].source == src.relpath):
            known[i] = hit[1]
        else:
            todo.append(i)
    parsed = _parse_files([found[i] for i in todo], config, jobs, meanwhile)
    entries: Entries = {}
    articles: list[Article] = []
    problems: list[Problem] = []
    fresh = dict(zip(todo, parsed, strict=True))
    for i, (src, digest) in enumerate(zip(found, digests, strict=True)):
        got = known[i] if i in known else fresh[i]
        if isinstance(got, Article):
            articles.append(got)
            entries[src.relpath] = (digest, got)
        else:
            problems.extend(got)
    if todo or entries.keys() != cached.keys():
        CacheWrites.or_at_once(writes).add(lambda: _save(path, entries))
    return articles, problems, len(todo)


def _parse_one(src: SourceFile, config: Config) -> Article | list[Problem]:
    try:
        return sources.parse(src, config)
    except ContentError as exc:
        return exc.problems


_PARSE_WORK: tuple[list[SourceFile], Config] | None = None


def _parse_chunk(bounds: tuple[int, int]) -> list[Article | list[Problem]]:
    assert _PARSE_WORK is not None
    files, config = _PARSE_WORK
    return [_parse_one(src, config) for src in files[bounds[0]:bounds[1]]]


def _parse_files(files: list[SourceFile], config: Config, jobs: int,
                 meanwhile: Callable[[], None] | None) -> list[Article | list[Problem]]:
    """Each file's Article, or its problems, in order."""
    if (jobs < 2 or len(files) < PARALLEL_PARSE_MIN or sys.platform == "win32" or not hasattr(os, "fork")
            or threading.active_count() > 1):  # forking other threads is unsafe (the dev server)
        return [_parse_one(src, config) for src in files]
    from .workers import forked_pool

    global _PARSE_WORK
    _PARSE_WORK = (files, config)
    step = max(50, len(files) // (jobs * 8))
    chunks = [(i, min(i + step, len(files))) for i in range(0, len(files), step)]
    try:
        with forked_pool(jobs) as pool:
            pending = pool.map_async(_parse_chunk, chunks)
            if meanwhile is not None:
                meanwhile()
            return [got for part in pending.get() for got in part]
    finally:
        _PARSE_WORK = None


def _load(path: Path) -> dict:
    data = sealed.load(path)  # missing, truncated, foreign or written by other code: start afresh
    return data if isinstance(data, dict) else {}


def _save(path: Path, entries: Entries) -> None:
    """Write atomically, then remove the pickles of other settings (never read again)."""
    try:
        sealed.dump({rel: (digest, pack(article)) for rel, (digest, article) in entries.items()}, path)
        for old in path.parent.glob("articles-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass
