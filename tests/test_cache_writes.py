"""Cache writes put off to the end of a build, and run by a process that outlives the command.

`briefing build` returns once the site is live; a forked process writes the caches for the next
build while holding the cache lock, which every build takes before it reads a cache.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import make_project, run_cli, tree_digest, write_article

from briefing import config as config_mod
from briefing.build import build
from briefing.cache_writes import CacheWrites, cache_lock
from briefing.errors import ContentError


def test_writes_run_in_order_at_the_end_or_at_once():
    done: list[str] = []
    writes = CacheWrites()
    writes.add(lambda: done.append("a"))
    writes.add(lambda: done.append("b"))
    assert done == []
    writes.run()
    assert done == ["a", "b"]
    writes.run()  # each runs once
    assert done == ["a", "b"]

    at_once = CacheWrites.or_at_once(None)
    at_once.add(lambda: done.append("c"))
    assert done == ["a", "b", "c"]
    assert CacheWrites.or_at_once(writes) is writes


def _locked(cache_dir: Path) -> bool:
    with open(cache_dir / "cache.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from briefing.cache_writes import CacheWrites, cache_lock

    cache, marker = Path(sys.argv[1]), Path(sys.argv[2])
    with cache_lock(cache) as fd:
        writes = CacheWrites()
        writes.add(lambda: (time.sleep(1.5), print("from the writer"), marker.write_text("written")))
        print("detached" if writes.detach(fd) else "ran here")
    sys.stdout.flush()
    os._exit(0)
""")


def test_detached_writes_hold_the_cache_lock_and_not_the_callers_output(tmp_path: Path):
    cache, marker = tmp_path / "cache", tmp_path / "marker"
    # capture_output: run() returns only when every holder of the pipe has closed it, so it
    # returning before the marker is written shows that the writer let go of our stdout.
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(cache), str(marker)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "detached\n"  # the writer's print went to /dev/null
    assert not marker.exists()
    assert _locked(cache)
    with cache_lock(cache):  # waits for the writer
        assert marker.read_text() == "written"
    assert not _locked(cache)


def test_the_next_cli_build_finds_the_caches_the_last_one_left_to_write(tmp_path: Path):
    project = make_project(tmp_path / "p", articles=3)
    first = run_cli("build", "--project", str(project))
    assert first.returncode == 0, first.stderr
    write_article(project, "2024/2024-06-01-late.md", "A late addition", "2024-06-01",
                  "Officials at the World Bank in Washington met Kristalina Georgieva.")
    # Straight after: the project lock is free, and the parse cache (written after the first
    # command returned) is read, so only the new file is parsed.
    second = run_cli("build", "--project", str(project))
    assert second.returncode == 0, second.stderr
    assert "4 articles, 1 parsed" in second.stderr
    assert "NER on 1 articles" in second.stderr


def test_a_failed_build_still_writes_what_it_learnt(tmp_path: Path):
    project = make_project(tmp_path / "p", articles=3)
    (project / "content" / "broken.md").write_text("---\ntitle: [unclosed\n---\nText.\n", encoding="utf-8")
    with pytest.raises(ContentError):
        build(config_mod.load(project), detach_cache_writes=True)
    assert sorted((project / ".briefing-cache").glob("articles-*.pickle")), "the parse cache was not written"


