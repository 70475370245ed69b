"""Forked worker pools, and the garbage collector during a build.

A build allocates millions of small objects (articles, mentions, page contexts) that all live
until it ends. CPython's default collector runs a collection every 700 allocations and, as the
heap grows, keeps re-scanning those survivors: that was a third of the time of loading ten
thousand articles' analyses, and a quarter of planning their pages. Even collecting every 50,000
allocations cost 0.3-0.6 s of a 4.5 s edit build at 10,000 articles, for next to no garbage: a
build makes almost no reference cycles (an edit build of 10,000 articles left ~500 unreachable
objects, a cold build of 2,500 ~5,000, with the same peak RSS either way). So the building
process does not collect at all; its forked workers (NER, rendering) collect, less often.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.pool import Pool
from typing import Any

from .search import die_with_parent

# The descriptors of the project locks this process holds (build.project_lock): a forked worker
# closes its copies, so that only the build holds the lock, even while its workers die with it.
LOCKS: list[int] = []

# In a build's workers, the youngest generation is collected after this many net allocations
# (CPython's default: 700).
BUILD_GC_THRESHOLD = (50_000, 20, 50)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """No garbage collection in this process for the duration; its forked workers collect every
    BUILD_GC_THRESHOLD allocations (worker_start). Cycles made meanwhile are collected after."""
    old = gc.get_threshold()
    # A first threshold of 0 stops automatic collection, and unlike gc.disable() it holds when a
    # library calls gc.enable() (spaCy's srsly does, loading a model).
    gc.set_threshold(0, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextmanager
def forked_pool(jobs: int) -> Iterator[Pool]:
    """A pool of `jobs` forked workers that die with this process.

    What this process holds is frozen first: the workers' collectors never scan what they
    inherited, so they neither spend time on it nor copy its memory pages by touching them.
    """
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(jobs, initializer=worker_start(die_with_parent())) as pool:
            yield pool
    finally:
        gc.unfreeze()


def worker_start(hook: Callable[[], None] | None) -> Callable[[], None]:
    """What a forked worker does first: run `hook` (search.die_with_parent's, made in the parent),
    close its copies of the build's lock, and collect garbage every BUILD_GC_THRESHOLD allocations
    (its parent may not collect at all: see fewer_collections)."""
    def start() -> None:
        gc.set_threshold(*BUILD_GC_THRESHOLD)
        if hook is not None:
            hook()
        for fd in LOCKS:
            with suppress(OSError):
                os.close(fd)
    return start


_KEPT: list[Any] = []


def keep_until_exit(*objects: Any) -> None:
    """In a Forked child, keep `objects` to its end: it exits without freeing them (freeing a
    resolution's 65,000 clusters costs a check 0.05 s, and a page copy for each page they share
    with the build). Elsewhere nothing: they are freed as usual."""
    if _KEPT:
        _KEPT.extend(objects)


class Forked:
    """`make()` run by a forked child while this process goes on; `result()` waits for its value.

    For independent whole-archive work that a rebuild would otherwise do one after another on
    one core. The value comes back pickled through a pipe, so it should be small. Where forking
    is impossible (Windows) or unsafe (other threads run), and if the child fails, `make` runs
    here when `result()` is called, which also raises its exception as it would have.
    """

    def __init__(self, make: Callable[[], Any], *, nice: int = 0):
        """`nice`: how much lower the child's scheduling priority is (os.nice): for work whose
        answer is wanted late, so that it takes the processor this process leaves."""
        self.make = make
        self.pid = 0
        self.fd = -1
        if not self.possible():
            return
        read_end, write_end = os.pipe()
        hook = die_with_parent()
        pid = os.fork()
        if pid == 0:  # the child
            # Short-lived: it never collects. Disabled first, as worker_start's threshold would
            # otherwise have the next allocation scan every object this process made since its
            # last collection (the whole archive: a quarter of a second at 10,000 articles,
            # copying the pages it touches).
            gc.disable()
            _KEPT.append(None)  # this process is a Forked child: see keep_until_exit
            os.close(read_end)
            if nice:
                with suppress(OSError):
                    os.nice(nice)
            worker_start(hook)()
            code = 1
            try:
                data = pickle.dumps(make(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        self.pid, self.fd = pid, read_end

    @staticmethod
    def possible() -> bool:
        """Whether a child can be forked here and now."""
        return hasattr(os, "fork") and threading.active_count() == 1

    @property
    def forked(self) -> bool:
        """Whether a child is computing the value (False: `result()` will compute it here)."""
        return self.pid != 0

    def close(self) -> None:
        """Stop the child if its value is not wanted any more (a no-op after `result`)."""
        if self.pid:
            with suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self.fd)
            self.pid = 0

    def result(self) -> Any:
        if not self.pid:
            return self.make()
        with os.fdopen(self.fd, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            return self.make()
        return pickle.loads(data)  # from our own child
