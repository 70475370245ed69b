"""Cache pickles are sealed: one that arrived with someone else's project is never unpickled."""

from __future__ import annotations

import pickle
from pathlib import Path

from briefing import sealed


class Boom:
    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_round_trip_and_foreign_pickles_are_ignored(tmp_path: Path):
    path = tmp_path / "cache.pickle"
    sealed.dump({"a": 1}, path)
    assert sealed.load(path) == {"a": 1}
    # A pickle written by anyone else (here: one that would create a file when loaded).
    marker = tmp_path / "pwned"
    boom = Boom()
    boom.target = str(marker)
    path.write_bytes(b"\0" * 32 + pickle.dumps(boom))
    assert sealed.load(path) is None and not marker.exists()
    path.write_bytes(pickle.dumps(boom))  # unsealed
    assert sealed.load(path) is None and not marker.exists()
    path.write_bytes(b"short")
    assert sealed.load(path) is None
    assert sealed.load(tmp_path / "missing") is None


def test_the_key_lives_outside_the_project_and_is_private(tmp_path: Path):
    path = sealed.key_path()
    sealed.dump([1], tmp_path / "x.pickle")
    assert path.exists() and (path.stat().st_mode & 0o077) == 0
    assert not str(path).startswith(str(tmp_path))


def test_a_file_sealed_or_checked_here_is_not_hashed_again_until_it_changes(tmp_path: Path, monkeypatch):
    hashed = []
    real = sealed.hmac.new

    def counting(key, payload, digest):
        hashed.append(len(payload))
        return real(key, payload, digest)
    monkeypatch.setattr(sealed.hmac, "new", counting)
    path = tmp_path / "cache.pickle"
    sealed.dump({"a": 1}, path)
    assert len(hashed) == 1  # sealed
    assert sealed.load(path) == {"a": 1} and sealed.load(path) == {"a": 1}
    assert len(hashed) == 1  # the file noted when written: its seal not checked again
    # A copy elsewhere (a project moved) is checked once, then noted.
    copy = tmp_path / "moved" / "cache.pickle"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    assert sealed.load(copy) == {"a": 1} and len(hashed) == 2
    assert sealed.load(copy) == {"a": 1} and len(hashed) == 2
    # Changed in place, same size, seal kept: its change time moved, so it is checked, and fails.
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    with open(path, "r+b") as fh:
        fh.write(data)
    assert sealed.load(path) is None and len(hashed) == 3
    # Another file put in its place, bearing the noted seal: checked, and fails.
    path.unlink()
    path.write_bytes(bytes(data))
    assert sealed.load(path) is None and len(hashed) == 4


def test_the_notes_live_beside_the_key(tmp_path: Path):
    sealed.dump([1], tmp_path / "x.pickle")
    notes = sealed.key_path().parent / "seen"
    assert notes.is_dir() and (notes.stat().st_mode & 0o077) == 0
    assert not str(notes).startswith(str(tmp_path))


def test_a_file_written_in_place_while_decoded_is_a_miss(tmp_path: Path):
    """Files are mapped, not read: what was decoded from one written meanwhile is dropped."""
    path = tmp_path / "cache.pickle"
    sealed.dump({"a": 1}, path)

    def decode_while_written(payload):
        got = pickle.loads(payload)
        with open(path, "r+b") as fh:  # its owner writes into it, same size
            fh.seek(40)
            fh.write(b"\0")
        return got
    assert sealed._unsealed(path, decode_while_written) is None
    sealed.dump({"a": 2}, path)
    assert sealed._unsealed(path, pickle.loads) == {"a": 2}


def test_a_file_system_that_cannot_map_files_is_read(tmp_path: Path, monkeypatch):
    path = tmp_path / "cache.pickle"
    sealed.dump({"a": [1, 2]}, path)

    def refuse(*args, **kwargs):
        raise OSError("no mmap here")
    monkeypatch.setattr(sealed.mmap, "mmap", refuse)
    assert sealed.load(path) == {"a": [1, 2]}
    sealed.dump_plain({"b": 3}, path)
    assert sealed.load_plain(path) == {"b": 3}
    path.write_bytes(b"\0" * 40)
    assert sealed.load(path) is None
