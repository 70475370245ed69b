"""`briefing serve`: build into a temporary folder, serve it on loopback, rebuild and reload on save.

    DevServer(project, port=0).start()  ->  .url, .state, .builder;  .stop()

The parts, each knowing as little as it can (as in MkDocs' livereload):
- `briefing.serve_http.LiveServer` serves one folder with live reload (see that module): the
  site's 404.html, pretty URLs, nothing outside the folder, a small script injected into HTML
  responses that reloads the page, swaps stylesheets, or shows the build error over the page.
- `Rebuilder` is the one build thread: it calls a `builder(changes) -> bool` callable (True when
  the output changed) and publishes the outcome in `SiteState`. Requests wait while a build is in
  flight; a failed build leaves the last good site in place and its error on every open page.
- `ProjectBuilder` is the builder for a briefing project: `build.build()` into the temporary
  folder with one `Enricher` kept alive, so the spaCy model stays loaded between rebuilds.
- `briefing.watch.Watcher` turns saves into debounced batches for `Rebuilder.request`.
"""

from __future__ import annotations

import errno
import gc
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import config as config_mod
from .config import CONFIG_NAME, Config, SearchConfig
from .errors import BriefingError, BuildLockedError
from .serve_http import LOOPBACK, LiveServer, Log, SiteState, inject, mime_type, safe_parts

__all__ = ["DevServer", "LiveServer", "ProjectBuilder", "Rebuilder", "SiteState", "inject", "is_loopback",
           "mime_type", "safe_parts"]

Builder = Callable[[frozenset[Path]], bool]
# After a quick preview, how long the full build waits for a browser to fetch the new page: no
# browser open costs the build this much, once.
PREVIEW_FETCH_WAIT = 0.5


class Rebuilder:
    """The one build thread. `request(changes)` from any thread; builds never overlap."""

    def __init__(self, builder: Builder, state: SiteState, log: Log):
        self.builder = builder
        self.state = state
        self.log = log
        self._pending: set[Path] | None = None
        self._busy = False  # a full build is running
        self._preview_lock = threading.Lock()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="briefing-build", daemon=True)

    def start(self) -> Rebuilder:
        self._thread.start()
        return self

    def request(self, changes: frozenset[Path] = frozenset()) -> None:
        with self._cond:
            self._pending = (self._pending or set()) | set(changes)
            busy = self._busy
            self._cond.notify()
        if busy and changes:
            # The build in flight started before this save: show the edit now (fast path);
            # the next full build, queued above, brings the rest up to date.
            self._preview(frozenset(changes))

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=1)

    def _say(self, message: str) -> None:
        if not self._stopped:  # a build cut short by Ctrl-C has nothing to tell
            self.log(message)

    def _preview(self, changes: frozenset[Path]) -> bool:
        preview = getattr(self.builder, "preview", None)
        if preview is None or self.state.error is not None:  # an error box stays until a full build
            return False
        try:
            with self._preview_lock:
                if not preview(changes):
                    return False
        except Exception as exc:  # noqa: BLE001 - the full build reports (or survives) the same problem
            self._say(f"Quick preview skipped: {exc}")
            return False
        self.state.previewed()
        return True

    def _run(self) -> None:
        first = True
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stopped)
                if self._stopped:
                    return
                changes = frozenset(self._pending or ())
                self._pending = None
                self._busy = True
            # Fast path: an edited article's page first (quick.py), so the browser shows the
            # edit at once; the full build then runs without holding requests, since the
            # site it replaces is whole and already shows the edit.
            served = self.state.pages_served
            previewed = self._preview(changes)
            if previewed:
                # Let the browser fetch the previewed page before the full build takes the
                # interpreter (reading the last build's caches holds it for tenths of a second).
                self.state.wait_page_served(served, PREVIEW_FETCH_WAIT)
            else:
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
            with self._cond:
                self._busy = False
                late = frozenset(self._pending or ())
            if late and error is None:
                self._preview(late)  # saves made during the build stay shown over the new site
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
        self.preview_calls = 0  # NER runs of the fast path before the build in progress
        self.analysed = 0  # NER runs for the last change: fast path and full build together
        self.count = 0  # successful builds
        self.on_config: Callable[[Config], None] | None = None
        self._config_stale = True

    def load_config(self) -> Config:
        cfg = config_mod.load(self.project)
        return cfg.with_changes(base_url=self.base_url,
                                search=SearchConfig(enabled=cfg.search.enabled and self.search))

    def preview(self, changes: frozenset[Path]) -> bool:
        """Re-render just the edited articles' pages from the last build (quick.py); True if done."""
        from .quick import preview

        if self.last is None or self.last.preview is None or self.config is None or self.enricher is None:
            return False
        started = time.perf_counter()
        done = preview(self.config, self.last.preview, changes, self.enricher, self.output)
        if done is None:
            return False
        self.preview_calls = done.model_calls
        self.log(f"Previewed {', '.join(done.pages)} in {time.perf_counter() - started:.2f}s; "
                 "rebuilding the rest.")
        return True

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
        gc.unfreeze()  # what the last build left may be collected again
        try:
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
        finally:
            # The server keeps the build's archive, model and caches: millions of objects. Frozen,
            # they are left out of the collector's full passes, which would otherwise fall in the
            # middle of the next quick preview (0.1-0.5 s each, measured at 10,000 articles).
            gc.freeze()
        self.last, self.count = result, self.count + 1
        self.analysed, self.preview_calls = self.preview_calls + result.model_calls, 0
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


# -- the whole server -------------------------------------------------------------------------


class DevServer:
    """Builder, build thread, watcher and HTTP server for one project. Binds at construction."""

    def __init__(self, project: Path | str, *, host: str = "127.0.0.1", port: int = 8000, drafts: bool = True,
                 poll: bool = False, jobs: int | None = None, search: bool = False, check_links: bool = False,
                 quiet: float = 0.1, log: Log | None = None, verbose: bool = False):
        self.project = Path(project).resolve()
        if not self.project.is_dir():
            raise BriefingError(f"{project}: no such project folder. Give the archive's folder with --project DIR.")
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
