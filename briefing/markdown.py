"""Markdown: the one parser, the plain text that enrichment reads, and rendering with mentions.

The plain text of a body is the concatenation of the inline text of its blocks, in token order,
blocks separated by a blank line. Because parsing is deterministic, rendering re-parses the same
source, walks the same tokens in the same order and so finds each text token at the same plain
text offset: that is how a mention (offsets into the plain text) is woven into the token stream
as a link, without ever touching HTML with a regex.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin

from .slug import slugify

# Blocks whose inline text is not prose to analyse.
_SKIPPED_BLOCKS = {"fence", "code_block", "html_block"}
BLOCK_SEPARATOR = "\n\n"


@lru_cache(maxsize=4)
def parser(html: bool = False, slots: bool = False) -> MarkdownIt:
    """CommonMark + tables + footnotes + heading anchors. Raw HTML is text unless `html`.

    With `slots`, a text token marked as a slot renders as a marker instead (see `pieces`).
    """
    md = MarkdownIt("commonmark", {"html": html})
    md.enable("table")
    md.use(footnote_plugin)
    md.use(anchors_plugin, min_level=2, max_level=4, slug_func=_heading_slug)
    md.add_render_rule("mention_open", _render_mention_open)
    md.add_render_rule("mention_close", lambda self, tokens, idx, options, env: "</a>")
    if slots:
        md.add_render_rule("text", _render_text_or_slot)
    return md


def _heading_slug(text: str) -> str:
    return slugify(text, fallback="section")


@dataclass(frozen=True)
class Segment:
    """Where one text token's content sits in the plain text."""

    token_index: int  # index of the inline block token in the token list
    child_index: int  # index of the text token among its children
    start: int  # offset of its content in the plain text


def _inline_blocks(tokens: Sequence[Token]) -> Iterator[tuple[int, Token, bool]]:
    """Yield (index, inline token, linkable) for every inline token in document order."""
    heading_depth = 0
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            heading_depth += 1
        elif tok.type == "heading_close":
            heading_depth -= 1
        elif tok.type == "inline":
            yield i, tok, heading_depth == 0


