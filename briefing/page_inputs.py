"""The page-inputs store: the cells each page's context read in the last build, their digests
then, and what the archive they are digests of was made from; and the passes that find, from
them, the pages whose inputs changed (see depends.py for cells, nodes and their digests)."""

from __future__ import annotations

import pickle
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import sealed
from .depends import ALL, AT_MOST, Cells

STORE_VERSION = 5


# The mappings whose cells, one per key, `PageInputs.digests_by_difference` can be told are
# unchanged (archive.may_differ); any other cell is volatile.
KEYED = frozenset({"by_source", "facets", "entities", "entity_sources", "paged_entities", "topics", "topic_sources",
                   "paged_topics", "redirects", "entity_sources" + AT_MOST, "topic_sources" + AT_MOST, "node"})


def _node_readers(nodes: dict[int, bytes]) -> list[int]:
    """The nodes that read another node (`_changed` passes over them again)."""
    numbers = set(nodes)
    return [n for n, read in nodes.items() if not numbers.isdisjoint(array("I", read))]


def _volatile(cells: Sequence[tuple[str, Any]]) -> list[int]:
    """The numbers of the cells whose value no article's own change bounds: a whole mapping, a
    length, a cell of any other kind."""
    return [i for i, (name, key) in enumerate(cells) if key is ALL or name not in KEYED]


def _differing(now: bytes, before: bytes, block: int = 512) -> set[int]:
    """The numbers of the 8-byte digests that differ between two runs of digests of one length:
    compared a block at a time (memcmp), and one by one only within the blocks that differ."""
    changed = set()
    step = 8 * block
    for start in range(0, len(now), step):
        if now[start:start + step] != before[start:start + step]:
            first = start // 8
            a, b = array("Q", now[start:start + step]), array("Q", before[start:start + step])
            changed.update(first + i for i in range(len(a)) if a[i] != b[i])
    return changed



def _joined(paths: Sequence[str]) -> str:
    return "\0".join(paths)


def _common_prefix(a: str, b: str, step: int = 1 << 16) -> int:
    """The length of the longest common prefix of `a` and `b`: compared a block at a time."""
    n = min(len(a), len(b))
    at = 0
    while at < n and a[at:at + step] == b[at:at + step]:
        at += step
    if at >= n:
        return n
    lo, hi = at, min(at + step, n)  # a[:lo] == b[:lo]; they differ before hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo if a[lo] != b[lo] else hi


def _paths_in(joined: str, end: int) -> int:
    """How many whole paths `joined[:end]` holds (each ended by the separator)."""
    return joined.count("\0", 0, end)


