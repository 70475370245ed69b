"""What each page's context read from the archive, so that a rebuild makes only the contexts
whose inputs changed.

A page's context is made from the Archive through its mappings (`by_source`, `entities`,
`entity_sources`, `paged_entities`, ...). In a build those mappings are *tracked*: while a
page's context is being made (`made_by`), every key it looks up is noted as a *cell*, a
(mapping name, key) pair. The build keeps, per page, the cells it read (`PageInputs`), and per
cell a digest of its value. The next build digests the same cells in its own archive: a page
none of whose cells changed, with the same plan key (what the planner captured for it, such as
its page number), template and site-wide digest, would get the very same context, so its last
fingerprint still holds and its file is kept without making the context at all.

Iterating a whole mapping, or asking its length, reads the cell (name, ALL); the entries
tuple's length is its own cell (name, "len"). Values a context computes from the archive and
keeps for other pages (an article's card, its woven mention spans) are memoised together with
the cells they read (`memo`), and every page that takes such a value from the memo records
those cells too. What all of an entity's or topic's pages share reads thousands of cells for a
large entity; it is a `node`: its pages record one cell, the node's own cells are kept once,
and the node counts as changed when any of them did.

A cell's digest covers everything a context can see through it; an Entry is digested by its
article's content hash (the parse of those bytes, given the same settings and code, which the
site-wide digest covers) and its mentions, topics and URL.
"""

from __future__ import annotations

import hashlib
import io
import marshal
import pickle
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import sealed

ALL = None  # the key of a cell standing for a whole mapping (its iteration or length)
STORE_VERSION = 2

# The cells read so far by the context being made; None when nothing is recording.
_reads: set[tuple[str, Any]] | None = None


# Nodes made in this process: node cell -> the cells its value was made from and the digest of
# the value (see `node`).
_nodes: dict[tuple[str, Any], tuple[set[tuple[str, Any]], bytes]] = {}
# The nodes planned in this process (`node`), by cell: `remade` makes one to compare its value.
_planned: dict[tuple[str, Any], Callable[[], Any]] = {}


def made_by(make: Callable[[], Any], merge: bool = True) -> tuple[Any, set[tuple[str, Any]]]:
    """make(), and the cells it read (also recorded for the caller's context, if `merge`)."""
    global _reads
    outer = _reads
    _reads = inner = set()
    try:
        value = make()
    finally:
        _reads = outer
    if merge and outer is not None:
        outer |= inner
    return value, inner


def node(name: Hashable, make: Callable[[], Any]) -> Callable[[], Any]:
    """`make()`, made at most once, for a value many pages share and that reads many cells (the
    part of an entity's pages they have in common reads every article that mentions it).

    A page that takes it records one cell, ("node", name), instead of all of those; what the
    node read is kept once (`made_nodes`), with a digest of its value. The node counts as
    changed when any of them did, unless, made again, its value is the same (`remade`): an
    edit that moves an article's topics makes its entities' shared parts again, seldom other.
    """
    cell = ("node", name)
    done: list[Any] = []

    def get() -> Any:
        if not done:
            value, read = made_by(make, merge=False)
            _nodes[cell] = (read, value_digest(value))
            done.append(value)
        if _reads is not None:
            _reads.add(cell)
        return done[0]
    _planned[cell] = get
    return get


def made_nodes() -> dict[tuple[str, Any], tuple[set[tuple[str, Any]], bytes]]:
    """The nodes made in this process since the last call, with what each read and the digest
    of its value."""
    got = dict(_nodes)
    _nodes.clear()
    return got


def planning() -> None:
    """Forget the nodes planned so far (a new plan begins)."""
    _planned.clear()


def remade(cell: tuple[str, Any]) -> bytes | None:
    """The digest of the value of the planned node `cell`, made now if it was not yet (outside
    any page's record); None when no node of that name was planned."""
    global _reads
    get = _planned.get(cell)
    if get is None:
        return None
    outer, _reads = _reads, None
    try:
        get()
    finally:
        _reads = outer
    return _nodes[cell][1] if cell in _nodes else None