@pytest.mark.parametrize(("args", "ci", "detached"), [
    ((), "", True),
    (("--wait",), "", False),
    ((), "true", False),
    ((), "false", True),
])
def test_the_cli_waits_for_its_cache_writes_when_asked_or_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 args: tuple[str, ...], ci: str, detached: bool):
    from briefing import build as build_mod
    from briefing import cli

    seen: list[bool] = []
    real = build_mod.build

    def build(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        seen.append(kw["detach_cache_writes"])
        kw["detach_cache_writes"] = False  # not in the test process
        return real(*a, **kw)

    monkeypatch.setattr(build_mod, "build", build)
    monkeypatch.setenv("CI", ci)
    project = make_project(tmp_path / "p", articles=1)
    assert cli.main(["build", "--project", str(project), "-q", *args]) == 0
    assert seen == [detached]


DELETED = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from briefing.cache_writes import CacheWrites, cache_lock

    cache, go = Path(sys.argv[1]), Path(sys.argv[2])
    with cache_lock(cache) as fd:
        writes = CacheWrites()
        writes.add(lambda: [time.sleep(0.1) for _ in range(100) if not go.exists()])
        writes.add(lambda: (cache / "links").mkdir(parents=True, exist_ok=True))
        writes.detach(fd)
    os._exit(0)
""")


def test_detached_writes_do_not_make_again_a_cache_folder_deleted_meanwhile(tmp_path: Path):
    cache, go = tmp_path / "project" / ".briefing-cache", tmp_path / "go"
    done = subprocess.run([sys.executable, "-c", DELETED, str(cache), str(go)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with open(cache / "cache.lock", "a+") as lock:  # the writer's lock file, opened before it goes
        shutil.rmtree(tmp_path / "project")  # as `briefing build && rm -rf project` would
        go.write_text("")
        fcntl.flock(lock, fcntl.LOCK_EX)  # the writer is done
    assert not (tmp_path / "project").exists()


def test_a_detached_writer_makes_the_spare_the_next_build_assembles_in(tmp_path: Path):
    """A build into an empty output leaves no spare; its detached writer links one, so the next
    build starts from it (linking nothing) and still equals a build from nothing. Writes run in
    place (`--wait`, the dev server) skip it."""
    from briefing.output import MANIFEST, read_manifest, spare_path

    project = make_project(tmp_path / "p", articles=3)
    config = config_mod.load(project)
    site = project / "site"
    build(config)  # in place: no spare
    assert not spare_path(site).exists()
    shutil.rmtree(site)
    build(config, detach_cache_writes=True)
    with cache_lock(config.cache_path):  # the writer is done
        pass
    spare = spare_path(site)
    assert spare.is_dir()
    live = {p.relative_to(site).as_posix(): p.stat() for p in site.rglob("*") if p.is_file()}
    linked = {p.relative_to(spare).as_posix(): p.stat() for p in spare.rglob("*") if p.is_file()}
    assert linked.keys() == live.keys()
    assert all(linked[rel].st_ino == live[rel].st_ino for rel in live)  # links, not copies
    assert read_manifest(spare) == read_manifest(site)

    victim = next((project / "content").rglob("*.md"))
    victim.write_text(victim.read_text(encoding="utf-8") + "\nTalks resumed in Geneva.\n", encoding="utf-8")
    from briefing import output as output_mod

    seen = []
    real_open = output_mod.SiteWriter.open

    def open_and_note(self, *args):  # noqa: ANN001, ANN002, ANN202
        opened = real_open(self, *args)
        seen.append(self.base is not None)
        return opened

    output_mod.SiteWriter.open = open_and_note
    try:
        build(config)
    finally:
        output_mod.SiteWriter.open = real_open
    assert seen == [True]  # assembled in the spare
    fresh = tmp_path / "fresh" / "site"
    build(config, output=fresh)
    without_manifest = lambda folder: {k: v for k, v in tree_digest(folder).items() if k != MANIFEST}  # noqa: E731
    assert without_manifest(site) == without_manifest(fresh)


def test_a_detached_writer_keeps_the_listing_of_foreign_files_last(tmp_path: Path):
    """After swapping its site in, the detached writer lists the site's foreign files (listing.py)
    while holding the cache lock: once the lock is free, the next build finds the listing of the
    site in place. Writes run in place skip it."""
    from briefing import build as build_mod
    from briefing.listing import kept_listing

    project = make_project(tmp_path / "p", articles=3)
    config = config_mod.load(project)
    site = project / "site"
    path = config.cache_path / "pages" / f"{build_mod._output_key(site)}.listing"
    build(config)
    assert not path.exists()
    (site / "CNAME").write_text("example.org\n", encoding="utf-8")
    write_article(project, "2024/2024-06-01-late.md", "A late addition", "2024-06-01", "Talks resumed in Geneva.")
    build(config, detach_cache_writes=True)
    with cache_lock(config.cache_path):  # the writer is done
        pass
    kept = kept_listing(site, path)
    assert kept is not None and kept.files == ["CNAME"]
    assert "articles/" in kept.folders and len(kept.folders) == sum(1 for p in site.rglob("*") if p.is_dir()) + 1
