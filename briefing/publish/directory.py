"""A local folder as a publish target: a mounted web root, a synced folder, a staging copy.

Files are compared by size and sha256. Changed files are copied with rsync when it is
installed (each file written to a temporary name and renamed, as rsync does) or else in
Python the same way, so every file on the target is always either its old or its new version.
Files and folders end up the same either way: files 0644 with the build's modification time,
new folders 0755.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import PublishError
from .base import LocalFile, LocalSite, Option, Plan, Progress, RemoteFile, Target

_NOT_A_FILE = -1  # the size we give a symlink or other non-regular entry: never "the same"


class DirectoryTarget(Target):
    type = "directory"
    OPTIONS: Mapping[str, Option] = {
        "path": Option("str", required=True, help="the folder to publish into, e.g. /var/www/briefings"),
        "rsync": Option("auto-bool", default="auto",
                        help="copy with rsync: auto (when installed), true or false"),
    }

    def __init__(self, name: str, options: Mapping[str, Any], root: Path, output: Path):
        super().__init__(name, options, root, output)
        path = Path(os.path.expanduser(options["path"]))
        self.path = Path(os.path.abspath(path if path.is_absolute() else root / path))
        choice = options.get("rsync", "auto")
        self.rsync = shutil.which("rsync") if choice in ("auto", True) else None
        if choice is True and self.rsync is None:
            raise PublishError(f"publish target {name!r} sets `rsync: true`, but rsync is not "
                               "installed (not on PATH). Install it, or set `rsync: auto`.")

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("path", "must not be empty.")] if not options["path"].strip() else []

    def describe(self) -> str:
        return f"directory {self.path}" + (" (rsync)" if self.rsync else "")

    # ------------------------------------------------------------------------ scan

    def scan(self) -> dict[str, RemoteFile]:
        target, output = Path(os.path.realpath(self.path)), Path(os.path.realpath(self.output))
        if target == output or output in target.parents or target in output.parents:
            raise PublishError(f"{self.path}: the target folder overlaps the output folder "
                               f"{self.output}; publish to a folder outside the project's build.")
        if not self.path.exists():
            if not self.path.parent.is_dir():
                raise PublishError(f"{self.path}: neither this folder nor its parent exists. "
                                   "Is the volume mounted? Create the folder, then publish again.")
            return {}
        if not self.path.is_dir():
            raise PublishError(f"{self.path}: this is a file, not a folder.")
        files: dict[str, RemoteFile] = {}

        def fail(exc: OSError) -> None:
            raise PublishError(f"cannot read {exc.filename}: {exc.strerror or exc}.")

        for dirpath, dirnames, filenames in os.walk(self.path, onerror=fail):
            dirnames.sort()
            for name in filenames:
                full = Path(dirpath, name)
                try:
                    st = full.lstat()
                except OSError as exc:
                    fail(exc)
                rel = full.relative_to(self.path).as_posix()
                size = st.st_size if stat.S_ISREG(st.st_mode) else _NOT_A_FILE
                files[rel] = RemoteFile(rel, size)
        return files

    def same(self, local: LocalFile, remote: RemoteFile) -> bool:
        if remote.size != local.size:
            return False
        digest = hashlib.sha256()
        try:
            with (self.path / remote.path).open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise PublishError(f"cannot read {self.path / remote.path}: {exc.strerror or exc}.") from None
        return digest.hexdigest() == local.sha256

    # ------------------------------------------------------------------------ apply

    def apply(self, site: LocalSite, plan: Plan, progress: Progress) -> str:
        try:
            self.path.mkdir(mode=0o755, exist_ok=True)
        except OSError as exc:
            raise PublishError(f"cannot create {self.path}: {exc.strerror or exc}.") from None
        changed = [*plan.uploads, *plan.updates]
        blocking = _blocking_deletes(changed, plan.deletes)
        self._delete(sorted(blocking), plan, progress)  # a file where a new folder goes, or back
        in_root = all(site.files[rel].source == site.root / rel for rel in changed)
        if changed and self.rsync and in_root:
            self._copy_rsync(site, changed, plan, progress)
            how = "Copied with rsync."
        else:
            self._copy_python(site, changed, plan, progress)
            how = "Copied with Python." if changed else ""
        self._delete([rel for rel in plan.deletes if rel not in blocking], plan, progress)
        return how

    def _copy_rsync(self, site: LocalSite, changed: list[str], plan: Plan, progress: Progress) -> None:
        assert self.rsync is not None
        command = [self.rsync, "--from0", "--files-from=-", "--ignore-times", "--times", "--perms",
                   "--chmod=D755,F644", "--out-format=%n", "--", f"{site.root}/", f"{self.path}/"]
        proc = subprocess.run(command, input="\0".join(changed).encode() + b"\0",
                              capture_output=True, check=False)
        wanted = set(changed)
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            if line in wanted:
                progress.done(plan, line)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PublishError(f"rsync failed (exit {proc.returncode}): " + " ".join(err[-3:]))

    def _copy_python(self, site: LocalSite, changed: list[str], plan: Plan, progress: Progress) -> None:
        for rel in changed:
            local = site.files[rel]
            dest = self.path / rel
            try:
                _make_dirs(self.path, dest.parent)
                fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
                try:
                    with os.fdopen(fd, "wb") as out, local.source.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                    st = local.source.stat()
                    os.chmod(tmp, 0o644)
                    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
                    os.replace(tmp, dest)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
            except OSError as exc:
                raise PublishError(f"cannot write {dest}: {exc.strerror or exc}.") from None
            progress.done(plan, rel)

    def _delete(self, paths: list[str], plan: Plan, progress: Progress) -> None:
        folders: set[Path] = set()
        for rel in paths:
            path = self.path / rel
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise PublishError(f"cannot delete {path}: {exc.strerror or exc}.") from None
            progress.done(plan, rel, deleted=True)
            folders.update(p for p in path.parents if self.path in p.parents)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                pass


def _blocking_deletes(changed: list[str], deletes: tuple[str, ...]) -> set[str]:
    """Deletes that must come first: a file where a new file's folder goes, or files in a
    folder that a new file replaces."""
    new_folders = {str(p) for rel in changed for p in PurePosixPath(rel).parents if str(p) != "."}
    new_files = set(changed)
    blocking = set()
    for rel in deletes:
        if rel in new_folders or any(str(p) in new_files for p in PurePosixPath(rel).parents):
            blocking.add(rel)
    return blocking


def _make_dirs(root: Path, folder: Path) -> None:
    """Create `folder` and any missing parents below `root`, each 0755 whatever the umask."""
    missing = []
    while folder != root and not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        os.chmod(path, 0o755)
