"""Publishing to a local folder: plan, apply, dry run, max deletes; with rsync and without.

Also the parts every target shares: the build check, config validation, choosing a target,
the CLI.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import pytest
from publish_helpers import SITE, as_bytes, edited, make_project, modes, tree, write_site

from briefing import publish_cli
from briefing.errors import ConfigError, PublishError
from briefing.publish import directory, load_settings, publish, read_site
from briefing.publish.base import compile_glob

RSYNC = shutil.which("rsync")
# "rsync": true uses rsync; false forces the Python copy.
ENGINES = [pytest.param(True, id="rsync", marks=pytest.mark.skipif(RSYNC is None, reason="no rsync")),
           pytest.param(False, id="python")]


def project(tmp_path: Path, rsync: bool | str = "auto", files=None, **more):
    www = tmp_path / "www"
    target = {"type": "directory", "path": str(www), "rsync": rsync, **more}
    return make_project(tmp_path / "proj", {"targets": {"www": target}}, files), www


def run(config, **kw):
    lines: list[str] = []
    outcome = publish(config, build=False, echo=lines.append, **kw)
    return outcome, lines


@pytest.mark.parametrize("rsync", ENGINES)
def test_publish_plan_apply_and_republish(tmp_path, rsync):
    config, www = project(tmp_path, rsync)
    outcome, lines = run(config)
    assert outcome.applied and len(outcome.plan.uploads) == len(SITE)
    assert tree(www) == as_bytes(SITE)  # every file, and not the manifest
    assert any(line.startswith("Plan: 9 uploads, 0 updates, 0 deletes, 0 unchanged") for line in lines)
    assert ("(rsync)" in outcome.target) == rsync

    # nothing changed: nothing to do
    outcome, lines = run(config)
    assert outcome.plan.empty and not outcome.applied
    assert len(outcome.plan.unchanged) == len(SITE)
    assert "up to date" in lines[-1]

    # one page edited (same size!), one added, one page's folder removed
    new = edited(SITE, {"index.html": SITE["index.html"].replace("Briefings", "Briefinxs"),
                        "2025/new-page/index.html": "<p>new</p>",
                        "2025/syria-talks/index.html": None})
    write_site(config.output_path, new)
    outcome, _ = run(config)
    plan = outcome.plan
    assert (plan.uploads, plan.updates, plan.deletes) == (
        ("2025/new-page/index.html",), ("index.html",), ("2025/syria-talks/index.html",))
    assert tree(www) == as_bytes(new)
    assert not (www / "2025/syria-talks").exists()  # the emptied folder went too
    assert modes(www)["index.html"] == 0o644 and modes(www)["2025/new-page"] == 0o755


def test_rsync_and_python_give_the_same_result(tmp_path):
    if RSYNC is None:
        pytest.skip("no rsync")
    a, www_a = project(tmp_path / "a", True)
    b, www_b = project(tmp_path / "b", False)
    for step in ({}, {"assets/app.js": "changed();\n", "feed.xml": None, "x/y/z.txt": "deep"}):
        for config in (a, b):
            write_site(config.output_path, edited(SITE, step))
            run(config)
        assert tree(www_a) == tree(www_b)
        assert modes(www_a) == modes(www_b)
        mtimes = [{p.relative_to(w).as_posix(): p.stat().st_mtime_ns // 10**9 for p in w.rglob("*") if p.is_file()}
                  for w in (www_a, www_b)]
        assert mtimes[0].keys() == mtimes[1].keys()


def test_python_path_when_rsync_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(directory.shutil, "which", lambda name: None)
    config, www = project(tmp_path, "auto")
    outcome, _ = run(config)
    assert "(rsync)" not in outcome.target and outcome.note == "Copied with Python."
    assert tree(www) == as_bytes(SITE)


def test_rsync_true_without_rsync_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(directory.shutil, "which", lambda name: None)
    config, _ = project(tmp_path, True)
    with pytest.raises(PublishError, match="rsync is not installed"):
        run(config)


@pytest.mark.parametrize("rsync", ENGINES)
def test_dry_run_changes_nothing(tmp_path, rsync):
    config, www = project(tmp_path, rsync)
    www.mkdir()
    (www / "old.html").write_text("old")
    outcome, lines = run(config, dry_run=True)
    assert not outcome.applied and len(outcome.plan.uploads) == len(SITE)
    assert outcome.plan.deletes == ("old.html",)
    assert "  - old.html" in lines and lines[-1] == "Dry run: nothing was changed."
    assert tree(www) == {"old.html": b"old"}


@pytest.mark.parametrize("rsync", ENGINES)
def test_max_deletes_stops_a_mass_delete(tmp_path, rsync):
    config, www = project(tmp_path, rsync)
    run(config)
    for i in range(5):
        (www / f"stray-{i}.html").write_text("stray")
    before = tree(www)
    with pytest.raises(PublishError, match="deletes 5 files .* more than --max-deletes 4"):
        run(config, max_deletes=4)
    assert tree(www) == before  # refused before anything changed
    _, lines = run(config, dry_run=True, max_deletes=4)
    assert any("would be refused" in line for line in lines)
    outcome, _ = run(config, max_deletes=5)
    assert len(outcome.plan.deletes) == 5 and tree(www) == as_bytes(SITE)


@pytest.mark.parametrize("rsync", ENGINES)
def test_a_file_becomes_a_folder_and_back(tmp_path, rsync):
    config, www = project(tmp_path, rsync, files={"news": "a file", "keep.html": "k"})
    run(config)
    write_site(config.output_path, {"news/index.html": "now a folder", "keep.html": "k"})
    run(config)
    assert tree(www) == {"news/index.html": b"now a folder", "keep.html": b"k"}
    write_site(config.output_path, {"news": "a file again", "keep.html": "k"})
    run(config)
    assert tree(www) == {"news": b"a file again", "keep.html": b"k"}


def test_a_failure_midway_says_what_was_done(tmp_path, monkeypatch):
    config, www = project(tmp_path, False)
    run(config)
    write_site(config.output_path, edited(SITE, {"a.html": "a", "b.html": "b", "feed.xml": None}))
    real_replace = directory.os.replace
    done = []

    def replace_then_fail(src, dst):
        if done:
            raise PermissionError(13, "Permission denied", str(dst))
        done.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(directory.os, "replace", replace_then_fail)
    with pytest.raises(PublishError) as info:
        run(config)
    message = str(info.value)
    assert "cannot write" in message and "b.html: Permission denied" in message
    assert "uploaded 1 of 2 new" in message and "deleted 0 of 1" in message
    assert tree(www) == {**as_bytes(SITE), "a.html": b"a"}  # a.html new, the rest as it was, no temp files


def test_target_inside_the_output_folder_is_refused(tmp_path):
    config = make_project(tmp_path / "proj", {"targets": {"www": {"type": "directory", "path": "site/www"}}})
    with pytest.raises(PublishError, match="overlaps the output folder"):
        run(config)


def test_missing_mount_is_refused(tmp_path):
    config, _ = project(tmp_path, path=str(tmp_path / "not-mounted" / "www"))
    with pytest.raises(PublishError, match="Is the volume mounted"):
        run(config)


# ---------------------------------------------------------------------------- the build check


@pytest.mark.parametrize("damage, message", [
    (lambda site: (site / ".briefing-manifest.json").unlink(), "no complete build"),
    (lambda site: (site / "assets/app.js").unlink(), r"assets/app.js \(missing\)"),
    (lambda site: (site / "index.html").write_text("edited by hand"), "changed since the build"),
    (lambda site: (site / ".briefing-manifest.json").write_text("{"), "unreadable build manifest"),
    (lambda site: write_site(site, {}), "the build is empty"),
    (lambda site: shutil.rmtree(site), "does not exist"),
    (lambda site: (site / ".briefing-manifest.json").write_text(
        json.dumps({"version": 1, "drafts": True, "files": {}})), "includes drafts"),
    (lambda site: (site / ".briefing-manifest.json").write_text(
        json.dumps({"version": 1, "files": {"../escape": "0" * 64}})), "invalid path"),
])
def test_a_partial_or_altered_build_is_refused(tmp_path, damage, message):
    config, www = project(tmp_path)
    damage(config.output_path)
    with pytest.raises(PublishError, match=message):
        run(config)
    assert not www.exists()


def test_read_site_ignores_files_outside_the_manifest(tmp_path):
    site = write_site(tmp_path / "site", {"a.html": "a"})
    (site / "stray.txt").write_text("not built")
    assert list(read_site(site).files) == ["a.html"]


def test_publish_builds_for_production_first(tmp_path, monkeypatch):
    config, www = project(tmp_path)
    shutil.rmtree(config.output_path)
    calls = []

    def fake_build(cfg, *, drafts=True, **kw):
        calls.append(drafts)
        write_site(cfg.output_path, SITE)
        return types.SimpleNamespace(output=cfg.output_path)

    monkeypatch.setitem(sys.modules, "briefing.build", types.SimpleNamespace(build=fake_build))
    publish(config, echo=lambda line: None)
    assert calls == [False] and tree(www) == as_bytes(SITE)


# ---------------------------------------------------------------------------- settings


def test_config_problems_are_reported_at_once_with_lines(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "config.yaml").write_text(
        "title: T\n"                                              # 1
        "publish:\n"                                              # 2
        "  default: wwww\n"                                       # 3
        "  target: {}\n"                                          # 4
        "  targets:\n"                                            # 5
        "    www: {type: directory, pth: /tmp/x}\n"               # 6
        "    bucket:\n"                                           # 7
        "      type: s3\n"                                        # 8
        "      bucket: b\n"                                       # 9
        "      aws_secret_access_key: SECRET-VALUE\n"             # 10
        "    odd: {type: ftp}\n"                                  # 11
    )
    from briefing import config as config_module

    with pytest.raises(ConfigError) as info:
        load_settings(config_module.load(root))
    text = str(info.value)
    assert "config.yaml:4: unknown key 'publish.target'. Did you mean 'publish.targets'?" in text
    assert "config.yaml:3: 'publish.default' names 'wwww'" in text and "Did you mean 'www'?" in text
    assert "config.yaml:6: unknown key 'publish.targets.www.pth'" in text
    assert "config.yaml:6: 'publish.targets.www' needs `path:`" in text
    assert "config.yaml:10: 'publish.targets.bucket.aws_secret_access_key' looks like a credential" in text
    assert "AWS_SECRET_ACCESS_KEY" in text and "SECRET-VALUE" not in text
    assert "config.yaml:11: 'publish.targets.odd.type' is 'ftp'" in text


def test_choosing_a_target(tmp_path):
    www = {"type": "directory", "path": str(tmp_path / "w")}
    one = load_settings(make_project(tmp_path / "a", {"targets": {"www": www}}))
    assert one.choose(None).name == "www"
    two = load_settings(make_project(tmp_path / "b", {"targets": {"www": www, "other": www}}))
    with pytest.raises(PublishError, match="several publish targets"):
        two.choose(None)
    with pytest.raises(PublishError, match="Did you mean 'other'"):
        two.choose("othr")
    assert load_settings(make_project(tmp_path / "c", {"default": "other", "targets": {"www": www, "other": www}}
                                      )).choose(None).name == "other"
    with pytest.raises(PublishError, match="no publish targets"):
        load_settings(make_project(tmp_path / "d", {})).choose(None)


def test_globs():
    def match(pattern, path):
        return bool(compile_glob(pattern).match(path))

    assert match("*.html", "index.html") and match("*.html", "a/b/index.html")
    assert not match("*.html", "index.htm")
    assert match("assets/**", "assets/css/site.css") and not match("assets/**", "x/assets/a.css")
    assert match("assets/", "assets/a.css") and match("/feed.xml", "feed.xml")
    assert not match("/feed.xml", "x/feed.xml") and match("**/index.html", "index.html")
    assert match("pagefind/*.pf_[fi]*", "pagefind/a.pf_index") and not match("a/*.js", "a/b/c.js")


# ---------------------------------------------------------------------------- the CLI


def test_cli(tmp_path, capsys):
    config, www = project(tmp_path)
    argv = ["--project", str(config.root), "--no-build", "--yes"]
    assert publish_cli.main([*argv, "--dry-run"]) == 0
    assert "Dry run: nothing was changed." in capsys.readouterr().out and not www.exists()
    assert publish_cli.main(argv) == 0
    assert "Published: 9 uploaded" in capsys.readouterr().out
    assert publish_cli.main([*argv, "nope"]) == 1
    assert "no publish target named 'nope'" in capsys.readouterr().err
    (www / "stray").write_text("x")
    assert publish_cli.main([*argv, "--max-deletes", "0"]) == 1
    assert "more than --max-deletes 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        publish_cli.main([*argv, "--max-deletes", "-1"])
