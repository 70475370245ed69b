"""`briefing serve` end to end in real headless Chromium: edits show up by themselves.

An article page is open in two tabs; saving files on disk must change what the tabs show within
3 seconds, with no reload by the test: a body edit, a broken front matter (an error box naming
the file and line over the last good page), its fix, a template edit, and a CSS-only edit (the
stylesheet is swapped without reloading the page).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from browser import chromium
from conftest import make_project

from briefing.render import THEME_STATIC, THEME_TEMPLATES
from briefing.serve import DevServer

ARTICLE = "content/2024/2024-05-02-port-strike.md"
LIMIT_MS = 3000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = make_project(tmp_path_factory.mktemp("browser") / "archive")
    (root / "static" / "assets").mkdir(parents=True)  # a site's own copy of the theme's stylesheet
    (root / "static" / "assets" / "style.css").write_bytes((THEME_STATIC / "style.css").read_bytes())
    server = DevServer(root, port=0, jobs=1).start()
    assert server.state.wait_builds(1, timeout=120) and server.state.error is None, server.state.error
    yield server
    server.stop()


def shows(page, text: str, timeout: float = LIMIT_MS) -> None:  # noqa: ANN001 - a Playwright Page
    page.wait_for_function("t => document.body && document.body.innerText.includes(t)", arg=text,
                           timeout=timeout)


def evaluate_settled(page, expression: str):  # noqa: ANN001, ANN201 - a Playwright Page
    """`page.evaluate`, again once the page has loaded if it was navigating: the full rebuild
    that follows a preview may reload the page once more, at any moment."""
    from playwright.sync_api import Error

    for _ in range(5):
        try:
            return page.evaluate(expression)
        except Error as exc:
            if "Execution context was destroyed" not in str(exc):
                raise
            page.wait_for_load_state()
    return page.evaluate(expression)


def test_edits_show_up_in_every_tab_by_themselves(served: DevServer):
    path = served.project / ARTICLE
    original = path.read_text()
    url = served.url + "articles/port-strike/"
    with chromium() as browser:
        context = browser.new_context()
        tabs = [context.new_page(), context.new_page()]
        for tab in tabs:
            tab.goto(url)
            shows(tab, "Dock workers in Rotterdam")
            tab.evaluate("window.__notReloaded = true")

        # 1. A new body shows in both tabs, with no reload by us.
        started = time.monotonic()
        path.write_text(original.replace("stopped work on Thursday", "stopped work as cranes stood idle"))
        for tab in tabs:
            shows(tab, "cranes stood idle")
        assert time.monotonic() - started < LIMIT_MS / 1000
        assert evaluate_settled(tabs[0], "window.__notReloaded") is None  # the page did reload itself

        # 2. Broken front matter: the last good page stays, under a box naming file and line.
        started = time.monotonic()
        path.write_text(original.replace("title: Dock workers", "title: [Dock workers", 1))
        box = tabs[0].wait_for_selector("#briefing-error", timeout=LIMIT_MS)
        text = box.inner_text()
        assert f"{ARTICLE}:3: YAML syntax error" in text or f"{ARTICLE}:2: YAML syntax error" in text, text
        assert "cranes stood idle" in tabs[0].inner_text("main")
        tabs[1].wait_for_selector("#briefing-error", timeout=LIMIT_MS)

        # 3. The fix clears the box and shows the fixed page.
        path.write_text(original.replace("stopped work on Thursday", "stopped work after the fix"))
        for tab in tabs:
            tab.wait_for_selector("#briefing-error", state="detached", timeout=LIMIT_MS)
            shows(tab, "stopped work after the fix")

        # 4. A template edit shows.
        templates = served.project / "templates"
        templates.mkdir(exist_ok=True)
        theme_base = (THEME_TEMPLATES / "base.html").read_text()
        assert "</footer>" in theme_base
        marked = theme_base.replace("</footer>", "<p>Preview build of the desk</p></footer>")
        (templates / "base.html").write_text(marked)
        for tab in tabs:
            shows(tab, "Preview build of the desk")

        # 5. A CSS-only change swaps the stylesheet; the page is not reloaded.
        for tab in tabs:
            tab.evaluate("window.__notReloaded = true")
        css = served.project / "static" / "assets" / "style.css"
        css.write_text(css.read_text() + "\nbody { background-color: rgb(1, 2, 3) !important; }\n")
        for tab in tabs:
            tab.wait_for_function("getComputedStyle(document.body).backgroundColor === 'rgb(1, 2, 3)'",
                                  timeout=LIMIT_MS)
            assert tab.evaluate("window.__notReloaded") is True
            assert tab.locator("link[rel=stylesheet]").count() == 1  # the old one was removed
        context.close()
