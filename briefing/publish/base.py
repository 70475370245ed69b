"""The pieces every publish target shares: the local build, the plan, progress, the protocol.

A target is one small class (`Target`): it says what it holds (`scan`), whether one of its
files equals a local one (`same`), and applies a plan (`apply`). Everything else, the diff,
the summary, `--dry-run`, `--max-deletes`, lives in `briefing.publish` and is the same for all.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, TypeVar

from ..errors import PublishError

MANIFEST_NAME = ".briefing-manifest.json"
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------- the local build


@dataclass(frozen=True)
class LocalFile:
    """One file of the build, with every hash a target may compare by (one read computes all)."""

    path: str  # POSIX path relative to the site root, e.g. "2025/iraq/index.html"
    source: Path  # where the bytes are on disk
    size: int
    sha256: str
    md5: str
    git_sha1: str  # the git blob id of the bytes (what `git hash-object` prints)

    def read(self) -> bytes:
        return self.source.read_bytes()


@dataclass(frozen=True)
class LocalSite:
    """The complete build to publish: every file the manifest lists (the manifest excluded)."""

    root: Path
    files: Mapping[str, LocalFile]

    def with_extras(self, extras: Mapping[str, bytes], folder: Path) -> LocalSite:
        """Add target-specific files (e.g. `.nojekyll`), written under `folder`; they win."""
        files = dict(self.files)
        for rel, data in sorted(extras.items()):
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[rel] = hash_file(rel, path)
        return LocalSite(self.root, files)


def hash_file(rel: str, path: Path) -> LocalFile:
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = path.stat().st_size
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            git.update(chunk)
    return LocalFile(rel, path, size, sha256.hexdigest(), md5.hexdigest(), git.hexdigest())


def check_relpath(rel: str) -> bool:
    """A manifest path we are willing to publish: relative, normalised, no control characters."""
    if not rel or rel.startswith("/") or "\\" in rel or any(ord(c) < 32 for c in rel):
        return False
    parts = PurePosixPath(rel).parts
    return all(p not in ("", ".", "..") for p in parts) and "/".join(parts) == rel


def read_site(folder: Path) -> LocalSite:
    """The complete build in `folder`, checked file by file against its manifest.

    Raises PublishError for an empty, partial or altered output folder: publishing half a
    site is worse than publishing nothing.
    """
    how = "Run `briefing build` (or publish without --no-build) to make a complete build."
    manifest = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise PublishError(f"{folder}: the output folder does not exist. {how}")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PublishError(f"{folder}: no complete build here ({MANIFEST_NAME} is missing). {how}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PublishError(f"{manifest}: unreadable build manifest ({exc}). {how}") from None
    listed = data.get("files") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(listed, dict):
        raise PublishError(f"{manifest}: not a version 1 build manifest. {how}")
    if data.get("drafts") is True or data.get("live_reload") is True:
        raise PublishError(f"{folder}: this build includes drafts or the live-reload script; "
                           f"only a production build is published. {how}")
    files: dict[str, LocalFile] = {}
    bad: list[str] = []
    for rel, digest in sorted(listed.items()):
        if not isinstance(rel, str) or not check_relpath(rel) or rel == MANIFEST_NAME:
            raise PublishError(f"{manifest}: invalid path {rel!r} in the build manifest. {how}")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise PublishError(f"{manifest}: invalid sha256 for {rel!r} in the build manifest. {how}")
        path = folder / rel
        if not path.is_file():
            bad.append(f"{rel} (missing)")
            continue
        local = hash_file(rel, path)
        if local.sha256 != digest:
            bad.append(f"{rel} (changed since the build)")
            continue
        files[rel] = local
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise PublishError(f"{folder}: the build is incomplete or was altered: {shown}. {how}")
    if not files:
        raise PublishError(f"{folder}: the build is empty; there is nothing to publish. {how}")
    return LocalSite(folder, files)


# ---------------------------------------------------------------------------- plan and progress


@dataclass(frozen=True)
class RemoteFile:
    """One file the target holds under its prefix, as the target describes it."""

    path: str  # relative to the target's prefix, POSIX
    size: int
    hash: str = ""  # in the target's own terms (sha256, git blob id, ETag); "" when unknown


@dataclass(frozen=True)
class Plan:
    target: str  # the target's description, for messages
    uploads: tuple[str, ...]  # new on the target
    updates: tuple[str, ...]  # on the target with other content
    deletes: tuple[str, ...]  # on the target, gone from the site
    unchanged: tuple[str, ...]

    @functools.cached_property
    def update_set(self) -> frozenset[str]:
        return frozenset(self.updates)

    @property
    def empty(self) -> bool:
        return not (self.uploads or self.updates or self.deletes)

    def counts(self) -> str:
        return (f"{_n(len(self.uploads), 'upload')}, {_n(len(self.updates), 'update')}, "
                f"{_n(len(self.deletes), 'delete')}, {len(self.unchanged)} unchanged")

    def lines(self, limit: int | None = None) -> list[str]:
        """One line per change (`+` new, `~` changed, `-` deleted), at most `limit` per kind."""
        out: list[str] = []
        for mark, paths in (("+", self.uploads), ("~", self.updates), ("-", self.deletes)):
            shown = paths if limit is None else paths[:limit]
            out.extend(f"  {mark} {p}" for p in shown)
            if len(paths) > len(shown):
                out.append(f"  {mark} ... and {len(paths) - len(shown)} more")
        return out


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def make_plan(target: Target, site: LocalSite, remote: Mapping[str, RemoteFile]) -> Plan:
    uploads, updates, unchanged = [], [], []
    for rel, local in sorted(site.files.items()):
        there = remote.get(rel)
        if there is None:
            uploads.append(rel)
        elif target.same(local, there):
            unchanged.append(rel)
        else:
            updates.append(rel)
    deletes = sorted(rel for rel in remote if rel not in site.files)
    return Plan(target.describe(), tuple(uploads), tuple(updates), tuple(deletes), tuple(unchanged))


@dataclass
class Progress:
    """What `apply` has done so far; thread-safe. On a failure it becomes the summary."""

    uploaded: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def done(self, plan: Plan, path: str, deleted: bool = False) -> None:
        with self._lock:
            if deleted:
                self.deleted.append(path)
            elif path in plan.update_set:
                self.updated.append(path)
            else:
                self.uploaded.append(path)

    def report(self, plan: Plan) -> str:
        if not (self.uploaded or self.updated or self.deleted):
            return "Nothing was changed on the target."
        return (f"Done before the failure: uploaded {len(self.uploaded)} of {len(plan.uploads)} new, "
                f"updated {len(self.updated)} of {len(plan.updates)} changed, "
                f"deleted {len(self.deleted)} of {len(plan.deletes)} removed file(s). "
                "Each file on the target is either its old or its new version; "
                "run publish again to finish.")


# ---------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Option:
    """One key a target accepts in config.yaml.

    kind: "str", "int", "bool", "auto-bool" (true, false or "auto") or "globmap" (glob -> str).
    """

    kind: str
    required: bool = False
    default: Any = None
    help: str = ""


class Target(abc.ABC):
    """A place a site is published to. Subclasses set `type`, `OPTIONS` and implement scan/apply."""

    type: ClassVar[str]
    OPTIONS: ClassVar[Mapping[str, Option]]
    CREDENTIALS_HELP: ClassVar[str] = ""

    def __init__(self, name: str, options: Mapping[str, Any], root: Path, output: Path):
        self.name = name
        self.options = options
        self.root = root  # the project folder, for relative paths and its git repository
        self.output = output  # the build's output folder

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Further checks of validated options: (key, message) pairs. Override as needed."""
        return []

    @abc.abstractmethod
    def describe(self) -> str:
        """Where this target publishes, for people; never containing a credential."""

    def extra_files(self) -> dict[str, bytes]:
        """Files this target adds to the site (e.g. `.nojekyll`, `CNAME`)."""
        return {}

    @abc.abstractmethod
    def scan(self) -> dict[str, RemoteFile]:
        """Every file the target holds under its prefix, keyed by path relative to the prefix."""

    @abc.abstractmethod
    def same(self, local: LocalFile, remote: RemoteFile) -> bool:
        """Whether the target's file has the local file's content."""

    @abc.abstractmethod
    def apply(self, site: LocalSite, plan: Plan, progress: Progress) -> str:
        """Upload/update, then delete, as planned; record each step in `progress`.

        Returns a short note for the summary (e.g. the commit made). Raises PublishError.
        """

    def close(self) -> None:  # noqa: B027 - optional for subclasses
        """Release whatever scan/apply held (temporary folders, connections)."""


