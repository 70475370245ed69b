"""Slugs: deterministic, ASCII, lower case, transliterated from any script, never empty."""

from __future__ import annotations

import hashlib

from slugify import slugify as _slugify


def slugify(text: str, fallback: str = "item", max_length: int = 80) -> str:
    """`text` as an ASCII slug: `[a-z0-9-]+`, never empty, never containing '/' or '..'.

    Text with nothing transliterable (emoji, symbols) gets `fallback` plus a short hash of the
    text, so distinct inputs still get distinct, stable slugs.
    """
    slug = _slugify(str(text), max_length=max_length, word_boundary=True, save_order=True)
    if slug:
        return slug
    digest = hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    base = _slugify(fallback) or "item"
    return f"{base}-{digest}"
