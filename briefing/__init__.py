"""briefing: a static-site generator for annotated news briefing archives."""

__version__ = "0.1.0"
