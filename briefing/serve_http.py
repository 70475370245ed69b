"""The HTTP half of `briefing serve`: one folder served with live reload, and the state it reports.

- `LiveServer` (stdlib ThreadingHTTPServer, daemon threads, a socket timeout per connection)
  serves one folder: pretty URLs (`a/b/` is `a/b/index.html`, `a/b` redirects to `a/b/`), the
  site's own 404.html, correct MIME types, no directory listings, nothing outside the folder
  (`..`, its encoded forms and symlinks are refused). Requests wait while a build is in flight.
- Into HTML responses only, `inject` adds a script that listens on `/__briefing/events`
  (server-sent events, on the same port) and reloads the page, swaps stylesheets after a
  CSS-only change, or shows the build error over the last good page.
- `SiteState` is what the build thread tells the request threads: generation, error, building.
"""

from __future__ import annotations

import json
import mimetypes
import os
import secrets
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

Log = Callable[[str], None]

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
        self.pages_served = 0  # HTML pages sent (see wait_page_served)

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

    def previewed(self) -> None:
        """Some pages were re-rendered ahead of a full build: reload, without counting a build."""
        with self.cond:
            self.generation += 1
            self.reload = self.generation
            self.version += 1
            self.cond.notify_all()

    def page_served(self) -> None:
        with self.cond:
            self.pages_served += 1
            self.cond.notify_all()

    def wait_page_served(self, since: int, timeout: float) -> bool:
        """Wait until an HTML page has been sent after the `since`-th one (a browser reloading
        after a quick preview), or `timeout` seconds."""
        with self.cond:
            return self.cond.wait_for(lambda: self.pages_served > since or self.closed, timeout)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.version += 1
            self.cond.notify_all()

    def wait_idle(self, timeout: float = 600.0) -> None:
        with self.cond:
            # Before the first build has finished there is nothing to serve yet: wait for it too.
            self.cond.wait_for(lambda: (not self.building and self.builds > 0) or self.closed, timeout)

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
        if ctype.startswith("text/html"):
            state.page_served()

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
