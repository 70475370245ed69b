"""Pickles that only this user's briefing can have written.

The parse and link caches are pickles in the project's cache folder, and unpickling runs code:
a cache folder that arrived with someone else's project must never be loaded. Each file is
sealed with an HMAC-SHA256 under a key kept outside every project, in the user's own cache
folder (created 0600 on first use); a file without a valid seal is treated as a cache miss.

Checking a seal hashes the whole file: about 0.1 s for the 90 MB a rebuild of 10,000 articles
reads. So when this user's briefing writes a sealed file (or has checked one), it notes beside
the key the file's identity: device, inode, size, and modification and change times to the
nanosecond. A file whose identity is still the one noted is the file whose seal was made or
checked: writing to it, or putting another file in its place, moves its change time, which no
one but the kernel sets. Only a file that differs from its note is hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import mmap
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
    try:
        _note(path, os.stat(path), mac)
    except OSError:
        pass


def _note_path(path: Path) -> Path:
    """One note per folder of sealed files (a project's cache has a handful), beside the key."""
    folder = os.path.dirname(os.path.abspath(path))
    return key_path().parent / "seen" / hashlib.sha256(folder.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _fine_grained(st: os.stat_result) -> bool:
    """Whether the file system keeps times finer than a second: on one that does not (ext3,
    HFS+), a write in the same second as the note would leave its change time as it was."""
    return st.st_ctime_ns % 1_000_000_000 != 0


def _notes(path: Path) -> dict:
    try:
        notes = marshal.loads(_note_path(path).read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    return notes if isinstance(notes, dict) else {}


def _note(path: Path, st: os.stat_result, mac: bytes) -> None:
    """Note that the file at `path`, as `st` describes it, bears the seal `mac`, made or checked
    here. (Two processes noting files of one folder at once may lose one note: that file's seal
    is then checked once more.)"""
    note = _note_path(path)
    if not note.parent.is_dir():
        _key()  # the key's folder, made private
        note.parent.mkdir(mode=0o700, exist_ok=True)
    notes = _notes(path)
    notes[os.path.basename(path)] = (*_identity(st), mac)
    write_atomic(note, marshal.dumps(notes))


def _noted(path: Path, st: os.stat_result, mac: bytes) -> bool:
    return _notes(path).get(os.path.basename(path)) == (*_identity(st), mac)


def load(path: Path) -> Any | None:
    """The object in `path`, or None when it is missing, corrupt or not sealed by this user."""
    return _unsealed(path, pickle.loads)


def load_plain(path: Path) -> Any | None:
    """What `dump_plain` wrote to `path`, or None (as `load`)."""
    return _unsealed(path, marshal.loads)


def _unsealed(path: Path, decode: Any) -> Any | None:
    """The file is mapped, not read: read, it would be copied into fresh memory (a page fault
    per 4 KiB, about 3 µs each on a virtual machine: 0.1 s for the files a rebuild of 10,000
    articles loads), and its payload copied again; mapped, it is decoded from the page cache's
    own pages. Our files are replaced whole (fsutil.write_atomic), never written in place, so
    the mapped file stays the one checked; were it written meanwhile (only its owner can: it
    is 0600), its identity moves, and what was decoded is dropped."""
    try:
        with open(path, "rb") as fh:
            before = os.fstat(fh.fileno())
            if before.st_size <= _MAC:
                return None
            try:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # a file system that cannot map files
                data = fh.read()
                return _checked(path, before, os.fstat(fh.fileno()), data[:_MAC], memoryview(data)[_MAC:], decode)
            with mapped, memoryview(mapped) as view, view[_MAC:] as payload:
                got = _checked(path, before, before, bytes(view[:_MAC]), payload, decode)
                return got if _identity(os.fstat(fh.fileno())) == _identity(before) else None
    except OSError:
        return None


def _checked(path: Path, before: os.stat_result, after: os.stat_result, mac: bytes, payload: Any,
             decode: Any) -> Any | None:
    """`decode(payload)` when `mac` seals it (or the file, as `after` names it, is noted with that
    seal), else None. `before` and `after`: the file's state before and after it was read."""
    steady = _identity(before) == _identity(after) and _fine_grained(after)
    if not (steady and _noted(path, after, mac)):
        if not hmac.compare_digest(mac, hmac.new(_key(), payload, hashlib.sha256).digest()):
            return None
        if steady:
            try:
                _note(path, after, mac)
            except OSError:
                pass
    try:
        return decode(payload)  # sealed above: written by this user's briefing
    except Exception:  # noqa: BLE001 - written by other code: a miss
        return None
