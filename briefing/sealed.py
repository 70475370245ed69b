"""Pickles that only this user's briefing can have written.

The parse and link caches are pickles in the project's cache folder, and unpickling runs code:
a cache folder that arrived with someone else's project must never be loaded. Each file is
sealed with an HMAC-SHA256 under a key kept outside every project, in the user's own cache
folder (created 0600 on first use); a file without a valid seal is treated as a cache miss.
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import os
import pickle
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from .fsutil import write_atomic

_MAC = hashlib.sha256().digest_size


def key_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "briefing" / "cache-key"


@lru_cache(maxsize=1)
def _key() -> bytes:
    path = key_path()
    try:
        data = path.read_bytes()
        if len(data) == 32:
            return data
    except OSError:
        pass
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path.read_bytes()  # another process may have won the race: use what is on disk
    except OSError:
        return key  # no writable home: seal for this process only


def dump(obj: Any, path: Path) -> None:
    """Write `obj` to `path` atomically, sealed. Raises OSError when it cannot be written."""
    _seal(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), path)


def dump_plain(obj: Any, path: Path) -> None:
    """`dump` for plain data (str, numbers, tuples, lists, dicts, sets, bytes) in marshal's
    format, which loads several times faster than a pickle of objects."""
    _seal(marshal.dumps(obj), path)


def _seal(payload: bytes, path: Path) -> None:
    mac = hmac.new(_key(), payload, hashlib.sha256).digest()
    write_atomic(path, mac + payload)


def load(path: Path) -> Any | None:
    """The object in `path`, or None when it is missing, corrupt or not sealed by this user."""
    return _unsealed(path, pickle.loads)


def load_plain(path: Path) -> Any | None:
    """What `dump_plain` wrote to `path`, or None (as `load`)."""
    return _unsealed(path, marshal.loads)


def _unsealed(path: Path, decode: Any) -> Any | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    mac, payload = data[:_MAC], data[_MAC:]
    if len(mac) != _MAC or not hmac.compare_digest(mac, hmac.new(_key(), payload, hashlib.sha256).digest()):
        return None
    try:
        return decode(payload)  # sealed above: written by this user's briefing
    except Exception:  # noqa: BLE001 - written by other code: a miss
        return None
