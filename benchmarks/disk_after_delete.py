"""How much a large deletion slows the file creation that follows it, on this machine's disk.

    python benchmarks/disk_after_delete.py [--folder F] [--files 63000] [--size 9000] [--rounds 3]

First it creates `rounds` + 1 trees the size of a 10,000-article site (by default 63,000
files of 9 KB in folders of 100) one after another, deleting nothing: the first pays for
whatever came before and is not reported, the others are "after creating a tree". Then, each
round, it deletes the oldest tree and at once creates a new one: "after deleting a tree".
Everything is deleted at the end. The table gives the wall and system time of the creations,
medians over the rounds. build_bench.py moves each tool's old output aside instead of
deleting it before a timed run, because of what this measures (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def make_tree(root: Path, files: int, size: int) -> tuple[float, float]:
    """Create `files` files of `size` bytes under root; (wall, system) seconds."""
    data = os.urandom(size)
    start, before = time.perf_counter(), os.times()
    for i in range(files):
        folder = root / f"d{i // 100}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        with open(folder / f"f{i % 100}.html", "wb") as fh:
            fh.write(data)
    after = os.times()
    return time.perf_counter() - start, after.system - before.system


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", default=None, help="where to make the trees (default: the temporary folder)")
    ap.add_argument("--files", type=int, default=63_000)
    ap.add_argument("--size", type=int, default=9000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    seen: dict[str, list[tuple[float, float]]] = {"after creating a tree": [], "after deleting a tree": []}
    with tempfile.TemporaryDirectory(prefix="disk-after-delete-", dir=args.folder) as tmp:
        trees = [Path(tmp) / f"tree{i}" for i in range(args.rounds + 1)]
        for i, tree in enumerate(trees):
            os.sync()
            took = make_tree(tree, args.files, args.size)
            if i:
                seen["after creating a tree"].append(took)
            print(f"created {tree.name}: {took[0]:.1f}s", file=sys.stderr, flush=True)
        for r in range(args.rounds):
            shutil.rmtree(trees.pop(0))
            os.sync()
            trees.append(Path(tmp) / f"tree{args.rounds + 1 + r}")
            took = make_tree(trees[-1], args.files, args.size)
            seen["after deleting a tree"].append(took)
            print(f"deleted one, created {trees[-1].name}: {took[0]:.1f}s", file=sys.stderr, flush=True)
    print(f"| {args.files:,} files of {args.size:,} bytes, created | wall (median) | system (median) | runs |")
    print("|---|---:|---:|---|")
    for label, times in seen.items():
        walls = ", ".join(f"{w:.1f}" for w, _ in times)
        print(f"| {label} | {statistics.median(w for w, _ in times):.1f} s | "
              f"{statistics.median(s for _, s in times):.1f} s | {walls} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
