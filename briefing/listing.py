"""The files of the output folder that no build of ours wrote (a CNAME, a verification file):
found so that each build carries them into the new site (output.SiteWriter.commit).

A rebuild does not walk the whole output for them (37,600 folders at 10,000 articles, most of a
second of the core the model loads on): the detached cache writer of the last build walked the
site it had just put in place and kept the listing (`keep_listing`), with the identity of that
site's manifest. It does so last, holding the cache lock: a build started meanwhile waits for
it rather than walk the site itself. The next build takes it when the manifest is still that one
(`kept_listing`); as for a listing made at the start of a build, every folder whose mtime moved
since is read again at commit (`Listing.now`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import sealed

if TYPE_CHECKING:
    from .manifest import Manifest

MANIFEST = ".briefing-manifest.json"
MANIFEST_DIRTY = ".briefing-manifest.dirty"


@dataclass
class Listing:
    """The files of an output folder that its manifest does not list, as found by `unlisted_files`."""

    files: list[str]
    folders: dict[str, int]  # every folder read ("" or "a/b/") -> its mtime in ns just before

    def now(self, output: Path) -> list[str]:
        """The files as they are now: a folder whose mtime changed since was added to or taken
        from (a file copied in during the build), and is read again with the new folders in it."""
        found = list(self.files)
        root = os.path.join(os.fspath(output), "")  # rel is "" or "a/b/": joined by concatenation
        lstat = os.lstat
        for rel, mtime in self.folders.items():
            try:
                if lstat(root + rel).st_mtime_ns == mtime:
                    continue
            except OSError:
                continue  # gone, with its files
            for _, prefix, name in files_under(root + rel, rel, skip=self.folders):
                found.append(prefix + name)
        return list(dict.fromkeys(found))


def unlisted_files(output: Path, manifest: Manifest) -> Listing:
    """The files in `output` (as `_carry_over_foreign_files` walks it) that `manifest` does not
    list, and the mtime of each folder read."""
    listed = set(manifest.files) | manifest.dirty | {MANIFEST, MANIFEST_DIRTY}
    folders: dict[str, int] = {}
    files = [prefix + name for _, prefix, name in files_under(os.fspath(output), folders=folders)
             if prefix + name not in listed]
    return Listing(files, folders)


def files_under(root: str, prefix: str = "", *, folders: dict[str, int] | None = None,
                 skip: Collection[str] = ()) -> Iterator[tuple[str, str, str]]:
    """(folder, its path relative to root with a trailing "/" or "", name) for every entry under
    root that is not a folder, as os.walk(root) lists them: a link to a folder counts as a
    folder and is not followed, an unreadable folder is passed over. Strings, not Paths, and
    one scandir per folder without os.walk's bookkeeping: a site has tens of thousands.

    `prefix` is root's own relative path. Each folder's mtime is put in `folders` before it is
    read; sub-folders named in `skip` are not entered.
    """
    stack = [(root, prefix)]
    while stack:
        folder, prefix = stack.pop()
        try:
            if folders is not None:
                folders[prefix] = os.lstat(folder).st_mtime_ns
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if not is_dir:
                    yield folder, prefix, entry.name
                elif not entry.is_symlink() and prefix + entry.name + "/" not in skip:
                    stack.append((entry.path, prefix + entry.name + "/"))


def keep_listing(output: Path, manifest: Manifest, path: Path) -> None:
    """Walk `output`, the site whose manifest is `manifest`, and keep its listing at `path` with
    the identity of its manifest file; nothing when that file changed during the walk (another
    build swapped its site in) or the dev server has rewritten files (see output.mark_dirty)."""
    before = manifest_identity(output)
    if before is None or (output / MANIFEST_DIRTY).exists():
        return
    listing = unlisted_files(output, manifest)
    if manifest_identity(output) != before or not path.parent.is_dir():  # a cache folder removed is not made again
        return
    sealed.dump_plain({"manifest": before, "files": listing.files, "folders": listing.folders}, path)


def kept_listing(output: Path, path: Path) -> Listing | None:
    """The listing `keep_listing` kept at `path`, when it is of the site now in `output`."""
    data = sealed.load_plain(path)
    if not isinstance(data, dict) or (output / MANIFEST_DIRTY).exists():
        return None
    identity = manifest_identity(output)
    if identity is None or data.get("manifest") != identity:
        return None
    files, folders = data.get("files"), data.get("folders")
    if not isinstance(files, list) or not isinstance(folders, dict):
        return None
    return Listing(files, folders)


def manifest_identity(output: Path) -> tuple[int, int, int, int] | None:
    """The manifest file's inode, device, size and mtime: a commit writes a new file (a new
    inode) and renames it into place."""
    try:
        st = os.stat(output / MANIFEST)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
