"""The manifest of a built site: `.briefing-manifest.json` in the output, listing every file we
wrote with its hash and each page's render fingerprint. It is how a build knows its own files,
how publishing knows a build is complete, and how rendering skips pages (see output.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .fsutil import mapped
from .listing import MANIFEST, MANIFEST_DIRTY

MANIFEST_VERSION = 1


@dataclass
class Manifest:
    files: dict[str, str] = field(default_factory=dict)  # relpath -> sha256 of bytes
    pages: dict[str, str] = field(default_factory=dict)  # relpath -> render fingerprint
    inputs: str = ""  # fingerprint of everything the build read (for no-op detection)
    drafts: bool = False  # the build included drafts: a preview, never to be published
    # Files the dev server rewrote after this build (see quick.py): their bytes and render
    # fingerprint are unknown, so the next build renders and writes them afresh.
    dirty: set[str] = field(default_factory=set)
    # Files of the folder we did not write (carried over); None when an older manifest did not say.
    foreign: list[str] | None = None
    # Of a spare's manifest made from the live one (spare_state.kept_base): the files whose
    # digest differs between them, or that only one of them has. Never written.
    differs_from_live: set[str] | None = None

    def to_json(self) -> bytes:
        """Sorted keys, no spaces, UTF-8 (a 13 MB text at 10,000 articles: orjson writes it in a
        fifth of json's time, the same bytes but for non-ASCII characters, kept as they are)."""
        data = {"version": MANIFEST_VERSION, "files": self.files, "pages": self.pages, "inputs": self.inputs,
                "drafts": self.drafts, "foreign": sorted(self.foreign or [])}
        try:
            return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)  # sorts the files' and pages' keys too
        except orjson.JSONEncodeError:  # a file name that is not UTF-8 (surrogate-escaped by os)
            return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("ascii")


def read_manifest(output: Path) -> Manifest | None:
    """The manifest of the build in `output`, or None when there is none or it is unreadable."""
    try:
        with mapped(output / MANIFEST) as raw, memoryview(raw) as view:
            data = _json_loads(view)
        if data.get("version") != MANIFEST_VERSION:
            return None
        foreign = data.get("foreign")
        files, pages = data["files"], data.get("pages", {})
        if not (isinstance(files, dict) and isinstance(pages, dict)):
            return None
        manifest = Manifest(files=files, pages=pages,
                            inputs=str(data.get("inputs", "")), drafts=bool(data.get("drafts", False)),
                            foreign=[str(f) for f in foreign] if isinstance(foreign, list) else None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return with_dirty(manifest, output)


def _json_loads(raw: bytes | memoryview) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # e.g. an escaped surrogate (json's way with a non-UTF-8 name)
        return json.loads(bytes(raw))


# In the manifest's JSON (sorted keys, no spaces) "inputs" is the key after the list "foreign";
# no key or value inside "files" can hold this text unescaped.
_INPUTS_AT = b'],"inputs":"'


def manifest_inputs(output: Path) -> str:
    """`read_manifest(output).inputs`, without parsing the whole manifest (a 5 MB JSON at
    10,000 articles): what a no-op build compares first. "" when there is none."""
    try:
        if (output / MANIFEST_DIRTY).exists():
            return ""  # the dev server rewrote files since: never a no-op (see with_dirty)
        with mapped(output / MANIFEST) as data:
            at = data.find(_INPUTS_AT)
            if at < 0 or data[:10] != b'{"drafts":':
                return ""
            start = at + len(_INPUTS_AT)
            end = data.find(b'"', start)
            return data[start:end].decode("ascii", "replace") if end > 0 else ""
    except OSError:
        return ""


def with_dirty(manifest: Manifest, output: Path) -> Manifest:
    """`manifest` less the files the dev server has rewritten since (mark_dirty); the same object."""
    try:
        dirty = (output / MANIFEST_DIRTY).read_text(encoding="utf-8").split("\n")
    except OSError:
        return manifest
    for rel in filter(None, dirty):
        manifest.files.pop(rel, None)
        manifest.pages.pop(rel, None)
        manifest.dirty.add(rel)
    manifest.inputs = ""  # never a no-op
    return manifest


def mark_dirty(output: Path, rel: str) -> None:
    """Note that `rel` in the built site was rewritten outside a build (the dev server's fast path)."""
    with open(output / MANIFEST_DIRTY, "a", encoding="utf-8") as fh:
        fh.write(rel + "\n")


def is_complete_build(output: Path) -> bool:
    """True when `output` holds a whole build: a manifest, and every file it lists, intact."""
    manifest = read_manifest(output)
    if manifest is None or not manifest.files:
        return False
    for rel, digest in manifest.files.items():
        try:
            if hashlib.sha256((output / rel).read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return True
