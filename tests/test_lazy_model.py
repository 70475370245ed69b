"""The spaCy pipeline is loaded only when an article misses the annotation cache.

The cache fingerprint is read from the model package's meta.json; it must equal what the loaded
pipeline computes, or a cache would be keyed by something other than the model that filled it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import tree_digest

from briefing import config as config_mod
from briefing import nlp as nlp_mod
from briefing.build import build
from briefing.curation import CuratedEntity, Curation
from briefing.enrich import Enricher

PATTERNS = [{"label": "PERSON", "pattern": "Mark Rutte", "id": "Mark Rutte"}]


@pytest.mark.parametrize("patterns", [[], PATTERNS])
def test_fingerprint_without_loading_equals_the_loaded_pipelines(patterns: list):
    pipeline = nlp_mod.load_shared("auto", patterns)
    package = nlp_mod.installed_package("auto")
    assert package == pipeline.package
    assert nlp_mod.package_fingerprint(package, bool(patterns), "step", "x") == pipeline.fingerprint("step", "x")
    assert nlp_mod.package_fingerprint(package, not patterns, "step", "x") != pipeline.fingerprint("step", "x")


def test_enricher_fingerprint_is_the_same_loaded_or_not(tmp_path: Path):
    curation = Curation(entities=(CuratedEntity(name="Mark Rutte", kind="person", aliases=("Rutte",)),))
    enricher = Enricher(config_mod.Config(root=tmp_path))
    package = nlp_mod.installed_package("auto")
    assert enricher.unloaded_fingerprint(package, curation) == enricher.fingerprint(enricher.pipeline(curation),
                                                                                    curation)


def test_a_build_that_hits_the_cache_does_not_load_the_model(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path):
    """...and a rebuild after an edit loads it in a forked worker (preload.py) while the build
    reads the archive: the build's own process never loads it."""
    log = tmp_path / "loads"
    log.write_text("", encoding="utf-8")
    real_load = nlp_mod.load

    def load(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - noted in a file: a forked worker's counts too
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        return real_load(*args, **kwargs)

    def loads() -> list[str]:
        return log.read_text(encoding="utf-8").split()

    monkeypatch.setattr(nlp_mod, "_LOADED", {})  # as in a fresh process
    monkeypatch.setattr(nlp_mod, "load", load)
    config = config_mod.load(project)

    first = build(config, output=project / "out1")
    assert (len(loads()), first.model_calls) == (1, 3)

    monkeypatch.setattr(nlp_mod, "_LOADED", {})
    second = build(config, output=project / "out2")
    assert (len(loads()), second.model_calls) == (1, 0)
    assert tree_digest(project / "out2") == tree_digest(project / "out1")

    edited = project / "content/2024/2024-05-09-strike-ends.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("welcomed", "praised"), encoding="utf-8")
    third = build(config, output=project / "out2")
    assert (len(loads()), third.model_calls) == (2, 1)
    assert loads()[1] != str(os.getpid())  # loaded by the preloading worker
    assert nlp_mod._LOADED == {}  # not here


def test_spacy_is_imported_without_its_command_line_until_it_is_used():
    """The model's import on a rebuild's path skips spaCy's command line (typer, requests...),
    which is still there, whole, the moment anything asks for it."""
    import subprocess
    import sys

    script = """
import sys
from briefing import nlp
spacy = nlp.import_spacy()
assert "typer" not in sys.modules and "requests" not in sys.modules, "spacy.cli was imported"
assert callable(spacy.info)
pipeline = nlp.load("auto")
doc = pipeline.nlp("Officials at the International Monetary Fund in Washington met Brazil's envoys.")
print(sorted(e.text for e in doc.ents))
from spacy.cli import download  # the real command line, imported on demand
import spacy.cli.info
assert "typer" in sys.modules and spacy.cli is sys.modules["spacy.cli"]
assert download.__module__ == "spacy.cli.download" and spacy.cli.info.__module__ == "spacy.cli.info"
print(type(spacy.cli).__name__)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ents, kind = out.stdout.strip().splitlines()
    assert "Brazil" in ents and "Washington" in ents
    assert kind == "module"


def test_the_command_line_starts_the_models_worker_before_it_imports_the_build(project: Path, tmp_path: Path):
    """`briefing build` after an edit forks the model's worker before it imports the build's
    modules (a tenth of a second sooner): the worker, not the command's process, loads the
    pipeline, and the build uses what it found."""
    import subprocess
    import sys

    from briefing.build import build as build_here

    build_here(config_mod.load(project))
    edited = project / "content/2024/2024-05-09-strike-ends.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("welcomed", "praised"), encoding="utf-8")
    notes = tmp_path / "notes"
    script = """
import os, sys
from briefing import nlp, preload
notes, pid = open(NOTES, "a", buffering=1), os.getpid()
real_init, real_load = preload.Preloaded.__init__, nlp.load
def init(self, *args, **kwargs):
    notes.write("forked with the build imported: %s\\n" % ("briefing.build" in sys.modules))
    real_init(self, *args, **kwargs)
def load(*args, **kwargs):
    notes.write("model loaded by %s\\n" % ("the command" if os.getpid() == pid else "a worker"))
    return real_load(*args, **kwargs)
preload.Preloaded.__init__, nlp.load = init, load
from briefing.cli import main
sys.exit(main(["build", "--project", PROJECT, "--wait"]))
""".replace("NOTES", repr(str(notes))).replace("PROJECT", repr(str(project)))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "NER on 1 articles" in out.stderr
    assert notes.read_text(encoding="utf-8").splitlines() == ["forked with the build imported: False",
                                                             "model loaded by a worker"]


def test_the_trimmed_load_tokenizes_and_finds_what_spacy_load_does():
    """`nlp.load` starts the model with a bare tokenizer that the model's files fill (spaCy
    otherwise builds its language's defaults first, then replaces them): on real articles (the
    seed, and 300 Reuters and BBC ones from ../shared) it gives the same tokens, entities and
    sentences as `spacy.load` of the same components."""
    import json

    from conftest import shared_path

    spacy = nlp_mod.import_spacy()
    pipeline = nlp_mod.load("auto")
    assert pipeline.nlp.config["nlp"]["tokenizer"] == {"@tokenizers": nlp_mod.BARE_TOKENIZER}  # the trimmed way
    plain = spacy.load(pipeline.package, exclude=list(nlp_mod.NOT_NEEDED))
    plain.enable_pipe("senter")
    assert plain.pipe_names == pipeline.pipe_names
    texts = [shared_path("seed").joinpath(name).read_text(encoding="utf-8")
             for name in sorted(p.name for p in shared_path("seed").iterdir())]
    for corpus in ("reuters21578", "bbc-news"):
        with open(shared_path("corpora", corpus, "articles.jsonl"), encoding="utf-8") as fh:
            for line, _ in zip(fh, range(150), strict=False):
                record = json.loads(line)
                texts.append(f"{record.get('title', '')}\n\n{record.get('body', '')}")

    def read(nlp: object) -> list:
        return [([t.text for t in doc], [(e.start_char, e.end_char, e.label_) for e in doc.ents],
                 [s.start for s in doc.sents]) for doc in nlp.pipe(texts)]  # type: ignore[attr-defined]
    assert read(pipeline.nlp) == read(plain)
