"""A question's misspelt words read as the collection's nearest words: "baimanov" as "baimenov".

A word is taken as misspelt only when the collection never uses it and it is no English word, so
"tallest" in a question the articles cannot answer stays as typed; it is then read as the collection's
word within one edit (two for longer words; a swap of neighbouring letters counts as one), the most
frequent of the nearest.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from rag.indexing.lexical import fold

# Words of letters; one with an apostrophe ("couldn't", "Kenya's") is never respelled.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# Shorter words have too many neighbours one edit away ("cost": "cast", "host", "most").
MIN_LETTERS = 5
# From this length, two edits.
TWO_EDITS = 8


@dataclass(frozen=True)
class Vocabulary:
    """The words of a collection, folded to lower case without accents, with how often each occurs."""

    counts: dict[str, int]

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The words, for the nearest-word search (listed once, on the first lookup)."""
        return tuple(self.counts)

    @classmethod
    def of(cls, texts: Iterable[str]) -> "Vocabulary":
        """The vocabulary of `texts`."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(_WORD.findall(fold(text)))
        return cls(dict(counts))


def corrections(question: str, vocabulary: Vocabulary, known: Callable[[str], bool]) -> dict[str, str]:
    """{word as typed: the collection's word to read instead} for the misspelt words of `question`;
    `known(word)` says whether a folded word is a word of the language though the collection lacks it."""
    out: dict[str, str] = {}
    for typed in dict.fromkeys(_WORD.findall(question)):
        word = fold(typed)
        if len(word) < MIN_LETTERS or "'" in word or "’" in word or word in vocabulary.counts or known(word):
            continue
        from rapidfuzz import process  # imported here: most questions have no word to look up
        from rapidfuzz.distance import DamerauLevenshtein

        limit = 2 if len(word) >= TWO_EDITS else 1
        near = process.extract(word, vocabulary.words, scorer=DamerauLevenshtein.distance, score_cutoff=limit,
                               limit=None)
        if near:
            out[typed] = min(near, key=lambda m: (m[1], -vocabulary.counts[m[0]], m[0]))[0]
    return out


def respelled(question: str, fixes: dict[str, str]) -> str:
    """`question` with each whole word of `fixes` replaced, a capital first letter kept."""
    if not fixes:
        return question

    def fix(m: re.Match) -> str:
        typed = m.group()
        word = fixes.get(typed)
        if word is None:
            return typed
        return word[:1].upper() + word[1:] if typed[:1].isupper() else word

    return _WORD.sub(fix, question)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """English words a collection may lack and a question may use: the 82,834 words of SymSpell's
    frequency dictionary (Google Books n-grams intersected with SCOWL's word lists), which symspellpy
    ships. (The model's 30,000 word pieces were tried first: they lack "lends", "tiers", "usurp", and
    "insufficiently" was read as "sufficiently".)"""
    from importlib.util import find_spec

    # Found without importing symspellpy, whose speller this does not use.
    folder = Path(find_spec("symspellpy").submodule_search_locations[0])
    text = (folder / "frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
    return frozenset(text.split()[::2])  # lines of "word count"


def misspelt(question: str, vocabulary: Vocabulary) -> dict[str, str]:
    """`corrections` of `question` against `vocabulary`, English words taken as known."""
    return corrections(question, vocabulary, english_words().__contains__)