# ---------------------------------------------------------------------------- helpers

T = TypeVar("T")


def retry(action: Callable[[], T], *, transient: Callable[[Exception], bool], attempts: int = 3,
          delay: float = 0.5) -> T:
    """Run `action`, again after a pause (doubling) while it fails with a transient error."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not transient(exc):
                raise
            time.sleep(delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A path glob as gitignore reads it: `*.html` matches at any depth, `assets/**` under
    the root, `**` crosses folders, `*` and `?` do not, a trailing `/` means everything below."""
    p = pattern.strip()
    if p.endswith("/"):
        p += "**"
    anchored = "/" in p
    p = p.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(p):
        if p.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif p.startswith("**", i):
            out.append(".*")
            i += 2
        elif p[i] == "*":
            out.append("[^/]*")
            i += 1
        elif p[i] == "?":
            out.append("[^/]")
            i += 1
        elif p[i] == "[" and (end := p.find("]", i + 2)) != -1:
            body = p[i + 1:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(p[i]))
            i += 1
    return re.compile(("" if anchored else "(?:.*/)?") + "".join(out) + r"\Z")


class GlobMap:
    """Ordered glob -> value rules; the first pattern that matches a path wins."""

    def __init__(self, rules: Mapping[str, str] | None):
        self.rules = [(compile_glob(k), v) for k, v in (rules or {}).items()]

    def get(self, path: str) -> str | None:
        for regex, value in self.rules:
            if regex.match(path):
                return value
        return None
