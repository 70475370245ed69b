"""Putting a built site in place: the atomic swap, the spare kept beside the output, deleting
old sites without waiting for it, and recovering from an interrupted build (see output.py,
whose SiteWriter assembles the site these functions swap in)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .listing import MANIFEST, MANIFEST_DIRTY, files_under


def _fsync_tree_root(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc: Any = None


def _renameat2() -> Any:
    global _libc
    if _libc is None:
        try:
            # The C library this process has loaded already: find_library would run ldconfig.
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.renameat2  # noqa: B018 - probe that the symbol exists
        except (OSError, AttributeError):
            try:
                _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                _libc.renameat2  # noqa: B018
            except (OSError, AttributeError):
                _libc = False
    return _libc.renameat2 if _libc else None


def spare_path(output: Path) -> Path:
    """Where the site a build swapped out is kept for the next build to assemble in."""
    return output.parent / f".{output.name}.spare"


def make_spare(output: Path) -> bool:
    """Link every file of the site in `output` into a spare (spare_path) when it has none.

    A build that began from no spare leaves none: the next one would link all of the site's
    files into its staging folder before it could start (seconds, for tens of thousands). A
    detached cache writer (cache_writes.py) does it instead, after the build, holding the cache
    lock, so no build swaps the site meanwhile. The spare shares the site's inodes, as a
    swapped-out site does: builds and the dev server replace files, never write into them.
    Made under a staging name (recover() removes it if this is killed), then renamed.
    """
    spare = spare_path(output)
    if spare.exists() or not (output / MANIFEST).is_file() or (output / MANIFEST_DIRTY).exists():
        return False
    making = output.parent / f".{output.name}.staging-{os.getpid()}"
    made: set[str] = set()
    try:
        os.mkdir(making)
        for dirpath, prefix, name in files_under(os.fspath(output)):
            if prefix not in made:
                os.makedirs(os.path.join(making, prefix), exist_ok=True)
                made.add(prefix)
            os.link(os.path.join(dirpath, name), os.path.join(making, prefix, name), follow_symlinks=False)
        os.rename(making, spare)
        return True
    except OSError:
        shutil.rmtree(making, ignore_errors=True)
        return False


def swap_into_place(staging: Path, output: Path, keep: Path | None = None) -> None:
    """Make `staging` the output folder, atomically where the kernel allows.

    The old site is renamed to `keep` when given (see SiteWriter), else deleted.
    """
    if not output.exists():
        os.rename(staging, output)
        return
    renameat2 = _renameat2()
    if renameat2 is not None:
        res = renameat2(_AT_FDCWD, os.fsencode(staging), _AT_FDCWD, os.fsencode(output), _RENAME_EXCHANGE)
        if res == 0:
            _retire(staging, keep)  # now holds the old site
            return
    # Fallback: two renames. A kill between them leaves `.<name>.old`, which recover() restores.
    old = output.parent / f".{output.name}.old"
    if old.exists():
        shutil.rmtree(old)
    os.rename(output, old)
    os.rename(staging, output)
    _retire(old, keep)


def _retire(old_site: Path, keep: Path | None) -> None:
    if keep is not None:
        if keep.exists():
            discard(keep)
        try:
            os.rename(old_site, keep)
            return
        except OSError:
            pass
    discard(old_site)


def discard(folder: Path) -> None:
    """Delete an old site folder without waiting for it.

    Removing a tree of tens of thousands of folders costs seconds (rmdir is the slow part), and
    nothing reads the old tree once it is swapped out: it is renamed to `.<name>.trash-<pid>`
    and a detached process deletes it. If that process dies, recover() finishes the job.
    """
    site = re.sub(r"\.(?:staging-\d+|spare|old)$", "", folder.name)
    trash = folder.with_name(f"{site}.trash-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(folder, trash)
        _delete_in_background(trash)
    except OSError:
        shutil.rmtree(trash if trash.exists() else folder, ignore_errors=True)


def _delete_in_background(folder: Path) -> None:
    subprocess.Popen([sys.executable, "-c", "import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)",
                      str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def recover(output: Path) -> None:
    """Undo what an interrupted build left: stale staging folders, a half-done fallback swap."""
    parent = output.parent
    old = parent / f".{output.name}.old"
    if old.is_dir() and not output.exists():
        os.rename(old, output)
    if parent.is_dir():
        for p in parent.glob(f".{output.name}.staging-*"):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
                continue
            discard(p)  # a whole site, perhaps: the build it delays should not wait for rmdir
        for p in parent.glob(f".{output.name}.trash-*"):
            if os.path.getmtime(p) < time.time() - 600:  # its deleter was interrupted
                _delete_in_background(p)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
