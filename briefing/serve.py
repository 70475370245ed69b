"""`briefing serve`: build into a temporary folder, serve it on loopback, rebuild and reload on save.

    DevServer(project, port=0).start()  ->  .url, .state, .builder;  .stop()

The parts, each knowing as little as it can (as in MkDocs' livereload):
- `LiveServer` (stdlib ThreadingHTTPServer) serves one folder: pretty URLs, the site's own
  404.html, no directory listings, nothing outside the folder. Into HTML responses only it
  injects a small script that listens on `/__briefing/events` (server-sent events) and reloads
  the page, swaps stylesheets after a CSS-only change, or shows the build error over the page.
- `Rebuilder` is the one build thread: it calls a `builder(changes) -> bool` callable (True when
  the output changed) and publishes the outcome in `SiteState`. Requests wait while a build is in
  flight; a failed build leaves the last good site in place and its error on every open page.
- `ProjectBuilder` is the builder for a briefing project: `build.build()` into the temporary
  folder with one `Enricher` kept alive, so the spaCy model stays loaded between rebuilds.
- `briefing.watch.Watcher` turns saves into debounced batches for `Rebuilder.request`.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from . import config as config_mod
from .config import CONFIG_NAME, Config, SearchConfig
from .errors import BriefingError, BuildLockedError

Log = Callable[[str], None]
Builder = Callable[[frozenset[Path]], bool]
LIVE = "/__briefing/"
LOOPBACK = ("127.0.0.1", "::1", "localhost")

MIME = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".json": "application/json", ".map": "application/json",
    ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif",
    ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".wasm": "application/wasm",
    ".pdf": "application/pdf", ".webmanifest": "application/manifest+json",
}


def mime_type(name: str) -> str:
    import mimetypes

    suffix = os.path.splitext(name)[1].lower()
    return MIME.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class SiteState:
    """What is being served, shared by the build thread and the request threads."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.instance = secrets.token_hex(4)  # a restarted server makes every page reload
        self.building = False
        self.ready = False  # a good build is in the folder
        self.generation = 0  # bumps whenever the served files change
        self.reload = 0  # the last generation that needs a full page reload (not CSS-only)
        self.error: str | None = None
        self.builds = 0  # builds finished, failed or not
        self.version = 0  # bumps on any change above, for the event streams
        self.closed = False

    def begin(self) -> None:
        with self.cond:
            self.building = True
            self.version += 1
            self.cond.notify_all()

    def end(self, *, changed: bool, css_only: bool, error: str | None) -> None:
        with self.cond:
            self.building = False
            self.builds += 1
            self.error = error
            if error is None:
                self.ready = True
            if changed and error is None:
                self.generation += 1
                if not css_only:
                    self.reload = self.generation
            self.version += 1
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.version += 1
            self.cond.notify_all()

    def wait_idle(self, timeout: float = 600.0) -> None:
        with self.cond:
            self.cond.wait_for(lambda: not self.building or self.closed, timeout)

    def wait_builds(self, count: int, timeout: float = 60.0) -> bool:
        """Wait until `count` builds have finished (for tests and tools)."""
        with self.cond:
            return self.cond.wait_for(lambda: self.builds >= count and not self.building, timeout)

    def wait_change(self, seen: int, timeout: float) -> tuple[int, dict]:
        with self.cond:
            self.cond.wait_for(lambda: self.version != seen or self.closed, timeout)
            return self.version, self.snapshot()

    def snapshot(self) -> dict:
        return {"instance": self.instance, "generation": self.generation, "reload": self.reload,
                "error": self.error, "building": self.building}