def plain_text(tokens: Sequence[Token]) -> tuple[str, list[Segment]]:
    """The body's plain text, and where each linkable text token sits in it."""
    parts: list[str] = []
    segments: list[Segment] = []
    length = 0
    first_block = True
    for index, inline, linkable in _inline_blocks(tokens):
        if not first_block:
            parts.append(BLOCK_SEPARATOR)
            length += len(BLOCK_SEPARATOR)
        first_block = False
        link_depth = 0
        for ci, child in enumerate(inline.children or ()):
            if child.type == "link_open":
                link_depth += 1
            elif child.type == "link_close":
                link_depth -= 1
            elif child.type == "text":
                if linkable and link_depth == 0:
                    segments.append(Segment(index, ci, length))
                parts.append(child.content)
                length += len(child.content)
            elif child.type == "code_inline":
                parts.append(child.content)
                length += len(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append("\n")
                length += 1
            elif child.type == "image":
                alt = "".join(c.content for c in child.children or ())
                parts.append(alt)
                length += len(alt)
    return "".join(parts), segments


def body_plain_text(body: str, html: bool = False) -> str:
    return plain_text(parser(html).parse(body))[0]


def body_plain_text_and_linkable(body: str, html: bool = False) -> tuple[str, tuple[tuple[int, int], ...]]:
    text, ranges, _ = parse_body(body, html)
    return text, ranges


# A body rendered once, with each linkable text token left as a slot: HTML as is, or
# (offset of the token's content in the plain text, its content). See `render_pieces`.
_SLOT = "\x00"  # markdown-it replaces NUL in the source, so none is in its output but ours


def parse_body(body: str, html: bool = False) -> tuple[str, tuple[tuple[int, int], ...], tuple]:
    """The body's plain text, its linkable ranges, and its pieces (see `render_pieces`)."""
    tokens = parser(html).parse(body)
    text, segments = plain_text(tokens)
    slots = []
    for n, seg in enumerate(segments):
        token = tokens[seg.token_index].children[seg.child_index]  # type: ignore[index]
        token.meta["slot"] = n
        slots.append((seg.start, token.content))
    ranges = tuple((start, start + len(content)) for start, content in slots)
    md = parser(html, slots=True)
    parts = md.renderer.render(tokens, md.options, {}).split(_SLOT)
    if len(parts) != 2 * len(slots) + 1 or any(parts[i] != str(i // 2) for i in range(1, len(parts), 2)):
        return text, ranges, ()  # not what was expected: bodies without pieces are rendered in full
    pieces: list = []
    for i, part in enumerate(parts):
        if i % 2:
            pieces.append(slots[int(part)])
        elif part:
            pieces.append(part)
    return text, ranges, tuple(pieces)


def _render_text_or_slot(self, tokens, idx, options, env) -> str:  # noqa: ANN001 - markdown-it API
    slot = tokens[idx].meta.get("slot")
    if slot is None:
        return escapeHtml(tokens[idx].content)
    return f"{_SLOT}{slot}{_SLOT}"


@dataclass(frozen=True)
class LinkedSpan:
    """A span of the body's plain text to render as a link to an entity page."""

    start: int  # offsets into the body plain text (not the article text)
    end: int
    href: str
    kind: str
    anchor: str  # id of the element, for deep links from entity pages
    title: str = ""


def render(body: str, *, html: bool = False, spans: Sequence[LinkedSpan] = (),
           rewrite_link: Callable[[str], str] | None = None) -> str:
    """Render Markdown to HTML, linking the given spans and rewriting link targets."""
    md = parser(html)
    tokens = md.parse(body)
    if spans:
        _weave(tokens, spans)
    if rewrite_link is not None:
        for tok in _walk(tokens):
            if tok.type == "link_open":
                href = tok.attrGet("href")
                if href:
                    tok.attrSet("href", rewrite_link(str(href)))
            elif tok.type == "image":
                src = tok.attrGet("src")
                if src:
                    tok.attrSet("src", rewrite_link(str(src)))
    return md.renderer.render(tokens, md.options, {})


def render_pieces(pieces: Sequence, spans: Sequence[LinkedSpan] = ()) -> str:
    """What `render` makes of the body whose pieces these are, with the same spans and no
    link rewriting: each slot's text is split and linked exactly as `_weave` splits its token."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    out: list[str] = []
    si = 0
    for piece in pieces:
        if type(piece) is str:
            out.append(piece)
            continue
        seg_start, content = piece
        seg_end = seg_start + len(content)
        while si < len(ordered) and ordered[si].start < seg_start:
            si += 1
        pos = 0
        j = si
        while j < len(ordered) and ordered[j].start < seg_end:
            span = ordered[j]
            j += 1
            if span.end > seg_end:
                continue
            a, b = span.start - seg_start, span.end - seg_start
            if a < pos:  # overlaps the previous span
                continue
            if a > pos:
                out.append(escapeHtml(content[pos:a]))
            out.append(_mention_open_tag(span))
            out.append(escapeHtml(content[a:b]))
            out.append("</a>")
            pos = b
        if pos < len(content) or not pos:
            out.append(escapeHtml(content[pos:]))
    return "".join(out)


def _walk(tokens: Sequence[Token]) -> Iterator[Token]:
    for tok in tokens:
        yield tok
        if tok.children:
            yield from _walk(tok.children)


def _weave(tokens: list[Token], spans: Sequence[LinkedSpan]) -> None:
    """Split text tokens at span edges and wrap each span in mention_open/close tokens.

    A span is linked only when it lies inside a single linkable text token (not in a heading,
    a link or code, and not across emphasis boundaries).
    """
    _, segments = plain_text(tokens)
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    by_child: dict[tuple[int, int], list[tuple[LinkedSpan, int]]] = {}
    si = 0
    for seg in segments:
        token = tokens[seg.token_index].children[seg.child_index]  # type: ignore[index]
        seg_end = seg.start + len(token.content)
        while si < len(ordered) and ordered[si].start < seg.start:
            si += 1
        j = si
        while j < len(ordered) and ordered[j].start < seg_end:
            if ordered[j].end <= seg_end:
                by_child.setdefault((seg.token_index, seg.child_index), []).append((ordered[j], seg.start))
            j += 1
    # Rewrite each inline token's children once, right to left within it.
    for (ti, ci), items in sorted(by_child.items(), reverse=True):
        children = tokens[ti].children
        assert children is not None
        text_token = children[ci]
        content = text_token.content
        new: list[Token] = []
        pos = 0
        for span, seg_start in items:
            a, b = span.start - seg_start, span.end - seg_start
            if a < pos:  # overlaps the previous span
                continue
            if a > pos:
                new.append(_text(content[pos:a]))
            opener = Token("mention_open", "a", 1)
            opener.attrs = _mention_attrs(span)
            new.extend([opener, _text(content[a:b]), Token("mention_close", "a", -1)])
            pos = b
        if pos < len(content):
            new.append(_text(content[pos:]))
        children[ci:ci + 1] = new


def _text(content: str) -> Token:
    tok = Token("text", "", 0)
    tok.content = content
    return tok


def _mention_attrs(span: LinkedSpan) -> dict[str, str]:
    attrs = {"href": span.href, "class": f"mention mention-{span.kind}", "id": span.anchor}
    if span.title:
        attrs["title"] = span.title
    return attrs


def _mention_open_tag(span: LinkedSpan) -> str:
    return "<a" + "".join(f' {k}="{escape(str(v), quote=True)}"' for k, v in _mention_attrs(span).items()) + ">"


def _render_mention_open(self, tokens, idx, options, env) -> str:  # noqa: ANN001 - markdown-it API
    attrs = tokens[idx].attrs
    return "<a" + "".join(f' {k}="{escape(str(v), quote=True)}"' for k, v in attrs.items()) + ">"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~=:\"'$^])")


_WRAP_WIDTH = 100


def escape_plain(text: str) -> str:
    """Turn plain text into Markdown that renders to the same characters, paragraph for paragraph."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    out = []
    for block in blocks:
        lines = [_MD_SPECIAL.sub(r"\\\1", line.strip()) for line in block.splitlines() if line.strip()]
        # Blank lines separate paragraphs. Within a block, long lines are paragraphs of their
        # own (one paragraph per line, as scraped news often is); short ones are a hard wrap.
        if any(len(line) > _WRAP_WIDTH for line in lines[:-1]):
            out.extend(lines)
        else:
            out.append("\n".join(lines))
    return "\n\n".join(out) + ("\n" if out else "")
