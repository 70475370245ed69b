"""The cache files a build writes for the next build, written once its site is in place.

A rebuild after an edit spent over a second writing caches (parsed articles, per-article
analyses, the whole-archive result, the names memo, the page inputs, the link summaries): work
for the next build, not for this one's site. A build collects those writes in a `CacheWrites`
and, when it is done, either runs them itself (the dev server, tests, a failed build) or hands
them to a forked process (`detach`, the command line), so that `briefing build` returns as soon
as the new site is live.

That process holds the project's cache lock until it is done, and a build takes the cache lock
(`cache_lock`) before it reads any cache: the next build waits for the writes, and never reads
a cache older than the site it is about to replace. Each file is written atomically
(sealed.dump), so a writer killed midway leaves the previous file, which is a slower next build,
never a wrong one. A writer that finds the cache folder deleted (its lock file has no name left)
stops, rather than make the folder again under a project that someone removed.

Some writes are only worth doing there (`add(..., only_detached=True)`): after a build into an
empty output, linking the new site into a spare for the next build to assemble in
(output.make_spare) takes seconds that nobody should wait for.
"""

from __future__ import annotations

import fcntl
import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import OutputError
from .workers import LOCKS

Write = Callable[[], None]
HANDED_OVER: list[list] = []  # writes a detached process runs: kept, never freed, here


class CacheWrites:
    """Cache writes put off to the end of a build, run in the order they were added; with
    `at_once`, each is run when it is added (a stage called on its own, outside a build)."""

    @classmethod
    def or_at_once(cls, writes: CacheWrites | None) -> CacheWrites:
        """`writes`, or (None) writes that run at once."""
        return cls(at_once=True) if writes is None else writes

    def __init__(self, at_once: bool = False) -> None:
        self._pending: list[tuple[Write, bool]] = []  # (write, only when detached)
        self.at_once = at_once

    def add(self, write: Write, *, only_detached: bool = False) -> None:
        """Add a write; with `only_detached`, one that saves the next build time but is not worth
        keeping anyone waiting for: `detach` does it, `run` and `at_once` skip it."""
        if self.at_once:
            if not only_detached:
                write()
        else:
            self._pending.append((write, only_detached))

    def run(self) -> None:
        """Write them now, here."""
        pending, self._pending = self._pending, []
        for write, only_detached in pending:
            if not only_detached:
                write()

    def detach(self, cache_lock_fd: int) -> bool:
        """Write them in a forked process that keeps the cache lock (`cache_lock_fd`) until it is
        done and outlives this one. Runs them here, and returns False, where that cannot be done
        safely: no fork (Windows), or other threads running (a fork copies their locks held)."""
        if not self._pending:
            return True
        if not hasattr(os, "fork") or threading.active_count() > 1:
            self.run()
            return False
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        gc.freeze()  # the child's collector never scans (and so never copies) the build's objects
        try:
            pid = os.fork()
        except OSError:
            gc.unfreeze()
            self.run()
            return False
        if pid == 0:
            self._run_as_child(cache_lock_fd)  # never returns
        gc.unfreeze()
        # Not freed here: what the writes hold (a whole archive's analyses, page inputs and link
        # summaries) took half a second to take apart, in a process that exits without freeing
        # anything (cli.run). `detach` is for a process about to exit.
        HANDED_OVER.append(self._pending)
        self._pending = []
        return True

    def _run_as_child(self, cache_lock_fd: int) -> None:
        code = 0
        try:
            os.setsid()  # not in the terminal's foreground group: Ctrl-C on the next command is not for us
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # whoever reads the build's output must not wait for this process
                os.dup2(devnull, fd)
            for fd in LOCKS:
                if fd != cache_lock_fd:
                    with suppress(OSError):
                        os.close(fd)  # the project lock: the next build may start (and wait for us)
            for write, _ in self._pending:
                if os.fstat(cache_lock_fd).st_nlink == 0:
                    break  # the cache folder was deleted meanwhile: do not make it again
                try:
                    write()
                except Exception:  # noqa: BLE001 - a cache not written is a slower next build
                    code = 1
        finally:
            os._exit(code)


class LockHeld(Exception):
    """Another process holds the lock (`held_lock` without waiting)."""


@contextmanager
def cache_lock(cache_dir: Path) -> Iterator[int]:
    """Hold the project's cache lock, waiting for the writes of an earlier build; yields its fd."""
    with held_lock(cache_dir / "cache.lock", wait=True) as fd:
        yield fd


@contextmanager
def held_lock(path: Path, wait: bool) -> Iterator[int]:
    """Hold an exclusive lock on the file at `path` (made if missing); yields its descriptor.
    Without `wait`, raises LockHeld when another process holds it.

    Forked workers close their copy (workers.LOCKS): a killed build's workers die a moment after
    it, and must not hold the next build's lock meanwhile. A detached cache writer keeps its own
    copy of the cache lock, and the lock with it, after this process lets go of its copy.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot create the cache folder: {exc.strerror}.") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(path) from None
        LOCKS.append(fh.fileno())
        try:
            yield fh.fileno()
        finally:
            LOCKS.remove(fh.fileno())