def value_digest(value: Any) -> bytes:
    """8 bytes that change when the value (a page context's part: dicts, lists, strings,
    numbers, Markup) does: a pickle that writes every value out in full, shared or not (a
    normal pickle writes an object seen twice as a reference, so equal values could differ)."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=5)
    pickler.fast = True  # contexts hold no cycles, the one case fast mode cannot write
    pickler.dump(value)
    return hashlib.blake2b(buf.getbuffer(), digest_size=8).digest()


def note(cell: tuple[str, Any]) -> None:
    """Record a read that does not go through a tracked mapping."""
    if _reads is not None:
        _reads.add(cell)


class memo:  # noqa: N801 - used like a decorator-made function
    """`make(key)`, made once per process, with the cells the first call read replayed into
    every later caller's record."""

    __slots__ = ("make", "done")

    def __init__(self, make: Callable[[Any], Any]):
        self.make = make
        self.done: dict[Any, tuple[Any, set]] = {}

    def __call__(self, key: Hashable = None) -> Any:
        got = self.done.get(key)
        if got is None:
            got = self.done[key] = made_by(lambda: self.make(key))
        elif _reads is not None:
            _reads.update(got[1])
        return got[0]


def at_most(mapping: dict, key: Any, limit: int) -> Any:
    """`mapping.get(key, ())` when it has at most `limit` items, else None.

    Recorded as the cell (name + "|at most", (key, limit)), which changes only when the answer
    does: a page that skips the long lists does not depend on what they hold.
    """
    value = dict.get(mapping, key, ())
    if _reads is not None and isinstance(mapping, TrackedDict):
        _reads.add((mapping.name + AT_MOST, (key, limit)))
    return value if len(value) <= limit else None


AT_MOST = "|at most"


# --- tracked containers -------------------------------------------------------------------------


def untracked(tracked: dict) -> tuple[Callable[[Any], Any], Callable[..., Any]]:
    """`tracked[key]` and `tracked.get(key, default)` that record nothing, for planning (where
    nothing records): bound to dict's own methods, without copying the mapping (a copy of a
    TrackedDict goes through its Python-level keys())."""
    return dict.__getitem__.__get__(tracked), dict.get.__get__(tracked)


class TrackedDict(dict):
    """A dict whose lookups are recorded as cells (name, key) while a context is made."""

    __slots__ = ("name",)

    def __init__(self, name: str, items: Iterable[tuple[Any, Any]] | dict = ()):
        dict.__init__(self, items)
        self.name = name

    def __getitem__(self, key: Any) -> Any:
        if _reads is not None:
            _reads.add((self.name, key))
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        if _reads is not None:
            _reads.add((self.name, key))
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if _reads is not None:
            _reads.add((self.name, key))
        return dict.__contains__(self, key)

    def _whole(self) -> None:
        if _reads is not None:
            _reads.add((self.name, ALL))

    def __iter__(self) -> Iterator[Any]:
        self._whole()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._whole()
        return dict.__len__(self)

    def keys(self):  # noqa: ANN201
        self._whole()
        return dict.keys(self)

    def values(self):  # noqa: ANN201
        self._whole()
        return dict.values(self)

    def items(self):  # noqa: ANN201
        self._whole()
        return dict.items(self)

    def __reduce__(self):  # noqa: ANN204 - a copy (pickled, deep-copied) is a plain dict
        return (dict, (dict(dict.items(self)),))


class TrackedSet(frozenset):
    """A frozenset whose membership tests are recorded as cells (name, item)."""

    name: str

    def __new__(cls, name: str, items: Iterable[Any] = ()) -> TrackedSet:
        self = super().__new__(cls, items)
        self.name = name
        return self

    def __contains__(self, item: object) -> bool:
        if _reads is not None:
            _reads.add((self.name, item))
        return frozenset.__contains__(self, item)

    def __iter__(self) -> Iterator[Any]:
        if _reads is not None:
            _reads.add((self.name, ALL))
        return frozenset.__iter__(self)

    def __len__(self) -> int:
        if _reads is not None:
            _reads.add((self.name, ALL))
        return frozenset.__len__(self)

    def __reduce__(self):  # noqa: ANN204
        return (frozenset, (frozenset(frozenset.__iter__(self)),))


class TrackedTuple(tuple):
    """A tuple whose length is the cell (name, "len") and whose items are the cell (name, ALL)."""

    name: str

    def __new__(cls, name: str, items: Iterable[Any] = ()) -> TrackedTuple:
        self = super().__new__(cls, items)
        self.name = name
        return self

    def __len__(self) -> int:
        if _reads is not None:
            _reads.add((self.name, "len"))
        return tuple.__len__(self)

    def __getitem__(self, index):  # noqa: ANN001, ANN204
        if _reads is not None:
            _reads.add((self.name, ALL))
        return tuple.__getitem__(self, index)

    def __iter__(self) -> Iterator[Any]:
        if _reads is not None:
            _reads.add((self.name, ALL))
        return tuple.__iter__(self)

    def __reduce__(self):  # noqa: ANN204
        return (tuple, (tuple(tuple.__iter__(self)),))


