"""How a headline or heading is cased, and what casing its words have in the body.

Title Case and ALL CAPS headlines (as in wire copy) make the stock model see names everywhere,
so enrich.py also reads such a headline re-cased, and treats Title Case headings with care.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache

from . import markdown
from .model import Article
from .stopwords import stop_words

_LETTERS = re.compile(r"[^\W\d_]+")


# -- headlines --------------------------------------------------------------------------------


def headline_cased(headline: str) -> bool:
    """Whether a headline is in Title Case or ALL CAPS, so its capitals say little."""
    significant = [w for w in _LETTERS.findall(headline) if len(w) > 3 and w.lower() not in stop_words()]
    if len(significant) < 2:
        return False
    upper = sum(1 for w in significant if w[0].isupper())
    return upper >= 0.75 * len(significant)


def casing_vocabulary(body: str, extra_forms: Iterable[str] = ()) -> dict[str, str]:
    """lower-cased word -> how the body writes it (ignoring sentence-initial capitals)."""
    inner: dict[str, Counter] = defaultdict(Counter)
    initial: dict[str, Counter] = defaultdict(Counter)
    for m in _LETTERS.finditer(body):
        word = m.group(0)
        before = body[max(0, m.start() - 3):m.start()].rstrip(" \t\"'“‘(")
        at_start = not before or before[-1] in ".!?:\n" or m.start() == 0
        (initial if at_start else inner)[word.lower()][word] += 1
    for form in extra_forms:
        for word in _LETTERS.findall(form):
            inner[word.lower()][word] += 100
    vocab = {k: c.most_common(1)[0][0] for k, c in initial.items()}
    vocab.update({k: c.most_common(1)[0][0] for k, c in inner.items()})
    return vocab


def recase(headline: str, vocab: dict[str, str]) -> str:
    """The headline in the casing the body uses; unknown and function words lower case.

    Only letters change case, and only where that keeps every offset: len(result) == len(headline).
    """
    out = []
    pos = 0
    first = True
    stop = stop_words()
    for m in _LETTERS.finditer(headline):
        word = m.group(0)
        out.append(headline[pos:m.start()])
        key = word.lower()
        if len(word) == 1:
            new = word
        elif key in vocab and (key not in stop or not vocab[key][:1].isupper()):
            new = vocab[key]
        else:
            new = key
        if first and new[:1].islower():
            new = new[:1].upper() + new[1:]
        first = False
        out.append(new if len(new) == len(word) else word)
        pos = m.end()
    out.append(headline[pos:])
    return "".join(out)


def title_like(line: str) -> bool:
    """A heading whose capitals say little: Title Case, or one significant word ("Outlook")."""
    significant = [w for w in _LETTERS.findall(line) if len(w) > 3 and w.lower() not in stop_words()]
    return len(significant) <= 1 or headline_cased(line)


# Lines that may be Markdown headings (ATX "## ..." or a setext underline): parse only then.
_HEADING_HINT = re.compile(r"^ {0,3}(?:#{1,6}(?:[ \t]|$)|=+[ \t]*$|-+[ \t]*$)", re.MULTILINE)


def heading_ranges(article: Article, html: bool = False) -> tuple[tuple[int, int], ...]:
    """Ranges of `article.text` holding Title Case headings of the body (see `title_like`)."""
    if not _HEADING_HINT.search(article.body):
        return ()
    offset = article.headline_end + len(markdown.BLOCK_SEPARATOR)
    return tuple((s, e) for s, e in _headings(article.body, html, offset) if title_like(article.text[s:e]))


@lru_cache(maxsize=2048)
def _headings(body: str, html: bool, offset: int) -> tuple[tuple[int, int], ...]:
    """Every heading's range in the plain text, walking the blocks as `markdown.plain_text` does."""
    tokens = markdown.parser(html).parse(body)
    out = []
    pos = offset
    depth = 0
    first = True
    for tok in tokens:
        if tok.type == "heading_open":
            depth += 1
        elif tok.type == "heading_close":
            depth -= 1
        elif tok.type == "inline":
            if not first:
                pos += len(markdown.BLOCK_SEPARATOR)
            first = False
            length = len(markdown.plain_text([tok])[0])
            if depth:
                out.append((pos, pos + length))
            pos += length
    return tuple(out)
