"""Shared test helpers: small archives in tmp folders, and running the CLI as a user would."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True, scope="session")
def _private_user_cache(tmp_path_factory: pytest.TempPathFactory):
    """The user's cache folder (the cache key and the notes of sealed files: sealed.py) made
    afresh for the session, for the commands the tests run too: the tests' hundreds of
    projects leave nothing in the home folder."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


def shared_path(*parts: str) -> Path:
    """A file in ../shared; fails loudly (never skips) when the shared data is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"this test needs the shared data at {path} (../shared beside the repository); it is missing")
    return path


def write_article(root: Path, rel: str, title: str, date: str, body: str, **front: object) -> Path:
    import yaml

    meta = {"title": title, "date": date, **front}
    path = root / "content" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"
                    + textwrap.dedent(body).strip() + "\n", encoding="utf-8")
    return path


def make_project(root: Path, config: str = "", articles: int = 3) -> Path:
    """A small archive: `articles` short briefings about invented but plausible events."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(textwrap.dedent(config) or
                                      'title: "Test Briefings"\nbase_url: "https://example.org/"\n'
                                      "search: {enabled: false}\n", encoding="utf-8")
    bodies = [
        ("2024/2024-05-02-port-strike.md", "Dock workers strike in Rotterdam", "2024-05-02",
         "Dock workers in Rotterdam stopped work on Thursday. The union FNV said the strike would last "
         "two days.\n\nThe Port of Rotterdam Authority said ships were waiting off the coast of the Netherlands.",
         ["labour", "ports"]),
        ("2024/2024-05-09-strike-ends.md", "Rotterdam strike ends after talks", "2024-05-09",
         "The strike in Rotterdam ended after talks between the union FNV and employers.\n\n"
         "Mark Rutte welcomed the deal. Rutte said the Netherlands depends on its ports.", ["labour", "ports"]),
        ("2024/2024-06-01-antwerp-volumes.md", "Antwerp sees record volumes", "2024-06-01",
         "Antwerp handled record container volumes in May, as ships diverted from Rotterdam.\n\n"
         "Belgium's government praised the port.", ["ports", "trade"]),
    ]
    for rel, title, date, body, tags in bodies[:articles]:
        write_article(root, rel, title, date, body, tags=tags)
    return root


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "briefing", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the sha256 of its bytes (for 'untouched' checks)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "archive")