# --- digests --------------------------------------------------------------------------------------


def digest(value: Any) -> bytes:
    """8 bytes that change when `value` (plain data: str, int, bool, None, tuples of them) does.

    marshal format 2: later formats write an object seen twice as a reference when its
    reference count says it is shared, so equal values could give other bytes."""
    return hashlib.blake2b(marshal.dumps(value, 2), digest_size=8).digest()


class Cells:
    """Digests of an archive's cells, computed when asked for (each is asked for once).

    `plain` maps a mapping's name to a function turning one of its values into plain data;
    values of the mappings not named there must already be plain.
    """

    def __init__(self, containers: dict[str, Any], plain: dict[str, Callable[[Any], Any]]):
        self.remembered: tuple[list[tuple[str, Any]], bytes] | None = None
        self.values = {name: _reader(box, plain.get(name, _same)) for name, box in containers.items()}
        for name, box in containers.items():
            if isinstance(box, dict):
                self.values[name + AT_MOST] = _at_most_reader(box)

    def __getitem__(self, cell: tuple[str, Any]) -> bytes:
        return self.digests((cell,))

    def digests(self, cells: Sequence[tuple[str, Any]]) -> bytes:
        """The digests of `cells`, 8 bytes each, in order.

        One loop with everything looked up once: the worker finding the changed cells digests
        every cell the last build's pages read (170,000 at 10,000 articles), while the build
        waits for it."""
        if self.remembered is not None and cells[:len(self.remembered[0])] == self.remembered[0]:
            done, digests = self.remembered
            return digests + self.digests(cells[len(done):])
        values, dumps, blake2b, node = self.values, marshal.dumps, hashlib.blake2b, NODE_DIGEST
        out = []
        append = out.append
        for cell in cells:
            name = cell[0]
            if name == "node":
                append(node)  # changes with what it read: see PageInputs.changed_cells
                continue
            read = values.get(name)
            value = read(cell[1]) if read is not None else ("not a mapping", name)
            append(blake2b(dumps(value, 2), digest_size=8).digest())
        return b"".join(out)

    def remember(self, cells: list[tuple[str, Any]], digests: bytes) -> None:
        """Take the `digests` of `cells` computed elsewhere (by a forked worker), for a later
        `digests` of a list that starts with these cells (kept as they came: making them a
        mapping would cost the build a tenth of a second it waits for)."""
        self.remembered = (cells, digests)


NODE_DIGEST = bytes(8)

# The mappings whose cells, one per key, `PageInputs.digests_by_difference` can be told are
# unchanged (archive.may_differ); any other cell is volatile.
KEYED = frozenset({"by_source", "facets", "entities", "entity_sources", "paged_entities", "topics", "topic_sources",
                   "paged_topics", "redirects", "entity_sources" + AT_MOST, "topic_sources" + AT_MOST, "node"})


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


