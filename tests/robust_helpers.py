"""Helpers for the robustness tests: tiny archives, the CLI run as a user runs it, tree hashes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
title: "Robustness Briefings"
base_url: "https://example.org/briefings/"
search: {enabled: false}
"""

ARTICLES = {
    "content/2025/2025-01-02-mosul-strike.md": """\
        ---
        title: "Strike near Mosul"
        date: 2025-01-02
        tags: [iraq, security]
        ---
        The Iraqi army said on Monday that a strike near Mosul killed two commanders.

        Prime Minister Mohammed Shia al-Sudani praised the operation in a statement.
        """,
    "content/2025/2025-01-05-baghdad-talks.md": """\
        ---
        title: "Talks in Baghdad"
        date: 2025-01-05
        tags: [iraq, diplomacy]
        ---
        Mohammed Shia al-Sudani met the French foreign minister in Baghdad on Sunday.
        """,
}

CURATION = """\
entities:
  - name: Mohammed Shia al-Sudani
    kind: person
    aliases: [al-Sudani]
"""


def make_archive(root: Path, config: str = CONFIG, articles: dict[str, str] | None = None,
                 curation: str = CURATION) -> Path:
    """A two-article archive (config, content, curation) in `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(config, encoding="utf-8")
    (root / "entities.yaml").write_text(curation, encoding="utf-8")
    for rel, text in (ARTICLES if articles is None else articles).items():
        write(root / rel, text)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def cli_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def build_cmd(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "briefing", "build", "--project", str(project), *args]


def run_build(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m briefing build --project DIR`, exactly as a user types it."""
    return subprocess.run(build_cmd(project, *args), capture_output=True, text=True, timeout=timeout,
                          env=cli_env(), cwd=project)


def error_of(proc: subprocess.CompletedProcess) -> str:
    """The error the CLI printed: everything from 'error:' on. Before it, only stage timing lines."""
    err = proc.stderr
    assert "Traceback" not in err, err
    assert "error:" in err, f"no error message on stderr:\n{err}\nstdout:\n{proc.stdout}"
    head, _, tail = err.partition("error:")
    for line in head.splitlines():
        assert line.startswith("  "), f"unexpected output before the error: {line!r}\n{err}"
    return ("error:" + tail).rstrip("\n")


def tree_hash(folder: Path) -> str:
    """One digest of a folder: every entry's relative path, kind and bytes (or link target)."""
    h = hashlib.sha256()
    if not folder.exists():
        return "absent"
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            h.update(b"L" + rel.encode() + b"\0" + os.readlink(p).encode() + b"\0")
        elif p.is_dir():
            h.update(b"D" + rel.encode() + b"\0")
        else:
            h.update(b"F" + rel.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def copy_project(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def leftovers(project: Path, output: str = "site") -> list[str]:
    """Staging folders or a half-done swap that an interrupted build left beside the output.

    A swapped-out old site (`.site.trash-*`) is not counted: a detached process deletes it after
    the build, and recover() deletes any whose deleter died. Nor is the spare (`.site.spare`),
    the previous whole site that the next build assembles in, nor, as recover() reads it, the
    staging folder of a process still alive: a build's detached cache writer makes the spare
    under its own staging name after the build returned, and a no-op build, which takes no
    cache lock, does not wait for it.
    """
    def in_progress(name: str) -> bool:
        pid = name.rsplit("-", 1)[-1]
        if ".staging-" not in name or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    return sorted(p.name for p in project.iterdir()
                  if p.name.startswith(f".{output}.") and ".trash-" not in p.name and p.name != f".{output}.spare"
                  and not in_progress(p.name))
