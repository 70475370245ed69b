"""Steps 1 and 2 of resolution (see resolve.py): one article's predicted spans cleaned into
candidate mentions, and those grouped into the article's local clusters."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from . import aliases, kinds
from .curation import EMPTY, Curation
from .names import LABEL_KINDS, PLACE_TAIL, clean_span, is_junk, is_short_form, is_shouting, name_tokens, norm
from .resolve import Annotation, Candidate, LocalCluster, Span, _Union

# -- 1. candidates -----------------------------------------------------------------------------


def candidates(text: str, headline_end: int, ann: Annotation, curation: Curation = EMPTY,
               headings: Sequence[tuple[int, int]] = ()) -> list[Candidate]:
    """Clean, filtered, non-overlapping candidate mentions, sorted by start.

    `headings` are ranges of `text` holding Title Case headings ("## Outlook"): like a Title Case
    headline, their capitals say little, so a name found there needs the body to name it too.
    """
    main = _clean_all(text, ann.spans, curation)
    # a span that runs from a heading into the next paragraph ("Outlook\n\nAirpower") taints both
    weak = list(headings) + [(sp.start, sp.end) for sp in ann.spans
                             if any(sp.start < e and s < sp.end for s, e in headings)]
    in_heading = lambda c: any(s <= c.start < e for s, e in weak)  # noqa: E731
    body = [c for c in main if c.start >= headline_end and not in_heading(c)]
    body_norms = {norm(c.text) for c in body}
    body += [c for c in main if c.start >= headline_end and in_heading(c) and _supported(c, body, body_norms)]
    if not ann.headline_cased or headline_end <= 0:
        return _finish(text, [c for c in main if c.start < headline_end] + body)
    recased = {(c.start, c.end): c for c in _clean_all(text, ann.recased, curation)}
    head = []
    for c in main:
        if c.start >= headline_end:
            continue
        again = recased.get((c.start, c.end))
        if again is not None:
            if not c.curated:
                c.kind, c.weight = again.kind, again.weight
            head.append(c)
        elif c.curated or norm(c.text) in body_norms:
            head.append(c)
    taken = [(c.start, c.end) for c in head]
    for c in recased.values():
        if c.end <= headline_end and not any(s < c.end and c.start < e for s, e in taken):
            head.append(c)
    return _finish(text, head + body)


def _supported(c: Candidate, body: list[Candidate], body_norms: set[str]) -> bool:
    """Curated, or named in the body (in full, or as a fuller name: "Sudani" for "al-Sudani")."""
    return bool(c.curated) or norm(c.text) in body_norms or any(is_short_form(c.text, b.text) for b in body)


def _finish(text: str, cands: list[Candidate]) -> list[Candidate]:
    out = _non_overlapping(cands)
    kinds.apply_cues(text, out)
    return out


def _clean_all(text: str, spans: Iterable[Span], curation: Curation) -> list[Candidate]:
    out = []
    for span in spans:
        label_kind = LABEL_KINDS.get(span.label)
        if label_kind is None:
            continue
        for start, end in _split_lines(text, span.start, span.end):
            kind, weight = label_kind, kinds.label_weight(span.label)
            tail = PLACE_TAIL.search(text, start, end)
            if tail and tail.end() == end and tail.start() > start:  # "Nineveh province"
                kind, weight = "place", kinds.CUE_WEIGHT
            cleaned = clean_span(text, start, end, kind)
            if cleaned is None:
                continue
            s, e = cleaned
            form = text[s:e]
            if is_junk(form) or curation.ignored(form):
                continue
            cur = curation.find(form)
            if cur is None and span.ent_id:
                cur = curation.find(span.ent_id)
            fixed = curation.kind_of(form)
            out.append(Candidate(s, e, form, cur.kind if cur else fixed or kind, cur.name if cur else "",
                                 weight))
    return out


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    if text.find("\n", start, end) < 0:
        return [(start, end)] if end > start else []
    parts = []
    pos = start
    for m in re.finditer(r"\n", text[start:end]):
        parts.append((pos, start + m.start()))
        pos = start + m.end()
    parts.append((pos, end))
    return [(s, e) for s, e in parts if e > s]


def _non_overlapping(cands: list[Candidate]) -> list[Candidate]:
    """Sorted by start; where two overlap, the longer one wins."""
    cands = sorted(cands, key=lambda c: (c.start, -(c.end - c.start)))
    out: list[Candidate] = []
    for c in cands:
        if out and c.start < out[-1].end:
            if c.end - c.start > out[-1].end - out[-1].start:
                out[-1] = c
            continue
        out.append(c)
    return out


# -- 2. within one article --------------------------------------------------------------------

def local_clusters(source: str, text: str, cands: list[Candidate],
                   curation: Curation = EMPTY) -> list[LocalCluster]:
    """Group one article's candidates into entities (see the module docstring)."""
    cands, links, strong_idx = _defined_aliases(text, cands, curation)
    n = len(cands)
    uf = _Union(n)
    by_form: dict[str, int] = {}
    by_curated: dict[str, int] = {}
    for i, c in enumerate(cands):
        key = norm(c.text)
        if key in by_form:
            uf.union(by_form[key], i)
        else:
            by_form[key] = i
        if c.curated:
            if c.curated in by_curated:
                uf.union(by_curated[c.curated], i)
            else:
                by_curated[c.curated] = i
    for a, b in links:
        if not curation.apart(cands[a].text, cands[b].text):
            uf.union(a, b)
    _link_short_forms(text, cands, by_form, uf, curation)

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[uf.find(i)].append(i)
    out = []
    for members in groups.values():
        ms = [cands[i] for i in members]
        out.append(_make_cluster(source, ms, {i for i in members if i in strong_idx}, cands))
    out.sort(key=lambda cl: cl.mentions[0].start)
    return out


