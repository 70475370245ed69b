"""A content-addressed cache of per-article annotations.

Layout: `<cache_dir>/<fingerprint>/<key>.json`, one small JSON file per article. The folder name
is a digest of everything that changes the result, so a changed model, pipeline, curation or
step version misses by construction and old folders are simply left behind (`prune` removes
them). Writes are atomic (temp file + os.replace); an unreadable or corrupt entry is a miss.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


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
        path = self._path(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"key": key, "value": value}, fh, ensure_ascii=False, separators=(",", ":"))
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass

    def prune(self) -> int:
        """Remove folders of other fingerprints; returns how many were removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for child in self.root.iterdir():
            if child.is_dir() and child.name != self.fingerprint and len(child.name) == len(self.fingerprint):
                shutil.rmtree(child, ignore_errors=True)
                removed += 1
        return removed