class Rebuilder:
    """The one build thread. `request(changes)` from any thread; builds never overlap."""

    def __init__(self, builder: Builder, state: SiteState, log: Log):
        self.builder = builder
        self.state = state
        self.log = log
        self._pending: set[Path] | None = None
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="briefing-build", daemon=True)

    def start(self) -> Rebuilder:
        self._thread.start()
        return self

    def request(self, changes: frozenset[Path] = frozenset()) -> None:
        with self._cond:
            self._pending = (self._pending or set()) | set(changes)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=1)

    def _say(self, message: str) -> None:
        if not self._stopped:  # a build cut short by Ctrl-C has nothing to tell
            self.log(message)

    def _run(self) -> None:
        first = True
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stopped)
                if self._stopped:
                    return
                changes = frozenset(self._pending or ())
                self._pending = None
            self.state.begin()
            changed, error = False, None
            try:
                changed = self.builder(changes)
            except BriefingError as exc:
                error = str(exc)
                self._say(f"Build failed; still serving the last good site.\n{error}")
            except Exception:  # noqa: BLE001 - a bug must not kill the server either
                error = "Internal error (a bug in briefing; please report it):\n" + traceback.format_exc()
                self._say(error)
            css_only = not first and bool(changes) and all(p.suffix.lower() == ".css" for p in changes)
            self.state.end(changed=changed or first, css_only=css_only, error=error)
            first = first and error is not None


class ProjectBuilder:
    """Builds a project into `output` for serving; keeps one Enricher (and its model) loaded."""

    def __init__(self, project: Path, output: Path, *, base_url: str, drafts: bool = True, jobs: int | None = None,
                 search: bool = False, check_links: bool = False, log: Log | None = None, verbose: bool = False):
        self.project = Path(project)
        self.output = Path(output)
        self.base_url = base_url
        self.drafts = drafts
        self.jobs = jobs or os.cpu_count() or 1
        self.search = search
        self.check_links = check_links
        self.log = log or (lambda _msg: None)
        self.verbose = verbose
        self.config: Config | None = None
        self.enricher: object | None = None
        self.last = None  # the last successful BuildResult (for tests and the benchmark)
        self.count = 0  # successful builds
        self.on_config: Callable[[Config], None] | None = None
        self._config_stale = True

    def load_config(self) -> Config:
        cfg = config_mod.load(self.project)
        return cfg.with_changes(base_url=self.base_url,
                                search=SearchConfig(enabled=cfg.search.enabled and self.search))

    def __call__(self, changes: frozenset[Path]) -> bool:
        from .build import build

        if self.config is None or self._config_stale or any(p.name == CONFIG_NAME for p in changes):
            self._config_stale = True
            cfg = self.load_config()  # a ConfigError leaves the old config and model in place
            self._config_stale = False
            if cfg != self.config or self.enricher is None:
                from .enrich import Enricher

                self.config, self.enricher = cfg, Enricher(cfg, jobs=self.jobs)
                if self.on_config is not None:
                    self.on_config(cfg)
        assert self.config is not None
        started = time.perf_counter()
        deadline = time.monotonic() + 60
        while True:
            try:
                result = build(self.config, output=self.output, drafts=self.drafts, jobs=self.jobs,
                               enricher=self.enricher, check_links=self.check_links,
                               log=self.log if self.verbose else None)
                break
            except BuildLockedError:  # a `briefing build` of the same project: wait for it
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
        self.last, self.count = result, self.count + 1
        took = time.perf_counter() - started
        shown = ", ".join(sorted(_shown(p, self.config.root) for p in changes)[:3])
        more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        why = f" ({shown}{more} changed)" if changes else ""
        if result.noop:
            self.log(f"Nothing to rebuild{why}.")
        else:
            self.log(f"Built in {took:.2f}s{why}: {result.articles} articles, {result.rendered} of "
                     f"{result.pages} pages rendered, NER on {result.model_calls}.")
        return not result.noop


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# -- HTTP ---------------------------------------------------------------------------------------


