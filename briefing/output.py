"""The write stage: assemble the new site aside, then swap it in with one atomic rename.

- The site swapped out by the last build is kept beside the output as `.<name>.spare`, and the
  next build is assembled in it: only the files that differ from what it holds are touched
  (tens of thousands of folders and links cost seconds to make on a real disk, see
  `SiteWriter.open`). Without a spare, the new site is assembled in an empty folder.
- Unchanged files are hard-linked from the previous build, never rewritten (same inode, same
  mtime), so writes are proportional to what changed. Because the spare and the live site
  share those inodes, a file is never written in place: always a new file renamed over.
- The new folder replaces the old one with renameat2(RENAME_EXCHANGE) where the kernel has it (swap.py),
  so at every instant `site/` is either the old build or the new one, even under SIGKILL.
- Files the previous build wrote and this one did not are gone; files someone else put in the
  output folder (not in our manifest) are carried over untouched.
- `.briefing-manifest.json` in the output lists what we wrote, with hashes (manifest.py): it is
  how we know our own files, how publishing knows a build is complete, and how rendering skips
  pages.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Collection, Container, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from .errors import OutputError
from .listing import MANIFEST, MANIFEST_DIRTY, Listing, files_under, unlisted_files  # noqa: F401 (re-exported)
from .manifest import (  # noqa: F401 (re-exported)
    MANIFEST_VERSION,
    Manifest,
    is_complete_build,
    manifest_inputs,
    mark_dirty,
    read_manifest,
    with_dirty,
)
from .swap import _fsync_tree_root, discard, make_spare, recover, spare_path, swap_into_place  # noqa: F401 (re-exported)


class Written(NamedTuple):
    """What happened to one output file: for the manifest and for counting work.

    A named tuple: a rebuild of 10,000 articles makes 60,000 of them for the pages it keeps."""

    path: str
    sha256: str
    fingerprint: str | None
    rewritten: bool  # False when its bytes were linked from the previous build


class _InAny:
    """Whether a name is in any of some collections (without making their union: 60,000 names)."""

    def __init__(self, *collections: Container[str]):
        self.collections = collections

    def __contains__(self, name: object) -> bool:
        return any(name in c for c in self.collections)


class SiteWriter:
    """Collects one build's files in a staging folder beside the output, then swaps it in."""

    def __init__(self, output: Path, previous: Manifest | None | bool = True):
        """`previous`: the output's manifest when the caller has read it already (None: none);
        files the dev server rewrote since are taken out of it again."""
        self.output = Path(output)
        self.parent = self.output.parent
        if previous is True:
            previous = read_manifest(self.output) if self.output.is_dir() else None
        elif isinstance(previous, Manifest):
            previous = with_dirty(previous, self.output)
        self.previous = previous or None
        self.staging = self.parent / f".{self.output.name}.staging-{os.getpid()}"
        self.spare = spare_path(self.output)
        self.base: Manifest | None = None  # what the staging folder holds when it began as the spare
        self.records: dict[str, Written] = {}
        # Files kept as the previous build wrote them, with its manifest's digest and fingerprint,
        # and not in `records` (`keep_as_before`): a rebuild keeps 60,000 pages, and a record each
        # would cost it a pass over them all here, in the link check and in the manifest.
        self.as_before: set[str] = set()
        self._folders: set[str] = set()  # folders made in a fresh staging folder (by this process)

    # -- setup ---------------------------------------------------------------------------------
    def open(self, known_base: Callable[[Path], Manifest | None] | None = None) -> SiteWriter:
        """Make the staging folder: the spare, claimed, when there is one. `known_base(staging)`:
        the claimed spare's manifest when known without reading it (see spare_state.py), or None."""
        recover(self.output)
        if self.output.exists() and not self.output.is_dir():
            raise OutputError(f"{self.output}: the output path is a file, not a folder. Move it away "
                              "or set output_dir in config.yaml.")
        if self.output.is_dir():
            mode = stat.S_IMODE(self.output.stat().st_mode)
            if mode & 0o222 == 0:
                raise OutputError(f"{self.output}: the output folder is read-only. Make it writable "
                                  f"(chmod u+w {self.output}) or choose another with --output.")
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            if self.staging.exists():
                shutil.rmtree(self.staging)
            self._claim_spare(known_base)
            if self.base is None:
                self.staging.mkdir()
        except OSError as exc:
            raise OutputError(f"{self.parent}: cannot create the output folder here: "
                              f"{exc.strerror}.") from None
        return self

    def _claim_spare(self, known_base: Callable[[Path], Manifest | None] | None) -> None:
        """Take the spare (an older whole build) as the staging folder, when it says what it holds.

        Renaming claims it: a second build cannot take it too, and a build killed while
        updating it leaves a staging folder that recover() removes, never a spare half updated.
        """
        try:
            os.rename(self.spare, self.staging)
        except OSError:
            return  # none (or another build has it)
        base = (known_base(self.staging) if known_base is not None else None) or read_manifest(self.staging)
        if base is None or base.foreign is None:
            discard(self.staging)
            return
        self.base = base

    def _holds(self, rel: str, digest: str) -> bool:
        """Whether the staging folder already has these bytes at `rel` (it began as the spare)."""
        return self.base is not None and self.base.files.get(rel) == digest

    # -- adding files --------------------------------------------------------------------------
    def unchanged_page(self, rel: str, fingerprint: str) -> Written | None:
        """Link the previous build's file when its page fingerprint is the same; None otherwise."""
        prev = self.previous
        if prev is None or prev.pages.get(rel) != fingerprint or rel not in prev.files:
            return None
        if not self._holds(rel, prev.files[rel]) and not self._link_previous(rel):
            return None
        return Written(rel, prev.files[rel], fingerprint, rewritten=False)

    def unchanged_pages(self, pages: Iterable[tuple[str, str]], records: dict[str, Written]) -> None:
        """For each (rel, fingerprint) whose file the previous build wrote with that fingerprint
        and that is now in the staging folder (held there, or linked), put its record in
        `records`: one loop over tens of thousands of kept pages."""
        prev = self.previous
        if prev is None:
            return
        fingerprints, digests = prev.pages.get, prev.files.get
        held = (self.base.files if self.base is not None else {}).get
        new, record = tuple.__new__, Written  # Written(...) costs twice as much, 60,000 times
        for rel, fingerprint in pages:
            digest = digests(rel)
            if digest is not None and fingerprints(rel) == fingerprint and (
                    held(rel) == digest or self._link_previous(rel)):
                records[rel] = new(record, (rel, digest, fingerprint, False))

    def keep_as_before(self, paths: Sequence[str]) -> Collection[str]:
        """`unchanged_pages` for pages known to have the fingerprint they had in the previous
        build (PageInputs.not_kept); returns the paths kept. C loops over them all: they go to
        `as_before`, and only the files the staging folder may not hold as the live site does
        are looked at one by one."""
        prev = self.previous
        if prev is None:
            return ()
        files, fingerprints = prev.files, prev.pages
        differs = self._differs_from_previous()
        if differs is None or None in map(files.get, paths) or None in map(fingerprints.get, paths):
            records: dict[str, Written] = {}  # one by one (a site without its spare)
            self.unchanged_pages(((rel, fingerprints[rel]) for rel in paths if rel in fingerprints), records)
            self.add(records.values())
            return records.keys()
        kept = set(paths)
        for rel in differs.intersection(kept):  # the files the build before this one changed
            if not (self._holds(rel, files[rel]) or self._link_previous(rel)):
                kept.discard(rel)
        kept.difference_update(self.records)
        self.as_before |= kept
        return kept

    def _differs_from_previous(self) -> set[str] | None:
        """The files the staging folder (the spare) may hold otherwise than the previous build;
        None when it is not the spare (every file is linked from the live site)."""
        base, prev = self.base, self.previous
        if base is None or prev is None:
            return None
        if base.differs_from_live is not None and not prev.dirty:
            return base.differs_from_live
        files = prev.files
        differs = {rel for rel, digest in base.files.items() if files.get(rel) != digest}
        return differs | (files.keys() - base.files.keys())

    def put(self, rel: str, data: bytes, fingerprint: str | None = None) -> Written:
        digest = hashlib.sha256(data).hexdigest()
        if self._holds(rel, digest):
            return Written(rel, digest, fingerprint, rewritten=False)
        prev = self.previous
        if prev is not None and prev.files.get(rel) == digest and self._link_previous(rel):
            return Written(rel, digest, fingerprint, rewritten=False)
        target = self.staging / rel
        try:
            if self.base is None:  # a fresh folder: nothing there to share an inode with
                self._write_new(rel, data)
            else:
                self._make_room(rel)
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(f"{self.output / rel}: cannot write: {exc.strerror}.") from None
        return Written(rel, digest, fingerprint, rewritten=True)

    def _write_new(self, rel: str, data: bytes) -> None:
        # The most frequent call of a full build (tens of thousands of times): plain strings and
        # system calls, and each folder made once.
        path = f"{self.staging}/{rel}"
        folder = path.rpartition("/")[0]
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def copy(self, rel: str, source: Path) -> Written:
        return self.put(rel, source.read_bytes())

    def add(self, records: Iterable[Written]) -> None:
        as_before = self.as_before
        for r in records:
            self.records[r.path] = r
            if as_before:
                as_before.discard(r.path)

    def __len__(self) -> int:
        """How many files the new site has (of ours)."""
        return len(self.records) + len(self.as_before)

    def paths(self) -> set[str]:
        """Every file of ours in the new site."""
        return self.as_before | self.records.keys()

    def fingerprint_of(self, rel: str) -> str | None:
        """The page fingerprint of a file of the new site (None: not a page, or not ours)."""
        record = self.records.get(rel)
        if record is not None:
            return record.fingerprint
        return self.previous.pages.get(rel) if rel in self.as_before and self.previous is not None else None

    def every_record(self) -> dict[str, Written]:
        """A record of every file, those kept `as_before` made now (a pass over them all)."""
        prev = self.previous
        out = {rel: Written(rel, prev.files[rel], prev.pages[rel], False)
               for rel in self.as_before} if prev is not None else {}
        out.update(self.records)
        return out

    def _link_previous(self, rel: str) -> bool:
        old = self.output / rel
        new = self.staging / rel
        try:
            if self.base is None:
                new.parent.mkdir(parents=True, exist_ok=True)
                os.link(old, new, follow_symlinks=False)
            else:
                self._make_room(rel)
                tmp = new.with_name(f".{new.name}.{os.getpid()}.tmp")
                os.link(old, tmp, follow_symlinks=False)
                os.replace(tmp, new)
                if os.path.lexists(tmp):
                    os.unlink(tmp)  # `new` was that file already: rename(2) then leaves both names
            return True
        except FileExistsError:
            return True
        except OSError:
            return False

    def _make_room(self, rel: str) -> None:
        """In a staging folder that began as the spare, make `rel` writable as a file: a file
        where a folder is needed, or a folder where the file goes, belong to the older site."""
        target = self.staging / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            parent = self.staging
            for part in Path(rel).parts[:-1]:
                parent = parent / part
                if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                    os.unlink(parent)
                    break
            target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)

    def clear(self, rel_dir: str) -> None:
        """Empty a folder of the staging site that a tool will write afresh (Pagefind's)."""
        shutil.rmtree(self.staging / rel_dir, ignore_errors=True)

    # -- finishing -----------------------------------------------------------------------------
    def commit(self, inputs: str = "", drafts: bool = False, unlisted: Listing | None = None,
               ready: Callable[[], None] | None = None) -> Manifest:
        """Carry over foreign files, write the manifest, swap the new site in.

        `unlisted`: the output's files that its manifest does not list (`unlisted_files`), when
        listed earlier (its folders changed since are read again); by default the output is
        walked here. `ready()` is called last before the swap: it may still raise, and the
        caller then aborts (the live site is untouched)."""
        manifest = self._manifest(inputs, drafts)
        foreign: set[str] = set()
        if self.output.is_dir():
            previous = self.previous or Manifest()
            foreign = self._carry_over_foreign_files(_InAny(manifest.files, previous.files, previous.dirty),
                                                     unlisted.now(self.output) if unlisted is not None else None)
        manifest.foreign = sorted(foreign)
        if self.base is not None:
            self._remove_stale(manifest.files.keys(), foreign)
        tmp = self.staging / f"{MANIFEST}.tmp"
        tmp.write_bytes(manifest.to_json())
        os.replace(tmp, self.staging / MANIFEST)
        with contextlib.suppress(OSError):
            os.unlink(self.staging / MANIFEST_DIRTY)  # the spare's: its files are rewritten by now
        _fsync_tree_root(self.staging)
        if ready is not None:
            ready()
        swap_into_place(self.staging, self.output, keep=self.spare)
        return manifest

    def _manifest(self, inputs: str, drafts: bool) -> Manifest:
        """The new site's manifest: the previous one's entries for the files kept `as_before`
        (copied whole, the others taken out: C loops), and the records'."""
        files: dict[str, str] = {}
        pages: dict[str, str] = {}
        prev = self.previous
        if self.as_before and prev is not None:
            files, pages = dict(prev.files), dict(prev.pages)
            for rel in (files.keys() - self.as_before).difference(self.records):
                del files[rel]
            for rel in (pages.keys() - self.as_before).difference(self.records):
                del pages[rel]
        for r in self.records.values():
            files[r.path] = r.sha256
            if r.fingerprint:
                pages[r.path] = r.fingerprint
            else:
                pages.pop(r.path, None)
        return Manifest(files=files, pages=pages, inputs=inputs, drafts=drafts, foreign=[])

    def _remove_stale(self, ours: Collection[str], foreign: set[str]) -> None:
        """Delete what the spare held that this build does not: its files, and its foreign files."""
        assert self.base is not None
        folders: set[str] = set()
        held = self.base.files.keys() - ours
        held |= (set(self.base.foreign or ()) | self.base.dirty).difference(ours)
        for rel in held - foreign:
            with contextlib.suppress(OSError):
                os.unlink(self.staging / rel)
            folders.add(os.path.dirname(rel))
        for rel in sorted(folders, key=len, reverse=True):  # deepest first: parents empty last
            while rel:
                try:
                    os.rmdir(self.staging / rel)
                except OSError:
                    break  # not empty (or gone): so are its parents
                rel = os.path.dirname(rel)

    def abort(self) -> None:
        if self.base is None:
            shutil.rmtree(self.staging, ignore_errors=True)
        else:
            discard(self.staging)  # a whole old site: deleting it would keep the user waiting

    def _carry_over_foreign_files(self, ours: Container[str], listed: list[str] | None) -> set[str]:
        """Link the files of the output that no build of ours wrote into the new site (among the
        `listed` ones, if given: `Listing.now`); return them."""
        foreign = set()
        records = self.records
        output = os.fspath(self.output)
        found = (prefix + name for _, prefix, name in files_under(output)) if listed is None else listed
        for rel in found:
            if rel in ours or rel in records or rel == MANIFEST or rel == MANIFEST_DIRTY:
                continue
            source, target = Path(output, rel), self.staging / rel
            if not os.path.lexists(source):
                continue  # listed earlier, deleted since
            foreign.add(rel)
            if target.exists() or target.is_symlink():
                if self.base is None or _same_file(source, target):
                    continue
                os.unlink(target)  # the spare's copy of it, older than the one in the output
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target, follow_symlinks=False)
            except OSError:
                shutil.copy2(source, target, follow_symlinks=False)
        return foreign

    @property
    def rewritten(self) -> int:
        return sum(1 for r in self.records.values() if r.rewritten)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except OSError:
        return False
