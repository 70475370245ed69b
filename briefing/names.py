"""Surface forms of names: cleaning a span, normalising a form, short forms of a full name.

Pure string functions shared by curation and resolution. A *form* is a name as written
("al-Sudani", "the Islamic State"); its *norm* is the comparison key (case, accents, dots and
spacing folded: "U.S." and "US" are one norm, so are "Václav Havel" and "Vaclav Havel").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from slugify import slugify as _slugify

# spaCy labels kept, and the kind each becomes. Everything else (DATE, TIME, CARDINAL, MONEY,
# PERCENT, QUANTITY, ORDINAL, PRODUCT, WORK_OF_ART, LAW, LANGUAGE) is never an entity.
LABEL_KINDS: dict[str, str] = {
    "PERSON": "person",
    "ORG": "organization",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
    "NORP": "group",
    "EVENT": "event",
}
KIND_LABELS: dict[str, str] = {
    "person": "PERSON", "organization": "ORG", "place": "GPE", "group": "NORP", "event": "EVENT",
}

# Titles and honorifics stripped from the front of a name, longest first when matching.
_TITLES = (
    "mr mrs ms miss mx dr prof professor sir dame lord lady madam madame mme mlle monsieur herr",
    "president vice-president prime minister premier chancellor",
    "deputy minister secretary secretary-general",
    "king queen prince princess emperor empress sultan emir sheikh sheik shaikh",
    "pope cardinal archbishop bishop rev reverend father imam ayatollah rabbi",
    "gen general lt lieutenant col colonel maj major capt captain cmdr commander adm admiral",
    "sgt sergeant cpl corporal marshal brig brigadier lt-gen lt-col maj-gen",
    "sen senator rep representative gov governor mayor judge justice",
    "ambassador envoy speaker chairman chairwoman chair ceo coach manager spokesman spokeswoman",
    "spokesperson leader commander-in-chief former late interim acting",
)
def _title_phrases() -> tuple[tuple[str, ...], ...]:
    multi = [
        "prime minister", "foreign minister", "defence minister", "defense minister",
        "interior minister", "finance minister", "deputy prime minister", "secretary of state",
        "state secretary", "secretary general", "crown prince", "grand ayatollah", "field marshal",
        "chief justice", "attorney general", "supreme leader", "vice president",
    ]
    singles = set()
    for line in _TITLES:
        for word in line.split():
            singles.add(word)
    phrases = {tuple(m.split()) for m in multi} | {(w,) for w in singles}
    return tuple(sorted(phrases, key=lambda p: (-len(p), p)))


TITLE_PHRASES = _title_phrases()
_ARTICLES = {"the", "a", "an"}
# Arabic and similar name particles: "al-Assad" is found as "Assad" too.
_PARTICLE = re.compile(r"^(?:al|el|ad|ar|as|ash|at|az|an|ath)[-‐‑](?=\w)", re.IGNORECASE)
_MONTHS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
}
_MONTHS_DAYS = _MONTHS | {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today",
    "yesterday", "tomorrow", "tonight",
}
# Words that only ever make up dates, times and numbers ("Early September", "Thirty-First").
_NUMBER_WORDS = set(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand million billion trillion dozen first second third fourth fifth sixth seventh eighth "
    "ninth tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth "
    "nineteenth twentieth thirtieth".split())
_DATE_WORDS = _MONTHS_DAYS | _NUMBER_WORDS | {"spring", "summer", "autumn", "winter", "noon", "midnight",
                                             "am", "pm", "gmt", "utc", "bst", "est"}
_DATE_GLUE = {"of", "the", "and", "to", "early", "mid", "late", "end", "on", "in", "around"}
# A number that is never part of a name: a year, a date, a score, a grouped or ordinal number.
_DATE_NUMBER = re.compile(
    r"(?:1\d|20|21)\d\d(?:s|['’]s)?"  # 1996, 2020s
    r"|\d{1,4}(?:[-/.]\d{1,4}){2}"  # 1996-08-30, 09/05/96
    r"|\d+(?:-\d+)+-?"  # 2-0, 4-0-25-0
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 442,201
    r"|\d+(?:st|nd|rd|th)"  # 13th, 182nd
    r"|\d{1,2}[:.]\d\d(?:am|pm|h)?",  # 10:30, 10.30pm
    re.IGNORECASE)
_PARTICLES = {"al", "el", "bin", "ibn", "abu", "de", "la", "le", "van", "von", "the"}
# Generic words after a place name: "Anbar province" is Anbar.
PLACE_TAIL = re.compile(r"\s+(?:province|governorate|region|district|county|prefecture)$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:['’]s|(?<=s)['’])$")
_EDGE_JUNK = " \t\n\"'“”‘’«»()[]{},.;:!?*_-–—/\\|"
_NONSPACE = re.compile(r"\S+")
_WORD = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*\.?")


# norm(), slug(), name_tokens() and initials() of every form seen, kept between builds (`memo`,
# `remember`): python-slugify takes ~10 µs a call, and a large archive has tens of thousands of
# names (a resolution asks the initials of 20,000 at 10,000 articles).
_NORM: dict[str, str] = {}
_SLUG: dict[str, str] = {}
_TOKENS: dict[str, tuple[str, ...]] = {}
_INITIALS_OF: dict[str, str] = {}


def norm(form: str) -> str:
    """The comparison key of a form: folded case and accents, no dots, single spaces."""
    got = _NORM.get(form)
    if got is None:
        text = form.replace("’", "'").replace(".", "")
        got = _NORM[form] = _slugify(text, separator=" ", lowercase=True) or form.strip().lower()
    return got


def slug(text: str) -> str:
    """An ASCII, transliterated, never empty slug."""
    got = _SLUG.get(text)
    if got is None:
        got = _slugify(text.replace(".", ""), max_length=80, word_boundary=True)
        if not got:
            got = "x-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        _SLUG[text] = got
    return got


def memo() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, ...]], dict[str, str]]:
    """What norm(), slug(), name_tokens() and initials() have computed so far (to keep for the
    next build)."""
    return _NORM, _SLUG, _TOKENS, _INITIALS_OF


def remember(norms: dict[str, str], slugs: dict[str, str], tokens: dict[str, tuple[str, ...]],
             initials_of: dict[str, str]) -> None:
    """Take `memo` results kept from an earlier build of the same code."""
    for known, more in ((_NORM, norms), (_SLUG, slugs), (_TOKENS, tokens), (_INITIALS_OF, initials_of)):
        if known:
            for k, v in more.items():
                known.setdefault(k, v)
        else:
            known.update(more)


def words(form: str) -> list[str]:
    """The words of a form, as written."""
    return [m.group(0) for m in _WORD.finditer(form)]


def core(word: str) -> str:
    """A word without its name particle: "al-Assad" -> "Assad"."""
    return _PARTICLE.sub("", word)


def name_tokens(form: str) -> tuple[str, ...]:
    """Normalised words of a name with particles removed, for short-form matching."""
    got = _TOKENS.get(form)
    if got is None:
        got = _TOKENS[form] = tuple(n for n in (norm(core(w)) for w in words(form)) if n)
    return got


def is_short_form(short: str, full: str) -> str | None:
    """How `short` abbreviates `full`: "suffix" (surname), "prefix" (first words), or None.

    "Assad" is a suffix form of "Bashar al-Assad", "Jansher" a prefix form of "Jansher Khan".
    """
    s, f = name_tokens(short), name_tokens(full)
    if not s or len(s) >= len(f):
        return None
    if f[-len(s):] == s:
        return "suffix"
    if f[:len(s)] == s:
        return "prefix"
    return None


def surname_keys(form: str) -> list[tuple[str, ...]]:
    """The short forms a full name is commonly referred back with (its trailing words)."""
    toks = name_tokens(form)
    return [toks[i:] for i in range(1, len(toks))]


def acronym_of(acronym: str, phrase_words: list[str]) -> bool:
    """Whether `acronym` ("ISIS", "U.N.") is made of the initials of the capitalised words."""
    letters = "".join(ch for ch in acronym if ch.isalpha())
    if len(letters) < 2 or not letters.isupper():
        return False
    initials = ""
    for word in phrase_words:
        for part in re.split(r"[-‐]", word):
            if part[:1].isupper():
                initials += part[0]
    return initials.upper() == letters.upper()


_FIRST_WORD = re.compile(r"[^\W_]+\.?")
_LAST_WORD = re.compile(r"[^\s]+$")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")


def clean_span(text: str, start: int, end: int, kind: str) -> tuple[int, int] | None:
    """Trim a predicted span to the name itself; None when nothing name-like remains.

    Strips edge punctuation and quotes, a leading article ("the"), a trailing possessive
    ("'s"), and (for people) leading titles ("President", "Prime Minister", "Mr."). Offsets
    move with the text, so text[start:end] is still the cleaned form.
    """
    changed = True
    while changed and start < end:
        changed = False
        while start < end and text[start] in _EDGE_JUNK:
            start += 1
            changed = True
        while end > start and text[end - 1] in _EDGE_JUNK and not _keeps_final_dot(text, start, end):
            end -= 1
            changed = True
        m = _POSSESSIVE.search(text, start, end)
        if m and m.end() == end and end - start > 2:
            end = m.start()
            changed = True
        first = _FIRST_WORD.match(text, start, end)
        if first:
            word = first.group(0).rstrip(".").lower()
            rest = text[first.end():end]
            if word in _ARTICLES and rest[:1].isspace():
                start = first.end()
                changed = True
                continue
            if kind == "person":
                n = _title_length(text[start:end])
                if n:
                    start += n
                    changed = True
    if start >= end:
        return None
    if kind != "event":  # an event's year is part of its name ("the 2003 invasion")
        start, end = strip_dates(text, start, end)
        while end > start and text[end - 1] in _EDGE_JUNK and not _keeps_final_dot(text, start, end):
            end -= 1
        if start >= end:
            return None
    if kind == "place":
        m = PLACE_TAIL.search(text, start, end)
        if m and m.end() == end and m.start() > start:
            end = m.start()
    return start, end


def _keeps_final_dot(text: str, start: int, end: int) -> bool:
    """A final '.' belongs to an abbreviation ("U.S.", "Jr.") but not to a sentence."""
    if text[end - 1] != ".":
        return False
    last = _LAST_WORD.search(text[start:end - 1])
    if not last:
        return False
    word = last.group(0)
    return bool(_INITIALS.fullmatch(word)) or word in ("Jr", "Sr", "Inc", "Co", "Corp", "Ltd")


def _title_length(form: str) -> int:
    """Characters of leading title words in `form` (with the space after them), or 0."""
    tokens = list(_NONSPACE.finditer(form))
    if len(tokens) < 2:
        return 0
    lowered = [t.group(0).rstrip(".,").lower() for t in tokens]
    for phrase in TITLE_PHRASES:
        n = len(phrase)
        if n < len(tokens) and tuple(lowered[:n]) == phrase and tokens[n].group(0)[:1].isupper():
            return tokens[n].start()
    return 0


@lru_cache(maxsize=65536)
def _date_token(token: str) -> str:
    """"number" (a year, date, score...), "word" (a month, weekday, number word), "glue" or ""."""
    t = token.strip(",.;:()'’").lower()
    if not t:
        return "glue"
    if _DATE_NUMBER.fullmatch(t):
        return "number"
    if t.isdigit():
        return "digits"
    parts = [p for p in re.split(r"[-‐‑–]", t) if p]
    if parts and all(p in _DATE_WORDS or p in _DATE_GLUE or _DATE_NUMBER.fullmatch(p) or p.isdigit()
                     for p in parts):
        return "glue" if all(p in _DATE_GLUE for p in parts) else "word"
    return ""


def is_date_like(form: str) -> bool:
    """Every word is part of a date, time or number: "September 2026", "Early June", "182nd"."""
    tokens = form.split()
    if not tokens or not all(_date_token(t) for t in tokens):
        return False
    return any(_date_token(t) != "glue" for t in tokens)


def strip_dates(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a date at either end of a name ("Mosul June 2014" -> "Mosul"), when it is one: a run
    of date words holding a year, a full date, a score or a grouped number (not a bare "4":
    "Channel 4"), and a name remains."""
    piece = text[start:end].split()
    if not piece or not (_date_token(piece[0]) or _date_token(piece[-1])):
        return start, end  # the common case: no date at either end
    tokens = [(m.start() + start, m.end() + start, m.group(0)) for m in _NONSPACE.finditer(text[start:end])]

    def run_length(seq: list[tuple[int, int, str]]) -> int:
        n = 0
        strong = False
        for _, _, tok in seq:
            kind = _date_token(tok)
            if not kind:
                break
            strong = strong or kind == "number"
            n += 1
        return n if strong else 0

    tail = run_length(tokens[::-1])
    if 0 < tail < len(tokens):
        rest = tokens[:len(tokens) - tail]
        if not is_date_like(" ".join(t for _, _, t in rest)):
            end = rest[-1][1]
            tokens = rest
    head = run_length(tokens)
    if 0 < head < len(tokens):
        rest = tokens[head:]
        if not is_date_like(" ".join(t for _, _, t in rest)):
            start = rest[0][0]
    while end > start and text[end - 1] in ",;:(–—-" :
        end -= 1
    return start, end


