"""Extractive answers: score the retrieved passages' sentences, quote the best, or abstain."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from rag.lexical import terms
from rag.retrieval import Passage
from rag.store import Index

ABSTAIN_TEXT = "The articles don't answer this."


class QuestionError(ValueError):
    """A question that cannot be asked (the message is meant for the user)."""


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    chunk_no: int


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    notice: str | None = None
    best_score: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def quoted(self) -> str:
        """The quoted sentences only, without citation markers."""
        return " ".join(c.text for c in self.citations)

    def to_dict(self) -> dict:
        """The JSON shape of `rag ask --json`."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.__dict__ for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "notice": self.notice,
            "best_score": round(self.best_score, 4),
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
        }


def clean_question(question: object, max_chars: int) -> tuple[str, str | None]:
    """Normalise a user's question; returns (question, notice) or raises QuestionError."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("Please type a question.")
    notice = None
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notice = f"Your question was long; only its first {len(text):,} characters were used."
    return text, notice


def lexical_overlap(question_terms: list[str], sentence_terms: set[str], idf) -> float:
    """Share of the question's IDF weight whose terms appear in the sentence (0..1)."""
    unique = set(question_terms)
    total = sum(idf(t) for t in unique)
    if total <= 0:
        return 0.0
    return sum(idf(t) for t in unique if t in sentence_terms) / total


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_TYPE_PATTERNS = {
    "number": re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozens?)\b", re.I),
    "date": re.compile(rf"\b({_MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|(19|20)\d\d)\b"),
    "person": re.compile(r"\b(Mr|Ms|Mrs|Dr|Prof|H\.E)\.|\b[A-Z][a-z]+ [A-Z][a-z]+"),
    "place": re.compile(r"\b(in|at|to|from) (the )?[A-Z][a-z]+"),
}
_QUESTION_TYPES = [
    ("number", re.compile(r"\bhow (many|much|long|old|large|big)\b|\bnumber of\b|\bwhat (percentage|share|proportion)\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b", re.I)),
    ("person", re.compile(r"\bwho(m|se)?\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\bwhich (city|country|countries)\b|\bin what (city|country)\b", re.I)),
]


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for ("number", "date", "person", "place"), if clear."""
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def has_type(sentence: str, kind: str | None) -> bool:
    """Whether a sentence holds something of the expected kind."""
    return kind is not None and bool(_TYPE_PATTERNS[kind].search(sentence))


def score_sentences(question: str, qvec: np.ndarray, sentence_ids: list[int], index: Index, dense_weight: float, type_bonus: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(relevance, ranking score) per sentence.

    relevance = dense_weight * cosine + (1 - dense_weight) * lexical overlap decides whether to
    answer at all; the ranking score adds `type_bonus` to sentences holding the kind of thing the
    question asks for (a number for "how many"), which orders candidates but proves no relevance.
    """
    if not sentence_ids:
        empty = np.zeros(0, dtype=np.float32)
        return empty, empty
    dense = index.sentence_vectors[sentence_ids] @ qvec
    q_terms = terms(question)
    lex = np.array(
        [lexical_overlap(q_terms, index.sentence_terms[i], index.lexical.idf) for i in sentence_ids],
        dtype=np.float32,
    )
    relevance = dense_weight * dense + (1.0 - dense_weight) * lex
    kind = expected_type(question)
    if not (kind and type_bonus):
        return relevance, relevance
    typed = np.array([has_type(index.sentences[i].text, kind) for i in sentence_ids], dtype=np.float32)
    return relevance, relevance + type_bonus * typed


def select(scores: np.ndarray, vectors: np.ndarray, max_n: int, ratio: float, redundancy_max: float) -> list[int]:
    """Positions of the best sentence plus up to `max_n - 1` others that score within `ratio`
    of it and are not near-duplicates (cosine above `redundancy_max`) of one already chosen."""
    if len(scores) == 0:
        return []
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    chosen = [int(order[0])]
    for i in order[1:]:
        if len(chosen) >= max_n or scores[i] < best * ratio:
            break
        if max(float(vectors[i] @ vectors[j]) for j in chosen) <= redundancy_max:
            chosen.append(int(i))
    return chosen


def answer_from(question: str, qvec: np.ndarray, passages: list[Passage], index: Index, settings) -> tuple[list[Citation], bool, float]:
    """(citations, abstained, best score) for the question over the retrieved passages."""
    ids: list[int] = []
    passage_of: dict[int, Passage] = {}
    for p in passages:
        for sid in index.chunk_sentences[p.row]:
            if sid not in passage_of:
                passage_of[sid] = p
                ids.append(sid)
    relevance, scores = score_sentences(question, qvec, ids, index, settings.answer_dense_weight, settings.type_bonus)
    if len(scores) == 0:
        return [], True, 0.0
    best = float(relevance.max())
    if best < settings.abstain_threshold:
        return [], True, best
    picked = select(scores, index.sentence_vectors[ids], settings.max_answer_sentences, settings.answer_ratio, settings.redundancy_max)
    citations = []
    for n, pos in enumerate(picked, start=1):
        s = index.sentences[ids[pos]]
        p = passage_of[ids[pos]]
        citations.append(Citation(n, s.doc_id, p.title, s.start, s.end, s.text, round(float(scores[pos]), 4), p.chunk_no))
    return citations, False, best


def render(citations: list[Citation]) -> str:
    """The answer text: each quoted sentence followed by its citation marker."""
    return " ".join(f"{c.text} [{c.n}]" for c in citations) if citations else ABSTAIN_TEXT
