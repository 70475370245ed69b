"""workers.Forked: independent work done by a forked child while the build goes on."""

from __future__ import annotations

import os
import threading
import time

import pytest

from briefing.workers import Forked


@pytest.fixture(autouse=True)
def one_thread() -> None:
    # With other threads running, Forked works in-process instead: these tests are about the child.
    assert threading.active_count() == 1, "another thread runs: Forked would not fork"


def test_the_value_comes_from_a_child_process():
    parent = os.getpid()
    forked = Forked(lambda: (os.getpid(), {"big": list(range(100_000))}))
    child, value = forked.result()
    assert child != parent
    assert value == {"big": list(range(100_000))}  # more than a pipe's buffer


def test_a_failure_in_the_child_is_raised_here():
    def make() -> int:
        raise ValueError("no such entity")

    forked = Forked(make)
    with pytest.raises(ValueError, match="no such entity"):
        forked.result()


def test_close_stops_a_child_whose_value_is_not_wanted(tmp_path):
    marker = tmp_path / "done"

    def slow() -> None:
        time.sleep(5)
        marker.write_text("done")

    forked = Forked(slow)
    pid = forked.pid
    assert pid
    forked.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped
    assert not marker.exists()


def test_with_another_thread_running_the_value_is_made_here_and_says_so():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        forked = Forked(os.getpid)
        assert not forked.forked  # build() then walks the site at the swap instead
        assert forked.result() == os.getpid()
    finally:
        stop.set()
        other.join()
    alone = Forked(os.getpid)
    assert alone.forked
    assert alone.result() != os.getpid()


def test_a_forked_child_never_scans_what_the_build_made():
    """The building process does not collect (fewer_collections): a child that collected once
    would scan, and copy, the whole archive first. It starts with its collector off and every
    object it inherited still uncollected."""
    import gc

    from briefing.workers import Forked, fewer_collections

    with fewer_collections():
        made = [[] for _ in range(200_000)]  # tracked containers: counted, never collected here
        enabled, young = Forked(lambda: (gc.isenabled(), gc.get_count()[0])).result()
    assert len(made) == 200_000
    assert enabled is False
    assert young >= 200_000


def test_what_a_forked_child_keeps_until_exit_is_never_freed_there(tmp_path):
    """keep_until_exit: a Forked child exits without freeing what it was given (a check's
    resolution); elsewhere the objects are freed as usual."""
    from briefing.workers import keep_until_exit

    freed = tmp_path / "freed"

    class Noisy:
        def __del__(self) -> None:
            with freed.open("a") as fh:
                fh.write(f"{os.getpid()}\n")

    def made_and_dropped() -> int:
        Noisy()
        return 1

    def made_and_kept() -> int:
        keep_until_exit(Noisy())
        return 2

    assert Forked(made_and_dropped).result() == 1
    child = freed.read_text()
    assert child and child != f"{os.getpid()}\n"  # freed in the child, as anything is
    assert Forked(made_and_kept).result() == 2
    assert freed.read_text() == child  # kept: never freed there
    keep_until_exit(Noisy())  # not in a Forked child: freed at once
    assert freed.read_text() == child + f"{os.getpid()}\n"


def test_a_forked_child_can_run_at_a_lower_priority():
    """Forked(nice=n): the child's niceness is this process's plus n (capped by the system);
    the parent's is left alone."""
    import os

    mine = os.nice(0)
    assert Forked(lambda: os.nice(0), nice=5).result() == min(mine + 5, 19)
    assert Forked(lambda: os.nice(0)).result() == mine
    assert os.nice(0) == mine
