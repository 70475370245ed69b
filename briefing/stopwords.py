"""spaCy's English stop words, without importing spaCy.

Importing `spacy.lang.en.stop_words` imports the whole `spacy` package first, which takes about a
second. A build that needs no model (an edit undone: its analysis comes from the annotation cache)
would pay it for one set of words. The module is a plain literal with no imports, so it is read
from spaCy's installed files and run on its own; if that ever fails, it is imported after all.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    module = sys.modules.get("spacy.lang.en.stop_words")
    if module is not None:
        return frozenset(module.STOP_WORDS)
    try:
        spec = importlib.util.find_spec("spacy")  # finds the package without importing it
        path = Path(list(spec.submodule_search_locations)[0]) / "lang" / "en" / "stop_words.py"  # type: ignore[union-attr]
        namespace: dict[str, Any] = {}
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102 - spaCy's own file
        return frozenset(namespace["STOP_WORDS"])
    except (OSError, KeyError, TypeError, AttributeError, IndexError, SyntaxError):
        from spacy.lang.en.stop_words import STOP_WORDS

        return frozenset(STOP_WORDS)