def _reader(box: Any, plain: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The function giving a cell's value (as plain data) from its key, for one container."""
    if isinstance(box, frozenset):
        return lambda key: tuple(sorted(frozenset.__iter__(box))) if key is ALL else frozenset.__contains__(box, key)
    if isinstance(box, tuple):
        return lambda key: tuple.__len__(box) if key == "len" else tuple(plain(v) for v in tuple.__iter__(box))
    missing = ("missing",)

    def read(key: Any) -> Any:
        if key is ALL:
            return tuple((k, plain(v)) for k, v in dict.items(box))
        value = dict.get(box, key, missing)
        return value if value is missing else plain(value)
    return read


def _at_most_reader(box: dict) -> Callable[[Any], Any]:
    def read(key: Any) -> Any:
        value = dict.get(box, key[0], ())
        return value if len(value) <= key[1] else ("more",)
    return read


def _same(value: Any) -> Any:
    return value


# --- the store ------------------------------------------------------------------------------------


class PageInputs:
    """The cells each page's context read in the last build, and their digests then.

    One sealed pickle in the cache folder per output folder: `shared` (the digest of templates,
    settings and code every page depends on), `cells` (each cell once, by number), `digests`
    (8 bytes per cell), `pages` (output path -> (the first 16 hex digits of its render
    fingerprint, its plan key, the numbers of its cells as an array of uint32)) and `nodes`
    (node number -> the numbers of its cells).
    """

    def __init__(self, path: Path, shared: str):
        self.path = path
        self.shared = shared
        self.cells: list[tuple[str, Any]] = []
        self.number: dict[tuple[str, Any], int] = {}
        self.digests = b""
        self.pages: dict[str, tuple[str, bytes, bytes]] = {}
        self.nodes: dict[int, bytes] = {}
        self.node_values: dict[int, bytes] = {}  # node number -> `value_digest` of its value
        self.compacted = 0  # how many cells there were after the last compaction
        # What the archive these digests are of was made from (see `digests_by_difference`):
        # the key of its stored enrichment, and each article's content hash.
        self.basis = ""
        self.hashes: dict[str, str] = {}
        self.volatile: list[int] = []  # the cells any change may move (see `_volatile`)

    def load(self) -> PageInputs:
        data = sealed.load(self.path)
        if not isinstance(data, dict) or data.get("version") != STORE_VERSION or data.get("shared") != self.shared:
            return self
        self.cells = data["cells"]
        self.number = {cell: i for i, cell in enumerate(self.cells)}
        self.digests = data["digests"]
        self.pages = data["pages"]
        self.nodes = data["nodes"]
        self.compacted = data["compacted"]
        self.basis, self.hashes, self.volatile = data["basis"], data["hashes"], data["volatile"]
        self.node_values = data["node_values"]
        return self

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
        pending = {n: array("I", numbers) for n, numbers in self.nodes.items()} if changed else {}
        while changed and pending:  # a node may read another node: until nothing more changes
            grew = [n for n, numbers in pending.items() if not changed.isdisjoint(numbers)]
            if not grew:
                break
            for n in grew:
                del pending[n]
            changed.update(grew)
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
        return {n for n in nodes if n in values and remake(self.cells[n]) == values[n]}

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

    def unchanged_pages(self, planned: Sequence[Any], fingerprints: dict[str, str],
                        touched: set[str]) -> list[tuple[int, str, str]]:
        """(index, path, fingerprint) of each planned page (with a plan key) that is `unchanged`,
        with its fingerprint in the last manifest from `fingerprints`: one loop over every page
        of the site."""
        stored, last = self.pages.get, fingerprints.get
        out = []
        for i, page in enumerate(planned):
            plan_key = page.plan_key
            if not plan_key:
                continue
            path = page.path
            got = stored(path)
            if got is None or got[1] != plan_key or path in touched:
                continue
            fingerprint = last(path)
            if fingerprint is not None and got[0] == fingerprint[:16]:
                out.append((i, path, fingerprint))
        return out

    def number_cells(self, cells: Iterable[tuple[str, Any]]) -> None:
        """Give these cells numbers now, before the render workers fork, so that they can
        `encode` what a context read without asking the parent."""
        number = self.number
        for cell in cells:
            if cell not in number:
                number[cell] = len(self.cells)
                self.cells.append(cell)

    def encode(self, reads: Iterable[tuple[str, Any]]) -> tuple[bytes, tuple]:
        """Cells as (the sorted numbers of those already numbered, the others)."""
        reads = tuple(reads)
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

    def save(self, cells: Cells, live: Iterable[str]) -> None:
        """Store the pages in `live` (the others are gone), with every cell's current digest."""
        live = set(live)
        self.pages = {p: v for p, v in self.pages.items() if p in live}
        if len(self.cells) > self.compacted * 5 // 4 + 1000:
            self._compact()
            self.compacted = len(self.cells)
        self.digests = cells.digests(self.cells)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            sealed.dump({"version": STORE_VERSION, "shared": self.shared, "cells": self.cells,
                         "digests": self.digests, "pages": self.pages, "nodes": self.nodes,
                         "compacted": self.compacted, "basis": self.basis, "hashes": self.hashes,
                         "node_values": self.node_values,
                         "volatile": _volatile(self.cells)}, self.path)
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
        self.number = {cell: i for i, cell in enumerate(self.cells)}
        self.pages = {p: (fp, key, remap(numbers)) for p, (fp, key, numbers) in self.pages.items()}
        self.nodes = {renumber[n]: remap(numbers) for n, numbers in nodes.items()}
        self.node_values = {renumber[n]: v for n, v in self.node_values.items() if n in nodes}

