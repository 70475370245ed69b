"""A content-addressed cache of per-article annotations.

Layout: `<cache_dir>/<fingerprint>/<key>.json`, one small JSON file per article. The folder name
is a digest of everything that changes the result, so a changed model, pipeline, curation or
step version misses by construction; `prune`, called after each successful run, removes the
folders of settings used before. Writes are atomic (temp file + os.replace); an unreadable or
corrupt entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import sealed
from .fsutil import write_atomic

_FINGERPRINT = re.compile(r"[0-9a-f]{16,64}")


class Cache:
    def __init__(self, root: Path, fingerprint: str):
        self.root = Path(root)
        self.fingerprint = fingerprint
        self.folder = self.root / fingerprint

    def _path(self, key: str) -> Path:
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise ValueError(f"bad cache key {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The stored value, or None when absent, unreadable or corrupt."""
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                entry = json.load(fh)
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
            return None
        return entry["value"]

    def put(self, key: str, value: Any) -> None:
        """Store atomically; a cache that cannot be written is not an error (just slower)."""
        data = json.dumps({"key": key, "value": value}, ensure_ascii=False, separators=(",", ":"))
        try:
            write_atomic(self._path(key), data.encode("utf-8"))
        except OSError:
            pass

    def touch(self) -> None:
        """Mark the current folder as used now (what `prune` compares against)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            os.utime(self.folder)
        except OSError:
            pass

    def prune(self) -> int:
        """Remove the folders of other fingerprints last used before the current one; returns
        how many were removed. A folder used more recently (another process, other settings)
        is left alone. Only fingerprint-named folders are considered; errors are ignored."""
        removed = 0
        try:
            current = self.folder.stat().st_mtime
            children = list(self.root.iterdir())
        except OSError:
            return 0
        for child in children:
            if child.name == self.fingerprint or not _FINGERPRINT.fullmatch(child.name):
                continue
            try:
                if not child.is_dir() or child.is_symlink() or child.stat().st_mtime >= current:
                    continue
            except OSError:
                continue
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
        return removed


def code_digest() -> str:
    """A digest of briefing's own source: results cached by one version are not trusted by another."""
    return _code_digest()


@lru_cache(maxsize=1)
def _code_digest() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for p in sorted(here.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


class LocalStore:
    """What each article contributes before the archive is seen (its local clusters and phrase
    counts), one sealed pickle per fingerprint folder, so that a build whose articles are
    mostly unchanged neither reads their annotations nor analyses them again.

    Entries are kept as pickled bytes: the archive-wide resolution mutates the clusters it is
    given, so every build unpickles fresh objects. `salt` holds what the entries depend on
    besides the article (code, curation, settings); another salt is another file.
    """

    def __init__(self, folder: Path, salt: str):
        self.folder = Path(folder)
        self.path = self.folder / f"local-{salt[:24]}.pickle"

    def load(self) -> dict[str, Any]:
        data = sealed.load(self.path)  # missing, corrupt or foreign: empty
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            return {"entries": {}}
        return data

    def save(self, data: dict[str, Any]) -> None:
        """Write `data`; drop the files of other salts (older code or curation)."""
        try:
            sealed.dump(data, self.path)
        except OSError:
            return
        for old in self.folder.glob("local-*.pickle"):
            if old != self.path:
                try:
                    old.unlink()
                except OSError:
                    pass


class ResultStore:
    """The last whole-archive result (resolution and tags), named by the digest of its inputs,
    one sealed pickle per salt: a build whose articles and settings are those of the last one (a
    template, config or style change, or a rebuild after the output was deleted) loads it
    instead of resolving the archive again. Another build finds no file of its name: a miss
    costs nothing to find out."""

    def __init__(self, folder: Path, salt: str):
        self.folder = Path(folder)
        self.salt = salt[:24]

    def _path(self, inputs: str) -> Path:
        return self.folder / f"result-{self.salt}-{inputs[:32]}.pickle"

    def load(self, inputs: str) -> Any | None:
        data = sealed.load_plain(self._path(inputs))  # missing, corrupt or foreign: a miss
        if isinstance(data, dict) and data.get("inputs") == inputs:
            return data.get("result")
        return None

    def load_last(self) -> dict[str, Any] | None:
        """The facts `save` kept beside the last result under this salt (see same_names.py),
        with its "inputs" (to `load` it), or None. A small file: the result is read only when
        the facts say it can serve."""
        data = sealed.load_plain(self.folder / f"last-{self.salt}.pickle")
        return data if isinstance(data, dict) and isinstance(data.get("inputs"), str) else None

    def load_keys(self, inputs: str) -> Any | None:
        """The `keys` saved with the result of these inputs, or None."""
        data = sealed.load_plain(self.folder / f"keys-{self.salt}.pickle")
        if isinstance(data, dict) and data.get("inputs") == inputs:
            return data.get("keys")
        return None

    def _region_path(self, inputs: str) -> Path:
        return self.folder / f"region-{self.salt}-{inputs[:32]}.pickle"

    def load_region(self, inputs: str) -> Any | None:
        """The index (region.RegionIndex.to_plain) of the resolution of these inputs, or None."""
        data = sealed.load_plain(self._region_path(inputs))
        return data.get("index") if isinstance(data, dict) and data.get("inputs") == inputs else None

    def has_region(self, inputs: str) -> bool:
        return self._region_path(inputs).exists()

    def save_region(self, inputs: str, index: Any) -> None:
        """Keep the index of the resolution of these inputs (plain data); the others are left
        until `prune_regions`: the build that saves one may still be reading the last."""
        try:
            sealed.dump_plain({"inputs": inputs, "index": index}, self._region_path(inputs))
        except OSError:
            pass

    def prune_regions(self, inputs: str) -> None:
        """Delete the indexes of every resolution but that of these inputs."""
        keep = self._region_path(inputs).name
        for old in self.folder.glob("region-*.pickle"):
            if old.name != keep:
                try:
                    old.unlink()
                except OSError:
                    pass

    def save(self, inputs: str, result: Any, facts: dict[str, Any] | None = None, keys: Any = None) -> None:
        """Keep `result`, plain data (see sealed.dump_plain), for a build with these inputs, and
        plain `facts` about what it was made from, and `keys`, read only when asked for
        (`load_keys`: what a guess's check compares, guess_check.cluster_keys)."""
        path = self._path(inputs)
        keys_path = self.folder / f"keys-{self.salt}.pickle"
        try:
            sealed.dump_plain({"inputs": inputs, "result": result}, path)
            if keys is not None:
                sealed.dump_plain({"inputs": inputs, "keys": keys}, keys_path)
            elif keys_path.exists():
                keys_path.unlink()
            sealed.dump_plain({**(facts or {}), "inputs": inputs}, self.folder / f"last-{self.salt}.pickle")
        except OSError:
            return
        kept = (path.name, f"last-{self.salt}.pickle", keys_path.name)
        for old in (*self.folder.glob("result-*.pickle"), *self.folder.glob("last-*.pickle"),
                    *self.folder.glob("keys-*.pickle")):
            if old.name not in kept:
                try:
                    old.unlink()
                except OSError:
                    pass
