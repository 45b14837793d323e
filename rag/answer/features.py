"""Candidate answer sentences of the retrieved passages, and the cheap features that rank them.

Every feature is computed from what retrieval already produced (the question's vector and terms,
the stored sentence vectors and terms, the passages' ranks), so ranking costs no model pass.
Passage scores and which retriever found a passage are left out on purpose: they differ in
scale between retrieval modes and fusion settings, and the ranks carry the same order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.answer.kind import MONTHS, WEEKDAYS
from rag.answer.words import HONORIFICS
from rag.indexing.lexical import terms

_TYPE_PATTERNS = {
    "number": re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozens?)\b", re.I),
    "date": re.compile(rf"\b({MONTHS}|{WEEKDAYS}|(1[5-9]|20)\d\d)\b"),
    "person": re.compile(rf"\b({'|'.join(re.escape(h) for h in HONORIFICS)})\.|\b[A-Z][a-z]+ [A-Z][a-z]+"),
    "place": re.compile(r"\b(in|at|to|from) (the )?[A-Z][a-z]+"),
}
_QUESTION_TYPES = [
    ("number", re.compile(r"\bhow (many|much|long|old|large|big)\b|\bnumber of\b|\bwhat (percentage|share|proportion)\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b", re.I)),
    ("person", re.compile(r"\bwho(m|se)?\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\bwhich (city|country|countries)\b|\bin what (city|country)\b", re.I)),
]
QUESTION_WORDS = ("what", "which", "who", "when", "where", "why", "how")
# A sentence that leans on an earlier one for its subject: a pronoun, a linking word, or "the" and a
# noun an earlier sentence names ("The delegation, consisting of …").
_NAMED = ("event|meeting|visit|delegation|programme|program|project|platform|forum|conference|workshop|"
          "session|hub|initiative|agreement|document|study|report")
_LEANS = re.compile(r"^(he|she|they|it|its|his|her|their|this|these|that|those|there|such|both|also|however|"
                    rf"meanwhile|in addition|moreover|furthermore|the ({_NAMED}))\b", re.I)
_THE_NAMED = re.compile(rf"^the ({_NAMED})\b", re.I)
_OPENING_MARKS = "\"'“‘(- "  # quote marks, brackets and dashes before a sentence's first word

FEATURES = (
    "relevance", "cosine", "overlap", "cos_prev", "cos_next", "rel_minus_best", "rel_rank",
    "passage_rank", "article_best_rank",
    "is_title", "position", "words", "type_match", "leans_back",
    *(f"qw_{w}" for w in QUESTION_WORDS),
)


def expected_type(question: str) -> str | None:
    """The kind of answer a question asks for ("number", "date", "person", "place"), if clear."""
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def has_type(sentence: str, kind: str | None) -> bool:
    """Whether a sentence holds something of the expected kind."""
    return kind is not None and bool(_TYPE_PATTERNS[kind].search(sentence))


def leans_back(sentence: str) -> bool:
    """Whether a sentence opens with a pronoun or a back-reference ("He", "This", "The event")."""
    return bool(_LEANS.match(sentence.lstrip(_OPENING_MARKS)))


# Words that link a sentence to the one before without standing for anything in it: "Moreover, the
# Career Centre …" names its own subject, "However, he said …" does not; nor does "In addition to
# the proposed topics, Marcos Bonturi added …" ("In addition to this, …" keeps its "this").
_LINKS = re.compile(r"^(also|however|meanwhile|moreover|furthermore|in addition|additionally|besides|"
                    r"in addition to (the|an?) (?!(aforementioned|above|abovementioned|above-mentioned|previous|"
                    r"preceding|former|latter|same)\b)[^,]{1,80})\s*,\s*", re.I)


def _past_links(sentence: str) -> str:
    """`sentence` from its first word past the opening marks and linking words ("However, the …")."""
    opening = sentence.lstrip(_OPENING_MARKS)
    while (link := _LINKS.match(opening)) and link.end() < len(opening):
        opening = opening[link.end():]
    return opening


def needs_before(sentence: str) -> bool:
    """Whether a sentence needs an earlier one to be understood: it leans back (`leans_back`) once
    the linking words it opens with are set aside ("Moreover, the Career Centre …" does not;
    "Besides, he came" does)."""
    return leans_back(_past_links(sentence))


def named_back(sentence: str) -> str | None:
    """The noun of a sentence opening, past any linking words, with "the" and a back-referring noun
    ("delegation" for "The delegation, consisting of …"), lower-cased; None for any other opening."""
    found = _THE_NAMED.match(_past_links(sentence))
    return found.group(1).lower() if found else None


def question_word(question: str) -> str | None:
    """The question's wh-word (first found), if any."""
    found = re.search(r"\b(" + "|".join(QUESTION_WORDS) + r")\b", question.lower())
    return found.group(1) if found else None


