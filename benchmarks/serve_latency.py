"""Edit-to-reload latency of `briefing serve` on a 1,000-article archive, in headless Chromium.

    python benchmarks/serve_latency.py [--shared DIR] [--corpus bbc-news] [--articles 1000] [--runs 10]
                                       [--jobs N] [--keep DIR] [--check]

The archive is made from ../shared/corpora/<corpus>/articles.jsonl (default bbc-news, BBC full
text; reuters21578 has enough articles for 10,000), dates synthetic (one article a day from
2004-01-01), as Markdown files with front matter, in a temporary project (never inside this
repository). The dev server is started on 127.0.0.1 with a free port,
an article page is opened in Chromium, and each run appends a new sentence to that article's
body, then times from the write to the moment the browser shows the sentence (the server's
watcher, debounce, rebuild, the event to the page, its reload and render).

Prints every run, the median and p90, and the stage timings of the last rebuild.
`--keep DIR` reuses (or creates) the project in DIR, so its analysis cache spares the first
build's ~1,000 model runs on the next try. `--check` exits 1 when the median misses the target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from briefing.serve import DevServer  # noqa: E402

TARGET_MS = 500.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def make_archive(corpus: Path, project: Path, count: int) -> list[Path]:
    """Write `count` articles (spread over the corpus's categories) as a project; their paths."""
    lines = corpus.read_text(encoding="utf-8").splitlines()
    if len(lines) < count:
        raise SystemExit(f"{corpus} has {len(lines)} articles; --articles {count} asks for more")
    picked = [json.loads(lines[i * len(lines) // count]) for i in range(count)]
    (project / "content").mkdir(parents=True, exist_ok=True)
    (project / "config.yaml").write_text('title: "BBC latency bench"\nbase_url: "http://127.0.0.1:8000/"\n'
                                         "search: {enabled: false}\n", encoding="utf-8")
    paths = []
    start = dt.date(2004, 1, 1)
    for i, art in enumerate(picked):
        day = start + dt.timedelta(days=i)
        path = project / "content" / str(day.year) / f"{day.isoformat()}-{art['id']}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        front = {"title": art["title"].strip(), "date": day.isoformat(), "tags": list(art.get("tags") or [])}
        path.write_text("---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in front.items()) + "---\n"
                        + art["body"].strip() + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared folder (../shared)")
    parser.add_argument("--corpus", default="bbc-news", help="a folder of ../shared/corpora (default: bbc-news)")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=None, help="build processes (default: all cores)")
    parser.add_argument("--keep", type=Path, help="make (or reuse) the project here instead of a temporary folder")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the median is over {TARGET_MS:.0f} ms")
    args = parser.parse_args(argv)

    corpus = args.shared / "corpora" / args.corpus / "articles.jsonl"
    if not corpus.is_file():
        raise SystemExit(f"error: {corpus} is missing: this benchmark needs the shared corpora "
                         "(../shared beside the repository, or --shared DIR)")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"error: {CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    temp = None
    if args.keep:
        project = args.keep.resolve()
    else:
        temp = Path(tempfile.mkdtemp(prefix="briefing-latency-"))
        project = temp / "archive"
    try:
        t = time.perf_counter()
        paths = make_archive(corpus, project, args.articles)
        print(f"archive: {len(paths)} articles from {corpus} in {project} ({time.perf_counter() - t:.1f}s)")
        target = paths[len(paths) // 2]
        original = target.read_text(encoding="utf-8")

        t = time.perf_counter()
        server = DevServer(project, port=0, jobs=args.jobs).start()
        try:
            if not server.state.wait_builds(1, timeout=3600) or server.state.error:
                raise SystemExit(f"error: the first build failed:\n{server.state.error}")
            first = server.builder.last
            print(f"first build: {time.perf_counter() - t:.1f}s, {first.pages} pages, NER on {first.model_calls} "
                  f"articles, at {server.url}")
            slug = target.stem[11:]  # the file name without its date prefix
            url = f"{server.url}articles/{slug}/"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                response = page.goto(url)
                if response is None or response.status != 200:
                    raise SystemExit(f"error: {url} answered {response and response.status}")
                latencies: list[float] = []
                builds: list[float] = []
                session = time.time_ns() % 10**9  # new words each time: a real re-analysis, never a cache hit
                for run in range(1, args.runs + 1):
                    server.state.wait_idle()
                    time.sleep(0.3)  # let the previous reload finish and its event stream connect
                    probe = f"Latency probe {session} number {run} ends here."
                    before = server.builder.count
                    started = time.perf_counter()
                    target.write_text(original.rstrip("\n") + f"\n\n{probe}\n", encoding="utf-8")
                    page.wait_for_function("t => document.body && document.body.innerText.includes(t)",
                                           arg=probe, timeout=120_000)
                    ms = (time.perf_counter() - started) * 1000
                    latencies.append(ms)
                    # The page shows the edit (fast path, quick.py); now wait for the full
                    # rebuild that brings every other page up to date, and time it too.
                    if not server.state.wait_builds(before + 1, timeout=3600):
                        raise SystemExit("error: the full rebuild after the edit did not finish")
                    whole_ms = (time.perf_counter() - started) * 1000
                    builds.append(whole_ms)
                    result = server.builder.last
                    print(f"  run {run:2}: shown in {ms:6.0f} ms; whole site rebuilt in {whole_ms:6.0f} ms "
                          f"(NER on {server.builder.analysed}, {result.rendered} pages re-rendered)")
                browser.close()
            last = server.builder.last
            target.write_text(original, encoding="utf-8")
        finally:
            server.stop()
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    median, p90 = statistics.median(latencies), percentile(latencies, 0.9)
    print()
    print(f"edit-to-reload latency, {args.articles} {args.corpus} articles, {len(latencies)} runs "
          f"(target: median < {TARGET_MS:.0f} ms)")
    print(f"  {'median':<12}{median:8.0f} ms")
    print(f"  {'p90':<12}{p90:8.0f} ms")
    print(f"  {'min / max':<12}{min(latencies):8.0f} / {max(latencies):.0f} ms")
    print(f"  {'whole site':<12}{statistics.median(builds):8.0f} ms   (median, write to the end of the full "
          "rebuild that updates every other page)")
    print()
    print(f"stages of the last rebuild ({last.rendered} of {last.pages} pages rendered, "
          f"{last.written} files written, NER on {last.model_calls}):")
    for stage, seconds, detail in last.timings:
        print(f"  {stage:<10}{seconds * 1000:8.0f} ms  {detail}")
    print(f"  {'total':<10}{sum(s for _, s, _ in last.timings) * 1000:8.0f} ms")
    verdict = "met" if median < TARGET_MS else "MISSED"
    print(f"\ntarget {verdict}: median {median:.0f} ms vs {TARGET_MS:.0f} ms")
    return 1 if args.check and median >= TARGET_MS else 0


if __name__ == "__main__":
    sys.exit(main())
