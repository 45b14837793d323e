"""The language of a question: the articles and the embedding model are English, so a question in
another language finds nothing, and the honest reply is to say so rather than "no answer"."""
from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from pathlib import Path

ARTICLES_LANGUAGE = "en"
# py3langid's normalised probability; short English questions score low for any language
# ("Who spoke?" 0.09), so only a confident call counts.
MIN_CONFIDENCE = 0.9
MESSAGE = "The articles are in English; ask in English for best results."


@lru_cache(maxsize=1)
def _identifier():
    try:
        return load_identifier()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a py3langid of another layout
        import py3langid.langid as langid

        return langid.LanguageIdentifier.from_modelpath(
            os.path.join(os.path.dirname(langid.__file__), langid.MODEL_FILE), norm_probs=True
        )


def load_identifier():
    """py3langid's identifier from its model decompressed once into the cache: the model ships
    LZMA-compressed, and decompressing it took 0.55 of the 0.78 s it took to load in every fresh
    process (measured 2026-11-26); the arrays are the model file's own."""
    import numpy as np
    import py3langid.langid as langid
    from py3langid import modelio

    from rag.embedding.model import cache_dir, cached_file, checked_sha256

    source = Path(langid.__file__).parent / langid.MODEL_FILE
    target = cache_dir() / "langid" / f"model-{checked_sha256(source)[:16]}.npz"
    path = cached_file(target, lambda tmp: _decompress(source, tmp))
    with np.load(path, allow_pickle=False) as data:
        return langid.LanguageIdentifier(
            np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
            modelio._to_array(data["nextmove"]), data["out_feat"].tolist(),
            norm_probs=True, tk_row=modelio._to_array(data["nextmove_row"]),
        )


def _decompress(source: Path, target: str) -> None:
    import lzma
    import shutil

    with lzma.open(source) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, length=1 << 20)


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
    """Load the language identifier now (a fifth of a second from the cache; the first time
    about a second), not on the first question."""
    _identifier()
