"""What a build reads besides the content files: the static files copied as they are, and the
fingerprint of everything it reads (equal fingerprints: an identical site, nothing to do)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from . import sources
from .cache import code_digest
from .config import Config
from .errors import Problem
from .render import THEME_STATIC

BUILD_VERSION = "1"


def static_files_of(config: Config, content_assets: list[Path],
                    problems: list[Problem]) -> dict[str, tuple[str, Path]]:
    """Files copied as they are: key (for ordering) -> (site-relative URL, path on disk).

    As in content/, a link in static/ that leads outside the project is refused, not copied.
    """
    files: dict[str, tuple[str, Path]] = {}
    root = os.path.realpath(config.root)
    for base, prefix in ((THEME_STATIC, "assets/"), (config.static_path, "")):
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if not p.is_file() or sources.is_ignored_name(p.name):
                    continue
                if base != THEME_STATIC and not os.path.realpath(p).startswith(root + os.sep):
                    problems.append(Problem(p.relative_to(config.root).as_posix(), None,
                                            "is a link to a file outside the project; refusing to copy it. "
                                            "Copy the file into the project instead."))
                    continue
                url = prefix + p.relative_to(base).as_posix()
                files[url] = (url, p)
    for p in content_assets:
        rel = p.relative_to(config.root).as_posix()
        url = "files/" + p.relative_to(config.content_path).as_posix()
        files[rel] = (url, p)
    return dict(sorted(files.items()))


def inputs_fingerprint(config: Config, found: list, static_files: dict, drafts: bool) -> str:
    """Everything a build reads. Equal fingerprints mean an identical site: nothing to do."""
    from .render import THEME_TEMPLATES

    # Where the project and its output live does not change the site's bytes.
    placeless = dataclasses.replace(config, root=Path("/"), output_dir="-")
    h = hashlib.sha256(f"{BUILD_VERSION}\0{drafts}\0{placeless!r}\0".encode())
    for src in found:
        h.update(src.relpath.encode() + b"\0" + src.digest)
    for key, (url, path) in static_files.items():
        h.update(key.encode() + url.encode() + file_digest(path))
    for d in (config.templates_path, THEME_TEMPLATES):
        if d.is_dir():
            for p in sorted(d.rglob("*")):
                if p.is_file():
                    h.update(p.as_posix().encode() + file_digest(p))
    for p in (config.root / "config.yaml", config.curation_path):
        h.update(file_digest(p) if p.is_file() else b"-")
    h.update(code_digest().encode())
    return h.hexdigest()


def file_digest(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()