@lru_cache(maxsize=65536)
def is_junk(form: str) -> bool:
    """Forms that are never names: numbers, lower-case words, single letters, dates."""
    letters = [ch for ch in form if ch.isalpha()]
    if len(letters) < 2:
        return True
    if not any(ch.isupper() for ch in letters):
        return True
    if norm(form) in _MONTHS_DAYS or norm(form) in _PARTICLES or is_date_like(form):
        return True
    first = words(form)
    return bool(first and first[0][:1].isdigit() and len(first) == 1)


@lru_cache(maxsize=65536)
def is_shouting(form: str) -> bool:
    """All letters upper case (a headline or a table row in wire copy)."""
    letters = [ch for ch in form if ch.isalpha()]
    return len(letters) > 3 and all(ch.isupper() for ch in letters)


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


# Nationality words that no suffix rule reaches, and the place names they point to.
_IRREGULAR_DEMONYMS: dict[str, tuple[str, ...]] = {
    "american": ("United States", "US", "America", "USA"),
    "americans": ("United States", "US", "America", "USA"),
    "british": ("Britain", "United Kingdom", "UK"), "briton": ("Britain", "United Kingdom", "UK"),
    "english": ("England",), "french": ("France",), "frenchman": ("France",),
    "dutch": ("Netherlands", "Holland"), "spanish": ("Spain",), "spaniard": ("Spain",),
    "swiss": ("Switzerland",), "swedish": ("Sweden",), "swede": ("Sweden",),
    "danish": ("Denmark",), "dane": ("Denmark",), "scottish": ("Scotland",), "scot": ("Scotland",),
    "irish": ("Ireland",), "welsh": ("Wales",), "greek": ("Greece",), "finnish": ("Finland",),
    "finn": ("Finland",), "filipino": ("Philippines",), "thai": ("Thailand",),
    "afghan": ("Afghanistan",), "argentine": ("Argentina",), "kurdish": ("Kurdistan",),
    "kurd": ("Kurdistan",), "kurds": ("Kurdistan",), "turk": ("Turkey",), "pole": ("Poland",),
    "czech": ("Czech Republic", "Czechia"), "slovak": ("Slovakia",), "croat": ("Croatia",),
    "serb": ("Serbia",), "lao": ("Laos",), "malagasy": ("Madagascar",), "monegasque": ("Monaco",),
    "emirati": ("United Arab Emirates", "UAE"), "saudi": ("Saudi Arabia",),
    "new zealander": ("New Zealand",), "kiwi": ("New Zealand",),
}
_DEMONYM_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ian", ("ia", "y", "", "a", "ium", "e", "o")),
    ("ean", ("e", "ea", "a")),
    ("ese", ("a", "", "on", "al", "e")),
    ("ish", ("ey", "and", "land", "istan", "")),
    ("an", ("a", "o", "", "y")),
    ("i", ("", "a")),
    ("er", ("",)),
    ("", ("y",)),
)


