"""Full-text search: run Pagefind over the staged site, then make its output deterministic.

Pagefind (1.x) writes its filter indexes from a hash map, so two runs over the same pages give
filter files with the same content in a different order, under different names (upstream issue
Pagefind#638). We re-encode those files with their entries sorted and name them by a digest of
their bytes, so a build's output is byte-identical for the same input and an unchanged site
uploads nothing. The files are gzip'd CBOR behind a "pagefind_dcd" signature; the small CBOR
codec below covers exactly the types Pagefind writes (integers, strings, arrays, maps).
"""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import OutputError

SIGNATURE = b"pagefind_dcd"


def run_pagefind(site: Path) -> None:
    """Index `site` in place (writes `site/pagefind/`), deterministically."""
    try:
        proc = subprocess.run([sys.executable, "-m", "pagefind", "--site", str(site), "--quiet"],
                              capture_output=True, text=True, timeout=3600, preexec_fn=die_with_parent())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OutputError(f"the search indexer (Pagefind) failed to run: {exc}. Install it with "
                          "`pip install \"pagefind[bin]\"`, or set `search: {enabled: false}`.") from None
    if proc.returncode != 0:
        raise OutputError("the search indexer (Pagefind) failed:\n" + (proc.stderr or proc.stdout).strip()
                          + "\nSet `search: {enabled: false}` in config.yaml to build without search.")
    canonicalize(site / "pagefind")


def die_with_parent() -> Callable[[], None] | None:
    """A hook that makes the indexer die with the build (Linux): a build killed mid-index must not
    leave Pagefind writing into a staging folder that the next build has already removed."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:  # runs in the child, between fork and exec (which keeps the setting)
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the build died before the line above
            os._exit(1)

    return hook


def canonicalize(bundle: Path) -> None:
    """Sort Pagefind's filter indexes and rename them (and the meta file) by content digest."""
    entry_path = bundle / "pagefind-entry.json"
    if not entry_path.exists():
        return
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    for lang, info in entry.get("languages", {}).items():
        meta_path = bundle / f"pagefind.{info['hash']}.pf_meta"
        meta = _read(meta_path)
        renamed: dict[str, str] = {}
        for path in sorted((bundle / "filter").glob(f"{lang}_*.pf_filter")):
            data = _read(path)
            if isinstance(data, list) and len(data) == 2 and isinstance(data[1], list):
                data = [data[0], sorted(data[1], key=_sort_key)]
            new_hash = f"{lang}_{_digest(data)[:7]}"
            renamed[path.name[: -len(".pf_filter")]] = new_hash
            path.unlink()
            _write(bundle / "filter" / f"{new_hash}.pf_filter", data)
        meta = _rewrite_meta(meta, renamed)
        meta_path.unlink()
        new_meta_hash = f"{lang}_{_digest(meta)[:10]}"
        _write(bundle / f"pagefind.{new_meta_hash}.pf_meta", meta)
        info["hash"] = new_meta_hash
    entry_path.write_text(json.dumps(entry, separators=(",", ":")), encoding="utf-8")


def _rewrite_meta(meta: Any, renamed: dict[str, str]) -> Any:
    """Point the meta file's filter list at the renamed files, sorted by filter name."""
    if not isinstance(meta, list):
        return meta
    out = []
    for item in meta:
        if (isinstance(item, list) and item and all(isinstance(x, list) and len(x) == 2 for x in item)
                and all(isinstance(x[1], str) and x[1] in renamed for x in item)):
            item = sorted(([name, renamed[h]] for name, h in item), key=_sort_key)
        out.append(item)
    return out


def _sort_key(value: Any) -> bytes:
    return _encode(value)


def _digest(value: Any) -> str:
    return hashlib.sha256(_encode(value)).hexdigest()


def _read(path: Path) -> Any:
    raw = gzip.decompress(path.read_bytes())
    if not raw.startswith(SIGNATURE):
        raise OutputError(f"{path}: not a Pagefind index file (unexpected format); cannot make it deterministic.")
    value, end = _decode(raw, len(SIGNATURE))
    if end != len(raw):
        raise OutputError(f"{path}: trailing bytes in Pagefind index file.")
    return value


def _write(path: Path, value: Any) -> None:
    path.write_bytes(gzip.compress(SIGNATURE + _encode(value), mtime=0))


# --- a minimal CBOR codec (RFC 8949), canonical (shortest) integer heads --------------------


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    head = data[pos]
    major, info = head >> 5, head & 0x1F
    pos += 1
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        arg = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    else:
        raise OutputError("unsupported CBOR item in Pagefind index (indefinite length)")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major == 2:
        return bytes(data[pos:pos + arg]), pos + arg
    if major == 3:
        return data[pos:pos + arg].decode("utf-8"), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    if major == 5:
        pairs = []
        for _ in range(arg):
            k, pos = _decode(data, pos)
            v, pos = _decode(data, pos)
            pairs.append((k, v))
        return _Map(pairs), pos
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info == 22:
            return None, pos
        if info == 26:
            return _Float32(arg), pos
        if info == 27:
            return struct.unpack(">d", arg.to_bytes(8, "big"))[0], pos
    raise OutputError(f"unsupported CBOR item (major type {major}) in Pagefind index")


class _Map(list):
    """A CBOR map, kept as ordered pairs so re-encoding preserves the writer's order."""


class _Float32(int):
    """A float32 kept as its bit pattern, so it re-encodes to the same bytes."""


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | info]) + arg.to_bytes(size, "big")
    raise OutputError("integer too large for CBOR")


def _encode(value: Any) -> bytes:
    if value is False:
        return b"\xf4"
    if value is True:
        return b"\xf5"
    if value is None:
        return b"\xf6"
    if isinstance(value, _Float32):
        return b"\xfa" + int(value).to_bytes(4, "big")
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, _Map):
        return _head(5, len(value)) + b"".join(_encode(k) + _encode(v) for k, v in value)
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(_encode(v) for v in value)
    raise OutputError(f"cannot encode {type(value).__name__} as CBOR")
