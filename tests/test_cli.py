"""The command line as a user meets it: init, new, build, exit codes, help, a wheel install."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, make_project, run_cli


def test_help_everywhere():
    for args in ([], ["build"], ["check"], ["init"], ["new"], ["serve"], ["publish"], ["extract"], ["entities"]):
        result = run_cli(*args, "--help")
        assert result.returncode == 0, (args, result.stderr)
        assert "usage: briefing" in result.stdout


def test_bad_usage_exits_2_and_user_error_exits_1_without_traceback(tmp_path: Path):
    assert run_cli("build", "--no-such-flag").returncode == 2
    (tmp_path / "config.yaml").write_text("titel: x\n")
    result = run_cli("build", "--project", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "config.yaml:1: unknown key 'titel'. Did you mean 'title'?" in result.stderr


def test_every_bad_file_is_reported_and_the_previous_site_is_kept(project: Path):
    assert run_cli("build", "--project", str(project)).returncode == 0
    before = {p: p.read_bytes() for p in (project / "site").rglob("*") if p.is_file()}
    (project / "content" / "bad1.md").write_text("---\ntitle: x\ndate: 2025-02-30\n---\nbody\n")
    (project / "content" / "bad2.md").write_text("---\ntitle: [x]\ndate: 2025-01-01\n---\nbody\n")
    result = run_cli("build", "--project", str(project))
    assert result.returncode == 1
    assert "content/bad1.md:3: '2025-02-30' is not a real date" in result.stderr
    assert "content/bad2.md:2: title must be a string, not a list." in result.stderr
    assert "2 content problems found." in result.stderr
    after = {p: p.read_bytes() for p in (project / "site").rglob("*") if p.is_file()}
    assert after == before


def test_new_creates_a_draft_with_todays_date(project: Path):
    result = run_cli("new", 'Talks in "Geneva" resume', "--project", str(project))
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    today = dt.date.today().isoformat()
    assert path.name == f"{today}-talks-in-geneva-resume.md"
    text = path.read_text()
    assert 'title: "Talks in \\"Geneva\\" resume"' in text and f"date: {today}" in text
    assert run_cli("new", 'Talks in "Geneva" resume', "--project", str(project)).returncode == 1


def test_stale_files_are_removed_and_foreign_files_kept(project: Path):
    assert run_cli("build", "--project", str(project)).returncode == 0
    site = project / "site"
    (site / "CNAME").write_text("briefings.example.org\n")  # put there by the user, not by us
    old = site / "articles" / "antwerp-volumes" / "index.html"
    assert old.exists()
    next((project / "content").rglob("*antwerp*.md")).unlink()
    assert run_cli("build", "--project", str(project)).returncode == 0
    assert not old.exists()
    assert (site / "CNAME").read_text() == "briefings.example.org\n"


@pytest.mark.timeout(600)
def test_init_then_build_from_a_wheel_install(tmp_path: Path):
    """The built-in theme ships inside the wheel: a new archive builds with no templates of its own."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(dist), str(REPO)], check=True, capture_output=True)
    wheel = next(dist.glob("briefing-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    where = subprocess.run([str(py), "-c", "import briefing; print(briefing.__file__)"], capture_output=True,
                           text=True, check=True, cwd=tmp_path).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not the source tree
    env = dict(os.environ)
    archive = tmp_path / "x"
    result = subprocess.run([str(venv / "bin" / "briefing"), "init", str(archive)], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert not any((archive / "templates").iterdir())
    result = subprocess.run([str(venv / "bin" / "briefing"), "build"], cwd=archive, capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    page = next((archive / "site" / "articles").glob("*/index.html")).read_text()
    assert "Welcome to your briefing archive" in page
    assert (archive / "site" / "assets" / "style.css").exists()
    assert "Lagarde" in page


def test_site_templates_override_the_theme_by_name(project: Path):
    (project / "templates").mkdir()
    theme = (REPO / "briefing" / "theme" / "templates" / "404.html").read_text()
    (project / "templates" / "404.html").write_text(theme.replace("Page not found", "Nothing here, sorry"))
    assert run_cli("build", "--project", str(project)).returncode == 0
    assert "Nothing here, sorry" in (project / "site" / "404.html").read_text()


def test_template_error_names_the_template_and_line(project: Path):
    (project / "templates").mkdir()
    (project / "templates" / "404.html").write_text('{% extends "base.html" %}\n{% block main %}\n{{ page.nope }}\n'
                                                    "{% endblock %}\n")
    result = run_cli("build", "--project", str(project))
    assert result.returncode == 1
    assert "templates/404.html:3: 'dict object' has no attribute 'nope'" in result.stderr


def test_make_project_fixture_builds(tmp_path: Path):
    root = make_project(tmp_path / "p", articles=2)
    assert run_cli("build", "--project", str(root), "-q").returncode == 0
    assert len(list((root / "site" / "articles").iterdir())) == 2
