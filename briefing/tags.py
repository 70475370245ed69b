"""Tags and topics (placeholder while the module is written)."""

from __future__ import annotations


def assign(articles, mentions, entities, config):
    return {a.source: () for a in articles}, {}
