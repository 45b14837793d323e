"""The language of a question: the articles and the embedding model are English, so a question in
another language finds nothing, and the honest reply is to say so rather than "no answer"."""
from __future__ import annotations

import os
import unicodedata
from functools import lru_cache

ARTICLES_LANGUAGE = "en"
# py3langid's normalised probability; short English questions score low for any language
# ("Who spoke?" 0.09), so only a confident call counts.
MIN_CONFIDENCE = 0.9
MESSAGE = "The articles are in English; ask in English for best results."


@lru_cache(maxsize=1)
def _identifier():
    import py3langid.langid as langid

    return langid.LanguageIdentifier.from_modelpath(
        os.path.join(os.path.dirname(langid.__file__), langid.MODEL_FILE), norm_probs=True
    )


def _mostly_non_latin(text: str) -> bool:
    """Whether most letters are in another script than Latin (Cyrillic, Han, Arabic...)."""
    letters = [ch for ch in text if ch.isalpha()]
    other = sum(1 for ch in letters if not unicodedata.name(ch, "").startswith("LATIN"))
    return bool(letters) and other * 2 > len(letters)


def foreign_language(question: str) -> str | None:
    """The question's language code when it is not the articles' language, else None: a confident
    call, or any non-English call on a question written mostly in another script (short Russian or
    Chinese questions score only ~0.7, yet cannot be English)."""
    code, confidence = _identifier().classify(question)
    if code == ARTICLES_LANGUAGE:
        return None
    return code if confidence >= MIN_CONFIDENCE or _mostly_non_latin(question) else None


def warm() -> None:
    """Load the language identifier now (about half a second), not on the first question."""
    _identifier()