@dataclass
class Candidates:
    """The candidate sentences of one question: ids into the index's sentence table, the passage
    each was first found in, and one feature row each (columns named by FEATURES)."""

    ids: list[int]
    passage_of: list[int]
    features: np.ndarray
    relevance: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _sentences_of(passages: list, index) -> tuple[list[int], list[int]]:
    """Each sentence row of the passages once (in passage order), and which passage it came from."""
    ids: list[int] = []
    passage_of: list[int] = []
    seen: set[int] = set()
    for n, p in enumerate(passages):
        for sid in index.sentences_of(p.row):
            if sid not in seen:
                seen.add(sid)
                ids.append(sid)
                passage_of.append(n)
    return ids, passage_of


def gather(question: str, qvec: np.ndarray, passages: list, index, dense_weight: float = 0.5) -> Candidates:
    """Candidates from `passages` (best first) with their features.

    relevance = dense_weight * cosine + (1 - dense_weight) * IDF overlap, the hand-set score the
    learned selector starts from; the other features say where the sentence sits and what it holds.
    """
    ids, passage_of = _sentences_of(passages, index)
    if not ids:
        empty = np.zeros((0, len(FEATURES)), dtype=np.float32)
        return Candidates([], [], empty, np.zeros(0, dtype=np.float32))
    sents = index.sentences
    cosine = index.sentence_vectors_of(np.array(ids)) @ qvec
    overlap = index.term_overlap(terms(question), ids)
    relevance = (dense_weight * cosine + (1.0 - dense_weight) * overlap).astype(np.float32)

    def neighbour_cos(step: int) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float32)
        for k, sid in enumerate(ids):
            j = index.neighbour(sid, step)
            if j is not None:
                out[k] = float(index.sentence_vectors_of(j) @ qvec)
        return out

    kind = expected_type(question)
    qw = question_word(question)
    article_rank: dict[str, int] = {}
    for n, p in enumerate(passages):
        article_rank.setdefault(p.doc_id, n)
    order = np.argsort(-relevance, kind="stable")
    rel_rank = np.empty(len(ids), dtype=np.float32)
    rel_rank[order] = np.arange(len(ids))
    best = relevance.max()
    rows = []
    for k, sid in enumerate(ids):
        s = sents[sid]
        p = passages[passage_of[k]]
        first = index.first_sentence_of(s.doc_id)
        rows.append([
            relevance[k], cosine[k], overlap[k], 0.0, 0.0, relevance[k] - best, rel_rank[k],
            passage_of[k], article_rank[s.doc_id],
            sid == first and s.text.strip() == p.title.strip(), sid - first, len(s.text.split()),
            has_type(s.text, kind), leans_back(s.text),
            *(qw == w for w in QUESTION_WORDS),
        ])
    features = np.array(rows, dtype=np.float32)
    features[:, FEATURES.index("cos_prev")] = neighbour_cos(-1)
    features[:, FEATURES.index("cos_next")] = neighbour_cos(1)
    return Candidates(ids, passage_of, features, relevance)