def demonym_places(form: str) -> tuple[str, ...]:
    """Place names a nationality word may stand for, most likely first: "Iraqi" -> ("Iraq", ...)."""
    word = " ".join(words(form))
    if not word or not word[0].isupper():
        return ()
    key = norm(word)
    if key in _IRREGULAR_DEMONYMS:
        return _IRREGULAR_DEMONYMS[key]
    if " " in word:
        head, _, last = word.rpartition(" ")
        return tuple(f"{head} {p}" for p in demonym_places(last))
    singular = word
    if re.search(r"(?:is|ans|ens)$", word):
        singular = word[:-1]
    if norm(singular) in _IRREGULAR_DEMONYMS:
        return _IRREGULAR_DEMONYMS[norm(singular)]
    out: list[str] = []
    for suffix, replacements in _DEMONYM_SUFFIXES:
        if singular.endswith(suffix) and len(singular) - len(suffix) >= 3:
            stem = singular[:len(singular) - len(suffix)] if suffix else singular
            for rep in replacements:
                cand = stem + rep
                if cand != singular and cand not in out:
                    out.append(cand)
    return tuple(out)


def initials(form: str) -> str:
    """Initials of the capitalised words: "United States" -> "US"; "" for one word."""
    got = _INITIALS_OF.get(form)
    if got is None:
        ws = [w for w in words(form) if w[:1].isupper()]
        got = _INITIALS_OF[form] = "".join(w[0] for w in ws).upper() if len(ws) >= 2 else ""
    return got


def acronym_letters(form: str) -> str:
    """"U.S." -> "US", "ISIS" -> "ISIS"; "" unless the form looks like an acronym."""
    if re.fullmatch(r"(?:[A-Z]\.){2,}|[A-Z]{2,6}", form.strip()):
        return form.replace(".", "").strip()
    return ""
