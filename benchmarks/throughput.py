"""Extraction throughput (words/s) on the BBC News corpus, beside raw nlp.pipe.

    python benchmarks/throughput.py [--shared DIR] [--limit N] [--jobs 1 2]

"raw nlp.pipe" runs the same trimmed pipeline (senter + ner) over the same texts and only
collects doc.ents; "ours" is Enricher.run with a cold cache (model + headline re-casing +
resolution + tags), then again with a warm cache (no model call at all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from briefing import nlp as nlp_mod  # noqa: E402
from briefing.config import Config  # noqa: E402
from briefing.enrich import Enricher  # noqa: E402
from briefing.model import Article  # noqa: E402


def load_articles(shared: Path, limit: int) -> list[Article]:
    path = shared / "corpora" / "bbc-news" / "articles.jsonl"
    if not path.exists():
        raise SystemExit(f"error: {path} is missing; pass --shared pointing at the shared/ folder.")
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if limit and len(out) >= limit:
                break
            row = json.loads(line)
            title, body = row["title"], row["body"]
            text = f"{title}\n\n{body}"
            out.append(Article(source=row["id"], title=title, date=dt.datetime(2005, 1, 1, tzinfo=dt.UTC),
                               slug=row["id"], summary="", body=body, body_line=3, text=text,
                               headline_end=len(title), content_hash=""))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--limit", type=int, default=600, help="articles to use (0: all 2,225)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    articles = load_articles(args.shared, args.limit)
    words = sum(a.word_count for a in articles)
    pipeline = nlp_mod.load_shared("auto")
    batch = Config(root=ROOT).nlp.batch_size
    pipeline.nlp.pipe(["warm up"])  # first call allocates
    rows = []
    for jobs in args.jobs:
        t0 = time.perf_counter()
        n_ents = sum(len(doc.ents) for doc in pipeline.nlp.pipe((a.text for a in articles), batch_size=batch,
                                                                n_process=jobs))
        raw = time.perf_counter() - t0
        rows.append((f"raw nlp.pipe ({'+'.join(pipeline.pipe_names)})", jobs, raw, f"{n_ents:,} ents"))
        with tempfile.TemporaryDirectory() as tmp:
            enricher = Enricher(Config(root=Path(tmp)), jobs=jobs)
            t0 = time.perf_counter()
            result = enricher.run(articles)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            warm_result = enricher.run(articles)
            warm = time.perf_counter() - t0
        rows.append(("ours, cold cache", jobs, cold, f"{len(result.entities):,} entities, "
                     f"{result.model_calls} model calls"))
        rows.append(("ours, warm cache", jobs, warm, f"{warm_result.model_calls} model calls"))
    print(f"{len(articles):,} BBC articles, {words:,} words; model {pipeline.package}; batch {batch}")
    print()
    print(f"{'run':<36} {'procs':>5} {'seconds':>8} {'words/s':>9}  notes")
    for name, jobs, secs, note in rows:
        print(f"{name:<36} {jobs:>5} {secs:>8.2f} {words / secs:>9,.0f}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
