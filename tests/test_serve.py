"""The dev server through a real socket on 127.0.0.1: serving, safety, rebuilds, errors, the CLI.

One server (with the real spaCy model) is shared by the module; each test that edits the project
puts it back. Waiting is done on the server's build counter, never on fixed sleeps alone.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_project, write_article

from briefing.config import Config
from briefing.errors import BriefingError
from briefing.serve import DevServer, LiveServer, Rebuilder, SiteState, inject, safe_parts
from briefing.watch import Debouncer, Watcher

SECRET = "TOP-SECRET-CONFIG-MARKER"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = make_project(tmp_path_factory.mktemp("serve") / "archive",
                        config=f'title: "Served"\nbase_url: "https://example.org/"\n'
                               f'search: {{enabled: false}}\nextra: {{note: "{SECRET}"}}\n')
    write_article(root, "2024/2024-06-03-draft-note.md", "Unfinished draft about Lisbon", "2024-06-03",
                  "Officials in Lisbon met on Monday.", draft=True)
    (root / "static").mkdir()
    (root / "static" / "extra.css").write_text("body { margin: 0 }\n")
    (root / "static" / "app.js").write_text("console.log('hi');\n")
    (root / "entities.yaml").write_text("entities: []\nignore: []\n")
    server = DevServer(root, port=0, jobs=1).start()
    assert server.state.wait_builds(1, timeout=120), "the first build did not finish"
    assert server.state.error is None, server.state.error
    yield server
    server.stop()


def request(server: DevServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw(server: DevServer, data: bytes) -> bytes:
    """Send bytes as they are (no client-side path normalisation); the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def edit(server: DevServer, path: Path, text: str, timeout: float = 60) -> None:
    """Write `text` to `path` and wait for the rebuild it causes."""
    before = server.state.builds
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    assert server.state.wait_builds(before + 1, timeout), f"no rebuild after writing {path}"


def settle(server: DevServer, quiet: float = 0.4) -> int:
    """Wait until no build has started for `quiet` seconds; the build count then."""
    while True:
        server.state.wait_idle()
        count = server.state.builds
        time.sleep(quiet)
        if server.state.builds == count and not server.state.building:
            return count


ARTICLE = "2024/2024-05-02-port-strike.md"


def article(server: DevServer) -> Path:
    return server.project / "content" / ARTICLE


# -- serving ----------------------------------------------------------------------------------


