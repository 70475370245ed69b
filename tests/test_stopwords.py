"""stopwords.py reads spaCy's English stop words without importing spaCy."""

import subprocess
import sys


def test_the_same_words_as_spacy_has():
    from spacy.lang.en.stop_words import STOP_WORDS

    from briefing.stopwords import stop_words

    stop_words.cache_clear()
    assert stop_words() == frozenset(STOP_WORDS)
    assert "the" in stop_words() and "n’t" in stop_words()  # the module's own additions are run too


def test_reading_them_does_not_import_spacy():
    # A fresh interpreter: analysing an article's key phrases and headline casing must not pull
    # in spaCy (a second of a build that needs no model).
    code = ("import sys\n"
            "from briefing import casing, tags\n"
            "from briefing.stopwords import stop_words\n"
            "assert len(stop_words()) > 300\n"
            "assert tags._candidates('the central bank raised interest rates again')\n"
            "casing.headline_cased('Central Bank Raises Interest Rates')\n"
            "print('spacy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
