"""The `briefing publish` command: argparse wiring around `briefing.publish.publish`.

    briefing publish [TARGET] [--dry-run] [--max-deletes N] [--no-build] [--yes] [--project DIR]

`add_parsers(subparsers)` registers the command on the main CLI's subparsers, with
`func=run` (also as `handler`) as its default; `run(args)` returns the exit code and raises BriefingError for
the CLI to print. `main(argv)` runs the command alone (tests, `python -m briefing.publish_cli`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from . import config as config_module
from .errors import BriefingError
from .publish import DEFAULT_MAX_DELETES, Plan, publish

DESCRIPTION = """\
Build the site for production, then publish it to a target named in config.yaml under
`publish: targets:` (a directory, a git branch or an S3 bucket). Without TARGET, the
`publish: default:` target, or the only one. Shows the plan (uploads, updates, deletes,
unchanged, by content hash) before it changes anything."""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("target", nargs="?", metavar="TARGET",
                        help="a target under publish.targets (default: publish.default, or the only one)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be uploaded and deleted, change nothing")
    parser.add_argument("--max-deletes", type=_count, default=DEFAULT_MAX_DELETES, metavar="N",
                        help=f"refuse to delete more than N files (default {DEFAULT_MAX_DELETES})")
    parser.add_argument("--no-build", action="store_true",
                        help="publish the output folder as it is (it must hold a complete build)")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation before changing the target")
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder, where config.yaml is (default: .)")
    parser.set_defaults(func=run, handler=run)
    return parser


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register `publish` on the main CLI's `add_subparsers()` object."""
    parser = subparsers.add_parser(
        "publish", help="build and publish the site to a directory, git branch or S3 bucket",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    return configure(parser)


def _ask(plan: Plan) -> bool:
    try:
        answer = input(f"Apply these changes to {plan.target}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    config = config_module.load(args.project)
    interactive = sys.stdin is not None and sys.stdin.isatty()
    publish(config, args.target, dry_run=args.dry_run, max_deletes=args.max_deletes,
            build=not args.no_build, confirm=None if args.yes or not interactive else _ask,
            echo=lambda line: print(line, flush=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = configure(argparse.ArgumentParser(
        prog="briefing publish", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except BriefingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
