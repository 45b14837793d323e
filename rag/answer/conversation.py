"""Follow-up questions: "Where is it based?" asked after "Who chairs the ICSC?".

A question whose pronoun points back names nothing the articles can match, so it is searched for
together with the questions it follows; the answer is still chosen for the question as asked.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rag.answer.ellipsis import ADDS_ON, topic_of
from rag.answer.small_talk import small_talk
from rag.answer.words import PERSONAL_PRONOUNS

_REFERS = re.compile(rf"\b({'|'.join(PERSONAL_PRONOUNS)})\b", re.I)
MAX_EARLIER = 3  # a chain of follow-ups reaches back at most this far
MAX_EARLIER_CHARS = 500  # of each earlier question: a search text, not a document
# The question's own vector counts twice its predecessors': chosen on SQuAD's train articles
# (questions naming their article's subject, the subject made a pronoun; see README "Follow-up questions").
QUESTION_WEIGHT = 2.0
_SHORT = 8  # words: a question this short opening with "And" / "What about" adds on to the last one


def has_pronoun(text: str) -> bool:
    """Whether `text` holds a personal pronoun, which may stand for something named before it."""
    return bool(_REFERS.search(text))


def refers_back(question: str) -> bool:
    """Whether `question` may point to something said before: it holds a personal pronoun ("When
    was it founded?"), it is short and adds on to the question before ("What about payroll?"), or
    it names only what to ask the last question about instead (`topic_of`)."""
    return (has_pronoun(question) or (bool(ADDS_ON.search(question)) and len(question.split()) <= _SHORT)
            or topic_of(question) is not None)


def says_something(turn: str) -> bool:
    """Whether an earlier turn can name a subject: not blank, a question or at least three words,
    and not small talk ("thanks!", "ok" or "Thanks for your help!" between a question and its
    follow-up name nothing)."""
    return ("?" in turn or len(turn.split()) >= 3) and not small_talk(turn)


def follows(question: str, earlier: Sequence[str]) -> list[str]:
    """The earlier questions (oldest first) that `question` follows on from: back to the last one
    that stands alone, at most MAX_EARLIER (turns that say nothing skipped); [] when `question`
    stands alone or nothing came before."""
    if not refers_back(question):
        return []
    chain: list[str] = []
    for text in reversed([t for t in earlier if says_something(t)][-MAX_EARLIER:]):
        chain.insert(0, text[:MAX_EARLIER_CHARS])
        if not refers_back(text):
            break
    return chain


def search_text(question: str, followed: Sequence[str]) -> str:
    """What the lexical search reads for `question` following on from `followed`: them, then it."""
    return " ".join([*followed, question])


def search_vector(question_vector: np.ndarray, followed_vector: np.ndarray) -> np.ndarray:
    """The dense search's vector for a follow-up: the question's and its predecessors' (the vector
    of their joined text), weighted QUESTION_WEIGHT to 1, normalised."""
    v = QUESTION_WEIGHT * question_vector + followed_vector
    return (v / np.linalg.norm(v)).astype(question_vector.dtype)
