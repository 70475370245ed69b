"""The spare: the site a build swapped out is kept as `.site.spare`, and the next build is
assembled in it, touching only what differs. It must end up exactly like a build assembled from
nothing, and the live site must never change while the spare (which shares its inodes) is updated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import make_project, tree_digest, write_article

from briefing import config as config_mod
from briefing.build import build
from briefing.output import MANIFEST, is_complete_build, read_manifest, spare_path


def _site_digest(folder: Path) -> dict[str, str]:
    return {rel: d for rel, d in tree_digest(folder).items() if rel != MANIFEST}


def _fresh(project: Path, tmp: Path) -> dict[str, str]:
    """The same project built into an empty folder with no spare beside it."""
    out = tmp / "fresh" / "site"
    build(config_mod.load(project), output=out)
    return _site_digest(out)


def test_builds_assembled_in_the_spare_equal_builds_from_nothing(tmp_path: Path):
    project = make_project(tmp_path / "p", articles=4)
    config = config_mod.load(project)
    site = project / "site"
    build(config)
    assert not spare_path(site).exists()  # nothing was swapped out yet
    first = _site_digest(site)

    # 1. An edit: the old site becomes the spare, whole and untouched.
    victim = next((project / "content").rglob("*.md"))
    victim.write_text(victim.read_text(encoding="utf-8") + "\nThe Port of Antwerp reopened on Monday.\n",
                      encoding="utf-8")
    second = build(config)
    assert not second.noop
    spare = spare_path(site)
    assert is_complete_build(spare) and _site_digest(spare) == first
    assert second.written < second.pages  # only what changed was written
    assert _site_digest(site) == _fresh(project, tmp_path / "a")

    # 2. Now the spare is assembled in: it held build 1, it must become build 3. While that
    #    happens the live site (build 2) shares inodes with it and must stay as it was.
    (site / "CNAME").write_text("briefings.example.org\n", encoding="utf-8")  # the user's own file
    live_before = _site_digest(site)
    new = write_article(project, "2024/2024-06-03-new-briefing.md", "A new briefing on Rotterdam",
                        "2024-06-03", "Dock workers in Rotterdam ended their strike on Saturday.")
    gone = next(p for p in sorted((project / "content").rglob("*.md")) if p not in (victim, new))
    gone.unlink()
    assert not build(config).noop
    assert _site_digest(spare) == live_before  # the swapped-out site is build 2, intact
    assert is_complete_build(spare)
    expected = _fresh(project, tmp_path / "b")
    assert _site_digest(site) == expected | {"CNAME": _site_digest(site)["CNAME"]}
    assert (site / "CNAME").read_text(encoding="utf-8") == "briefings.example.org\n"
    assert read_manifest(site).foreign == ["CNAME"]

    # 3. The user changes, then removes, their own file: the build assembled in the spare
    #    (which holds the older CNAME) follows the output, not the spare.
    (site / "CNAME").write_text("news.example.org\n", encoding="utf-8")
    victim.write_text(victim.read_text(encoding="utf-8") + "\nTrade resumed.\n", encoding="utf-8")
    build(config)
    assert (site / "CNAME").read_text(encoding="utf-8") == "news.example.org\n"
    (site / "CNAME").unlink()
    victim.write_text(victim.read_text(encoding="utf-8") + "\nShips waited.\n", encoding="utf-8")
    build(config)
    build(config)  # twice, so the spare that held CNAME is assembled in again
    assert not (site / "CNAME").exists()
    assert _site_digest(site) == _fresh(project, tmp_path / "c")


def test_folders_left_empty_are_removed_and_a_file_may_replace_a_folder(tmp_path: Path):
    project = make_project(tmp_path / "p", articles=3)
    config = config_mod.load(project)
    site = project / "site"
    static = project / "static"
    (static / "docs").mkdir(parents=True)
    (static / "docs" / "a.txt").write_text("a folder\n", encoding="utf-8")
    build(config)
    build(config, drafts=True)  # another site: the first one becomes the spare
    shutil.rmtree(static / "docs")
    (static / "docs").write_text("now a file\n", encoding="utf-8")
    build(config)  # assembled in the spare, where docs/ is a folder
    assert (site / "docs").read_text(encoding="utf-8") == "now a file\n"
    build(config, drafts=True)
    shutil.rmtree(static)
    build(config)  # the spare has docs (a file) and the old docs/ folder is gone for good
    assert not (site / "docs").exists()
    assert _site_digest(site) == _fresh(project, tmp_path / "f")
    for folder in site.rglob("*"):
        if folder.is_dir():
            assert any(folder.iterdir()), f"{folder} left empty"


def test_a_failed_build_leaves_site_and_no_half_updated_spare(tmp_path: Path):
    project = make_project(tmp_path / "p", articles=3)
    config = config_mod.load(project)
    site = project / "site"
    build(config)
    build(config, drafts=True)
    before = tree_digest(site)
    (project / "templates").mkdir(exist_ok=True)
    (project / "templates" / "article.html").write_text("{% extends 'base.html' %}{% block main %}"
                                                        "<a href='/nowhere/'>x</a>{% endblock %}",
                                                        encoding="utf-8")
    try:
        build(config)
    except Exception as exc:  # noqa: BLE001 - the broken link is the point
        assert "nowhere" in str(exc)
    else:
        raise AssertionError("a broken link must fail the build")
    assert tree_digest(site) == before
    assert not spare_path(site).exists()  # it was being updated: never trusted again
    (project / "templates" / "article.html").unlink()
    build(config)
    assert _site_digest(site) == _fresh(project, tmp_path / "g")


def test_a_build_failing_just_before_the_swap_leaves_the_site_as_it_was(tmp_path: Path, monkeypatch):
    """The last moment a build can still fail (SiteWriter.commit's `ready`, where a guessed
    resolution is settled): the staged site, manifest and all, is written by then, in the spare;
    the live site must be untouched, and the spare not trusted."""
    from briefing import output

    project = make_project(tmp_path / "p", articles=3)
    config = config_mod.load(project)
    site = project / "site"
    build(config)
    build(config, drafts=True)
    before = tree_digest(site)
    real = output.SiteWriter.commit

    def failing(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        def ready() -> None:
            assert (self.staging / MANIFEST).is_file()  # the staged site is complete
            raise KeyboardInterrupt
        return real(self, *args, **{**kwargs, "ready": ready})
    monkeypatch.setattr(output.SiteWriter, "commit", failing)
    edited = next((project / "content").rglob("*.md"))
    edited.write_text(edited.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    try:
        build(config)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the build went past its `ready`")
    assert tree_digest(site) == before
    assert not spare_path(site).exists()
    monkeypatch.undo()
    build(config)
    assert _site_digest(site) == _fresh(project, tmp_path / "g")


def test_the_walk_for_foreign_files_lists_what_os_walk_lists(tmp_path: Path):
    """Files, links to files, broken links and FIFOs are listed; a link to a folder is neither
    listed nor followed; nested folders are walked (as os.walk(top) does)."""
    import os

    from briefing.listing import files_under

    root = tmp_path / "site"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "other").mkdir()
    for rel in ("index.html", "a/x.html", "a/b/c/deep.txt", "other/y"):
        (root / rel).write_text(rel, encoding="utf-8")
    os.symlink(root / "a" / "x.html", root / "link-to-file")
    os.symlink(root / "a", root / "other" / "link-to-folder")
    os.symlink(tmp_path / "nowhere", root / "a" / "broken")
    os.mkfifo(root / "a" / "b" / "fifo")
    expected = set()
    for dirpath, _, names in os.walk(root):
        prefix = os.path.relpath(dirpath, root).replace(os.sep, "/")
        expected |= {name if prefix == "." else f"{prefix}/{name}" for name in names}
    got = {prefix + name for _, prefix, name in files_under(str(root))}
    assert got == expected
    assert {"link-to-file", "a/broken", "a/b/fifo", "a/b/c/deep.txt"} <= got
    assert not any(rel.startswith("other/link-to-folder") for rel in got)


def test_files_put_in_the_site_after_it_was_listed_are_kept(tmp_path: Path):
    """A rebuild lists the site's foreign files early (in a forked child) and checks each folder's
    mtime before the swap: a file copied in meanwhile, even in a new folder, is carried over;
    one listed and deleted meanwhile is not an error."""
    import os

    from briefing.output import unlisted_files

    project = make_project(tmp_path / "p", articles=3)
    config = config_mod.load(project)
    site = project / "site"
    build(config)
    (site / "CNAME").write_text("example.org\n", encoding="utf-8")
    (site / "old.txt").write_text("listed, then deleted\n", encoding="utf-8")
    listing = unlisted_files(site, read_manifest(site))
    assert sorted(listing.files) == ["CNAME", "old.txt"]

    # After the listing: one file deleted, files added at the top, in an existing folder and in
    # a new one. The folders' mtimes move on (set explicitly: a coarse clock may not have ticked).
    (site / "old.txt").unlink()
    (site / "late.txt").write_text("copied in during the build\n", encoding="utf-8")
    (site / "assets" / "extra.css").write_text("p{}\n", encoding="utf-8")
    (site / "downloads" / "2026").mkdir(parents=True)
    (site / "downloads" / "2026" / "report.pdf").write_bytes(b"%PDF")
    for folder in (site, site / "assets"):
        os.utime(folder, ns=(0, listing.folders["" if folder == site else "assets/"] + 1))
    ours = set(read_manifest(site).files) | {MANIFEST}  # a folder read again lists our files too
    assert sorted(set(listing.now(site)) - ours) == ["CNAME", "assets/extra.css", "downloads/2026/report.pdf",
                                                    "late.txt", "old.txt"]

    victim = next((project / "content").rglob("*.md"))
    victim.write_text(victim.read_text(encoding="utf-8") + "\nTalks resumed in Geneva.\n", encoding="utf-8")
    from briefing import output as output_mod

    real = output_mod.SiteWriter.commit

    def commit_late(self, inputs="", drafts=False, unlisted=None, ready=None):  # noqa: ANN001, ANN202
        assert unlisted is not None  # listed early, not walked here
        (site / "during.txt").write_text("copied in while the build ran\n", encoding="utf-8")
        os.utime(site, ns=(0, unlisted.folders[""] + 1))
        return real(self, inputs, drafts, unlisted, ready)

    output_mod.SiteWriter.commit = commit_late
    try:
        build(config)
    finally:
        output_mod.SiteWriter.commit = real
    kept = read_manifest(site).foreign
    assert {"CNAME", "late.txt", "assets/extra.css", "downloads/2026/report.pdf", "during.txt"} <= set(kept)
    assert "old.txt" not in kept
    assert (site / "during.txt").read_text(encoding="utf-8").startswith("copied in")
    assert (site / "downloads" / "2026" / "report.pdf").read_bytes() == b"%PDF"


def test_the_listing_kept_by_the_last_build_serves_while_its_site_is_in_place(tmp_path: Path):
    """The last build's cache writer keeps the listing of the site it put in place (listing.py):
    the next build takes it, walks nothing, and still carries over a file copied in since (its
    folder's mtime moved). Another site in place, or files the dev server rewrote, and it does
    not serve."""
    import os

    from briefing import build as build_mod
    from briefing.listing import keep_listing, kept_listing
    from briefing.output import MANIFEST_DIRTY

    project = make_project(tmp_path / "p", articles=3)
    config = config_mod.load(project)
    site = project / "site"
    build(config)
    (site / "CNAME").write_text("example.org\n", encoding="utf-8")
    path = config.cache_path / "pages" / f"{build_mod._output_key(site)}.listing"
    keep_listing(site, read_manifest(site), path)  # as the detached writer does after the swap
    kept = kept_listing(site, path)
    assert kept is not None and kept.files == ["CNAME"] and "" in kept.folders and "assets/" in kept.folders

    (site / "late.txt").write_text("copied in after the listing\n", encoding="utf-8")
    os.utime(site, ns=(0, kept.folders[""] + 1))  # a coarse clock may not have ticked
    victim = next((project / "content").rglob("*.md"))
    victim.write_text(victim.read_text(encoding="utf-8") + "\nTalks resumed in Geneva.\n", encoding="utf-8")
    real = build_mod._unlisted
    build_mod._unlisted = lambda output: (_ for _ in ()).throw(AssertionError("walked the site"))
    try:
        build(config)
    finally:
        build_mod._unlisted = real
    assert {"CNAME", "late.txt"} <= set(read_manifest(site).foreign or ())
    assert (site / "late.txt").is_file() and (site / "CNAME").is_file()

    assert kept_listing(site, path) is None  # kept for the site that this build replaced
    keep_listing(site, read_manifest(site), path)
    assert kept_listing(site, path) is not None
    (site / MANIFEST_DIRTY).write_text("index.html\n", encoding="utf-8")  # the dev server rewrote a page
    assert kept_listing(site, path) is None
    (site / MANIFEST_DIRTY).unlink()
    path.write_bytes(b"not a listing")
    assert kept_listing(site, path) is None


def test_the_no_op_check_reads_the_inputs_the_manifest_holds(tmp_path: Path):
    from briefing.output import MANIFEST_DIRTY, manifest_inputs

    project = make_project(tmp_path / "p")
    (project / "static").mkdir()
    (project / "static" / "inputs").write_text('],"inputs":"not this"', encoding="utf-8")  # a file so named
    config = config_mod.load(project)
    build(config)
    site = project / "site"
    (site / '],"inputs":"x').write_text("a foreign file", encoding="utf-8")
    build(config.with_changes(title="Other"))  # listed as foreign in this manifest
    manifest = read_manifest(site)
    assert manifest is not None and '],"inputs":"x' in manifest.foreign
    assert len(manifest.inputs) == 64 and manifest_inputs(site) == manifest.inputs
    assert build(config.with_changes(title="Other")).noop

    (site / MANIFEST_DIRTY).write_text("index.html\n", encoding="utf-8")  # the dev server rewrote a page
    assert manifest_inputs(site) == ""
    assert not build(config.with_changes(title="Other")).noop
    (site / MANIFEST).write_text("{}", encoding="utf-8")
    assert manifest_inputs(site) == ""
    (site / MANIFEST).unlink()
    assert manifest_inputs(site) == "" and manifest_inputs(tmp_path / "nowhere") == ""


def test_the_manifest_is_the_json_of_its_fields_with_sorted_keys(tmp_path):
    import json

    from briefing.output import Manifest, manifest_inputs, read_manifest

    m = Manifest(files={"b.html": "2", "a.html": "1", "é.html": "3"}, pages={"b.html": "f"}, inputs="i",
                 drafts=True, foreign=["z", "y"])
    whole = json.dumps({"version": 1, "files": m.files, "pages": m.pages, "inputs": "i", "drafts": True,
                        "foreign": ["y", "z"]}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert m.to_json() == whole.encode("utf-8")
    (tmp_path / MANIFEST).write_bytes(m.to_json())
    back = read_manifest(tmp_path)
    assert back is not None and back.files == m.files and back.foreign == ["y", "z"]
    assert manifest_inputs(tmp_path) == "i"


def test_a_manifest_naming_a_file_that_is_not_utf8_is_written_and_read(tmp_path):
    """os.fsdecode turns a name's undecodable bytes into lone surrogates, which orjson refuses:
    json writes them escaped, and reads them back."""
    import os

    from briefing.output import Manifest, manifest_inputs, read_manifest

    odd = os.fsdecode(b"caf\xe9.html")
    m = Manifest(files={"a.html": "1"}, foreign=[odd], inputs="i")
    (tmp_path / MANIFEST).write_bytes(m.to_json())
    back = read_manifest(tmp_path)
    assert back is not None and back.foreign == [odd] and back.files == {"a.html": "1"}
    assert manifest_inputs(tmp_path) == "i"


def test_the_spare_is_known_from_the_live_manifest_and_the_difference_kept(tmp_path: Path):
    """The last build's cache writer keeps how the spare differs from the live site
    (spare_state.py): the next build makes the spare's manifest from the live one and that
    difference, equal to the spare's own, and reads no manifest in the claimed spare; the site
    it assembles there equals a build from nothing. A difference kept for other manifests, or
    a live site the dev server has rewritten files of, does not serve."""
    from briefing import build as build_mod
    from briefing import output as output_mod
    from briefing import spare_state
    from briefing.output import mark_dirty

    project = make_project(tmp_path / "p", articles=4)
    config = config_mod.load(project)
    site = project / "site"
    spare = spare_path(site)
    path = build_mod.spare_known_path(config, site)
    victim = next((project / "content").rglob("*.md"))
    build(config)
    (site / "CNAME").write_text("example.org\n", encoding="utf-8")  # foreign: carried over, kept in the spare
    read_in_staging: list[Path] = []
    real_read = output_mod.read_manifest

    def noting_read(folder: Path):  # noqa: ANN202
        if ".staging-" in folder.name:
            read_in_staging.append(folder)
        return real_read(folder)

    for step, text in enumerate(["Talks resumed in Geneva.", "Ships waited off Rotterdam.",
                                 "The Port of Antwerp reopened.", "Trade resumed."]):
        if step == 2:
            write_article(project, "2024/2024-06-03-new.md", "A new briefing", "2024-06-03", "Dock workers struck.")
        victim.write_text(victim.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")
        read_in_staging.clear()
        if step == 1:
            path.unlink()  # none kept: the claimed spare's manifest is read
        output_mod.read_manifest = noting_read
        try:
            build(config)
        finally:
            output_mod.read_manifest = real_read
        # Step 0 has no spare; from step 1 on it has, and reads its manifest only when no difference was kept.
        assert len(read_in_staging) == (step == 1)
        assert spare.is_dir()
        spare_state.keep(site, read_manifest(site), path)  # as the detached writer does after the swap
        known = spare_state.kept_base(spare, site, read_manifest(site), path)
        own = read_manifest(spare)
        assert known is not None and own is not None
        assert (known.files, known.foreign, known.dirty, known.inputs, known.drafts) == \
               (own.files, own.foreign, own.dirty, own.inputs, own.drafts)
        assert known.files != read_manifest(site).files  # a real difference, not the live site's copy
    assert _site_digest(site) == _fresh(project, tmp_path / "k") | {"CNAME": _site_digest(site)["CNAME"]}
    assert read_manifest(site).foreign == ["CNAME"]

    # Another build since (the live manifest is another file): the difference is not of it.
    build(config, drafts=True)
    assert spare_state.kept_base(spare, site, read_manifest(site), path) is None
    spare_state.keep(site, read_manifest(site), path)
    assert spare_state.kept_base(spare, site, read_manifest(site), path) is not None
    # The dev server rewrote a file of the live site: its manifest is not what is on disk.
    mark_dirty(site, "index.html")
    assert spare_state.kept_base(spare, site, read_manifest(site), path) is None
