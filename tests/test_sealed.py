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
