"""What the last build knew of each content file: its identity on disk and the digest of its bytes.

Reading every content file to digest it was half of a build that found nothing changed (0.25 s
at 10,000 articles). As git's index does, a file whose inode, size, modification time and
status-change time are the ones recorded is taken to hold the recorded bytes, unread. Writing a
file changes its times; so does setting them back (`touch -d`, `rsync -t`), which changes the
status-change time, and no one can set that.

A file changed less than SETTLE_NS before it was looked at is not recorded: another change in
the same tick of the file system's clock would leave its times as they were. Such a file is read
by every build until it has settled. Where the status-change time is a creation time (Windows),
there is no index and every file is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from . import sealed
from .config import Config
from .model import SourceFile

VERSION = 1
SETTLE_NS = 2_000_000_000

Identity = tuple[int, int, int, int]


def identity(st: os.stat_result, now_ns: int) -> Identity | None:
    """The identity of a file whose stat is `st`, or None when it changed too recently (or on
    a system where it would not tell a change) to be recorded."""
    if os.name == "nt" or now_ns - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLE_NS:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _path(config: Config) -> Path:
    return config.cache_path / "content-files.marshal"


def load(config: Config) -> dict[str, tuple]:
    """relpath -> (*identity, digest) as the last build recorded it; empty when there is none."""
    data = sealed.load_plain(_path(config))  # missing, corrupt or foreign: read every file
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("files"), dict):
        return {}
    return data["files"]


def entries(found: list[SourceFile]) -> dict[str, tuple]:
    """The index of the files `found`, for the next build."""
    return {src.relpath: (*src.identity, src.digest) for src in found if src.identity is not None}


def save(config: Config, files: Mapping[str, tuple]) -> None:
    try:
        config.cache_path.mkdir(parents=True, exist_ok=True)
        sealed.dump_plain({"version": VERSION, "files": dict(files)}, _path(config))
    except OSError:
        pass  # a missing index is a build that reads every file, not a failed one
