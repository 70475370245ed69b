"""Discover content files and parse each into an Article: front matter, body, plain text.

Parsing is pure: a SourceFile's bytes in, an Article (or a list of located problems) out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import file_index, markdown, yamlload
from .config import Config
from .errors import ContentError, Problem
from .model import Article, SourceFile, analysis_key
from .slug import slugify

CONTENT_SUFFIXES = (".md", ".markdown", ".txt")
MAX_FILE_BYTES = 10 * 1024 * 1024  # larger files are refused: no briefing is 10 MB of text
KNOWN_KEYS = ("title", "date", "slug", "summary", "author", "source", "url", "tags", "draft", "encoding")
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)$")
_EDITOR_TEMP = re.compile(r"(^\.|~$|\.sw[a-p]$|^4913$|^#.*#$)")


def is_ignored_name(name: str) -> bool:
    """Hidden files and editor droppings (`.x.swp`, `x~`, `.#x`, vim's `4913`) are not content."""
    return bool(_EDITOR_TEMP.search(name))


def discover(config: Config, known: Mapping[str, tuple] | None = None,
             ) -> tuple[list[SourceFile], list[Path], list[Problem]]:
    """Content files (sorted by path), other files to copy as they are, and problems found.

    A symlink that points outside the project is a problem, not something to follow. A content
    file whose identity on disk is the one `known` (file_index.load) recorded is not read: the
    recorded digest stands for its bytes.
    """
    root = config.root
    content = config.content_path
    sources: list[SourceFile] = []
    assets: list[Path] = []
    problems: list[Problem] = []
    if not content.is_dir():
        return sources, assets, problems
    real_root = root.resolve()
    now = time.time_ns()
    known = known or {}
    ignored = _EDITOR_TEMP.search
    for dirpath, dirnames, filenames in os.walk(content, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            full = Path(dirpath, d)
            if full.is_symlink():
                dirnames.remove(d)
                if not _inside(_real(full), real_root):
                    problems.append(Problem(_rel(full, root), None,
                                            "is a link to a folder outside the project; refusing to follow it. "
                                            "Copy the folder into the project instead."))
        folder = _rel(Path(dirpath), root)
        prefix = os.path.join(dirpath, "")
        for name in sorted(filenames):  # os-level calls: an archive has tens of thousands of files
            if ignored(name):
                continue
            full = prefix + name
            rel = f"{folder}/{name}"
            try:
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    if not _inside(_real(Path(full)), real_root):
                        problems.append(Problem(rel, None, "is a link to a file outside the project; refusing to "
                                                "read it. Copy the file into the project instead."))
                        continue
                    st = os.stat(full)
            except OSError as exc:
                problems.append(Problem(rel, None, f"cannot be read: {exc.strerror}."))
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append(Problem(rel, None, "is not a regular file (a pipe, socket or device); "
                                        "content/ holds only plain files. Remove it from content/."))
                continue
            dot = name.rfind(".")
            if dot <= 0 or name[dot:].lower() not in CONTENT_SUFFIXES:  # os.path.splitext's suffix
                assets.append(Path(full))
                continue
            size = st.st_size
            if size > MAX_FILE_BYTES:
                problems.append(Problem(rel, None, f"is {size / 1e6:.1f} MB; content files are limited to "
                                        f"{MAX_FILE_BYTES // (1024 * 1024)} MB. Split it or remove it."))
                continue
            identity = file_index.identity(st, now)
            hit = known.get(rel) if identity is not None else None
            if hit is not None and hit[:4] == identity:
                sources.append(unread(full, rel, hit[4], identity))
                continue
            try:
                with open(full, "rb", buffering=0) as fh:
                    data = fh.readall()
            except OSError as exc:
                problems.append(Problem(rel, None, f"cannot be read: {exc.strerror}."))
                continue
            sources.append(SourceFile(full, rel, data, identity=identity))
    sources.sort(key=lambda s: s.relpath)
    assets.sort()
    return sources, assets, problems


def unread(file: str, relpath: str, digest: bytes, identity: tuple) -> SourceFile:
    """`SourceFile(file, relpath, None, digest, identity)`, without the frozen dataclass's
    object.__setattr__ per field (ten thousand unchanged files on every build)."""
    found = object.__new__(SourceFile)
    found.__dict__.update(file=file, relpath=relpath, data=None, digest=digest, identity=identity)
    return found


def read_source(path: Path, root: Path) -> SourceFile:
    """One file as a SourceFile (for `briefing extract` on files outside an archive)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContentError(Problem(str(path), None, f"cannot be read: {exc.strerror}.")) from None
    try:
        rel = path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        rel = str(path)
    return SourceFile(file=path, relpath=rel, data=data)


def _real(path: Path) -> Path:
    """Where a link really points; a link loop resolves to itself (and fails to read later)."""
    return Path(os.path.realpath(path))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


# --- parsing -----------------------------------------------------------------------------


def parse(src: SourceFile, config: Config, require_date: bool = True) -> Article:
    """Parse one content file. Raises ContentError listing every problem found in it.

    With `require_date=False` a missing date is not a problem: the article gets the placeholder
    date 1970-01-01 UTC (for `briefing extract` on a plain .txt). A date given but invalid still is.
    """
    problems: list[Problem] = []
    path = src.relpath
    try:
        data = src.read()
    except OSError as exc:
        raise ContentError(Problem(path, None, f"cannot be read: {exc.strerror}.")) from None
    if not data.strip():
        raise ContentError(Problem(path, None, "is empty. Add front matter with a title and a date, "
                                   "or delete the file."))
    if b"\x00" in data:
        raise ContentError(Problem(path, None, "is a binary file (it contains NUL bytes); content files "
                                   "must be UTF-8 text. Move it out of content/."))
    text = _decode(data, path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front, body, body_line = _split_front_matter(text, path)
    is_txt = src.path.suffix.lower() == ".txt"

    title: Any = front.get("title")
    if is_txt:
        headline, body, body_line = _txt_headline(body, body_line)
        if title is None:
            title = headline
        body = markdown.escape_plain(body)
    line = lambda key: yamlload.line_of(front, key, 1)  # noqa: E731

    if title is None or (isinstance(title, str) and not title.strip()):
        problems.append(Problem(path, line("title") if "title" in front else 1,
                                "missing title. Add `title: \"...\"` to the front matter."))
        title = ""
    elif isinstance(title, (int, float)) and not isinstance(title, bool):
        title = str(title)
    elif not isinstance(title, str):
        problems.append(Problem(path, line("title"), f"title must be a string, not {_describe(title)}."))
        title = ""
    title = " ".join(str(title).split())

    date = _parse_date(front, src, is_txt, problems, require_date)

    slug_value = front.get("slug")
    stem = src.path.stem
    prefix = _DATE_PREFIX.match(stem)
    if slug_value is None:
        slug = slugify(prefix.group(2) if prefix else stem, fallback="article")
    elif not isinstance(slug_value, (str, int)) or isinstance(slug_value, bool):
        problems.append(Problem(path, line("slug"), f"slug must be a string, not {_describe(slug_value)}."))
        slug = "invalid"
    elif "/" in str(slug_value) or "\\" in str(slug_value) or ".." in str(slug_value):
        problems.append(Problem(path, line("slug"), f"slug {str(slug_value)!r} may not contain '/', '\\' or "
                                "'..'; use letters, digits and hyphens, e.g. 'iraq-strike'."))
        slug = "invalid"
    else:
        slug = slugify(str(slug_value), fallback="article")

    strings: dict[str, str | None] = {}
    for key in ("summary", "author", "source", "url"):
        value = front.get(key)
        if value is None:
            strings[key] = None
        elif isinstance(value, str):
            strings[key] = value.strip()
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            strings[key] = str(value)
        else:
            problems.append(Problem(path, line(key), f"{key} must be a string, not {_describe(value)}."))
            strings[key] = None
    url = strings["url"]
    if url and not re.match(r"^https?://[^\s]+$", url):
        problems.append(Problem(path, line("url"), f"url {url!r} must be a web address starting with "
                                "http:// or https://."))

    tags = _parse_tags(front, path, problems)
    draft = front.get("draft", False)
    if not isinstance(draft, bool):
        problems.append(Problem(path, line("draft"), f"draft must be true or false, not {_describe(draft)}."))
        draft = False

    if problems:
        raise ContentError(problems)

    html = config.markdown.html
    body_text, linkable, pieces = markdown.parse_body(body, html)
    summary = strings["summary"] or _default_summary(body_text)
    meta = {k: v for k, v in front.items() if k not in KNOWN_KEYS}
    text = title + markdown.BLOCK_SEPARATOR + body_text
    return Article(
        source=path,
        title=title,
        date=date,
        slug=slug,
        summary=summary,
        body=body,
        body_line=body_line,
        text=text,
        headline_end=len(title),
        content_hash=hashlib.sha256(data).hexdigest(),
        linkable=linkable,
        author=strings["author"],
        publisher=strings["source"],
        url=url,
        tags=tags,
        draft=draft,
        meta=meta,
        body_pieces=pieces,
        analysis_key=analysis_key(path, len(title), text, body),
    )


def _decode(data: bytes, path: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        declared = _declared_encoding(data)
        if declared:
            try:
                return data.decode(declared)
            except (LookupError, UnicodeDecodeError) as exc2:
                raise ContentError(Problem(path, 1, f"cannot be decoded as the declared encoding "
                                           f"{declared!r}: {exc2}.")) from None
        line = data[: exc.start].count(b"\n") + 1
        raise ContentError(Problem(path, line, f"is not UTF-8: byte 0x{data[exc.start]:02x} at byte offset "
                                   f"{exc.start}. Save the file as UTF-8, or declare its encoding in the "
                                   "front matter (e.g. `encoding: latin-1`).")) from None


def _declared_encoding(data: bytes) -> str | None:
    head = data[:4096].decode("latin-1")
    if not head.startswith("---"):
        return None
    match = re.search(r"^encoding:\s*['\"]?([A-Za-z0-9_-]+)['\"]?\s*$", head, re.MULTILINE)
    return match.group(1) if match else None


def _split_front_matter(text: str, path: str) -> tuple[Mapping[str, Any], str, int]:
    """Front matter mapping, body text and the 1-based line the body starts on."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text, 1
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            break
    else:
        raise ContentError(Problem(path, 1, "front matter opened with '---' on line 1 is never closed. "
                                   "Add a line with '---' after the last front-matter key."))
    yaml_text = "\n".join(lines[1:i])
    try:
        front = yamlload.load(yaml_text, path, first_line=2)
    except yamlload.YamlProblem as exc:
        raise ContentError(exc.problem) from None
    if front is None:
        front = {}
    if not isinstance(front, Mapping):
        raise ContentError(Problem(path, 2, "front matter must be `key: value` lines, not "
                                   f"{_describe(front)}."))
    return front, "\n".join(lines[i + 1:]), i + 2


def _txt_headline(body: str, body_line: int) -> tuple[str, str, int]:
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            return line.strip(), "\n".join(lines[i + 1:]), body_line + i + 1
    return "", "", body_line


def _parse_date(front: Mapping[str, Any], src: SourceFile, is_txt: bool,
                problems: list[Problem], require_date: bool = True) -> dt.datetime:
    path = src.relpath
    value = front.get("date")
    line = yamlload.line_of(front, "date", 1)
    fallback = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if value is None:
        prefix = _DATE_PREFIX.match(src.path.stem)
        if prefix:
            value = prefix.group(1)
            try:
                return _as_datetime(dt.date.fromisoformat(value))
            except ValueError:
                problems.append(Problem(path, None, f"the file name's date {value!r} is not a real date."))
                return fallback
        if not require_date:
            return fallback
        hint = " or name the file YYYY-MM-DD-title.txt" if is_txt else ""
        problems.append(Problem(path, 1, f"missing date. Add `date: YYYY-MM-DD` to the front matter{hint}."))
        return fallback
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            # YAML timestamps with a zone arrive as UTC-naive in PyYAML only when the zone is absent.
            problems.append(Problem(path, line, f"date {value.isoformat()} has a time but no timezone. "
                                    "Add one, e.g. '2025-03-14T20:00:00+03:00', or give the date alone."))
            return fallback
        return value
    if isinstance(value, dt.date):
        return _as_datetime(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            problems.append(Problem(path, line, f"date {value!r} is not a date. Write it as YYYY-MM-DD, "
                                    "or YYYY-MM-DDTHH:MM:SS+HH:MM."))
            return fallback
        if len(value.strip()) == 10:
            return _as_datetime(parsed.date())
        if parsed.tzinfo is None:
            problems.append(Problem(path, line, f"date {value!r} has a time but no timezone. "
                                    "Add one, e.g. '+00:00'."))
            return fallback
        return parsed
    problems.append(Problem(path, line, f"date must be a date like 2025-03-14, not {_describe(value)}."))
    return fallback


def _as_datetime(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _parse_tags(front: Mapping[str, Any], path: str, problems: list[Problem]) -> tuple[str, ...]:
    value = front.get("tags")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [t for t in value.split(",")]
    if not isinstance(value, list):
        problems.append(Problem(path, yamlload.line_of(front, "tags", 1),
                                f"tags must be a list like [iraq, isis], not {_describe(value)}."))
        return ()
    tags = []
    for item in value:
        if isinstance(item, (str, int, float)) and not isinstance(item, bool):
            tag = " ".join(str(item).split())
            if tag:
                tags.append(tag)
        else:
            problems.append(Problem(path, yamlload.line_of(front, "tags", 1),
                                    f"each tag must be a word or phrase, not {_describe(item)}."))
    return tuple(tags)


def _default_summary(body_text: str, limit: int = 280) -> str:
    """The first paragraph, cut at a sentence boundary when long."""
    for para in body_text.split(markdown.BLOCK_SEPARATOR):
        para = " ".join(para.split())
        if not para:
            continue
        if len(para) <= limit:
            return para
        cut = ""
        for sentence in re.split(r"(?<=[.!?])\s+", para):
            if len(cut) + len(sentence) + 1 > limit and cut:
                break
            cut = f"{cut} {sentence}".strip()
        if len(cut) > limit:
            cut = cut[:limit].rsplit(" ", 1)[0] + "…"
        return cut
    return ""


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()}); put it in quotes to keep it as text"
    return repr(value)


def parse_all(sources: list[SourceFile], config: Config) -> tuple[list[Article], list[Problem]]:
    """Parse every file; collect every problem instead of stopping at the first."""
    articles: list[Article] = []
    problems: list[Problem] = []
    for src in sources:
        try:
            articles.append(parse(src, config))
        except ContentError as exc:
            problems.extend(exc.problems)
    return articles, problems
