"""`briefing extract` and `briefing entities`: the entity pipeline from the command line.

    briefing extract FILE... --json [--project DIR]   one JSON object per file (JSON Lines)
    briefing entities [--json] [--kind K] [--project DIR]   the archive's canonical entities

`extract` analyses the given files as one archive (so names resolve across them). Without
--project it uses the default settings, no curation file and a throw-away cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import config as config_mod
from .errors import BriefingError, ContentError
from .model import KINDS, Article, Enrichment


def add_parsers(subparsers: Any) -> None:
    """Register `extract` and `entities` on the main CLI's subparsers."""
    p = subparsers.add_parser("extract", help="print the entities and tags found in files (JSON Lines)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help="content files (.md or .txt)")
    p.add_argument("--json", action="store_true", help="JSON Lines output (the only format; accepted for clarity)")
    p.add_argument("--project", metavar="DIR", help="use this archive's config.yaml and entities.yaml")
    p.add_argument("--jobs", type=int, default=1, help="processes for the NER model (default 1)")
    p.set_defaults(func=cmd_extract)

    p = subparsers.add_parser("entities", help="list the archive's canonical entities, most mentioned first")
    p.add_argument("--json", action="store_true", help="one JSON object per entity (JSON Lines)")
    p.add_argument("--kind", choices=KINDS, help="only entities of this kind")
    p.add_argument("--project", metavar="DIR", default=".", help="the project folder (default: .)")
    p.add_argument("--jobs", type=int, default=1, help="processes for the NER model (default 1)")
    p.set_defaults(func=cmd_entities)


def _enricher(config: config_mod.Config, jobs: int) -> Any:
    from .enrich import Enricher

    return Enricher(config, jobs=max(1, jobs), progress=sys.stderr.isatty())


def cmd_extract(args: argparse.Namespace) -> int:
    from . import sources

    paths = [Path(f) for f in args.files]
    for path in paths:
        if not path.is_file():
            raise BriefingError(f"{path}: no such file.")
    with tempfile.TemporaryDirectory(prefix="briefing-extract-") as scratch:
        config = config_mod.load(args.project) if args.project else config_mod.Config(root=Path(scratch))
        articles: list[Article] = []
        problems = []
        for path in paths:
            try:
                # a plain .txt has no date, and extraction does not need one
                src = sources.read_source(path.resolve(), config.root)
                articles.append(sources.parse(src, config, require_date=False))
            except ContentError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ContentError(problems)
        enrichment = _enricher(config, args.jobs).run(articles)
    for art in articles:
        print(json.dumps(extract_record(art, enrichment), ensure_ascii=False))
    return 0


def extract_record(article: Article, enrichment: Enrichment) -> dict[str, Any]:
    """The `extract` JSON object of one article."""
    mentions = enrichment.mentions.get(article.source, ())
    keys = list(dict.fromkeys(m.entity for m in mentions))
    return {
        "source": article.source,
        "title": article.title,
        "text": article.text,
        "mentions": [{"start": m.start, "end": m.end, "text": m.text, "kind": m.kind, "entity": m.entity}
                     for m in mentions],
        "entities": [{"key": k, "name": enrichment.entities[k].name, "kind": enrichment.entities[k].kind,
                      "aliases": list(enrichment.entities[k].aliases)} for k in keys],
        "tags": list(enrichment.topics.get(article.source, ())),
    }


def cmd_entities(args: argparse.Namespace) -> int:
    from . import sources

    config = config_mod.load(args.project)
    found, _, problems = sources.discover(config)
    articles, parse_problems = sources.parse_all(found, config)
    problems = list(problems) + list(parse_problems)
    if problems:
        raise ContentError(problems)
    articles = [a for a in articles if not a.draft]
    enrichment = _enricher(config, args.jobs).run(articles)
    rows = entity_rows(enrichment, args.kind)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not rows:
        print("No entities found." if articles else f"No articles in {config.content_path}.")
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'kind':<13} {'articles':>8} {'mentions':>8}  {'name':<{width}}  aliases")
    for r in rows:
        print(f"{r['kind']:<13} {r['articles']:>8} {r['mentions']:>8}  {r['name']:<{width}}  {', '.join(r['aliases'])}")
    return 0


def entity_rows(enrichment: Enrichment, kind: str | None = None) -> list[dict[str, Any]]:
    """Canonical entities with their counts, most mentioned first."""
    mentions: Counter = Counter()
    articles: Counter = Counter()
    for ms in enrichment.mentions.values():
        for m in ms:
            mentions[m.entity] += 1
        articles.update({m.entity for m in ms})
    rows = [{"key": e.key, "name": e.name, "kind": e.kind, "articles": articles[e.key], "mentions": mentions[e.key],
             "aliases": list(e.aliases)} for e in enrichment.entities.values() if kind is None or e.kind == kind]
    rows.sort(key=lambda r: (-r["mentions"], -r["articles"], r["name"].lower(), r["key"]))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="briefing")
    add_parsers(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BriefingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
