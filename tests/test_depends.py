"""depends.py: what a context reads is recorded, replayed from memos and nodes, digested, stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from briefing import depends
from briefing.depends import ALL, Cells, TrackedDict, TrackedSet, TrackedTuple
from briefing.page_inputs import PageInputs


def containers(sources: dict[str, tuple[str, ...]], paged: set[str]) -> dict:
    return {"entity_sources": TrackedDict("entity_sources", sources), "paged": TrackedSet("paged", paged),
            "entries": TrackedTuple("entries", ("a", "b", "c"))}


def test_lookups_are_recorded_only_while_a_context_is_made():
    box = containers({"x": ("a",), "y": ("b", "c")}, {"x"})
    sources, paged, entries = box["entity_sources"], box["paged"], box["entries"]
    assert sources["x"] == ("a",)  # nothing records outside made_by
    value, reads = depends.made_by(lambda: (sources["x"], sources.get("z"), "y" in paged, len(entries)))
    assert value == (("a",), None, False, 3)
    assert reads == {("entity_sources", "x"), ("entity_sources", "z"), ("paged", "y"), ("entries", "len")}
    _, reads = depends.made_by(lambda: (list(sources), entries[0], sorted(paged)))
    assert reads == {("entity_sources", ALL), ("entries", ALL), ("paged", ALL)}


def test_a_memo_replays_what_its_first_call_read():
    box = containers({"x": ("a",), "y": ("b",)}, set())
    calls = []
    first = depends.memo(lambda key: (calls.append(key), box["entity_sources"][key])[1])
    _, one = depends.made_by(lambda: first("x"))
    _, two = depends.made_by(lambda: first("x"))  # from the memo: the reads come along
    assert calls == ["x"] and one == two == {("entity_sources", "x")}


def test_a_node_is_one_cell_for_its_readers_and_keeps_its_own_reads():
    box = containers({"x": ("a",), "y": ("b",)}, set())
    depends.made_nodes()
    shared = depends.node(("entity", "x"), lambda: (box["entity_sources"]["x"], box["entity_sources"]["y"]))
    _, reads = depends.made_by(lambda: shared())
    _, again = depends.made_by(lambda: shared())
    assert reads == again == {("node", ("entity", "x"))}
    made = depends.made_nodes()
    assert made == {("node", ("entity", "x")): ({("entity_sources", "x"), ("entity_sources", "y")},
                                                depends.value_digest((("a",), ("b",))))}


def test_at_most_depends_on_a_long_list_only_through_its_length():
    long = tuple("abcdefgh")
    cells_before = Cells(containers({"x": long}, set()), {})
    cells_after = Cells(containers({"x": long + ("i",)}, set()), {})
    box = containers({"x": long}, set())
    value, reads = depends.made_by(lambda: depends.at_most(box["entity_sources"], "x", 5))
    assert value is None and reads == {("entity_sources|at most", ("x", 5))}
    cell = ("entity_sources|at most", ("x", 5))
    assert cells_before[cell] == cells_after[cell]  # still more than 5: nothing a reader sees changed
    assert cells_before[("entity_sources", "x")] != cells_after[("entity_sources", "x")]


def test_digests_do_not_depend_on_how_values_are_shared():
    shared = "Baghdad" * 3
    assert depends.digest((shared, shared)) == depends.digest(("Baghdad" * 3, "".join(["Baghdad"] * 3)))


def test_the_store_finds_the_pages_whose_cells_or_nodes_changed(tmp_path: Path):
    before = Cells(containers({"x": ("a",), "y": ("b",)}, {"x"}), {})
    store = PageInputs(tmp_path / "pages.pickle", "site-1")
    store.number_cells([("paged", "x")])  # numbered before: encoded as a number, the others as cells
    store.keep("x.html", "f" * 64, b"key", store.encode([("entity_sources", "x"), ("paged", "x")]))
    store.keep("y.html", "e" * 64, b"key", store.encode([("node", "n")]))
    store.keep_node(("node", "n"), store.encode([("entity_sources", "y")]), depends.value_digest("n"))
    store.save(before, ["x.html", "y.html"])

    after = Cells(containers({"x": ("a",), "y": ("b", "c")}, {"x"}), {})
    loaded = PageInputs(tmp_path / "pages.pickle", "site-1").load()
    touched = loaded.touched(loaded.changed_cells(after)[0])
    assert touched == {"y.html"}  # through its node
    assert loaded.unchanged("x.html", b"key", "f" * 64, touched)
    assert not loaded.unchanged("y.html", b"key", "e" * 64, touched)
    assert not loaded.unchanged("x.html", b"other key", "f" * 64, touched)
    assert not loaded.unchanged("x.html", b"key", "0" * 64, touched)  # the manifest has another file
    assert PageInputs(tmp_path / "pages.pickle", "site-2").load().pages == {}  # templates or settings changed


def test_a_change_reaches_pages_through_a_node_that_reads_a_node(tmp_path: Path):
    """A node may read another node: a change reaches the pages that read the outer one, in a
    store loaded from disk (which keeps which nodes read nodes) as in one kept in memory."""
    before = Cells(containers({"x": ("a",), "y": ("b",)}, {"x"}), {})
    store = PageInputs(tmp_path / "pages.pickle", "site-1")
    store.keep("outer.html", "f" * 64, b"key", store.encode([("node", "outer")]))
    store.keep("inner.html", "e" * 64, b"key", store.encode([("node", "inner")]))
    store.keep("other.html", "d" * 64, b"key", store.encode([("entity_sources", "x")]))
    store.keep_node(("node", "outer"), store.encode([("node", "inner"), ("entity_sources", "x")]),
                    depends.value_digest("outer"))
    store.keep_node(("node", "inner"), store.encode([("entity_sources", "y")]), depends.value_digest("inner"))
    store.save(before, ["outer.html", "inner.html", "other.html"])
    after = Cells(containers({"x": ("a",), "y": ("b", "c")}, {"x"}), {})
    for pages in (store, PageInputs(tmp_path / "pages.pickle", "site-1").load()):
        assert pages.touched(pages.changed_cells(after)[0]) == {"outer.html", "inner.html"}
        pages.node_readers = []  # as if no node read a node: the outer one is missed
        assert pages.touched(pages.changed_cells(after)[0]) == {"inner.html"}


def test_compaction_forgets_cells_no_page_reads_and_keeps_the_answers(tmp_path: Path):
    sources = {f"k{i}": (f"s{i}",) for i in range(3000)}
    cells = Cells(containers(sources, set()), {})
    store = PageInputs(tmp_path / "pages.pickle", "site")
    for i in range(3000):
        store.keep(f"p{i}.html", "f" * 64, b"", store.encode([("entity_sources", f"k{i}")]))
    store.save(cells, [f"p{i}.html" for i in range(10)])  # the other pages are gone
    assert len(store.cells) == 10
    changed_sources = dict(sources, k3=("other",))
    loaded = PageInputs(tmp_path / "pages.pickle", "site").load()
    touched = loaded.touched(loaded.changed_cells(Cells(containers(changed_sources, set()), {}))[0])
    assert [p for p in loaded.pages if not loaded.unchanged(p, b"", "f" * 64, touched)] == ["p3.html"]


def test_remembered_digests_stand_for_the_cells_they_were_computed_for():
    box = containers({"x": ("a",), "y": ("b", "c")}, {"x"})
    fresh = Cells(box, {})
    cells = [("entity_sources", "x"), ("entity_sources", "y"), ("paged", "x")]
    computed = fresh.digests(cells)
    assert len(computed) == 8 * len(cells) and len(set(computed[i:i + 8] for i in range(0, 24, 8))) == 3

    told = Cells(box, {})
    told.remember(cells, b"R" * 24)  # what a worker said: taken as it is, for these cells only
    longer = cells + [("entries", "len")]
    assert told.digests(longer) == b"R" * 24 + fresh.digests([("entries", "len")])
    assert told.digests(cells[1:]) == computed[8:]  # another list: computed here
    assert told[("entity_sources", "x")] == computed[:8]


def test_a_page_made_later_equals_the_dataclass():
    from briefing.pages import Page

    def made() -> dict:
        return {"title": "x"}
    fast = Page.later("a/index.html", "a/", "entity.html", made, b"key", in_sitemap=False, source="s.md")
    slow = Page("a/index.html", "a/", "entity.html", made, in_sitemap=False, source="s.md", plan_key=b"key")
    assert fast == slow and hash(fast) == hash(slow)
    assert fast.context == {"title": "x"}
    with pytest.raises(AttributeError):
        fast.path = "b"  # type: ignore[misc]


def test_untracked_lookups_record_nothing():
    from briefing.depends import TrackedDict, made_by, untracked

    box = TrackedDict("box", {"a": 1})
    get, get_or = untracked(box)
    assert made_by(lambda: (get("a"), get_or("b", 2)))[1] == set()
    assert made_by(lambda: box["a"])[1] == {("box", "a")}


@given(st.integers(0, 2000), st.lists(st.integers(0, 1999), max_size=20, unique=True), st.sampled_from([1, 3, 512]))
@settings(max_examples=200, deadline=None)
def test_differing_digests_are_found_as_one_by_one(n: int, flips: list[int], block: int):
    """The changed cells found a block at a time are those a comparison of every digest finds."""
    from array import array
    from itertools import count

    from briefing.page_inputs import _differing

    before = bytes(range(256)) * (8 * n // 256) + bytes(8 * n % 256)
    now = bytearray(before)
    for i in flips:
        if i < n:
            now[8 * i + (i % 8)] ^= 0xFF
    plain = {i for i, a, b in zip(count(), array("Q", bytes(now)), array("Q", before)) if a != b}
    assert _differing(bytes(now), before, block) == plain
    assert plain == {i for i in flips if i < n}


def test_a_node_whose_inputs_changed_but_whose_value_did_not_changes_nothing(tmp_path: Path):
    """Early cut-off: a node made again to the same value leaves its readers unchanged; made
    to another value, they are touched; a node not planned now counts as changed."""
    before = Cells(containers({"x": ("a", "b"), "y": ("c",)}, set()), {})
    store = PageInputs(tmp_path / "pages.pickle", "site")
    count = depends.value_digest({"count": 2})
    store.keep("x.html", "f" * 64, b"key", store.encode([("node", "count of x")]))
    store.keep("y.html", "f" * 64, b"key", store.encode([("entity_sources", "y")]))
    store.keep_node(("node", "count of x"), store.encode([("entity_sources", "x")]), count)
    store.save(before, ["x.html", "y.html"])
    loaded = PageInputs(tmp_path / "pages.pickle", "site").load()
    reordered = Cells(containers({"x": ("b", "a"), "y": ("c",)}, set()), {})  # the list moved, its length not
    everything = [("entity_sources", "x"), ("entity_sources", "y")]

    depends.planning()
    box = containers({"x": ("b", "a"), "y": ("c",)}, set())
    depends.node("count of x", lambda: {"count": len(box["entity_sources"]["x"])})
    changed, _ = loaded.changed_by_difference(reordered, everything)
    read = loaded.touched_by(changed)
    assert read.keys() == {"x.html"}  # its node's inputs changed
    nodes = {n for n in changed if loaded.is_node(n)}
    assert loaded.same_values(nodes, depends.remade) == nodes == read["x.html"]  # made again: the same count

    depends.planning()
    depends.node("count of x", lambda: {"count": len(box["entity_sources"]["x"]) + 1})
    assert loaded.same_values(nodes, depends.remade) == set()  # another value: its readers are touched
    depends.planning()  # not planned: changed
    assert loaded.same_values(nodes, depends.remade) == set()
    depends.made_nodes()


@pytest.mark.parametrize("seed", range(4))
def test_pages_not_kept_found_by_difference_equal_a_page_by_page_comparison(seed: int):
    """PageInputs.not_kept compares the plan with the stored one as runs (the pages both begin
    and end with) and only the pages between one by one: whatever pages were added, removed or
    moved, it names exactly the pages whose plan key moved, the new ones and the touched."""
    import random

    from briefing.page_inputs import _common_prefix

    for a, b in [("abc", "abd"), ("abc", "abc"), ("", "x"), ("xyz", "xyzw"), ("a" * 70000 + "b", "a" * 70000 + "c")]:
        first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
        assert _common_prefix(a, b) == first
    rng = random.Random(seed)
    names = ["a", "ab", "b", "c", "x/index.html"]
    for _ in range(1500):
        drawn = (f"p{rng.randint(0, 40)}/{rng.choice(names[:4])}" for _ in range(rng.randint(1, 30)))
        before = list(dict.fromkeys(drawn))
        now = list(before)
        for _ in range(rng.randint(0, 3)):  # pages gone, added, or moved
            op = rng.random()
            if op < 0.3 and now:
                now.pop(rng.randrange(len(now)))
            elif op < 0.6:
                added = f"p{rng.randint(0, 40)}/{rng.choice(names)}"
                if added not in now:
                    now.insert(rng.randint(0, len(now)), added)
            elif now:
                i, j = rng.randrange(len(now)), rng.randrange(len(now))
                now[i], now[j] = now[j], now[i]
        keys_before = {p: bytes([rng.randint(0, 2)]) * 8 for p in before}
        keys_now = {p: keys_before[p] if p in keys_before and rng.random() < 0.8 else bytes([rng.randint(0, 2)]) * 8
                    for p in now}
        store = PageInputs(Path("unused.pickle"), "site")
        store.pages = {p: ("f" * 16, keys_before[p], b"") for p in before}
        # As `save` stores them (without writing the file):
        store.plan_paths, store.plan_keys, store.site = "\0".join(before), b"".join(map(keys_before.get, before)), (1,)
        touched = set(rng.sample(now, min(len(now), rng.randint(0, 2))))
        got = store.not_kept(now, b"".join(map(keys_now.get, now)), (1,), touched)
        assert got == {p for p in now if keys_before.get(p) != keys_now[p]} | touched, (before, now)
        assert store.not_kept(now, b"".join(map(keys_now.get, now)), (2,), touched) is None  # another site
