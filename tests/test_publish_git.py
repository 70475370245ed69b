"""Publishing to a branch of a real (bare, local) git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from publish_helpers import SITE, as_bytes, edited, make_project, write_site

from briefing.errors import ConfigError, PublishError
from briefing.publish import gitbranch, publish


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def remote(tmp_path) -> Path:
    bare = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(bare))
    return bare


def branch_files(bare: Path, branch: str = "gh-pages") -> dict[str, bytes]:
    names = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "-z", branch).split("\0")
    return {n: subprocess.run(["git", "--git-dir", str(bare), "show", f"{branch}:{n}"], check=True,
                              capture_output=True).stdout for n in names if n}


def head(bare: Path, branch: str = "gh-pages") -> str:
    return git("--git-dir", str(bare), "rev-parse", branch).strip()


def commits(bare: Path, branch: str = "gh-pages") -> int:
    return int(git("--git-dir", str(bare), "rev-list", "--count", branch))


def project(tmp_path: Path, remote: Path | str, files=None, **more):
    target = {"type": "git", "remote": str(remote), **more}
    config = make_project(tmp_path / "proj", {"targets": {"pages": target}}, files)
    return config


def run(config, **kw):
    lines: list[str] = []
    return publish(config, build=False, echo=lines.append, **kw), lines


def test_publish_edit_republish(tmp_path, remote):
    config = project(tmp_path, remote, cname="briefings.example.org")
    # the project is a git repository: the commit message names its commit
    git("init", "--quiet", cwd=config.root)
    git("add", "config.yaml", cwd=config.root)
    git("-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "--quiet", "-m", "c", cwd=config.root)
    source = git("rev-parse", "HEAD", cwd=config.root).strip()

    outcome, _ = run(config)
    assert outcome.applied and outcome.note.startswith("Pushed commit ")
    expected = {**as_bytes(SITE), ".nojekyll": b"", "CNAME": b"briefings.example.org\n"}
    assert branch_files(remote) == expected  # the branch holds the build, and not the manifest
    message = git("--git-dir", str(remote), "log", "-1", "--format=%B", "gh-pages")
    assert f"Source commit: {source}" in message and message.startswith(f"Publish site from {source[:12]}")
    assert commits(remote) == 1

    # an edit: one commit on top, holding only the changed files
    new = edited(SITE, {"index.html": "<h1>Edited</h1>", "2025/new/index.html": "new",
                        "feed.xml": None})
    write_site(config.output_path, new)
    outcome, lines = run(config)
    assert any(line.startswith("Plan: 1 upload, 1 update, 1 delete, 9 unchanged") for line in lines)
    assert commits(remote) == 2
    changes = git("--git-dir", str(remote), "diff-tree", "-r", "--name-status", "gh-pages~1", "gh-pages")
    assert sorted(changes.split("\n")[:-1]) == ["A\t2025/new/index.html", "D\tfeed.xml", "M\tindex.html"]
    assert branch_files(remote) == {**as_bytes(new), ".nojekyll": b"", "CNAME": b"briefings.example.org\n"}

    # nothing changed: nothing pushed
    tip = head(remote)
    outcome, lines = run(config)
    assert outcome.plan.empty and not outcome.applied and "up to date" in lines[-1]
    assert head(remote) == tip and commits(remote) == 2


def test_dry_run_and_max_deletes(tmp_path, remote):
    config = project(tmp_path, remote, nojekyll=False)
    outcome, _ = run(config, dry_run=True)
    assert len(outcome.plan.uploads) == len(SITE)
    assert git("--git-dir", str(remote), "branch", "--list") == ""  # nothing pushed
    run(config)
    tip = head(remote)
    write_site(config.output_path, {"index.html": "only this"})
    with pytest.raises(PublishError, match="deletes 8 files"):
        run(config, max_deletes=3)
    assert head(remote) == tip
    outcome, _ = run(config, max_deletes=8)
    assert branch_files(remote) == {"index.html": b"only this"}


def test_never_clobbers_someone_elses_push(tmp_path, remote, monkeypatch):
    config = project(tmp_path, remote)
    run(config)

    # someone pushes to the branch after we read it and before we push
    other = tmp_path / "other"
    git("clone", "--quiet", "--branch", "gh-pages", str(remote), str(other))
    (other / "theirs.txt").write_text("theirs")
    git("add", "theirs.txt", cwd=other)
    git("-c", "user.name=O", "-c", "user.email=o@example.org", "commit", "--quiet", "-m", "theirs", cwd=other)
    scan = gitbranch.GitTarget.scan

    def scan_then_they_push(self):
        found = scan(self)
        git("push", "--quiet", "origin", "gh-pages", cwd=other)
        return found

    monkeypatch.setattr(gitbranch.GitTarget, "scan", scan_then_they_push)
    write_site(config.output_path, edited(SITE, {"index.html": "mine"}))
    with pytest.raises(PublishError, match="rejected") as info:
        run(config)
    assert "Nothing was changed" in str(info.value)
    assert git("--git-dir", str(remote), "log", "-1", "--format=%s", "gh-pages").strip() == "theirs"

    # the next publish starts from their commit and removes their file, as the site has none
    monkeypatch.setattr(gitbranch.GitTarget, "scan", scan)
    outcome, _ = run(config)
    assert outcome.plan.deletes == ("theirs.txt",) and outcome.plan.updates == ("index.html",)
    assert git("--git-dir", str(remote), "log", "-2", "--format=%s", "gh-pages").split("\n")[1] == "theirs"


def test_a_build_changing_during_publish_pushes_nothing(tmp_path, remote, monkeypatch):
    config = project(tmp_path, remote)
    scan = gitbranch.GitTarget.scan

    def scan_while_a_build_runs(self):
        (config.output_path / "index.html").write_text("rebuilt meanwhile")
        return scan(self)

    monkeypatch.setattr(gitbranch.GitTarget, "scan", scan_while_a_build_runs)
    with pytest.raises(PublishError, match="changed while publishing"):
        run(config)
    assert git("--git-dir", str(remote), "branch", "--list") == ""


def test_remote_by_name_prefix_and_branch(tmp_path, remote):
    config = project(tmp_path, "pages-remote", branch="main", prefix="docs", nojekyll=False,
                     author="Desk <desk@example.org>")
    git("init", "--quiet", cwd=config.root)  # no commit yet
    git("remote", "add", "pages-remote", str(remote), cwd=config.root)
    outcome, _ = run(config)
    assert outcome.applied
    assert branch_files(remote, "main") == {f"docs/{k}": v for k, v in as_bytes(SITE).items()}
    log = git("--git-dir", str(remote), "log", "-1", "--format=%an <%ae>%n%B", "main")
    assert log.startswith("Desk <desk@example.org>") and "not a git repository (or no commit yet)" in log


def test_files_outside_the_prefix_are_kept(tmp_path, remote):
    work = tmp_path / "work"
    git("clone", "--quiet", str(remote), str(work))
    (work / "README.md").write_text("main branch readme")
    git("add", ".", cwd=work)
    git("-c", "user.name=O", "-c", "user.email=o@example.org", "commit", "--quiet", "-m", "readme", cwd=work)
    git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=work)
    config = project(tmp_path, remote, branch="main", prefix="docs/")
    run(config)
    write_site(config.output_path, {"index.html": "only"})
    outcome, _ = run(config)
    assert "README.md" not in outcome.plan.deletes
    assert branch_files(remote, "main") == {"README.md": b"main branch readme", "docs/.nojekyll": b"",
                                            "docs/index.html": b"only"}


def test_unreachable_remote_is_a_clear_error(tmp_path):
    config = project(tmp_path, f"file://{tmp_path}/missing.git")
    with pytest.raises(PublishError, match="cannot reach branch gh-pages of git remote"):
        run(config)
    config = project(tmp_path / "b", "no-such-remote")
    with pytest.raises(PublishError, match="not a URL, an existing path, or a remote"):
        run(config)


def test_credentials_in_the_remote_url_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="holds a password or token") as info:
        run(project(tmp_path, "https://user:ghp_SECRET@github.com/org/site.git"))
    assert "ghp_SECRET" not in str(info.value)
