"""Bad input, row by row: the real CLI, the exact message a user reads, exit 1, the old site untouched.

Each row starts from a copy of one small archive that has been built once (so `site/` and the
entity cache exist), breaks one thing, runs `python -m briefing build --project DIR` and checks
stderr (no traceback), the exit code, and that `site/` is byte-identical to before.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from robust_helpers import copy_project, error_of, leftovers, make_archive, run_build, tree_hash, write

from briefing.render import THEME_TEMPLATES


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_archive(tmp_path_factory.mktemp("base") / "archive")
    proc = run_build(root)
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    return copy_project(base, tmp_path / "archive")


def article(rel: str, front: str, body: str = "Body text about Baghdad.\n") -> Callable[[Path], None]:
    """A setup step that writes a content file with the given front matter lines."""
    def setup(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return setup


def raw(rel: str, data: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return setup


def config(text: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / "config.yaml").write_text(text, encoding="utf-8")
    return setup


def template(name: str, text: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        write(root / "templates" / name, text)
    return setup


def curation(text: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / "entities.yaml").write_text(text, encoding="utf-8")
    return setup


def big_file(root: Path) -> None:
    path = root / "content/huge.md"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("---\ntitle: Huge\ndate: 2025-01-01\n---\n")
        line = "All work and no play makes a very long briefing indeed. " * 16 + "\n"
        while fh.tell() < 50 * 1000 * 1000:
            fh.write(line * 1000)
        fh.truncate(50 * 1000 * 1000)


def symlink_file_outside(root: Path) -> None:
    outside = root.parent / "outside.md"
    outside.write_text("---\ntitle: Secret\ndate: 2025-01-01\n---\nsecret\n", encoding="utf-8")
    (root / "content/leak.md").symlink_to(outside)


def symlink_folder_outside(root: Path) -> None:
    (root / "content/etc").symlink_to("/etc")


def symlink_loop(root: Path) -> None:
    (root / "content/a.md").symlink_to("b.md")
    (root / "content/b.md").symlink_to("a.md")


def fifo(root: Path) -> None:
    os.mkfifo(root / "content/pipe.md")


def read_only_output(root: Path) -> None:
    # A new article, so the build has something to write (it is not a no-op).
    article("content/new.md", "title: New\ndate: 2025-01-09\n")(root)
    os.chmod(root / "site", 0o555)


def many_bad_files(root: Path) -> None:
    article("content/bad-yaml.md", 'title: "Unclosed\ndate: 2025-01-01\n')(root)
    article("content/bad-date.md", "title: Dated\ndate: 2025-02-30\n")(root)
    article("content/no-title.md", "date: 2025-01-01\n")(root)
    raw("content/empty.md", b"")(root)
    raw("content/zz-binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")(root)
    symlink_file_outside(root)
    article("content/talks.md", "title: Talks again\ndate: 2025-01-07\nslug: baghdad-talks\n")(root)


@dataclass(frozen=True)
class Row:
    id: str
    setup: Callable[[Path], None]
    message: str  # exact stderr from "error:" on; {root} is the project folder
    args: tuple[str, ...] = ()  # extra command-line arguments


ROWS = [
    Row("yaml-syntax-error", article("content/c.md", 'title: "Unclosed quote\ndate: 2025-01-01\n'),
        "error: content/c.md:2: YAML syntax error: a quote opened on this line is never closed. Close it."),
    Row("yaml-tab", article("content/c.md", "title: Tabbed\ndate: 2025-01-01\ntags:\n\t- iraq\n"),
        "error: content/c.md:5: YAML syntax error: a tab character; YAML indents with spaces only. "
        "Replace the tab with spaces."),
    Row("duplicate-key", article("content/c.md", "title: One\ndate: 2025-01-01\ntitle: Two\n"),
        "error: content/c.md:4: YAML syntax error: duplicate key 'title' (first on line 2). Keep only one of them."),
    Row("deeply-nested-yaml",
        article("content/c.md", "title: Deep\ndate: 2025-01-01\nx: " + "[" * 3000 + "]" * 3000 + "\n"),
        "error: content/c.md:2: YAML nested too deeply (lists or mappings inside one another thousands of levels "
        "down). Flatten it."),
    Row("list-for-string", article("content/c.md", "title: [Iraq, Syria]\ndate: 2025-01-01\n"),
        "error: content/c.md:2: title must be a string, not a list."),
    Row("impossible-date", article("content/c.md", "title: Leap\ndate: 2025-02-30\n"),
        "error: content/c.md:3: '2025-02-30' is not a real date (day is out of range for month). "
        "Write a real date as YYYY-MM-DD."),
    Row("word-date", article("content/c.md", "title: Vague\ndate: yesterday\n"),
        "error: content/c.md:3: date 'yesterday' is not a date. Write it as YYYY-MM-DD, "
        "or YYYY-MM-DDTHH:MM:SS+HH:MM."),
    Row("unclosed-front-matter", raw("content/c.md", b"---\ntitle: Open\ndate: 2025-01-01\n\nBody.\n"),
        "error: content/c.md:1: front matter opened with '---' on line 1 is never closed. "
        "Add a line with '---' after the last front-matter key."),
    Row("latin1-undeclared", raw("content/c.md", "---\ntitle: Café\ndate: 2025-01-01\n---\nBody.\n".encode("latin-1")),
        "error: content/c.md:2: is not UTF-8: byte 0xe9 at byte offset 14. Save the file as UTF-8, "
        "or declare its encoding in the front matter (e.g. `encoding: latin-1`)."),
    Row("empty-file", raw("content/c.md", b""),
        "error: content/c.md: is empty. Add front matter with a title and a date, or delete the file."),
    Row("whitespace-only-file", raw("content/c.md", b"\n  \n"),
        "error: content/c.md: is empty. Add front matter with a title and a date, or delete the file."),
    Row("50-MB-file", big_file,
        "error: content/huge.md: is 50.0 MB; content files are limited to 10 MB. Split it or remove it."),
    Row("binary-file", raw("content/photo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
        "error: content/photo.md: is a binary file (it contains NUL bytes); content files must be UTF-8 text. "
        "Move it out of content/."),
    Row("two-files-one-slug", article("content/2024/mosul-strike.md", "title: Again\ndate: 2024-01-01\n"),
        "error: content/2025/2025-01-02-mosul-strike.md: has the same slug as content/2024/mosul-strike.md: "
        "both would be written to /articles/mosul-strike/. Give one of them a different `slug:`."),
    Row("slug-traversal", article("content/c.md", "title: Escape\ndate: 2025-01-01\nslug: ../../etc\n"),
        "error: content/c.md:4: slug '../../etc' may not contain '/', '\\' or '..'; use letters, digits "
        "and hyphens, e.g. 'iraq-strike'."),
    Row("symlink-file-outside", symlink_file_outside,
        "error: content/leak.md: is a link to a file outside the project; refusing to read it. "
        "Copy the file into the project instead."),
    Row("symlink-folder-outside", symlink_folder_outside,
        "error: content/etc: is a link to a folder outside the project; refusing to follow it. "
        "Copy the folder into the project instead."),
    Row("symlink-loop", symlink_loop,
        "error:\ncontent/a.md: cannot be read: Too many levels of symbolic links.\n"
        "content/b.md: cannot be read: Too many levels of symbolic links.\n2 content problems found."),
    Row("fifo", fifo,
        "error: content/pipe.md: is not a regular file (a pipe, socket or device); content/ holds only "
        "plain files. Remove it from content/."),
    Row("javascript-url", article("content/c.md", "title: Link\ndate: 2025-01-01\nurl: javascript:alert(1)\n"),
        "error: content/c.md:4: url 'javascript:alert(1)' must be a web address starting with http:// or https://."),
    Row("config-unknown-keys",
        config('title: T\nbase_url: "https://example.org/"\npagniate: 5\nsearch: {enabled: false, enable: true}\n'),
        "error:\nconfig.yaml:3: unknown key 'pagniate'. Did you mean 'paginate'? Known keys here: title, "
        "description, base_url, language, author, content_dir, output_dir, templates_dir, static_dir, paginate, "
        "markdown, nlp, entities, tags, search, publish, extra.\n"
        "config.yaml:4: unknown key 'search.enable'. Did you mean 'search.enabled'? Known keys here: enabled.\n"
        "2 configuration problems found."),
    Row("config-wrong-types",
        config('title: [T]\nbase_url: "https://example.org/"\npaginate: "ten"\nsearch: {enabled: "no"}\n'
               "entities: {page_kinds: person}\n"),
        "error:\nconfig.yaml:1: 'title' must be a string, not a list.\n"
        "config.yaml:3: 'paginate' must be a whole number, not 'ten'.\n"
        "config.yaml:4: 'search.enabled' must be true or false, not 'no'.\n"
        "config.yaml:5: 'entities.page_kinds' must be a list, not 'person'.\n"
        "4 configuration problems found."),
    Row("config-base-url-without-scheme", config('title: T\nbase_url: "example.org/briefings/"\n'),
        "error: config.yaml:2: base_url 'example.org/briefings/' needs a scheme and a host, "
        "e.g. 'https://example.org/briefings/'."),
    Row("config-base-url-with-quote", config('title: T\nbase_url: "https://example.org/\\"><script>/"\n'),
        "error: config.yaml:2: base_url 'https://example.org/\"><script>/' contains a space, quote, '<', '>' or "
        "backslash; write the plain address, e.g. 'https://example.org/briefings/'."),
    Row("config-output-inside-content",
        config('title: T\nbase_url: "https://example.org/"\noutput_dir: content/site\n'),
        "error: config.yaml:3: output_dir 'content/site' and content_dir 'content' overlap, so the build would read "
        "its own output back. Use separate folders, e.g. content_dir: content and output_dir: site."),
    Row("cli-output-is-the-project", lambda root: None,
        "error: --output: output_dir '{root}' cannot be the project folder or a folder above it; the build "
        "replaces that folder whole. Use e.g. 'site'.", args=("--output", ".")),
    Row("template-syntax-error",
        template("article.html", '{% extends "base.html" %}\n{% block main %}\n<h1>{{ page.title }</h1>\n'
                 "{% endblock %}\n"),
        "error: templates/article.html:3: template syntax error: unexpected '}'"),
    Row("template-undefined-variable",
        template("article.html", '{% extends "base.html" %}\n{% block main %}\n<h1>{{ page.title }}</h1>\n'
                 "<p>{{ byline }}</p>\n{% endblock %}\n"),
        "error: templates/article.html:4: 'byline' is undefined (while rendering /articles/baghdad-talks/). "
        "Check the variable's name; `page` holds this page's data."),
    Row("template-expression-raises",
        template("article.html", '{% extends "base.html" %}\n{% block main %}\n<p>{{ page.title + 1 }}</p>\n'
                 "{% endblock %}\n"),
        "error: templates/article.html:3: TypeError: can only concatenate str (not \"int\") to str "
        "(while rendering /articles/baghdad-talks/). Fix the expression on this line."),
    Row("template-include-missing",
        template("article.html", '{% extends "base.html" %}\n{% block main %}\n{% include "byline.html" %}\n'
                 "{% endblock %}\n"),
        "error: templates/article.html:3: template 'byline.html' not found in {root}/templates, {theme}."),
    Row("curation-alias-claimed-twice",
        curation("entities:\n  - name: Islamic State\n    kind: organization\n    aliases: [ISIS, IS]\n"
                 "  - name: Iraqi State\n    kind: organization\n    aliases: [IS]\n"),
        "error: entities.yaml:5: 'IS' is claimed by both 'Islamic State' (line 2) and 'Iraqi State'. "
        "Keep it on one entity, or list the pair under not_same if they are different."),
    Row("curation-javascript-link",
        curation("entities:\n  - name: Islamic State\n    kind: organization\n"
                 "    links: ['javascript:alert(1)']\n"),
        "error: entities.yaml:4: entity 'Islamic State': link 'javascript:alert(1)' must start with "
        "http:// or https://."),
    Row("read-only-output", read_only_output,
        "error: {root}/site: the output folder is read-only. Make it writable (chmod u+w {root}/site) "
        "or choose another with --output."),
    Row("every-bad-file-in-one-run", many_bad_files,
        "error:\n"
        "content/leak.md: is a link to a file outside the project; refusing to read it. "
        "Copy the file into the project instead.\n"
        "content/bad-date.md:3: '2025-02-30' is not a real date (day is out of range for month). "
        "Write a real date as YYYY-MM-DD.\n"
        "content/bad-yaml.md:2: YAML syntax error: a quote opened on this line is never closed. Close it.\n"
        "content/empty.md: is empty. Add front matter with a title and a date, or delete the file.\n"
        "content/no-title.md:1: missing title. Add `title: \"...\"` to the front matter.\n"
        "content/zz-binary.md: is a binary file (it contains NUL bytes); content files must be UTF-8 text. "
        "Move it out of content/.\n"
        "content/talks.md: has the same slug as content/2025/2025-01-05-baghdad-talks.md: both would be written "
        "to /articles/baghdad-talks/. Give one of them a different `slug:`.\n"
        "7 content problems found."),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, project: Path) -> None:
    site = project / "site"
    before = tree_hash(site)
    row.setup(project)
    try:
        proc = run_build(project, *row.args, timeout=120)
    finally:
        os.chmod(site, 0o755)
    assert proc.returncode == 1, proc.stderr
    assert error_of(proc) == row.message.replace("{root}", str(project)).replace("{theme}", str(THEME_TEMPLATES))
    assert tree_hash(site) == before, "a failed build changed site/"
    assert leftovers(project) == []


# --- inputs that are accepted -------------------------------------------------------------------


def h1(site: Path, slug: str) -> str:
    html = (site / "articles" / slug / "index.html").read_text(encoding="utf-8")
    return html.split("<h1>", 1)[1].split("</h1>", 1)[0]


def test_latin1_with_declared_encoding(project: Path) -> None:
    raw("content/cafe.md", "---\ntitle: Café talks in Baghdad\ndate: 2025-01-03\nencoding: latin-1\n---\n"
        "Naïve diplomacy in Baghdad.\n".encode("latin-1"))(project)
    proc = run_build(project)
    assert proc.returncode == 0, proc.stderr
    assert h1(project / "site", "cafe") == "Café talks in Baghdad"
    assert "Naïve diplomacy" in (project / "site/articles/cafe/index.html").read_text(encoding="utf-8")


def test_unknown_declared_encoding(project: Path) -> None:
    data = "---\ntitle: Café\ndate: 2025-01-03\nencoding: klingon\n---\nBody.\n".encode("latin-1")
    raw("content/c.md", data)(project)
    before = tree_hash(project / "site")
    proc = run_build(project)
    assert proc.returncode == 1
    assert error_of(proc) == ("error: content/c.md:1: cannot be decoded as the declared encoding 'klingon': "
                              "unknown encoding: klingon.")
    assert tree_hash(project / "site") == before


def test_bom_and_crlf_are_accepted(project: Path) -> None:
    raw("content/bom.md", b"\xef\xbb\xbf---\ntitle: With a BOM\ndate: 2025-01-03\n---\nBody.\n")(project)
    raw("content/crlf.md", b"---\r\ntitle: With CRLF\r\ndate: 2025-01-04\r\n---\r\nOne.\r\n\r\nTwo.\r\n")(project)
    raw("content/2025-01-06-bomcrlf.txt", b"\xef\xbb\xbfHeadline of a txt\r\n\r\nBody of it.\r\n")(project)
    proc = run_build(project)
    assert proc.returncode == 0, proc.stderr
    site = project / "site"
    assert h1(site, "bom") == "With a BOM"
    assert h1(site, "crlf") == "With CRLF"
    assert h1(site, "bomcrlf") == "Headline of a txt"
    body = (site / "articles/crlf/index.html").read_text(encoding="utf-8")
    assert "<p>One.</p>\n<p>Two.</p>" in body and "\r" not in body
    assert "\ufeff" not in (site / "articles/bom/index.html").read_text(encoding="utf-8")


def test_binary_asset_is_copied_as_is(project: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    raw("content/2025/map.png", data)(project)
    proc = run_build(project)
    assert proc.returncode == 0, proc.stderr
    assert (project / "site/files/2025/map.png").read_bytes() == data


# --- the project lock -----------------------------------------------------------------------------


def test_locked_project_is_refused(project: Path) -> None:
    lock = project / ".briefing-cache" / "build.lock"
    before = tree_hash(project / "site")
    article("content/new.md", "title: New\ndate: 2025-01-09\n")(project)
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = run_build(project)
    assert proc.returncode == 1
    assert error_of(proc) == (f"error: another build of this project is running (lock: {lock}). "
                              "Wait for it to finish, then try again.")
    assert tree_hash(project / "site") == before
    assert run_build(project).returncode == 0  # once the lock is free, the build runs

