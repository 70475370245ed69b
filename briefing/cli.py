"""The command line: `briefing build | serve | publish | check | init | new | extract | entities`.

Exit codes: 0 success; 1 a user error (a message, never a traceback); 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from . import config as config_mod
from .errors import BriefingError
from .slug import slugify


def _eprint(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load_config(args: argparse.Namespace):  # noqa: ANN202
    cfg = config_mod.load(args.project)
    if getattr(args, "output", None):
        out = Path(args.output)
        cfg = cfg.with_changes(output_dir=str(out if out.is_absolute() else Path.cwd() / out))
        config_mod.check_output(cfg)
    return cfg


def cmd_build(args: argparse.Namespace) -> int:
    from . import preload
    from .listing import MANIFEST

    cfg = _load_config(args)
    # A rebuild's model loads in a worker while this process imports the build's modules and
    # reads the archive (preload.py); the build closes it unused if nothing needs the model.
    preloaded = preload.start(cfg) if (cfg.output_path / MANIFEST).is_file() else None
    try:
        from .build import build
    except BaseException:
        if preloaded is not None:
            preloaded.close()
        raise
    # The caches for the next build are written after this command returns (cache_writes.py),
    # unless asked to wait, or in CI, where a later step may save or upload the cache folder.
    wait = args.wait or os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    result = build(cfg, drafts=args.drafts, jobs=args.jobs, log=None if args.quiet else _eprint,
                   progress=sys.stderr.isatty() and not args.quiet, detach_cache_writes=not wait,
                   preloaded=preloaded)
    if not args.quiet:
        if result.noop:
            _eprint(f"Nothing changed: {result.output} is up to date.")
        else:
            _eprint(f"Built {result.articles} articles into {result.output}: {result.pages} pages, "
                    f"{result.rendered} rendered, {result.written} files written.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from . import links

    cfg = _load_config(args)
    site = cfg.output_path
    if not site.is_dir():
        raise BriefingError(f"{site}: no such folder. Run `briefing build` first.")
    broken = links.check(site, cfg.base_path)
    if broken:
        raise links.BrokenLinksError(broken)
    print(f"{site}: every internal link and anchor resolves.")
    return 0


SAMPLE_CONFIG = """\
# briefing configuration. Every key is optional; see the README for the full reference.
title: "{title}"
description: "A briefing archive."
base_url: "http://localhost:8000/"
language: en
paginate: 20
"""

SAMPLE_ARTICLE = """\
---
title: "Welcome to your briefing archive"
date: {date}
tags: [meta]
summary: "How this archive works: write Markdown, build, and every name becomes a page."
---
This archive turns plain Markdown briefings into a cross-linked site. Write an article about
the European Central Bank meeting in Frankfurt, mention Christine Lagarde, and the build gives
Lagarde, the bank and the city a page of their own, each listing every briefing that names them.

Add files under `content/` with a title and a date in the front matter, then run
`briefing build` or `briefing serve`.
"""

SAMPLE_CURATION = """\
# Curated entities win over the model: aliases, kinds, descriptions, links.
entities: []
ignore: []
"""


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    if target.exists() and any(target.iterdir()):
        raise BriefingError(f"{target}: the folder is not empty. Choose a new or empty folder.")
    (target / "content").mkdir(parents=True, exist_ok=True)
    (target / "templates").mkdir(exist_ok=True)
    (target / "static").mkdir(exist_ok=True)
    title = args.title or target.resolve().name.replace("-", " ").title()
    (target / "config.yaml").write_text(SAMPLE_CONFIG.format(title=title.replace('"', "'")), encoding="utf-8")
    (target / "entities.yaml").write_text(SAMPLE_CURATION, encoding="utf-8")
    today = dt.date.today().isoformat()
    (target / "content" / f"{today}-welcome.md").write_text(SAMPLE_ARTICLE.format(date=today), encoding="utf-8")
    (target / ".gitignore").write_text("site/\n.site.*/\n.briefing-cache/\n", encoding="utf-8")
    print(f"Created a new archive in {target}. Next: cd {target} && briefing build")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.project)
    today = dt.date.today()
    slug = slugify(args.title, fallback="briefing")
    folder = cfg.content_path / str(today.year)
    path = folder / f"{today.isoformat()}-{slug}.md"
    if path.exists():
        raise BriefingError(f"{path}: already exists. Choose another title.")
    folder.mkdir(parents=True, exist_ok=True)
    title = args.title.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(f'---\ntitle: "{title}"\ndate: {today.isoformat()}\ntags: []\ndraft: true\n---\n\n',
                    encoding="utf-8")
    print(path)
    return 0


def _add_project(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", default=".", metavar="DIR", help="the archive folder (default: .)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="briefing", description="Build a cross-linked static site from an "
                                     "archive of news briefings, with every person, organisation and place a page.")
    parser.add_argument("--version", action="version", version=f"briefing {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("build", help="build the site into site/")
    _add_project(p)
    p.add_argument("--output", metavar="DIR", help="write the site here instead of output_dir")
    p.add_argument("--drafts", action="store_true", help="include articles with draft: true")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N", help="processes (default: all cores)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    p.add_argument("--wait", action="store_true",
                   help="return only once the cache for the next build is written too (the default "
                        "when the CI environment variable is set)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("check", help="check every internal link of a built site")
    _add_project(p)
    p.add_argument("--output", metavar="DIR", help="the built site to check (default: output_dir)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("init", help="create a new archive that builds at once")
    p.add_argument("dir", help="the folder to create")
    p.add_argument("--title", help="the site's title")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("new", help="create a content file with front matter and today's date")
    p.add_argument("title", help="the article's title")
    _add_project(p)
    p.set_defaults(func=cmd_new)

    for name in ("serve_cli", "publish_cli", "entities_cli"):
        module = _optional(name)
        if module is not None:
            module.add_parsers(sub)
    return parser


def _optional(name: str):  # noqa: ANN202
    import importlib

    try:
        return importlib.import_module(f"briefing.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"briefing.{name}":
            return None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BriefingError as exc:
        _eprint(f"error: {exc}" if "\n" not in str(exc) else f"error:\n{exc}")
        return 1
    except KeyboardInterrupt:
        _eprint("interrupted")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def run() -> None:
    """The `briefing` command: `main`, then exit without taking the heap apart object by object.

    A build of ten thousand articles ends holding millions of objects; freeing them at exit cost
    0.3 s of every rebuild. Nothing is left to run by then: pools are closed, files written,
    and deletions run in detached processes.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
