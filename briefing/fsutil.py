"""Writing a file so that readers see the old bytes or the new ones, never a part; and reading
a large one without copying it."""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def mapped(path: Path | str) -> Iterator[mmap.mmap | bytes]:
    """The bytes of the file at `path`, mapped (read-only: slicing gives bytes, `find` works,
    memoryview() decodes without a copy) while the block runs; read where it cannot be mapped
    (an empty file, a file system without mmap). A read copies the file into fresh memory, a
    page fault per 4 KiB (about 3 µs each on a virtual machine); mapped, the page cache's own
    pages are read. For files replaced whole (`write_atomic`), never written in place: the
    mapping keeps the file that was opened. Raises OSError as open() does."""
    with open(path, "rb") as fh:
        try:
            view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            yield fh.read()
            return
        with view:
            yield view
