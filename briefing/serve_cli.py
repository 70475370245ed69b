"""`briefing serve`: the command line of the dev server (see briefing.serve)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def _eprint(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def add_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="preview the site: build, serve on 127.0.0.1, rebuild and reload on save",
                              description="Build the site into a temporary folder (never site/), serve it, and "
                              "rebuild and reload every open page when content, templates, static files, "
                              "config.yaml or the curation file change.")
    p.add_argument("--project", default=".", metavar="DIR", help="the archive folder (default: .)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--drafts", action=argparse.BooleanOptionalAction, default=True,
                   help="show articles with draft: true (default: shown)")
    p.add_argument("--open", action="store_true", help="open the site in a web browser")
    p.add_argument("--poll", action="store_true",
                   help="poll for changes (for network and container file systems where events don't arrive)")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N", help="processes (default: all cores)")
    p.add_argument("--search", action="store_true",
                   help="build the Pagefind search index on every rebuild (slow on large archives)")
    p.add_argument("--check-links", action="store_true", help="fail a rebuild on a broken internal link")
    p.add_argument("--verbose", "-v", action="store_true", help="print the timing of every build stage")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import DevServer, is_loopback

    if not 0 <= args.port <= 65535:
        _eprint(f"error: --port {args.port}: a port is a number from 0 to 65535.")
        return 2
    if not is_loopback(args.host):
        _eprint(f"warning: listening on {args.host}: anyone who can reach this machine can read the preview, "
                "drafts included. This server is for previewing, not for publishing.")
    server = DevServer(args.project, host=args.host, port=args.port, drafts=args.drafts, poll=args.poll,
                       jobs=args.jobs, search=args.search, check_links=args.check_links, log=_eprint,
                       verbose=args.verbose)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server.start()
        _eprint(f"Serving {server.project} at {server.url} (drafts {'shown' if args.drafts else 'hidden'}). "
                "Press Ctrl-C to stop.")
        if args.open:
            import webbrowser

            webbrowser.open(server.url)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        _eprint("Stopped.")
    return 0
