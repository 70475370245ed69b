"""What the spare holds, kept as its difference from the live site.

A rebuild assembles its site in the spare, an older whole build (see output.SiteWriter), and must
know which files the spare holds: that is its manifest, a 13 MB JSON at 10,000 articles, read in
0.05 s on the path of every edit. The spare differs from the live site only by what the build
between them changed, a few files after an edit. So the last build's detached cache writer
(cache_writes.py), once its site is in place, reads the spare's manifest and keeps that
difference (`keep`), with the identity of both manifest files; the next build, having claimed
the spare, makes the spare's manifest from the live one's and the difference (`kept_base`) when
both files are still those, and reads the spare's manifest otherwise.
"""

from __future__ import annotations

from pathlib import Path

from . import sealed
from .listing import MANIFEST_DIRTY, manifest_identity
from .manifest import Manifest, read_manifest
from .output import spare_path


def keep(output: Path, live: Manifest, path: Path) -> None:
    """Keep at `path` how the spare beside `output` differs from `live`, the manifest of the
    site in `output`; nothing when either manifest file changes meanwhile, or the dev server has
    rewritten files of the site (see output.mark_dirty)."""
    spare = spare_path(output)
    before = (manifest_identity(output), manifest_identity(spare))
    if None in before or (output / MANIFEST_DIRTY).exists() or not path.parent.is_dir():
        return
    base = read_manifest(spare)
    if base is None or base.foreign is None:
        return  # the next build discards such a spare: nothing to keep
    files = live.files
    differs: dict[str, str | None] = {rel: digest for rel, digest in base.files.items() if files.get(rel) != digest}
    differs.update((rel, None) for rel in files.keys() - base.files.keys())
    if (manifest_identity(output), manifest_identity(spare)) != before:
        return
    sealed.dump_plain({"live": before[0], "spare": before[1], "differs": differs, "foreign": base.foreign,
                       "dirty": sorted(base.dirty), "inputs": base.inputs, "drafts": base.drafts}, path)


def kept_base(claimed: Path, output: Path, live: Manifest | None, path: Path) -> Manifest | None:
    """The manifest of the spare just `claimed` (renamed to a staging folder) of `output`, made
    from `live` (the manifest of the site in `output`, as read at the start of the build) and the
    difference kept at `path`; None when that difference is not of these two manifests. Its
    `pages` are left empty: nothing asks the spare for them."""
    if live is None or live.dirty:
        return None  # `live` lacks the files the dev server rewrote: it is not the file on disk
    data = sealed.load_plain(path)
    if not isinstance(data, dict):
        return None
    if (data.get("live") != manifest_identity(output) or data.get("spare") != manifest_identity(claimed)
            or (output / MANIFEST_DIRTY).exists()):
        return None
    differs, foreign, dirty = data.get("differs"), data.get("foreign"), data.get("dirty")
    if not isinstance(differs, dict) or not isinstance(foreign, list) or not isinstance(dirty, list):
        return None
    files = dict(live.files)
    for rel, digest in differs.items():
        if digest is None:
            files.pop(rel, None)
        else:
            files[rel] = digest
    return Manifest(files=files, pages={}, inputs=str(data.get("inputs", "")), drafts=bool(data.get("drafts")),
                    dirty=set(dirty), foreign=foreign, differs_from_live=set(differs) | set(dirty))

