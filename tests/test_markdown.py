"""Markdown rendering: CommonMark + tables, footnotes, anchors; mentions woven into tokens."""

from __future__ import annotations

from briefing import markdown
from briefing.markdown import LinkedSpan


def span(text: str, needle: str, nth: int = 0, anchor: str = "m") -> LinkedSpan:
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    return LinkedSpan(start, start + len(needle), "/places/iraq/", "place", anchor, "Iraq")


def test_extensions_tables_footnotes_heading_anchors():
    html = markdown.render("## Key facts\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nText[^1].\n\n[^1]: Note.\n")
    assert '<h2 id="key-facts">' in html and "<table>" in html and 'class="footnotes"' in html


def test_raw_html_is_escaped_unless_allowed():
    assert "&lt;b&gt;x&lt;/b&gt;" in markdown.render("<b>x</b> and <script>alert(1)</script>")
    assert "<b>x</b>" in markdown.render("<b>x</b>", html=True)


def test_mentions_are_linked_in_text_but_not_in_headings_links_or_code():
    body = "## Iraq today\n\nIraq and [Iraq](https://x.org) and `Iraq` and Iraq.\n"
    text = markdown.body_plain_text(body)
    spans = [span(text, "Iraq", n, f"m{n}") for n in range(5)]
    html = markdown.render(body, spans=spans)
    assert html.count('class="mention mention-place"') == 2
    assert '<h2 id="iraq-today">Iraq today</h2>' in html
    assert '<a href="https://x.org">Iraq</a>' in html and "<code>Iraq</code>" in html
    assert 'id="m1"' in html and 'id="m4"' in html


def test_plain_text_offsets_match_the_rendered_mention():
    body = "The &amp; sign, *emphasis*, then Bashar al-Assad spoke.\n"
    text = markdown.body_plain_text(body)
    s = text.index("Bashar al-Assad")
    html = markdown.render(body, spans=[LinkedSpan(s, s + 15, "/people/assad/", "person", "m-a")])
    assert '<a href="/people/assad/" class="mention mention-person" id="m-a">Bashar al-Assad</a>' in html


def test_escape_plain_keeps_text_verbatim():
    raw = "1. Not a list *or emphasis* <b>tag</b> & [link](x) # heading? _under_"
    assert markdown.body_plain_text(markdown.escape_plain(raw)) == raw


def test_rewrite_link_changes_only_link_targets():
    html = markdown.render("[a](other.md) ![img](pic.png)", rewrite_link=lambda h: "/X/" + h)
    assert 'href="/X/other.md"' in html and 'src="/X/pic.png"' in html
