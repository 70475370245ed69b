"""Entity quality on the gold sets in ../shared/gold (CoNLL-2003 testa + AIDA CoNLL-YAGO testa).

    python benchmarks/quality.py [--shared DIR] [--check]

Each gold document is one article (first line = headline); the whole testa set is one archive.
Scores:
- NER: exact-span precision/recall/F1 of our person/organization/place mentions against the
  gold PER/ORG/LOC spans (MISC and our group/event kinds are left out of both sides).
- Resolution: B-cubed precision/recall/F1 of our canonical keys against the gold Wikipedia
  entities, over the gold-linked mentions (entity not null) that we found with the exact span,
  any kind. NME mentions are excluded. Beside it, a surface-string baseline (lower-cased mention
  text as the key) on the same mentions, and the stock model alone (its raw spans, surface keys).
`--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from briefing import nlp as nlp_mod  # noqa: E402
from briefing.config import Config  # noqa: E402
from briefing.curation import EMPTY  # noqa: E402
from briefing.enrich import enrich_from_annotations  # noqa: E402
from briefing.model import Article  # noqa: E402
from briefing.names import LABEL_KINDS  # noqa: E402
from briefing.ner import annotate  # noqa: E402

TARGETS = {"ner_f1": 0.65, "b3_f1": 0.89, "found": 3380}
NER_KINDS = {"person": "PER", "organization": "ORG", "place": "LOC"}


def load_gold(shared: Path) -> tuple[list[dict], list[dict]]:
    conll = shared / "gold" / "conll2003" / "testa.jsonl"
    aida = shared / "gold" / "aida" / "testa.jsonl"
    for path in (conll, aida):
        if not path.exists():
            raise SystemExit(f"error: gold file {path} is missing; pass --shared pointing at the shared/ folder.")
    read = lambda p: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]  # noqa: E731
    return read(conll), read(aida)


def as_article(doc_id: str, text: str) -> Article:
    title = text.split("\n", 1)[0]
    return Article(source=doc_id, title=title, date=dt.datetime(1996, 8, 30, tzinfo=dt.UTC),
                   slug=doc_id, summary="", body=text[len(title):], body_line=1, text=text,
                   headline_end=len(title), content_hash="")


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def ner_score(conll: list[dict], predicted: dict[str, set[tuple[int, int, str]]]) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for doc in conll:
        gold = {(e["start"], e["end"], e["label"]) for e in doc["entities"] if e["label"] != "MISC"}
        pred = predicted.get(doc["aida_id"], set())
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    return prf(tp, fp, fn)


def bcubed(pairs: list[tuple[str, str]]) -> tuple[float, float, float]:
    """pairs: (gold entity, system key) per mention."""
    if not pairs:
        return 0.0, 0.0, 0.0
    by_sys: dict[str, list[int]] = defaultdict(list)
    by_gold: dict[str, list[int]] = defaultdict(list)
    for i, (g, s) in enumerate(pairs):
        by_sys[s].append(i)
        by_gold[g].append(i)
    p = r = 0.0
    for g, s in pairs:
        sys_c, gold_c = by_sys[s], by_gold[g]
        inter = sum(1 for i in sys_c if pairs[i][0] == g)
        p += inter / len(sys_c)
        r += inter / len(gold_c)
    p /= len(pairs)
    r /= len(pairs)
    return p, r, 2 * p * r / (p + r)


def linked_pairs(aida: list[dict], keys: dict[str, dict[tuple[int, int], str]]) -> list[tuple[str, str, str]]:
    """(gold entity, system key, surface) for each gold-linked mention found with its exact span."""
    out = []
    for doc in aida:
        found = keys.get(doc["id"], {})
        for m in doc["entities"]:
            if m["entity"] and (m["start"], m["end"]) in found:
                out.append((m["entity"], found[(m["start"], m["end"])], m["text"]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--dump", type=Path, help="write per-mention details (JSON Lines) here")
    args = ap.parse_args(argv)
    conll, aida = load_gold(args.shared)
    articles = [as_article(d["id"], d["text"]) for d in aida]
    texts = {d["aida_id"]: d["text"] for d in conll}
    assert all(texts[a.source] == a.text for a in articles), "gold sets disagree on the text"

    pipeline = nlp_mod.load("auto")
    t0 = time.perf_counter()
    annotations, _ = annotate(articles, pipeline, None)
    t1 = time.perf_counter()
    config = Config(root=ROOT)
    enrichment = enrich_from_annotations(articles, annotations, EMPTY, config)
    t2 = time.perf_counter()

    # ours
    ours_ner = {src: {(m.start, m.end, NER_KINDS[m.kind]) for m in ms if m.kind in NER_KINDS}
                for src, ms in enrichment.mentions.items()}
    ours_keys = {src: {(m.start, m.end): m.entity for m in ms} for src, ms in enrichment.mentions.items()}
    # the stock model alone: raw spans, surface-string keys
    stock_ner, stock_keys = {}, {}
    for src, ann in annotations.items():
        text = next(a.text for a in articles if a.source == src)
        kinds = [(s, LABEL_KINDS.get(s.label)) for s in ann.spans]
        stock_ner[src] = {(s.start, s.end, NER_KINDS[k]) for s, k in kinds if k in NER_KINDS}
        stock_keys[src] = {(s.start, s.end): text[s.start:s.end].lower() for s, k in kinds if k}

    ours_pairs = linked_pairs(aida, ours_keys)
    stock_pairs = linked_pairs(aida, stock_keys)
    linked_total = sum(1 for d in aida for m in d["entities"] if m["entity"])
    rows = [
        ("ours", ner_score(conll, ours_ner), bcubed([(g, k) for g, k, _ in ours_pairs]), len(ours_pairs)),
        ("surface keys, our mentions", None, bcubed([(g, t.lower()) for g, _, t in ours_pairs]), len(ours_pairs)),
        ("stock model, surface keys", ner_score(conll, stock_ner), bcubed([(g, k) for g, k, _ in stock_pairs]),
         len(stock_pairs)),
    ]
    print(f"gold: {len(aida)} documents, {linked_total:,} linked mentions (AIDA testa); "
          f"model {pipeline.package} {pipeline.pipe_names}; annotate {t1 - t0:.1f}s, resolve+tags {t2 - t1:.2f}s")
    print()
    print(f"{'system':<28} {'NER P':>6} {'NER R':>6} {'NER F1':>6}   "
          f"{'B3 P':>6} {'B3 R':>6} {'B3 F1':>6}   {'found':>6}")
    for name, ner, b3, found in rows:
        ner_s = "   -      -      -  " if ner is None else f"{ner[0]:6.3f} {ner[1]:6.3f} {ner[2]:6.3f}"
        print(f"{name:<28} {ner_s:>20}   {b3[0]:6.3f} {b3[1]:6.3f} {b3[2]:6.3f}   {found:6,}")
    print()
    ner_f1, b3_f1, found = rows[0][1][2], rows[0][2][2], rows[0][3]
    checks = [("NER F1", ner_f1, TARGETS["ner_f1"]), ("B-cubed F1", b3_f1, TARGETS["b3_f1"]),
              ("linked mentions found", found, TARGETS["found"])]
    ok = True
    for label, value, target in checks:
        hit = value >= target
        ok &= hit
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.3f}"
        print(f"target {label} >= {target}: {shown} {'ok' if hit else 'MISSED'}")
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as fh:
            for doc in aida:
                ms = enrichment.mentions.get(doc["id"], ())
                rows = [[m.start, m.end, m.text, m.kind, m.entity] for m in ms]
                fh.write(json.dumps({"id": doc["id"], "mentions": rows},
                                    ensure_ascii=False) + "\n")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