class LiveServer(ThreadingHTTPServer):
    """Serves `root` with live reload. Daemon threads; every connection has a socket timeout."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, host: str, port: int, root: Path, state: SiteState, log: Log):
        self.root = Path(root)
        self.state = state
        self.log = log
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return  # a client went away or stalled: nothing to report
        self.log("Error while answering a request (a bug in briefing):\n" + traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: LiveServer
    protocol_version = "HTTP/1.1"
    server_version = "briefing-serve"
    timeout = 20  # seconds a client may stall on a read or write before the connection is dropped

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass  # a preview server's access log is noise

    def _answer(self, head: bool) -> None:
        raw = urlsplit(self.path)
        path, query = raw.path, raw.query
        if not path.startswith("/"):
            return self._plain(HTTPStatus.BAD_REQUEST, "Bad request.", head)
        if path == LIVE + "live.js":
            return self._send(HTTPStatus.OK, "text/javascript; charset=utf-8", LIVE_JS.encode(), head)
        if path == LIVE + "events":
            return self._events(head)
        parts = safe_parts(path)
        if parts is None:
            return self._plain(HTTPStatus.FORBIDDEN, "Forbidden: the path leaves the site.", head)
        state = self.server.state
        state.wait_idle()
        with state.cond:
            generation, ready = (state.instance, state.generation), state.ready
        if not ready:
            return self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/html; charset=utf-8",
                              inject(NOT_BUILT, *generation), head)
        root = os.path.realpath(self.server.root)
        target = os.path.realpath(os.path.join(root, *parts))
        if target != root and not target.startswith(root + os.sep):
            return self._plain(HTTPStatus.FORBIDDEN, "Forbidden: the path leaves the site.", head)
        if any(p.startswith(".") for p in parts):
            return self._not_found(root, generation, head)
        if os.path.isdir(target):
            if not path.endswith("/"):
                location = "/" + "".join(quote(p) + "/" for p in parts) + (f"?{query}" if query else "")
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.send_header("Cache-Control", "no-store")
                return self.end_headers()
            target = os.path.join(target, "index.html")
        try:
            with open(target, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            return self._not_found(root, generation, head)
        ctype = mime_type(target)
        if ctype.startswith("text/html"):
            data = inject(data, *generation)
        self._send(HTTPStatus.OK, ctype, data, head)

    def _not_found(self, root: str, generation: tuple[str, int], head: bool) -> None:
        try:
            with open(os.path.join(root, "404.html"), "rb") as fh:
                page = fh.read()
        except OSError:
            page = b"<!doctype html><title>Not found</title><body><h1>Not found</h1></body>"
        self._send(HTTPStatus.NOT_FOUND, "text/html; charset=utf-8", inject(page, *generation), head)

    def _plain(self, status: HTTPStatus, text: str, head: bool) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode() + b"\n", head)

    def _send(self, status: HTTPStatus, ctype: str, data: bytes, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _events(self, head: bool) -> None:
        """Server-sent events: the state now, then on every change; a comment as keep-alive."""
        self.close_connection = True
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        state = self.server.state
        seen = -1
        try:
            self.wfile.write(b"retry: 500\n\n")
            while True:
                version, snap = state.wait_change(seen, timeout=15)
                if state.closed:
                    return
                if version == seen:
                    self.wfile.write(b": keep-alive\n\n")
                elif not snap["building"]:
                    seen = version
                    self.wfile.write(b"event: state\ndata: " + json.dumps(snap).encode() + b"\n\n")
                else:
                    seen = version
        except OSError:
            pass


def safe_parts(path: str) -> list[str] | None:
    """The URL path as folder names under the site root; None when it tries to leave the root.

    Decoded once (so `%2e%2e` is `..`, and `%252e` is the literal name `%2e`), then refused when
    any part is `..`, or holds a NUL or a backslash.
    """
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if any(p == ".." or "\0" in p or "\\" in p for p in parts):
        return None
    return parts


def inject(html: bytes, instance: str, generation: int) -> bytes:
    """Add the live-reload script before the last </body> (or at the end)."""
    tag = f'<script src="{LIVE}live.js?s={instance}&amp;g={generation}"></script>'.encode()
    at = html.lower().rfind(b"</body>")
    return html[:at] + tag + html[at:] if at >= 0 else html + tag


NOT_BUILT = (b"<!doctype html><html><head><meta charset=\"utf-8\"><title>Building\xe2\x80\xa6</title></head>"
             b"<body><p>The site has not been built yet. This page reloads by itself when it is.</p></body></html>")

LIVE_JS = r"""(function () {
  "use strict";
  var src = new URL(document.currentScript.src);
  var instance = src.searchParams.get("s"), gen = Number(src.searchParams.get("g") || 0), box = null;
  function show(text) {
    if (!box) {
      box = document.createElement("div");
      box.id = "briefing-error";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;left:0;right:0;bottom:0;max-height:60vh;overflow:auto;" +
        "z-index:2147483647;padding:1em 1.25em;background:#2b0b0b;color:#ffe9e9;text-align:left;" +
        "font:14px/1.45 ui-monospace,Menlo,Consolas,monospace;border-top:4px solid #e5484d";
      var head = document.createElement("strong");
      head.textContent = "Build failed \u2014 showing the last good site. Fix the file and save: " +
        "this page updates itself.";
      var pre = document.createElement("pre");
      pre.style.cssText = "white-space:pre-wrap;margin:.6em 0 0;font:inherit";
      box.appendChild(head);
      box.appendChild(pre);
      document.body.appendChild(box);
    }
    box.lastChild.textContent = text;
  }
  function swapStyles() {
    document.querySelectorAll('link[rel~="stylesheet"]').forEach(function (link) {
      var url = new URL(link.href, location.href);
      if (url.origin !== location.origin) return;
      url.searchParams.set("__reload", Date.now());
      var next = link.cloneNode();
      next.href = url.href;
      next.onload = next.onerror = function () { link.remove(); };
      link.after(next);
    });
  }
  var events = new EventSource("/__briefing/events");
  events.addEventListener("state", function (e) {
    var s = JSON.parse(e.data);
    if (s.instance !== instance || s.reload > gen) { events.close(); location.reload(); return; }
    if (s.generation > gen) { gen = s.generation; swapStyles(); }
    if (s.error) show(s.error); else if (box) { box.remove(); box = null; }
  });
})();
"""


# -- the whole server -------------------------------------------------------------------------


class DevServer:
    """Builder, build thread, watcher and HTTP server for one project. Binds at construction."""

    def __init__(self, project: Path | str, *, host: str = "127.0.0.1", port: int = 8000, drafts: bool = True,
                 poll: bool = False, jobs: int | None = None, search: bool = False, check_links: bool = False,
                 quiet: float = 0.1, log: Log | None = None, verbose: bool = False):
        self.project = Path(project).resolve()
        self.log = log or (lambda _msg: None)
        self.poll = poll
        self.quiet = quiet
        self.state = SiteState()
        self._tmp = Path(tempfile.mkdtemp(prefix="briefing-serve-"))
        self.output = self._tmp / "site"
        try:
            self.httpd = LiveServer(host, port, self.output, self.state, self.log)
        except OSError as exc:
            shutil.rmtree(self._tmp, ignore_errors=True)
            if exc.errno == errno.EADDRINUSE:
                raise BriefingError(f"{host}:{port} is already in use (another server?). Stop it, or choose "
                                    "another port with --port N (--port 0 picks a free one).") from None
            raise BriefingError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
        self.host = host
        self.port = self.httpd.server_address[1]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else ("[::1]" if host == "::" else host)
        shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
        self.url = f"http://{shown}:{self.port}/"
        self.builder = ProjectBuilder(self.project, self.output, base_url=self.url, drafts=drafts, jobs=jobs,
                                      search=search, check_links=check_links, log=self.log, verbose=verbose)
        self.rebuilder = Rebuilder(self.builder, self.state, self.log)
        self.watcher = None
        self._threads: list[threading.Thread] = []

    def start(self) -> DevServer:
        from .watch import Watcher

        try:
            cfg = config_mod.load(self.project)
        except BriefingError:  # the first build will report it; watch the default places meanwhile
            cfg = Config(root=self.project)
        self.watcher = Watcher(cfg, self.rebuilder.request, poll=self.poll, quiet=self.quiet).start()
        self.builder.on_config = self.watcher.retarget
        self.rebuilder.start()
        self.rebuilder.request()
        thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                  name="briefing-http", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.rebuilder.stop()
        self.state.close()
        if self._threads:
            self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def main(args: object) -> int:
    """`briefing serve` (kept for callers of the older entry point)."""
    from .serve_cli import cmd_serve

    return cmd_serve(args)  # type: ignore[arg-type]
