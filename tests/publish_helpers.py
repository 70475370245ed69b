"""Hand-made builds for the publish tests: files plus the build manifest, as `build` writes them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from briefing import config as config_module
from briefing.config import Config

MANIFEST = ".briefing-manifest.json"

SITE: dict[str, str | bytes] = {
    "index.html": "<!doctype html><title>Briefings</title><h1>Briefings</h1>",
    "2025/iraq-raid/index.html": "<!doctype html><title>Raid</title><p>A raid near Baghdad.</p>",
    "2025/syria-talks/index.html": "<!doctype html><title>Talks</title><p>Talks in Damascus.</p>",
    "people/bashar-al-assad/index.html": "<!doctype html><title>Assad</title>",
    "assets/style.css": "body { font-family: serif; }\n",
    "assets/app.js": "console.log('briefing');\n",
    "assets/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(64)),
    "feed.xml": "<?xml version='1.0'?><rss version='2.0'></rss>",
    "search/data.json": '{"pages": 3}',
}


def write_site(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    """Replace `folder` with a complete build of `files` (and its manifest)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    digests = {}
    for rel, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digests[rel] = hashlib.sha256(data).hexdigest()
    (folder / MANIFEST).write_text(json.dumps({"version": 1, "files": digests}, sort_keys=True))
    return folder


def make_project(root: Path, publish: Mapping[str, Any],
                 files: Mapping[str, str | bytes] | None = None) -> Config:
    """A project folder with a config.yaml holding `publish` and a built site/; its Config."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {"title": "Test briefings", "base_url": "https://example.org/", "publish": publish}
    (root / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    write_site(root / "site", SITE if files is None else files)
    return config_module.load(root)


def edited(files: Mapping[str, str | bytes], change: Mapping[str, str | bytes | None]) -> dict:
    """`files` with `change` applied (a None value removes the file)."""
    out = dict(files)
    for rel, content in change.items():
        if content is None:
            out.pop(rel, None)
        else:
            out[rel] = content
    return out


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative POSIX path -> bytes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def modes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(os.stat(p).st_mode)
            for p in sorted(folder.rglob("*"))}


def as_bytes(files: Mapping[str, str | bytes]) -> dict[str, bytes]:
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
