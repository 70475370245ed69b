"""What each page's context read from the archive, so that a rebuild makes only the contexts
whose inputs changed.

A page's context is made from the Archive through its mappings (`by_source`, `entities`,
`entity_sources`, `paged_entities`, ...). In a build those mappings are *tracked*: while a
page's context is being made (`made_by`), every key it looks up is noted as a *cell*, a
(mapping name, key) pair. The build keeps, per page, the cells it read (`page_inputs.PageInputs`), and per
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
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

ALL = None  # the key of a cell standing for a whole mapping (its iteration or length)

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
                append(node)  # changes with what it read: see page_inputs.PageInputs.changed_cells
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
