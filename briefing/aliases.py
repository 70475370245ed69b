"""Names a text defines for itself: an acronym in parentheses after its long form ("Islamic
State in Iraq and Syria (ISIS)") and an alias introduced by `known as "..."`.

Found on the text and the article's candidate mentions; resolution ties each pair together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .names import acronym_of, is_junk

if TYPE_CHECKING:
    from .resolve import Candidate

Pair = tuple[tuple[int, int], tuple[int, int], str]  # (full span, alias span, kind)

_ALIAS_INTRO = re.compile(
    r"""[,(]?\s*(?:(?:also|better|commonly|widely|popularly)\s+)?(?:known\s+as|called|nicknamed|dubbed|a\.?k\.?a\.?)"""
    r"""\s+["“'‘]?(?P<alias>[A-Z][\w'’.-]*(?:\s+(?:(?:al|bin|ibn|abu|de|van|von|el|da|di|du|la|le)[-\s])?[A-Z][\w'’.-]*)*)""",
)
_ACRONYM = re.compile(r"\(\s*([A-Z][A-Za-z.&]*[A-Z]\.?)\s*\)")


def defined_pairs(text: str, cands: Sequence[Candidate]) -> list[Pair]:
    """(full name span, alias span, kind) for every acronym or alias the text defines."""
    pairs: list[Pair] = []
    for m in _ACRONYM.finditer(text):
        acr_s, acr_e = m.start(1), m.end(1)
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = list(re.finditer(r"\S+", text[line_start:m.start()]))[-(len(m.group(1)) + 6):]
        found = None
        for j in range(len(before) - 1, -1, -1):
            ws = [w.group(0).strip(",;:\"“”") for w in before[j:]]
            if not ws[0][:1].isupper():
                continue
            if acronym_of(m.group(1), ws):
                found = (line_start + before[j].start(), line_start + before[-1].end())
                break
        if found is None:
            continue
        full_s, full_e = found
        inside = [c for c in cands if c.start < full_e and full_s < c.end]
        acr = [c for c in cands if c.start == acr_s and c.end == acr_e]
        if not inside and not acr:
            continue  # the model saw no entity here: an ordinary parenthesis
        kind = acr[0].kind if acr else max(inside, key=lambda c: c.end - c.start).kind
        pairs.append(((full_s, full_e), (acr_s, acr_e), kind))
    for c in list(cands):
        if c.kind not in ("person", "organization", "group"):
            continue
        m = _ALIAS_INTRO.match(text, c.end)
        if m:
            a_s, a_e = m.start("alias"), m.end("alias")
            while a_e > a_s and text[a_e - 1] in ".,'’":
                a_e -= 1
            if a_e > a_s and not is_junk(text[a_s:a_e]):
                pairs.append(((c.start, c.end), (a_s, a_e), c.kind))
    return pairs
