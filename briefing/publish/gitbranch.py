"""A branch of a git remote as a publish target (GitHub Pages' `gh-pages` style).

All the work happens in a temporary bare repository, never in the project's own checkout:

    ls-remote      does the branch exist, at which commit?
    fetch          that commit alone (--depth 1)
    ls-tree        what it holds: path -> blob id, compared with the local files' blob ids
    hash-object    the new and changed files; update-index on a private index; write-tree
    commit-tree    one commit, parent the fetched one, message naming the source commit
    push           --force-with-lease=<branch>:<fetched commit>, so a push someone else made
                   in the meantime is never overwritten: ours is refused instead

The commit holds the whole site, so a failed push leaves the branch exactly as it was.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import PublishError
from .base import LocalFile, LocalSite, Option, Plan, Progress, RemoteFile, Target, retry

_ZERO = "0" * 40
_REJECTED = ("stale info", "rejected", "non-fast-forward", "fetch first", "[remote rejected]")
_TRANSIENT = ("could not resolve host", "connection", "timed out", "timeout", "early eof",
              "rpc failed", "the remote end hung up", "temporarily unavailable", "broken pipe")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


class GitError(Exception):
    def __init__(self, args: list[str], stderr: str, stdout: str = ""):
        self.stderr = stderr
        self.stdout = stdout  # `push --porcelain` reports each ref's fate here
        super().__init__(f"git {' '.join(args[:2])}: {stderr}")


class GitTarget(Target):
    type = "git"
    OPTIONS: Mapping[str, Option] = {
        "remote": Option("str", required=True,
                         help="a git URL, a path to a repository, or a remote of the project's repository"),
        "branch": Option("str", default="gh-pages", help="the branch to publish to"),
        "prefix": Option("str", default="", help="a folder in the branch to publish into"),
        "cname": Option("str", help="a custom domain, written to CNAME"),
        "nojekyll": Option("bool", default=True, help="add .nojekyll (GitHub Pages)"),
        "message": Option("str", default="Publish site",
                          help="the first line of each commit message"),
        "author": Option("str", help='the commit author, "Name <email>"'),
    }
    CREDENTIALS_HELP = ("Let git authenticate as it does for you: an SSH key (git@host:...) or a "
                        "credential helper for https.")

    def __init__(self, name: str, options: Mapping[str, Any], root: Path, output: Path):
        super().__init__(name, options, root, output)
        self.branch: str = options["branch"]
        self.prefix = options["prefix"].strip("/")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._url: str | None = None
        self._parent: str | None = None  # the branch's commit we fetched; None: no branch yet

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = []
        parts = urlsplit(options["remote"])
        if parts.scheme and parts.password:
            out.append(("remote", "holds a password or token; never put credentials in "
                        "config.yaml. " + cls.CREDENTIALS_HELP))
        if not re.fullmatch(r"[\w][\w./-]*", options["branch"]) or ".." in options["branch"]:
            out.append(("branch", f"{options['branch']!r} is not a valid branch name."))
        if options["author"] is not None and not re.fullmatch(r"[^<>]+ <[^<>]+>", options["author"]):
            out.append(("author", 'must look like "Name <email@example.org>".'))
        if ".." in options["prefix"].split("/"):
            out.append(("prefix", "must be a folder inside the branch."))
        return out

    def describe(self) -> str:
        where = f" (folder {self.prefix}/)" if self.prefix else ""
        return f"branch {self.branch} of git remote {self.options['remote']}{where}"

    def extra_files(self) -> dict[str, bytes]:
        extras = {}
        if self.options["nojekyll"]:
            extras[".nojekyll"] = b""
        if self.options["cname"]:
            extras["CNAME"] = self.options["cname"].strip().encode() + b"\n"
        return extras

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ------------------------------------------------------------------------ git plumbing

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in (
            "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", **extra)
        if self._tmp is not None:
            env["GIT_DIR"] = self._tmp.name
        return env

    def _git(self, *args: str, input: bytes | None = None, cwd: Path | None = None,
             **env: str) -> str:
        proc = subprocess.run(["git", *args], input=input, capture_output=True, check=False,
                              cwd=cwd, env=self._env(**env))
        if proc.returncode != 0:
            raise GitError(list(args), _redact(proc.stderr.decode("utf-8", "replace").strip()),
                           _redact(proc.stdout.decode("utf-8", "replace").strip()))
        return proc.stdout.decode("utf-8", "surrogateescape")

    def _remote_git(self, *args: str) -> str:
        """A git command that talks to the remote: retried on network trouble."""
        return retry(lambda: self._git(*args), transient=_is_transient)

    def _source_git(self, *args: str) -> str | None:
        """A git command in the project folder; None when it fails (e.g. not a repository)."""
        env = self._env()
        env.pop("GIT_DIR", None)
        proc = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True,
                              check=False, env=env)
        return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else None

    def _resolve_remote(self) -> str:
        remote = self.options["remote"]
        if "://" in remote or _SCP_LIKE.match(remote):
            return remote
        path = Path(os.path.expanduser(remote))
        path = path if path.is_absolute() else self.root / path
        if path.exists():
            return str(path.resolve())
        url = self._source_git("remote", "get-url", remote)
        if url:
            return url
        raise PublishError(f"git remote {remote!r} is not a URL, an existing path, or a remote of "
                           f"the project's git repository ({self.root}).")

    def _fail(self, what: str, exc: GitError) -> PublishError:
        return PublishError(f"{what} {self.describe()}: {exc.stderr or exc}")

    # ------------------------------------------------------------------------ scan

    def scan(self) -> dict[str, RemoteFile]:
        self._url = self._resolve_remote()
        self._tmp = tempfile.TemporaryDirectory(prefix="briefing-git-publish-")
        self._git("init", "--quiet", "--bare")  # GIT_DIR is the temporary folder
        ref = f"refs/heads/{self.branch}"
        try:
            listing = self._remote_git("ls-remote", "--", self._url, ref)
        except GitError as exc:
            raise self._fail("cannot reach", exc) from None
        if not any(line.endswith(f"\t{ref}") for line in listing.splitlines()):
            return {}  # the branch does not exist yet: the first publish creates it
        try:
            self._remote_git("fetch", "--quiet", "--no-tags", "--depth=1", "--", self._url,
                             f"+{ref}:refs/briefing/fetched")
            self._parent = self._git("rev-parse", "--verify", "refs/briefing/fetched^{commit}").strip()
            tree = self._git("ls-tree", "-r", "-z", "--full-tree", "-l", self._parent)
        except GitError as exc:
            raise self._fail("cannot fetch", exc) from None
        files: dict[str, RemoteFile] = {}
        base = self.prefix + "/" if self.prefix else ""
        for entry in tree.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, kind, blob, size = meta.split()
            if not path.startswith(base) or kind != "blob":
                continue
            rel = path[len(base):]
            # only a regular file's blob compares; a symlink or executable is always replaced
            files[rel] = RemoteFile(rel, int(size), blob if mode == "100644" else "")
        return files

    def same(self, local: LocalFile, remote: RemoteFile) -> bool:
        return remote.hash == local.git_sha1

    # ------------------------------------------------------------------------ apply

    def apply(self, site: LocalSite, plan: Plan, progress: Progress) -> str:
        assert self._tmp is not None and self._url is not None, "scan() comes first"
        base = self.prefix + "/" if self.prefix else ""
        index = str(Path(self._tmp.name) / "briefing-index")
        changed = [*plan.uploads, *plan.updates]
        try:
            self._git("read-tree", self._parent or "--empty", GIT_INDEX_FILE=index)
            paths = "\n".join(str(site.files[rel].source) for rel in changed)
            blobs = self._git("hash-object", "-w", "--no-filters", "--stdin-paths",
                              input=paths.encode("utf-8", "surrogateescape")).split()
            if blobs != [site.files[rel].git_sha1 for rel in changed]:
                raise PublishError(f"{site.root} changed while publishing (another build?). "
                                   "Nothing was pushed; publish again.")
            info = [f"100644 {blob}\t{base}{rel}" for rel, blob in zip(changed, blobs, strict=True)]
            info += [f"0 {_ZERO}\t{base}{rel}" for rel in plan.deletes]
            entries = "\0".join(info).encode("utf-8", "surrogateescape") + b"\0"
            self._git("update-index", "-z", "--index-info", input=entries, GIT_INDEX_FILE=index)
            tree = self._git("write-tree", GIT_INDEX_FILE=index).strip()
            parents = ["-p", self._parent] if self._parent else []
            commit = self._git("commit-tree", tree, *parents, input=self._message(plan).encode(),
                               **self._identity()).strip()
        except GitError as exc:
            raise PublishError(f"cannot make the commit: {exc}") from None
        self._push(commit)
        for rel in changed:
            progress.done(plan, rel)
        for rel in plan.deletes:
            progress.done(plan, rel, deleted=True)
        return f"Pushed commit {commit[:12]} to {self.branch}."

    def _push(self, commit: str) -> None:
        assert self._url is not None
        ref = f"refs/heads/{self.branch}"
        lease = f"--force-with-lease={ref}:{self._parent or ''}"
        try:
            retry(lambda: self._git("push", "--quiet", "--porcelain", lease, "--", self._url,
                                    f"{commit}:{ref}"),
                  transient=lambda exc: _is_transient(exc) and not self._landed(commit))
        except GitError as exc:
            if self._landed(commit):
                return  # the push went through; only its answer was lost
            said = "\n".join(line for line in (exc.stdout + "\n" + exc.stderr).splitlines()
                             if line.strip() and line.strip() != "Done")
            if any(word in said.lower() for word in _REJECTED):
                raise PublishError(
                    "the push was rejected: the branch changed since it was "
                    "read (someone else pushed?) or the remote refuses it (a protected branch?). "
                    f"Run publish again to publish on top of it. git said: {said}") from None
            raise PublishError(f"the push failed: {said}") from None

    def _landed(self, commit: str) -> bool:
        try:
            listing = self._git("ls-remote", "--", self._url or "", f"refs/heads/{self.branch}")
        except GitError:
            return False
        return listing.startswith(commit)

    def _message(self, plan: Plan) -> str:
        head = self._source_git("rev-parse", "HEAD")
        if head is None:
            source = "Source: not a git repository (or no commit yet)."
        else:
            dirty = self._source_git("status", "--porcelain", "--untracked-files=no")
            source = f"Source commit: {head}" + (" (with uncommitted changes)" if dirty else "")
        title = self.options["message"].strip() or "Publish site"
        title += f" from {head[:12]}" if head else ""
        counts = (f"{len(plan.uploads)} added, {len(plan.updates)} changed, "
                  f"{len(plan.deletes)} deleted, {len(plan.unchanged)} unchanged")
        return f"{title}\n\n{source}\nFiles: {counts}\nPublished by briefing publish.\n"

    def _identity(self) -> dict[str, str]:
        if self.options["author"]:
            name, email = self.options["author"].rsplit("<", 1)
            name, email = name.strip(), email.rstrip(">").strip()
        else:
            name = self._source_git("config", "user.name") or "briefing"
            email = self._source_git("config", "user.email") or "briefing@localhost"
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


def _is_transient(exc: Exception) -> bool:
    return isinstance(exc, GitError) and any(w in exc.stderr.lower() for w in _TRANSIENT)


def _redact(text: str) -> str:
    """Hide a password or token that git may echo back from a URL."""
    return re.sub(r"(://[^/\s:@]+):[^@\s/]+@", r"\1:***@", text)
