"""Interrupted and concurrent builds.

A build killed with SIGKILL at any moment leaves `site/` exactly as a whole successful build (the
previous one, or the new one when the kill came after the swap), never a mix; the entity cache
stays readable; the next build succeeds. Two builds of one project never run at once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from robust_helpers import (
    build_cmd,
    cli_env,
    error_of,
    leftovers,
    make_archive,
    run_build,
    tree_hash,
    write,
)

from briefing import config as config_mod
from briefing.build import build
from briefing.enrich import Enricher
from briefing.errors import BriefingError
from briefing.output import is_complete_build

CONFIG = """\
title: "Interrupted Briefings"
base_url: "https://example.org/briefings/"
"""  # search stays on: the Pagefind stage is killed too

RUNS = 20
# Stage lines the build prints when a stage ends; a kill soon after one lands in the next stage.
MARKERS = ("parse", "enrich", "plan", "render", "search", "links")


def cache_is_readable(root: Path) -> int:
    """Every cache entry parses; temp files from a killed write may remain, but never a torn entry."""
    entries = 0
    for path in (root / ".briefing-cache").rglob("*.json"):
        if path.name.startswith(".tmp-"):
            continue
        entry = json.loads(path.read_text(encoding="utf-8"))  # a torn write would not parse
        if isinstance(entry, dict) and entry.get("key") == path.stem:
            assert "value" in entry, path
            entries += 1
    return entries


def edit(root: Path, i: int) -> None:
    """A change that misses the cache and re-renders pages: a new sentence in one article."""
    write(root / "content/2025/2025-01-05-baghdad-talks.md", f"""\
        ---
        title: "Talks in Baghdad, day {i}"
        date: 2025-01-05
        tags: [iraq, diplomacy]
        ---
        Mohammed Shia al-Sudani met the French foreign minister in Baghdad on day {i}.

        Officials from Basra and Erbil joined the talks for the {i}th time.
        """)


def kill_at_random(root: Path, rng: random.Random, full: float) -> tuple[int, str]:
    """Start a build, SIGKILL it at a random moment; returns its exit status and where it was."""
    proc = subprocess.Popen(build_cmd(root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=cli_env(), cwd=root)
    try:
        if rng.random() < 0.4:
            delay = rng.uniform(0.0, full)
            time.sleep(delay)
            where = f"after {delay:.2f}s"
        else:
            marker = rng.choice(MARKERS)
            where = f"just after the '{marker}' stage"
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.split()[:1] == [marker]:
                    break
            time.sleep(rng.uniform(0.0, 0.03))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()
    return proc.returncode, where


def test_sigkill_at_random_points(tmp_path: Path) -> None:
    """20 CLI builds killed at random; after each, a build (in this process, model kept warm) succeeds."""
    root = make_archive(tmp_path / "archive", config=CONFIG)
    site = root / "site"
    seed = int(os.environ.get("BRIEFING_KILL_SEED", "20250105"))
    rng = random.Random(seed)
    started = time.perf_counter()
    first = run_build(root)
    full = time.perf_counter() - started
    assert first.returncode == 0, first.stderr
    cfg = config_mod.load(root)
    enricher = Enricher(cfg)
    good = tree_hash(site)
    killed = swapped = 0
    for i in range(RUNS):
        edit(root, i)
        status, where = kill_at_random(root, rng, full)
        context = f"run {i + 1}/{RUNS} (seed {seed}), killed {where}"
        killed += status == -signal.SIGKILL
        after_kill = tree_hash(site)
        assert is_complete_build(site), f"{context}: site/ is not a complete build"
        cache_is_readable(root)

        try:
            build(cfg, enricher=enricher)
        except BriefingError as exc:
            raise AssertionError(f"{context}: the next build failed: {exc}") from None
        new = tree_hash(site)
        assert after_kill in (good, new), f"{context}: site/ was neither the previous build nor the new one"
        swapped += after_kill == new != good
        assert leftovers(root) == [], f"{context}: left {leftovers(root)}"
        assert f"day {i}" in (site / "articles/baghdad-talks/index.html").read_text(encoding="utf-8")
        good = new
    print(f"{killed}/{RUNS} builds killed mid-way (seed {seed}), {swapped} of them after the new site was "
          "swapped in; the rest had finished before the signal")
    assert cache_is_readable(root) > 0
    assert killed >= RUNS // 2, f"only {killed} of {RUNS} builds were still running when killed"
    # And the CLI builds on what the last build left.
    last = run_build(root)
    assert last.returncode == 0, last.stderr
    assert is_complete_build(site) and leftovers(root) == []


def test_concurrent_builds_take_turns(tmp_path: Path) -> None:
    root = make_archive(tmp_path / "archive", config=CONFIG)
    assert run_build(root).returncode == 0
    site = root / "site"

    # A build that holds the lock makes a second one stop at once, with the message.
    edit(root, 1)
    first = subprocess.Popen(build_cmd(root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=cli_env(), cwd=root)
    assert first.stderr is not None
    line = first.stderr.readline()  # "parse" is printed with the lock held, before the model loads
    assert line.split()[:1] == ["parse"], line
    second = run_build(root)
    rest = first.stderr.read()
    assert first.wait(timeout=120) == 0, rest
    first.stderr.close()
    assert second.returncode == 1
    lock = root / ".briefing-cache" / "build.lock"
    assert error_of(second) == (f"error: another build of this project is running (lock: {lock}). "
                                "Wait for it to finish, then try again.")

    # Several at once: each either builds or is told to wait; the result is one whole build.
    edit(root, 2)
    procs = [subprocess.Popen(build_cmd(root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=cli_env(), cwd=root) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[1] for p in procs]
    results = [(p.returncode, err) for p, err in zip(procs, outputs, strict=True)]
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        assert code == 0 or "another build of this project is running" in err, err
    assert is_complete_build(site)
    assert leftovers(root) == []
    cache_is_readable(root)
    again = run_build(root)
    assert again.returncode == 0, again.stderr
    assert is_complete_build(site)
    assert "day 2" in (site / "articles/baghdad-talks/index.html").read_text(encoding="utf-8")
