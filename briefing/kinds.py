"""Kinds: which kind of entity a name is, from the model's labels, the words around it, and the
whole archive.

The small model's label on a lone, unfamiliar name is often wrong ("Tal Afar" a person, "Erbil"
an organization, "Samarra" a nationality), so a label is a vote, not a verdict:

- Each mention votes for its label's kind with a weight: 1, or 1.5 for GPE (the model rarely
  calls a non-place a GPE). Words around it can overrule the label with a stronger vote: a place
  noun after or before the name ("Nineveh province", "the regional capital, Erbil"), a compass
  direction ("Tal Afar to the west"), a list of places ("Aleppo, Hama and Homs"), or a
  nationality word standing alone after a preposition of place ("roads towards Samarra.").
- Within an article, a cluster that ties short forms to a full name takes the full name's kind
  ("Assad" labelled GPE is still Bashar al-Assad); otherwise the weighted vote decides.
- Across the archive, the same name seen as several kinds becomes one entity whose kind is the
  weighted vote of all its mentions (a tie goes to the kind more mentions had). A bare word
  labelled a person joins a place of that name only when no person in the archive has it as a
  name ("Baghouz", but not "Jordan" beside Michael Jordan), and such a word's GPE labels count
  no more than its PERSON ones ("Agassi"). A lone organization-labelled word joins the one person
  it was seen standing for ("Sistani's call" -> Ali al-Sistani), unless it is used alone more
  often than that person is named. Plural and singular group names are one group ("Muslims",
  "Muslim"), and a nationality word is its place when the archive names it ("Iraqi" -> Iraq).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from .curation import Curation
from .names import demonym_places, name_tokens, norm, surname_keys

if TYPE_CHECKING:
    from .resolve import Candidate, LocalCluster, _Union

LABEL_WEIGHT = {"GPE": 1.5}  # every other label: 1
CUE_WEIGHT = 3.0  # words around the name that say "place"

_PLACE_NOUNS = r"(?:province|governorate|region|district|county|prefecture|municipality|city|town|village)"
_PLURAL_PLACES = r"(?:provinces|governorates|regions|districts|counties|cities|towns|villages|countries)"
_DIRECTION = r"(?:north|south|east|west)(?:-?(?:east|west))?(?:ern)?"
_AFTER = re.compile(rf"\s+(?:{_PLACE_NOUNS}\b|to the {_DIRECTION}\b)")
_NOT_A_CITY = "".join(rf"(?<![{w[0].upper()}{w[0]}]{w[1:]} )" for w in
                      ("home", "venture", "working", "risk", "share", "private", "human"))
_BEFORE = re.compile(rf"{_NOT_A_CITY}\b(?:(?:{_PLACE_NOUNS}|capital|outskirts|suburbs?|{_DIRECTION}) of|capital,)\s+$")
_LIST_HEAD = re.compile(rf"\b{_PLURAL_PLACES}(?:,| such as| like| including| of)?\s+$")
# A nationality word used as a bare noun after these is a place ("an Iraqi from Samarra, ...").
_LOCATIVE = re.compile(r"\b(?:from|towards?|around|near|outside|reach(?:ed|es|ing)?)\s+$")
_LIST_SEP = re.compile(r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+)")
_CAP_WORD = re.compile(r"[A-Z][\w'’-]+\s*,\s*$")  # "Aleppo, " before a list item


def label_weight(label: str) -> float:
    return LABEL_WEIGHT.get(label, 1.0)


# -- cues around one mention ------------------------------------------------------------------


def apply_cues(text: str, cands: Sequence[Candidate]) -> None:
    """Re-kind mentions whose surroundings say "place", in place (curated mentions untouched)."""
    for i, c in enumerate(cands):
        if c.curated or (c.kind == "place" and c.weight >= CUE_WEIGHT):
            continue
        before = text[max(0, c.start - 40):c.start]
        after = text[c.end:c.end + 30]
        if c.kind == "group":  # a nationality word is an adjective ("a Kurdish town") unless alone
            place = _LOCATIVE.search(before) and _stands_alone(after) or _in_place_list(text, cands, i) == "head"
        else:
            place = _AFTER.match(after) or _BEFORE.search(before) or (
                c.kind == "person" and _in_place_list(text, cands, i))
        if place:
            c.kind, c.weight = "place", CUE_WEIGHT


def _stands_alone(after: str) -> bool:
    """Nothing follows the name in its clause: "... reach Samarra." but not "from Sunni areas"."""
    return not after.strip() or after.lstrip(" ")[:1] in ".,;:!?)\n"


def _in_place_list(text: str, cands: Sequence[Candidate], i: int) -> str:
    """In a list of places: "head" when a plural place noun heads it ("provinces such as Anbar
    and Salahuddin"), "middle" between two items, neither a person and one a sure place."""
    c = cands[i]
    left = cands[i - 1] if i > 0 and _LIST_SEP.fullmatch(text[cands[i - 1].end:c.start]) else None
    right = cands[i + 1] if i + 1 < len(cands) and _LIST_SEP.fullmatch(text[c.end:cands[i + 1].start]) else None
    first = c
    j = i
    while j > 0 and _LIST_SEP.fullmatch(text[cands[j - 1].end:cands[j].start]):
        j -= 1
        first = cands[j]
    if (left or right) and _LIST_HEAD.search(text[max(0, first.start - 40):first.start]):
        return "head" if any(_sure_place(n) for n in (left, right) if n is not None) else ""
    if right is None or right.kind == "person" or (left is not None and left.kind == "person"):
        return ""
    left_ok = left is not None or bool(_CAP_WORD.search(text[max(0, c.start - 30):c.start]))
    return "middle" if left_ok and (_sure_place(right) or (left is not None and _sure_place(left))) else ""


def _sure_place(c: Candidate) -> bool:
    return c.kind == "place" and (c.weight > 1.0 or bool(c.curated))


# -- one article ------------------------------------------------------------------------------


def cluster_votes(ms: Sequence[Candidate]) -> Counter:
    """Weighted kind votes of one article's cluster. When short forms are tied to a fuller name,
    the fullest forms speak for the entity: a bare surname is often mislabelled."""
    longest = max(len(name_tokens(c.text)) for c in ms)
    full = [c for c in ms if len(name_tokens(c.text)) == longest]
    votes: Counter = Counter()
    for c in full:
        votes[c.kind] += c.weight
    if len(full) < len(ms):
        kind = _top(votes, full)
        votes[kind] += sum(1.0 for c in ms if len(name_tokens(c.text)) < longest)
    return votes


def cluster_kind(ms: Sequence[Candidate]) -> str:
    return _top(cluster_votes(ms), ms)


def _top(votes: Counter, ms: Sequence[Candidate]) -> str:
    top = max(votes.values())
    tied = {k for k, v in votes.items() if v == top}
    long_kind = max(ms, key=lambda c: len(c.text)).kind
    return long_kind if long_kind in tied else min(tied)


# -- the archive ------------------------------------------------------------------------------


def archive_kind(cls: Iterable[LocalCluster]) -> str:
    """The kind of one canonical entity: the weighted vote of all its clusters."""
    cls = cls if isinstance(cls, list) else list(cls)
    if len(cls) == 1:  # most entities: the sums below would be these very numbers
        votes: Mapping[str, float] = cls[0].votes
        if len(votes) == 1:  # and most clusters had one kind: the top one
            for kind in votes:
                return kind
    else:
        votes = {}
        for c in cls:
            for k, v in c.votes.items():
                votes[k] = votes.get(k, 0.0) + v
    top = max(votes.values())
    tied = [k for k, v in votes.items() if v == top]
    if len(tied) == 1:
        return tied[0]
    tied.sort()
    # a tie goes to the kind more mentions had, then to the first in the alphabet
    mentions = Counter(m.kind for c in cls for m in c.mentions)
    return max(tied, key=lambda k: (mentions[k], -tied.index(k)))


def _strong_place(cls: Iterable[LocalCluster]) -> bool:
    """Some mention was labelled GPE, or its surroundings said "place"."""
    return any(m.kind == "place" and m.weight > 1.0 for c in cls for m in c.mentions)


def person_names(clusters: Sequence[LocalCluster], groups: dict[int, list[int]]) -> dict[tuple[str, ...], set[int]]:
    """Single words that name a person with a full name in the archive (surname or first name)
    -> their groups."""
    out: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for root, members in groups.items():
        for i in members:
            cl = clusters[i]
            if cl.kind != "person":
                continue
            for form in set(cl.forms) | {cl.name}:
                toks = name_tokens(form)
                if len(toks) > 1:
                    for key in surname_keys(form):
                        out[key].add(root)
                    out[toks[:1]].add(root)
    return out


def person_words_stay_people(clusters: Sequence[LocalCluster],
                             named_outside: Callable[[tuple[str, ...]], bool] | None = None) -> None:
    """A lone word that is the surname or first name of a person named in full somewhere in the
    archive ("Agassi" beside "Andre Agassi"): its GPE labels are no stronger than its PERSON ones.
    `named_outside`: whether such a word names a person outside these clusters (region.py)."""
    words: set[tuple[str, ...]] = set()
    for cl in clusters:
        if cl.kind == "person" and not cl.curated:
            for form in set(cl.forms) | {cl.name}:
                toks = name_tokens(form)
                if len(toks) > 1:
                    words.update(surname_keys(form))
                    words.add(toks[:1])
    for cl in clusters:
        if cl.kind == "person" or cl.curated or not cl.lone:
            continue
        toks = name_tokens(cl.name)
        if toks not in words and not (named_outside is not None and named_outside(toks)):
            continue
        votes: Counter = Counter()
        for m in cl.mentions:
            votes[m.kind] += 1.0 if m.weight == LABEL_WEIGHT["GPE"] else m.weight
        if votes["person"] and votes["person"] >= max(votes.values()):
            cl.kind, cl.votes = "person", votes


def merge_same_names(clusters: Sequence[LocalCluster], groups: dict[int, list[int]], uf: _Union,
                     curation: Curation, named_outside: Callable[[tuple[str, ...]], bool] | None = None) -> None:
    """One name seen as several kinds ("Idlib" as a place and as an organization) is one entity.
    A bare word seen as a person stays a person when the archive has a person of that name
    ("Jordan" beside "Michael Jordan") or the person votes are stronger."""
    persons = person_names(clusters, groups)
    by_name: dict[str, list[int]] = defaultdict(list)
    for root, members in groups.items():
        if any(clusters[i].curated for i in members):
            continue
        by_name[norm(clusters[root].name)].append(root)
    for name, roots in by_name.items():
        if len(roots) < 2:
            continue
        keep = roots
        if len(name_tokens(name)) <= 1:
            people = [r for r in roots if _group_kind(clusters, groups[r]) == "person"]
            of_people = set(people)
            others = [r for r in roots if r not in of_people]
            if people and others:
                weight = lambda rs: sum(sum(clusters[i].votes.values()) for r in rs for i in groups[r])  # noqa: E731
                lone = all(clusters[i].lone for r in people for i in groups[r])
                toks = name_tokens(name)
                if (not lone or toks in persons or (named_outside is not None and named_outside(toks))
                        or weight(people) >= weight(others)):
                    keep = others
        for r in keep[1:]:
            if not curation.apart(clusters[keep[0]].name, clusters[r].name):
                uf.union(keep[0], r)


def _group_kind(clusters: Sequence[LocalCluster], members: list[int]) -> str:
    return archive_kind(clusters[i] for i in members)


def person_short_names(clusters: Sequence[LocalCluster],
                       groups: dict[int, list[int]]) -> dict[tuple[str, ...], set[int]]:
    """One-word forms seen tied to a person's full name in some article ("Sistani" to "Ali
    al-Sistani") -> the groups of those people."""
    out: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for root, members in groups.items():
        if not any(clusters[i].kind == "person" for i in members) or all(clusters[i].lone for i in members):
            continue
        if _group_kind(clusters, members) != "person":
            continue
        for i in members:
            for form in clusters[i].forms:
                toks = name_tokens(form)
                if len(toks) == 1:
                    out[toks].add(root)
    return out


def person_for_short_name(clusters: Sequence[LocalCluster], groups: dict[int, list[int]], root: int,
                          short_names: dict[tuple[str, ...], set[int]],
                          outside: Callable[[tuple[str, ...]], Collection[str]] | None = None) -> int | str | None:
    """The one person a lone organization-labelled word stands for ("Sistani's call" -> Ali
    al-Sistani, known as "Sistani" elsewhere), unless it was ever labelled a place with conviction.
    A word that is only the last word of a name ("Hezbollah" of "Kata'ib Hezbollah", mislabelled a
    person) is not enough: the word must have been seen standing for the person, and not be used
    alone more often than the person is named ("Islam" is not "Mohammed Islam")."""
    cls = [clusters[i] for i in groups[root]]
    if _group_kind(clusters, groups[root]) != "organization" or _strong_place(cls):
        return None
    toks = name_tokens(clusters[root].name)
    targets = short_names.get(toks, set()) if len(toks) == 1 else set()
    beyond = outside(toks) if outside is not None and len(toks) == 1 else ()
    if len(targets) + len(beyond) != 1:
        return None
    if beyond:  # a person outside the region's clusters (region.py): named by its entity's key
        return next(iter(beyond))
    target = next(iter(targets))
    # a word used on its own more often than the person is named is something else ("Islam")
    mentions = lambda members: sum(len(clusters[i].mentions) for i in members)  # noqa: E731
    return target if mentions(groups[root]) <= mentions(groups[target]) else None


def merge_group_plurals(clusters: Sequence[LocalCluster], groups: dict[int, list[int]], uf: _Union,
                        curation: Curation) -> None:
    """"Muslims" and "Muslim", "Kurds" and "Kurd": one group."""
    by_name: dict[str, int] = {}
    for root, members in groups.items():
        cls = [clusters[i] for i in members]
        if not any(c.kind == "group" for c in cls) or any(c.curated or c.demonym for c in cls):
            continue
        if _group_kind(clusters, members) != "group":
            continue
        by_name.setdefault(norm(clusters[root].name), root)
    for name, root in sorted(by_name.items()):
        for singular in _singulars(name):
            other = by_name.get(singular)
            if other is not None and other != root and not curation.apart(name, singular):
                uf.union(other, root)
                break


def _singulars(name: str) -> list[str]:
    if not name.endswith("s") or name.endswith("ss") or len(name) < 4:
        return []
    out = [name[:-1]]
    if name.endswith("es"):
        out.append(name[:-2])
    return out


def attach_demonyms(clusters: Sequence[LocalCluster], groups: dict[int, list[int]], uf: _Union,
                     curation: Curation) -> None:
    """"Iraqi", "Iraqis" are mentions of Iraq when the archive names Iraq (a place)."""
    places: dict[str, int] = {}  # a form's first group in order
    for root, members in groups.items():
        forms: set[str] = set()  # a group's clusters mostly repeat one another
        for i in members:
            c = clusters[i]
            if c.kind == "place":
                forms.add(c.name)
                forms.update(c.forms)
        for form in forms:
            places.setdefault(norm(form), root)
    for root, members in groups.items():
        cls = [clusters[i] for i in members]
        if any(c.kind != "group" or c.curated for c in cls):
            continue
        for place in demonym_places(clusters[root].name):
            target = places.get(norm(place))
            if target is not None and not curation.apart(clusters[root].name, place):
                for c in cls:
                    c.kind = "place"
                    c.demonym = True
                    c.votes = Counter({"place": sum(c.votes.values())})
                uf.union(target, root)
                break