def test_html_gets_the_live_script_and_other_files_do_not(served: DevServer):
    status, headers, body = request(served, "/articles/port-strike/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b"Dock workers in Rotterdam" in body
    assert body.count(b"/__briefing/live.js") == 1
    assert body.index(b"/__briefing/live.js") < body.rindex(b"</body>")
    assert int(headers["content-length"]) == len(body)
    for path, ctype in [("/extra.css", "text/css; charset=utf-8"), ("/app.js", "text/javascript; charset=utf-8"),
                        ("/feed.xml", "application/xml; charset=utf-8"), ("/robots.txt", "text/plain; charset=utf-8"),
                        ("/assets/style.css", "text/css; charset=utf-8")]:
        status, headers, body = request(served, path)
        assert (status, headers["content-type"]) == (200, ctype), path
        assert b"__briefing" not in body, path
    status, headers, body = request(served, "/__briefing/live.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and b"EventSource" in body


def test_head_answers_headers_only(served: DevServer):
    status, headers, body = request(served, "/articles/port-strike/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_pretty_urls_and_redirect_to_the_slash(served: DevServer):
    assert request(served, "/")[0] == 200
    status, headers, _ = request(served, "/articles/port-strike?x=1")
    assert status == 301 and headers["location"] == "/articles/port-strike/?x=1"
    status, _, body = request(served, "/articles/port-strike/index.html")
    assert status == 200 and b"Dock workers" in body


def test_missing_pages_get_the_sites_own_404(served: DevServer):
    status, headers, body = request(served, "/no/such/page/")
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert b"Page not found" in body and b"/__briefing/live.js" in body


def test_folders_are_never_listed(served: DevServer):
    status, _, body = request(served, "/assets/")  # a folder without index.html
    assert status == 404 and b"Page not found" in body and b"filter.js" not in body
    assert request(served, "/.briefing-manifest.json")[0] == 404


@pytest.mark.parametrize("path", [
    "/../config.yaml", "/../../../../etc/passwd", "/%2e%2e/config.yaml", "/%2E%2E/%2e%2e/etc/passwd",
    "/..%2fconfig.yaml", "/assets/..%2f..%2fconfig.yaml", "/assets/%2e%2e%2f%2e%2e%2fconfig.yaml",
    "/..%5cconfig.yaml", "/%00/x", "/%ff%fe/", "/%c0%ae%c0%ae/config.yaml", "//../config.yaml",
    "http://127.0.0.1/../config.yaml",
])
def test_paths_outside_the_site_are_refused(served: DevServer, path: str):
    answer = raw(served, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 403), (path, answer[:200])
    assert SECRET.encode() not in answer and b"root:" not in answer


def test_double_encoding_is_a_literal_name_not_a_way_out(served: DevServer):
    answer = raw(served, b"GET /%252e%252e/config.yaml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404") and SECRET.encode() not in answer


def test_a_symlink_out_of_the_site_is_refused(served: DevServer, tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)
    link = served.output / "leak.txt"
    link.symlink_to(outside)
    try:
        status, _, body = request(served, "/leak.txt")
        assert status == 403 and SECRET.encode() not in body
    finally:
        link.unlink()


def test_safe_parts():
    assert safe_parts("/a/b/") == ["a", "b"]
    assert safe_parts("/a/./b") == ["a", "b"]
    assert safe_parts("/caf%C3%A9/") == ["café"]
    assert safe_parts("/a/%2e%2e/b") is None
    assert safe_parts("/%252e%252e/") == ["%2e%2e"]


def test_inject_only_before_the_last_body_end():
    assert inject(b"<p>x</p></BODY></html>", "i", 3) == \
        b'<p>x</p><script src="/__briefing/live.js?s=i&amp;g=3"></script></BODY></html>'
    assert inject(b"<p>no body</p>", "i", 1).endswith(b"</script>")


def test_malformed_and_slow_requests_do_not_stop_the_server(served: DevServer):
    assert b"Error code: 400" in raw(served, b"GARBAGE\r\n\r\n")  # (the stdlib answers as HTTP/0.9)
    assert raw(served, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n").split(b" ", 2)[1] in (b"400", b"414")
    assert raw(served, b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 501")
    stalled = socket.create_connection(("127.0.0.1", served.port))  # sends nothing at all
    half = socket.create_connection(("127.0.0.1", served.port))
    half.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    try:
        started = time.monotonic()
        assert request(served, "/")[0] == 200
        assert time.monotonic() - started < 5
    finally:
        stalled.close()
        half.close()
    assert request(served, "/")[0] == 200


def test_drafts_are_shown_while_serving(served: DevServer):
    status, _, body = request(served, "/articles/draft-note/")
    assert status == 200 and b"Unfinished draft about Lisbon" in body


def test_nothing_is_written_to_site(served: DevServer):
    assert not (served.project / "site").exists()
    assert served.output.is_dir() and served.output.parent.name.startswith("briefing-serve-")


def test_the_event_stream_reports_the_state(served: DevServer):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        conn.request("GET", "/__briefing/events")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("content-type").startswith("text/event-stream")
        assert resp.fp.readline() == b"retry: 500\n"
        resp.fp.readline()
        assert resp.fp.readline() == b"event: state\n"
        state = json.loads(resp.fp.readline().decode().removeprefix("data: "))
        assert state["generation"] == served.state.generation and state["error"] is None
    finally:
        conn.close()


# -- rebuilds ---------------------------------------------------------------------------------


def test_an_edit_reanalyses_one_article_and_shows(served: DevServer):
    path = article(served)
    original = path.read_text()
    reload_before = served.state.reload
    try:
        edit(served, path, original.replace("The union FNV said", "The union FNV, led by Anna Vermeer, said"))
        result = served.builder.last
        assert served.builder.analysed == 1 and result.articles == 4  # fast path and full build together
        assert result.rendered < result.pages  # unchanged pages were not re-rendered
        assert served.state.reload > reload_before
        assert b"led by Anna Vermeer" in request(served, "/articles/port-strike/")[2]
    finally:
        edit(served, path, original)
    assert served.builder.analysed == 0  # the original's analysis is still cached


def test_a_burst_of_saves_is_one_rebuild(served: DevServer):
    path = article(served)
    original = path.read_text()
    before = settle(served)
    try:
        start = time.monotonic()
        for i in range(20):
            path.write_text(original + f"\nSave number {i}.\n")
            time.sleep(0.008)
        assert time.monotonic() - start < 0.2 + 0.1  # (a loaded machine may stretch it a little)
        assert served.state.wait_builds(before + 1, 60)
        assert settle(served) == before + 1
        assert served.builder.analysed == 1
        assert b"Save number 19." in request(served, "/articles/port-strike/")[2]
    finally:
        edit(served, path, original)


def test_editor_droppings_are_ignored(served: DevServer):
    before = settle(served)
    content = served.project / "content" / "2024"
    names = [".port-strike.md.swp", "port-strike.md~", "4913", ".#port-strike.md", "#port-strike.md#"]
    for name in names:
        (content / name).write_text("---\ntitle: [broken\n")
    try:
        assert settle(served, quiet=0.6) == before
    finally:
        for name in names:
            (content / name).unlink()


def test_saving_by_rename_is_seen(served: DevServer):
    path = article(served)
    original = path.read_text()
    before = served.state.builds
    tmp = path.with_name(".port-strike.md.tmp1234")
    tmp.write_text(original.replace("stopped work on Thursday", "stopped work on Friday"))
    os.replace(tmp, path)
    try:
        assert served.state.wait_builds(before + 1, 60)
        assert b"stopped work on Friday" in request(served, "/articles/port-strike/")[2]
    finally:
        edit(served, path, original)


def test_a_css_only_change_swaps_styles_without_a_reload(served: DevServer):
    css = served.project / "static" / "extra.css"
    original = css.read_text()
    reload_before, gen_before = served.state.reload, served.state.generation
    try:
        edit(served, css, "body { margin: 1px }\n")
        assert served.state.generation == gen_before + 1 and served.state.reload == reload_before
        assert request(served, "/extra.css")[2] == b"body { margin: 1px }\n"
    finally:
        edit(served, css, original)


# -- errors -----------------------------------------------------------------------------------


def test_bad_front_matter_keeps_the_last_good_site_and_names_the_line(served: DevServer):
    path = article(served)
    original = path.read_text()
    try:
        edit(served, path, original.replace("title: Dock workers", "title: [Dock workers", 1))
        error = served.state.error
        assert error is not None and re.match(rf"content/{ARTICLE}:[23]: YAML syntax error", error), error
        status, _, body = request(served, "/articles/port-strike/")
        assert status == 200 and b"Dock workers in Rotterdam" in body  # the last good build
    finally:
        edit(served, path, original)
    assert served.state.error is None


def test_a_template_error_names_the_template(served: DevServer):
    template = served.project / "templates" / "article.html"
    try:
        edit(served, template, '{% extends "base.html" %}\n{% block main %}\n{{ page.title \n{% endblock %}\n')
        assert served.state.error is not None and served.state.error.startswith("templates/article.html:")
    finally:
        template.unlink()
        served.state.wait_builds(served.state.builds + 1, 60)
        settle(served)
    assert served.state.error is None


def test_a_bad_curation_file_is_reported(served: DevServer):
    curation = served.project / "entities.yaml"
    original = curation.read_text()
    try:
        edit(served, curation, "entities:\n  - name: [unclosed\n")
        assert served.state.error is not None and "entities.yaml" in served.state.error
    finally:
        edit(served, curation, original)
    assert served.state.error is None


def test_a_config_change_reloads_the_config_and_model_only_then(served: DevServer):
    config = served.project / "config.yaml"
    original = config.read_text()
    enricher = served.builder.enricher
    try:
        edit(served, article(served), article(served).read_text())  # touch: same enricher
        assert served.builder.enricher is enricher
        edit(served, config, original.replace('title: "Served"', 'title: "Served Again"'))
        assert served.state.error is None and served.builder.enricher is not enricher
        assert b"Served Again" in request(served, "/")[2]
        edit(served, config, original + "titel: oops\n")
        assert served.state.error is not None and served.state.error.startswith("config.yaml:")
    finally:
        edit(served, config, original)
    assert served.state.error is None and b"Served Again" not in request(served, "/")[2]


# -- the generic parts, with a fake builder ---------------------------------------------------


def test_requests_wait_while_a_build_is_in_flight(tmp_path: Path):
    site = tmp_path / "out"
    site.mkdir()
    (site / "index.html").write_text("<body>v1</body>")
    release = threading.Event()

    def builder(changes: frozenset[Path]) -> bool:
        if changes:
            release.wait(10)
            (site / "index.html").write_text("<body>v2</body>")
        return True

    state = SiteState()
    rebuilder = Rebuilder(builder, state, log=lambda _m: None).start()
    httpd = LiveServer("127.0.0.1", 0, site, state, log=print)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        rebuilder.request()
        assert state.wait_builds(1)
        rebuilder.request(frozenset({tmp_path / "x.md"}))
        while not state.building:
            time.sleep(0.01)
        answers: list[bytes] = []
        getter = threading.Thread(target=lambda: answers.append(
            raw_to(httpd.server_address[1], b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")))
        getter.start()
        time.sleep(0.3)
        assert not answers  # still waiting for the build
        release.set()
        getter.join(10)
        assert b"v2" in answers[0] and b"v1" not in answers[0]
        assert state.pages_served == 1  # counted: a full build after a quick preview waits for it
        raw_to(httpd.server_address[1], b"GET /__briefing/live.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert state.pages_served == 1  # not a page
    finally:
        rebuilder.stop()
        state.close()
        httpd.shutdown()
        httpd.server_close()


def raw_to(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        return b"".join(iter(lambda: s.recv(65536), b""))


def test_a_crashing_builder_is_an_error_not_a_dead_server(tmp_path: Path):
    state = SiteState()

    def builder(changes: frozenset[Path]) -> bool:
        raise ValueError("boom")

    rebuilder = Rebuilder(builder, state, log=lambda _m: None).start()
    try:
        rebuilder.request()
        assert state.wait_builds(1)
        assert state.error is not None and "ValueError: boom" in state.error and not state.ready
        rebuilder.request()
        assert state.wait_builds(2)  # the thread is still alive
    finally:
        rebuilder.stop()


# -- the command line -------------------------------------------------------------------------


def test_a_port_in_use_is_a_clear_message(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BriefingError, match=f"127.0.0.1:{port} is already in use.*--port 0"):
            DevServer(make_project(tmp_path / "p"), port=port)
        proc = subprocess.run([sys.executable, "-m", "briefing", "serve", "--project", str(tmp_path / "p"),
                               "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "is already in use" in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_project_is_a_clear_message(tmp_path: Path):
    with pytest.raises(BriefingError, match="no such project folder"):
        DevServer(tmp_path / "nope", port=0)


def test_the_cli_serves_prints_the_url_and_stops_on_ctrl_c(tmp_path: Path):
    root = make_project(tmp_path / "p")
    write_article(root, "2024/2024-06-03-secret-draft.md", "A draft", "2024-06-03", "Not yet.", draft=True)
    # As a terminal starts it: Ctrl-C's signal not ignored, as it is for a command a script ran
    # in the background (`pytest &`), which Python then leaves ignored.
    proc = subprocess.Popen([sys.executable, "-m", "briefing", "serve", "--project", str(root), "--port", "0",
                             "--no-drafts", "-j", "1"], stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stderr.readline()
        assert "Serving" in line and "http://127.0.0.1:" in line and "drafts hidden" in line, line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/articles/port-strike/")  # waits for the first build
        resp = conn.getresponse()
        assert resp.status == 200 and b"Dock workers" in resp.read()
        conn.request("GET", "/articles/secret-draft/")
        resp = conn.getresponse()
        assert resp.status == 404 and b"Not yet." not in resp.read()
        conn.close()
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=20)[1]
        assert proc.returncode == 0 and rest.rstrip().endswith("Stopped.") and "Traceback" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (root / "site").exists()


# -- the watcher ------------------------------------------------------------------------------


class Batches:
    def __init__(self) -> None:
        self.items: queue.Queue[frozenset[Path]] = queue.Queue()

    def __call__(self, batch: frozenset[Path]) -> None:
        self.items.put(batch)

    def next(self, timeout: float = 5) -> frozenset[Path]:
        return self.items.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self.items.get(timeout=seconds)
            return False
        except queue.Empty:
            return True


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_the_watcher_sees_inputs_only(tmp_path: Path, poll: bool):
    root = tmp_path / "p"
    (root / "content").mkdir(parents=True)
    batches = Batches()
    watcher = Watcher(Config(root=root), batches, poll=poll, quiet=0.05).start()
    wait = 5 if poll else 2
    try:
        (root / "config.yaml").write_text("title: x\n")
        assert batches.next(wait) == {root / "config.yaml"}
        (root / "entities.yaml").write_text("entities: []\n")
        assert batches.next(wait) == {root / "entities.yaml"}
        (root / "content" / "a.md").write_text("x")
        assert batches.next(wait) == {root / "content" / "a.md"}
        for noise in ("README.md", "site/index.html", ".briefing-cache/x.json", "content/.a.md.swp",
                      "content/a.md~", "content/4913"):
            (root / noise).parent.mkdir(parents=True, exist_ok=True)
            (root / noise).write_text("x")
        assert batches.none_within(1.5 if poll else 0.5)
        (root / "templates").mkdir()  # a folder that did not exist at the start
        time.sleep(1.2 if poll else 0.2)
        (root / "templates" / "base.html").write_text("x")
        seen: set[Path] = set()
        while root / "templates" / "base.html" not in seen:
            seen |= batches.next(wait)
    finally:
        watcher.stop()


def test_the_debouncer_waits_for_quiet_but_not_forever():
    batches = Batches()
    debouncer = Debouncer(batches, quiet=0.1, max_wait=0.5)
    try:
        started = time.monotonic()
        for i in range(12):  # never quiet for 0.1 s: flushed at max_wait
            debouncer.add([Path(f"/x/{i}")])
            time.sleep(0.06)
        first = batches.next(2)
        assert 0.4 < time.monotonic() - started < 1.2 and len(first) < 12
        rest = batches.next(2)
        assert first | rest == {Path(f"/x/{i}") for i in range(12)}
    finally:
        debouncer.stop()


def test_the_builder_freezes_what_a_build_leaves_and_thaws_it_for_the_next(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    # A quick preview must not pay for a full collection over the archive the server keeps
    # (0.1-0.5 s at 10,000 articles): after a build its objects are frozen, and the next build
    # may collect them again.
    import gc

    from briefing import build as build_mod
    from briefing.serve import ProjectBuilder

    project = make_project(tmp_path / "p")
    builder = ProjectBuilder(project, tmp_path / "out", base_url="http://127.0.0.1:1/", jobs=1)
    frozen_during: list[int] = []
    real = build_mod.build

    def watched(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        frozen_during.append(gc.get_freeze_count())
        return real(*args, **kwargs)
    monkeypatch.setattr(build_mod, "build", watched)
    gc.unfreeze()
    try:
        builder(frozenset())
        assert gc.get_freeze_count() > 0
        builder(frozenset([project / "content" / "2024" / "2024-05-02-port-strike.md"]))
        assert frozen_during == [0, 0] and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_after_a_quick_preview_the_full_build_waits_for_the_page_to_be_fetched():
    # The browser's reload must not queue behind the full build's first seconds (reading the
    # last build's caches holds the interpreter): the build starts once a page was sent, or
    # after PREVIEW_FETCH_WAIT when no browser asks.
    from briefing import serve

    state = SiteState()
    events: list = []

    class Builder:
        def preview(self, changes: frozenset[Path]) -> bool:
            events.append("preview")
            return True

        def __call__(self, changes: frozenset[Path]) -> bool:
            events.append(("build", state.pages_served))
            return True

    assert serve.PREVIEW_FETCH_WAIT >= 0.3
    rebuilder = Rebuilder(Builder(), state, lambda _msg: None).start()
    try:
        rebuilder.request(frozenset([Path("content/a.md")]))
        time.sleep(0.2)
        assert events == ["preview"]  # waiting for the browser
        state.page_served()
        assert state.wait_builds(1, timeout=5)
        assert events == ["preview", ("build", 1)]
        started = time.perf_counter()
        rebuilder.request(frozenset([Path("content/a.md")]))
        assert state.wait_builds(2, timeout=5)
        assert time.perf_counter() - started >= serve.PREVIEW_FETCH_WAIT * 0.9  # no browser: it waited, then built
    finally:
        rebuilder.stop()
