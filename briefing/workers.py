"""Forked worker pools, and the garbage collector's pace during a build.

A build allocates millions of small objects (articles, mentions, page contexts) that all live
until it ends. CPython's default collector runs a collection every 700 allocations and, as the
heap grows, keeps re-scanning those survivors: that was a third of the time of loading ten
thousand articles' analyses, and a quarter of planning their pages.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.pool import Pool

from .search import die_with_parent

# The youngest generation is collected after this many net allocations (CPython's default: 700).
BUILD_GC_THRESHOLD = (50_000, 20, 50)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often for the duration (cycles are still collected)."""
    old = gc.get_threshold()
    gc.set_threshold(*BUILD_GC_THRESHOLD)
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
        with multiprocessing.get_context("fork").Pool(jobs, initializer=die_with_parent()) as pool:
            yield pool
    finally:
        gc.unfreeze()