def _defined_aliases(text: str, cands: list[Candidate],
                     curation: Curation) -> tuple[list[Candidate], list[tuple[int, int]], set[int]]:
    """Acronyms defined in parentheses and `known as "..."` aliases: new links (and mentions)."""
    cands = list(cands)
    pairs = aliases.defined_pairs(text, cands)
    for (fs, fe), (as_, ae), kind in pairs:
        for s, e in ((fs, fe), (as_, ae)):
            if not any(c.start == s and c.end == e for c in cands):
                cands = [c for c in cands if not (c.start < e and s < c.end)]
                cur = curation.find(text[s:e])
                cands.append(Candidate(s, e, text[s:e], cur.kind if cur else kind, cur.name if cur else ""))
    cands.sort(key=lambda c: c.start)
    pos = {(c.start, c.end): i for i, c in enumerate(cands)}
    out_links = []
    strong: set[int] = set()
    for full, alias, _ in pairs:
        if full in pos and alias in pos:
            out_links.append((pos[full], pos[alias]))
            strong.update((pos[full], pos[alias]))
    return cands, out_links, strong


_DEFINITE = re.compile(r"\b[Tt]he\s+$")


def _link_short_forms(text: str, cands: list[Candidate], by_form: dict[str, int], uf: _Union,
                      curation: Curation) -> None:
    """Tie "Assad" to "Bashar al-Assad" when one full name in the article fits, and "the
    Framework" to the "Coordination Framework" named before it."""
    forms = sorted(by_form.items(), key=lambda kv: len(name_tokens(cands[kv[1]].text)))
    for _, i in forms:
        short = cands[i]
        if short.curated:
            continue
        back_ref = len(name_tokens(short.text)) == 1 and bool(_DEFINITE.search(text, max(0, short.start - 8),
                                                                                 short.start))
        targets: dict[int, str] = {}
        for _, j in forms:
            full = cands[j]
            if len(name_tokens(full.text)) <= len(name_tokens(short.text)):
                continue
            how = is_short_form(short.text, full.text)
            if how is None:
                continue
            head_word = back_ref and how == "suffix" and full.kind == "organization" and j < i
            if not head_word and not _kinds_fit(short.kind, full.kind, how):
                continue
            if curation.apart(short.text, full.text):
                continue
            targets[uf.find(j)] = how
        suffix = [r for r, how in targets.items() if how == "suffix"]
        chosen = suffix if suffix else list(targets)
        if len(chosen) == 1:
            uf.union(i, chosen[0])


def _kinds_fit(short: str, full: str, how: str) -> bool:
    if full == "organization" and short == full:
        # "Pirelli" for "Pirelli Cables"; a bare "Framework" is not "Coordination Framework"
        # (but "the Framework" after it is: see _link_short_forms)
        return how == "prefix"
    if full != "person":
        return False  # "Mosul" is not "Eastern Mosul"
    if short == full:
        return True
    # a bare surname is often mislabelled (ORG, GPE) by the model; a person's name wins
    return how == "suffix" and full == "person" and short in ("organization", "place")


def _make_cluster(source: str, ms: list[Candidate], strong_ids: set[int], cands: list[Candidate]) -> LocalCluster:
    forms = Counter(c.text for c in ms)
    curated = next((c.curated for c in ms if c.curated), "")
    name = _fullest(forms)
    votes = kinds.cluster_votes(ms)
    kind = next(c.kind for c in ms if c.curated) if curated else kinds.cluster_kind(ms)
    strong = {norm(name)} | {norm(cands[i].text) for i in strong_ids}
    return LocalCluster(source, curated or name, kind, sorted(ms, key=lambda c: c.start), strong, forms, curated,
                        votes=votes)


def _fullest(forms: Counter) -> str:
    """The fullest common form: most words, written in mixed case, most used, longest."""
    return max(forms, key=lambda f: (len(name_tokens(f)), not is_shouting(f), forms[f], len(f), f))