class PageInputs:
    """The cells each page's context read in the last build, and their digests then.

    One sealed pickle in the cache folder per output folder: `shared` (the digest of templates,
    settings and code every page depends on), `cells` (each cell once, by number; pickled apart
    inside it and decoded when first asked for: see `cells`), `digests`
    (8 bytes per cell), `pages` (output path -> (the first 16 hex digits of its render
    fingerprint, its plan key, the numbers of its cells as an array of uint32)) and `nodes`
    (node number -> the numbers of its cells).
    """

    def __init__(self, path: Path, shared: str):
        self.path = path
        self.shared = shared
        self._cells: list[tuple[str, Any]] | None = []
        self._cells_pickled = b""  # the stored cells, until decoded (`cells`)
        self._told: dict[int, tuple[str, Any]] = {}  # cells by number, told before they are decoded
        self._number: dict[tuple[str, Any], int] | None = {}  # cell -> its number; None: not made yet
        self.digests = b""
        self._pages: dict[str, tuple[str, bytes, bytes]] | None = {}
        self._pages_pickled = b""  # the stored pages, until decoded (`pages`)
        self._page_count = 0
        self.nodes: dict[int, bytes] = {}
        self.node_readers: list[int] | None = None  # as stored (`_node_readers`); None: made when asked
        self.node_values: dict[int, bytes] = {}  # node number -> `value_digest` of its value
        self.compacted = 0  # how many cells there were after the last compaction
        # What the archive these digests are of was made from (see `digests_by_difference`):
        # the key of its stored enrichment, and each article's content hash.
        self.basis = ""
        self.hashes: dict[str, str] = {}
        self.volatile: list[int] = []  # the cells any change may move (see `_volatile`)
        # The plan the pages were stored for: the digest of its pages' paths in order, their plan
        # keys joined (8 bytes each), and the identity of the manifest of the site then written
        # (listing.manifest_identity): see `not_kept`. Empty when not known.
        self.plan_paths = ""
        self.plan_keys = b""
        self.site: tuple | None = None

    def load(self) -> PageInputs:
        data = sealed.load(self.path)
        if not isinstance(data, dict) or data.get("version") != STORE_VERSION or data.get("shared") != self.shared \
                or not isinstance(data.get("cells"), bytes) or not isinstance(data.get("pages"), bytes):
            return self
        self._cells, self._cells_pickled = None, data["cells"]
        self._pages, self._pages_pickled, self._page_count = None, data["pages"], data["page_count"]
        self._number = None  # made when first asked for (`number`): a rebuild's own process seldom asks
        self.digests = data["digests"]
        self.nodes = data["nodes"]
        self.node_readers = data["node_readers"]
        self.compacted = data["compacted"]
        self.basis, self.hashes, self.volatile = data["basis"], data["hashes"], data["volatile"]
        self.node_values = data["node_values"]
        self.plan_paths, self.plan_keys, self.site = data["plan_paths"], data["plan_keys"], data["site"]
        return self

    @property
    def cells(self) -> list[tuple[str, Any]]:
        """Each stored cell, by number. Decoded when first asked for (170,000 tuples at 10,000
        articles: 0.03-0.06 s): an edit's build asks in the forked worker that finds the changed
        cells (which tells it the few it needs: `tell`) and in the cache writer, not on its path."""
        if self._cells is None:
            self._cells = pickle.loads(self._cells_pickled)  # inside our own sealed file
            self._cells_pickled = b""
        return self._cells

    @cells.setter
    def cells(self, cells: list[tuple[str, Any]]) -> None:
        self._cells, self._cells_pickled = cells, b""

    @property
    def pages(self) -> dict[str, tuple[str, bytes, bytes]]:
        """Each stored page's (fingerprint, plan key, cells read). Decoded when first asked for,
        like `cells`: an edit's build compares its plan with the stored one (`not_kept`), and
        asks for the pages in its forked worker and its cache writer."""
        if self._pages is None:
            self._pages = pickle.loads(self._pages_pickled)  # inside our own sealed file
            self._pages_pickled = b""
        return self._pages

    @pages.setter
    def pages(self, pages: dict[str, tuple[str, bytes, bytes]]) -> None:
        self._pages, self._pages_pickled = pages, b""

    def has_pages(self) -> bool:
        """Whether any page is stored (without decoding them)."""
        return self._page_count > 0 if self._pages is None else bool(self._pages)

    def cell(self, number: int) -> tuple[str, Any]:
        """The stored cell of that number: one told (`tell`) if the cells are not decoded."""
        if self._cells is None and number in self._told:
            return self._told[number]
        return self.cells[number]

    def tell(self, cells: Mapping[int, tuple[str, Any]]) -> None:
        """Some stored cells by number, found elsewhere (by the forked worker that decoded them)."""
        self._told.update(cells)

    @property
    def number(self) -> dict[tuple[str, Any], int]:
        """Each stored cell's number, made when first asked for (170,000 cells: 0.03 s, which
        a rebuild after an edit spends in the forked worker that finds the changed cells, and
        in the cache writer, not on its way to the site)."""
        if self._number is None:
            self._number = {cell: i for i, cell in enumerate(self.cells)}
        return self._number

    def changed_cells(self, cells: Cells) -> tuple[set[int], bytes]:
        """The numbers of the stored cells whose digest in `cells` differs from the stored one,
        and of the nodes that read any of them; and the digests of the stored cells in `cells`."""
        return self._changed(cells.digests(self.cells))

    def _changed(self, now: bytes) -> tuple[set[int], bytes]:
        before = self.digests
        changed: set[int] = set()
        if len(before) != len(now):  # not written by this code: every cell changed
            changed = set(range(len(self.cells)))
        elif before != now:  # node cells have one digest, NODE_DIGEST, on both sides
            changed = _differing(now, before)
        if not changed:
            return changed, now
        # A node changed when it reads a changed cell. One pass over every node finds those
        # reading a changed cell that is not a node (1.4 million reads at 10,000); after it,
        # only the nodes that read nodes (`node_readers`: none in the theme) can still change.
        nodes = self.nodes
        grew = [n for n, numbers in nodes.items() if not changed.isdisjoint(array("I", numbers))]
        changed.update(grew)
        readers = self.node_readers if self.node_readers is not None else _node_readers(nodes)
        pending = [n for n in readers if n in nodes and n not in changed]
        while grew and pending:  # until nothing more changes
            grew = [n for n in pending if not changed.isdisjoint(array("I", nodes[n]))]
            changed.update(grew)
            pending = [n for n in pending if n not in changed]
        return changed, now

    def digests_by_difference(self, cells: Cells, suspects: Iterable[tuple[str, Any]]) -> bytes:
        """The digests of the stored cells in `cells`, when only the `suspects` (and the
        volatile cells: whole mappings, lengths) can hold another value than when they were
        stored: those are digested, the others keep their stored digest."""
        number = self.number.get
        todo = sorted({i for i in map(number, suspects) if i is not None}.union(self.volatile))
        now = bytearray(self.digests)
        fresh = cells.digests([self.cells[i] for i in todo])
        for j, i in enumerate(todo):
            now[8 * i:8 * i + 8] = fresh[8 * j:8 * j + 8]
        return bytes(now)

    def changed_by_difference(self, cells: Cells, suspects: Iterable[tuple[str, Any]]) -> tuple[set[int], bytes]:
        """`changed_cells`, digesting only the `suspects` (`digests_by_difference`)."""
        return self._changed(self.digests_by_difference(cells, suspects))

    def same_values(self, nodes: Iterable[int], remake: Callable[[tuple[str, Any]], bytes | None]) -> set[int]:
        """Of these node numbers, those whose value, made again (`remake(cell)`: its digest, or
        None), is the one stored: early cut-off, their readers see what they saw."""
        values = self.node_values
        return {n for n in nodes if n in values and remake(self.cell(n)) == values[n]}

    def touched_by(self, changed: set[int]) -> dict[str, set[int]]:
        """`touched`, with the changed cells each page read."""
        if not changed:
            return {}
        out = {}
        for path, (_, _, numbers) in self.pages.items():
            read = array("I", numbers)
            if not changed.isdisjoint(read):
                out[path] = changed.intersection(read)
        return out

    def is_node(self, number: int) -> bool:
        return number in self.nodes

    def touched(self, changed: set[int]) -> set[str]:
        """The stored pages that read any of the `changed` cells (a forked worker finds them
        while the build plans: a pass over every cell of every page)."""
        if not changed:
            return set()
        isdisjoint = changed.isdisjoint
        return {path for path, (_, _, numbers) in self.pages.items() if not isdisjoint(array("I", numbers))}

    def unchanged(self, path: str, plan_key: bytes, fingerprint: str | None, touched: set[str]) -> bool:
        """True when the page at `path` would get the context it had: same plan key, the same
        fingerprint in the last manifest, and none of its cells changed (it is not `touched`)."""
        got = self.pages.get(path)
        if got is None or fingerprint is None or got[0] != fingerprint[:16] or got[1] != plan_key:
            return False
        return path not in touched

    def unchanged_pages(self, keyed: Iterable[tuple[str, bytes]], fingerprints: dict[str, str],
                        touched: set[str]) -> Iterator[tuple[str, str]]:
        """(path, fingerprint) of each planned page (`keyed`: path, plan key) that is `unchanged`,
        with its fingerprint in the last manifest from `fingerprints`: one loop over every page
        of the site, consumed as it goes (SiteWriter.unchanged_pages)."""
        stored, last = self.pages.get, fingerprints.get
        for path, plan_key in keyed:
            got = stored(path)
            if got is None or got[1] != plan_key or path in touched:
                continue
            fingerprint = last(path)
            if fingerprint is not None and got[0] == fingerprint[:16]:
                yield path, fingerprint

    def not_kept(self, paths: Sequence[str], keys: bytes, site: tuple | None, touched: set[str]) -> set[str] | None:
        """`unchanged_pages` by difference: of the planned pages with a plan key (`paths`, their
        `keys` joined), those that are not unchanged; None when that cannot be told so.

        When the site in the output is the one written when the pages were stored (`site`),
        every stored fingerprint is the one in its manifest: a page is then unchanged unless its
        plan key moved or it is `touched`. The plans are compared as runs: the pages both begin
        and end with (most of them; a page added or gone, or an entity's pages grown by one,
        shift the rest) by their keys joined, a block at a time (`_differing`), and only the
        pages between those one by one: 60,000 pages in a few milliseconds.
        """
        if not self.plan_keys or site is None or site != self.site or len(keys) != 8 * len(paths):
            return None
        now, before = _joined(paths), self.plan_paths
        stored_keys = self.plan_keys
        if now == before:
            if len(keys) != len(stored_keys):
                return None
            return {paths[i] for i in _differing(keys, stored_keys)} | touched
        # The paths both plans begin with, then those they end with (not overlapping those): a
        # path counts when the common run holds it with the separator before or after it.
        head = _paths_in(now, _common_prefix(now, before))
        tail_chars = _common_prefix(now[::-1], before[::-1])
        n_now, n_before = len(paths), len(stored_keys) // 8
        tail = min(now.count("\0", len(now) - tail_chars), n_now - head, n_before - head)
        out = {paths[i] for i in _differing(keys[:8 * head], stored_keys[:8 * head])}
        out.update(paths[n_now - tail + i] for i in _differing(keys[8 * (n_now - tail):],
                                                               stored_keys[8 * (n_before - tail):]))
        if head < n_now - tail:  # new, or moved among the pages: looked up one by one
            # Among the stored plan's own middle: a planned path is once in each plan, so one
            # that both plans begin or end with is not in the middle of either.
            middle = before.split("\0")[head:n_before - tail]
            stored = {path: stored_keys[8 * (head + j):8 * (head + j) + 8] for j, path in enumerate(middle)}.get
            for i in range(head, n_now - tail):
                if stored(paths[i]) != keys[8 * i:8 * i + 8]:
                    out.add(paths[i])
        return out | touched

    def number_cells(self, cells: Iterable[tuple[str, Any]]) -> None:
        """Give these cells numbers now, before the render workers fork, so that they can
        `encode` what a context read without asking the parent."""
        number = self.number
        for cell in cells:
            if cell not in number:
                number[cell] = len(self.cells)
                self.cells.append(cell)

    def encode(self, reads: Iterable[tuple[str, Any]]) -> tuple[bytes, tuple]:
        """Cells as (the sorted numbers of those already numbered, the others). Before the
        stored cells are numbered (`number`), every cell is one of the others: the few contexts
        a rebuild makes in its own process are numbered when kept (`keep`, by the cache writer)."""
        reads = tuple(reads)
        if self._number is None:
            return b"", reads
        numbers = list(map(self.number.get, reads))  # C loops: every page of a full build comes here
        others: tuple = ()
        if None in numbers:
            others = tuple(cell for cell, n in zip(reads, numbers, strict=True) if n is None)
            numbers = [n for n in numbers if n is not None]
        numbers.sort()
        return array("I", numbers).tobytes(), others

    def _numbers(self, encoded: tuple[bytes, tuple]) -> bytes:
        numbers, others = encoded
        if not others:
            return numbers
        self.number_cells(others)
        return array("I", sorted(array("I", numbers) + array("I", map(self.number.__getitem__, others)))).tobytes()

    def keep(self, path: str, fingerprint: str, plan_key: bytes, encoded: tuple[bytes, tuple]) -> None:
        """Record what the page at `path` read this build (`encode`d)."""
        self.pages[path] = (fingerprint[:16], plan_key, self._numbers(encoded))  # 64 bits tell them apart

    def keep_node(self, cell: tuple[str, Any], encoded: tuple[bytes, tuple], value: bytes) -> None:
        """Record what a node read this build (`encode`d), and the digest of its value."""
        self.number_cells([cell])
        number = self.number[cell]
        self.nodes[number] = self._numbers(encoded)
        self.node_values[number] = value
        self.node_readers = None

    def save(self, cells: Cells, live: Iterable[str], *, plan: tuple[Sequence[str], bytes] | None = None,
             site: tuple | None = None) -> None:
        """Store the pages in `live` (the others are gone), with every cell's current digest;
        with `plan` (the paths of the planned pages with a plan key, in order, and their keys
        joined) and `site` (the identity of the manifest written with them), what `not_kept`
        compares the next plan with."""
        live = set(live)
        self.pages = {p: v for p, v in self.pages.items() if p in live}
        self.plan_paths, self.plan_keys, self.site = "", b"", None
        if plan is not None and site is not None:
            paths, keys = plan
            pages = self.pages
            if len(keys) == 8 * len(paths) and all(p in pages for p in paths):
                self.plan_paths, self.plan_keys, self.site = _joined(paths), keys, site
        if len(self.cells) > self.compacted * 5 // 4 + 1000:
            self._compact()
            self.compacted = len(self.cells)
        self.digests = cells.digests(self.cells)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            sealed.dump({"version": STORE_VERSION, "shared": self.shared,
                         "cells": pickle.dumps(self.cells, protocol=pickle.HIGHEST_PROTOCOL),
                         "digests": self.digests, "nodes": self.nodes, "page_count": len(self.pages),
                         "pages": pickle.dumps(self.pages, protocol=pickle.HIGHEST_PROTOCOL),
                         "node_readers": _node_readers(self.nodes),
                         "compacted": self.compacted, "basis": self.basis, "hashes": self.hashes,
                         "node_values": self.node_values, "volatile": _volatile(self.cells),
                         "plan_paths": self.plan_paths, "plan_keys": self.plan_keys, "site": self.site}, self.path)
        except OSError:
            pass  # a cache that cannot be written is a slower next build, not a failed one

    def _compact(self) -> None:
        """Forget the cells and nodes no page reads any more (they pile up as entities come and go)."""
        used: set[int] = set()
        for _, _, numbers in self.pages.values():
            used.update(array("I", numbers))
        nodes = {n: numbers for n, numbers in self.nodes.items() if n in used}
        for numbers in nodes.values():
            used.update(array("I", numbers))
        order = sorted(used)
        renumber = {old: new for new, old in enumerate(order)}

        def remap(numbers: bytes) -> bytes:
            return array("I", sorted(renumber[i] for i in array("I", numbers))).tobytes()

        self.cells = [self.cells[i] for i in order]
        self._number = {cell: i for i, cell in enumerate(self.cells)}
        self.pages = {p: (fp, key, remap(numbers)) for p, (fp, key, numbers) in self.pages.items()}
        self.nodes = {renumber[n]: remap(numbers) for n, numbers in nodes.items()}
        self.node_values = {renumber[n]: v for n, v in self.node_values.items() if n in nodes}

