"""Watch a project's inputs and report bursts of changes as one set of paths.

    watcher = Watcher(config, on_change, poll=False).start()   # on_change(frozenset[Path])
    ...
    watcher.stop()

- Watched: the content, templates and static folders (recursively), config.yaml and the curation
  file. Single files are watched through their folder, not by themselves, so editors that save by
  writing a temporary file and renaming it over the original are seen like any other save.
- Ignored: editor droppings and hidden files (`briefing.sources.is_ignored_name`), the output and
  cache folders, folder "modified" events (a save inside a folder says nothing new).
- Debounced: events are collected until the stream has been quiet for `quiet` seconds (or for at
  most `max_wait` seconds while it never goes quiet), then `on_change` runs once with them all.
- `poll=True` uses watchdog's PollingObserver, for network and container file systems where
  inotify events never arrive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from .config import CONFIG_NAME, Config
from .sources import is_ignored_name

OnChange = Callable[[frozenset[Path]], None]


class Debouncer:
    """Collects paths from any thread; calls `callback` once per quiet-terminated burst."""

    def __init__(self, callback: OnChange, *, quiet: float = 0.1, max_wait: float = 2.0):
        self.callback = callback
        self.quiet = quiet
        self.max_wait = max_wait
        self._pending: set[Path] = set()
        self._first = self._last = 0.0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="briefing-debounce", daemon=True)
        self._thread.start()

    def add(self, paths: Iterable[Path]) -> None:
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._pending.update(paths)
            self._last = now
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                while True:  # wait for the burst to end
                    now = time.monotonic()
                    due = min(self._last + self.quiet, self._first + self.max_wait)
                    if now >= due or self._stopped:
                        break
                    self._cond.wait(due - now)
                if self._stopped:
                    return
                batch = frozenset(self._pending)
                self._pending.clear()
            try:
                self.callback(batch)
            except Exception:  # noqa: BLE001 - a failing callback must not stop the watching
                import traceback

                traceback.print_exc()


class Watcher:
    """A watchdog observer on one project's inputs, feeding a Debouncer."""

    def __init__(self, config: Config, on_change: OnChange, *, poll: bool = False,
                 quiet: float = 0.1, max_wait: float = 2.0):
        self.config = config
        self.poll = poll
        self.debouncer = Debouncer(on_change, quiet=quiet, max_wait=max_wait)
        self.observer = PollingObserver(timeout=0.5) if poll else Observer()
        self._watches: dict[Path, object] = {}
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._set_targets(config)

    def _set_targets(self, config: Config) -> None:
        root = config.root
        # Folders watched recursively; folders watched only for the named files in them.
        self.trees = [p for p in (config.content_path, config.templates_path, config.static_path)]
        self.files = {root / CONFIG_NAME, config.curation_path}
        self.ignored = [config.output_path, config.cache_path]

    def start(self) -> Watcher:
        self.refresh()
        self.observer.start()
        return self

    def stop(self) -> None:
        try:
            self.observer.stop()
            self.observer.join(timeout=2)
        except RuntimeError:
            pass
        self.debouncer.stop()

    def retarget(self, config: Config) -> None:
        """Follow a changed config.yaml (content_dir, curation file...)."""
        with self._lock:
            self.config = config
            self._set_targets(config)
        self.refresh()

    def refresh(self) -> None:
        """Watch every target folder that exists now; forget those that are gone."""
        wanted: dict[Path, bool] = {p.parent: False for p in self.files}
        wanted[self.config.root] = False  # to see a missing folder appear
        for tree in self.trees:
            wanted[tree] = True
        with self._lock:
            for path in list(self._watches):
                if path not in wanted or not path.is_dir():
                    try:
                        self.observer.unschedule(self._watches.pop(path))  # type: ignore[arg-type]
                    except (KeyError, ValueError):
                        pass
            for path, recursive in wanted.items():
                if path not in self._watches and path.is_dir():
                    try:
                        self._watches[path] = self.observer.schedule(self._handler, str(path), recursive=recursive)
                    except OSError:
                        pass  # vanished in between; the next refresh will try again

    def relevant(self, path: Path) -> bool:
        """Whether a change of `path` can change the site."""
        if any(is_ignored_name(part) for part in _parts_below(path, self.config.root)):
            return False
        if path in self.files:
            return True
        if any(_within(path, d) for d in self.ignored):
            return False
        return any(_within(path, tree) for tree in self.trees)

    def _event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return
        paths = [Path(_str(event.src_path))]
        if getattr(event, "dest_path", ""):
            paths.append(Path(_str(event.dest_path)))
        changed = [p for p in paths if self.relevant(p)]
        if event.is_directory and event.event_type in ("created", "deleted", "moved"):
            if any(p.parent == self.config.root or p in self.trees for p in paths):
                self.refresh()
        if changed:
            self.debouncer.add(changed)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.watcher._event(event)


def _str(p: str | bytes) -> str:
    return p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else p


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _parts_below(path: Path, root: Path) -> tuple[str, ...]:
    try:
        return path.relative_to(root).parts
    except ValueError:
        return (path.name,)
