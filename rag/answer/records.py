"""The records of an answer: the quoted sentences with their exact spans (`Citation`), the short
answer inside them, the selection the answer layer made and the `Answer` the assistant returns, as
`rag ask --json`, the HTTP API and the page show them."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from rag.answer.conversation import search_text
from rag.errors import RagError
from rag.retrieval.retriever import Passage

ABSTAIN_TEXT = "The articles don't answer this."
# Passages offered instead of an answer when the assistant abstains.
CLOSEST = 3


class QuestionError(RagError, ValueError):
    """A question that cannot be asked (the message is meant for the user)."""


# Made from the index's `Sentence` record (`rag.answer.select.citation`); its fields stay flat, since they are the
# JSON `rag ask --json` and the API return, and the API's schema is derived from them (`doc`: the
# field's description there).
@dataclass
class Citation:
    """A quoted sentence: `text == source[start:end]` of article `doc_id`."""

    n: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    chunk_no: int
    context: bool = field(default=False, metadata={"doc": "quoted for what the next sentence leans on, not as the answer itself"})
    passage: Passage | None = field(default=None, repr=False, compare=False)
    page: int | None = field(default=None, metadata={"doc": "the PDF page the sentence starts on (1-based); null for other formats"})

    def to_dict(self) -> dict:
        """The JSON shape of a citation (without its passage, which `passages` lists)."""
        return {k: v for k, v in self.__dict__.items() if k != "passage"}


@dataclass(frozen=True)
class ShortAnswer:
    """The exact span that answers, inside a quoted sentence: `source[start:end] == text`."""

    text: str
    doc_id: str
    start: int
    end: int
    score: float | None = field(metadata={"doc": "the short-answer reader's score; null for a span found by rule "
                                                 "(an acronym's long form)"})


@dataclass
class Selection:
    """What the answer layer decided for one question."""

    citations: list[Citation]
    abstained: bool
    best_score: float
    short_answer: ShortAnswer | None = None


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
    short_answer: ShortAnswer | None = None
    # The index generation that answered: its texts are what the citations' offsets point into.
    index: str | None = None
    # What the search read: the question as the models read it, after the ones it follows on from
    # (several questions in one text: each search's text, joined by " | ").
    searched: str = ""

    @classmethod
    def message(cls, question: str, text: str, notice: str | None = None, timings: dict[str, float] | None = None,
                index: str | None = None, searched: str = "") -> "Answer":
        """An answer that only says `text` ("Please say what the question is about."): nothing quoted,
        no passage offered."""
        return cls(question, text, True, [], [], notice, timings=timings if timings is not None else {},
                   index=index, searched=searched)

    def quoted(self) -> str:
        """The quoted sentences only, without citation markers."""
        return " ".join(c.text for c in self.citations)

    def closest(self) -> list[Passage]:
        """The passages offered in place of an answer."""
        return self.passages[:CLOSEST]

    def to_dict(self) -> dict:
        """The JSON shape of `rag ask --json`."""
        return {
            "question": self.question,
            "answer": self.answer,
            "short_answer": self.short_answer.__dict__ if self.short_answer else None,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "notice": self.notice,
            "best_score": round(self.best_score, 4),
            "index": self.index,
            "searched": self.searched,
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class Reading:
    """How a question is read: `asked`, the question as the models read it; `fixes`, each misspelt
    word and the collection's word read instead; `followed`, the earlier questions (as read) it
    follows on from, oldest first; `again`, for a question naming only what to ask about ("And the
    online conference?"), the last of them asked again about it, which the answer is chosen for."""

    asked: str
    fixes: dict[str, str]
    followed: list[str]
    again: str | None = None

    @property
    def answered(self) -> str:
        """The question the answer is chosen for: `again` when there is one, else `asked`."""
        return self.again or self.asked

    @property
    def searched(self) -> str:
        """What the lexical search reads: the questions followed, then this one."""
        return search_text(self.asked, self.followed)


def merged(question: str, answers: list[Answer]) -> Answer:
    """One answer to a text asking several questions, from `answers` (one per question, in order,
    each named by its question): their citations in turn (a sentence quoted once, renumbered; quoted
    as an answer anywhere, it is no mere context), the quoted passages first, the first short answer
    given, and a notice naming the questions the articles do not answer."""
    citations: list[Citation] = []
    for answer in answers:
        for c in answer.citations:
            same = next((i for i, q in enumerate(citations) if (q.doc_id, q.start, q.end) == (c.doc_id, c.start, c.end)), None)
            if same is None:
                citations.append(replace(c, n=len(citations) + 1))
            elif citations[same].context and not c.context:
                citations[same] = replace(citations[same], context=False)
    passages: dict[tuple, Passage] = {}
    for p in [c.passage for c in citations if c.passage is not None] + [p for a in answers for p in a.passages]:
        passages.setdefault((p.doc_id, p.start, p.end), p)
    unanswered = [a.question for a in answers if a.abstained]
    notices = [a.notice for a in answers if a.notice]
    if citations and unanswered:
        notices.append("The articles don't answer " + ", ".join(f"“{q}”" for q in unanswered) + ".")
    timings: dict[str, float] = {}
    for a in answers:
        for stage, seconds in a.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
    return Answer(
        question=question,
        answer=render(citations) if citations else answers[0].answer,
        abstained=not citations,
        citations=citations,
        passages=list(passages.values()),
        notice=" ".join(dict.fromkeys(notices)) or None,
        timings=timings,
        best_score=max(a.best_score for a in answers),
        short_answer=next((a.short_answer for a in answers if a.short_answer), None),
        index=answers[0].index,
        searched=" | ".join(a.searched for a in answers),
    )


def render(citations: list[Citation]) -> str:
    """The answer text: each quoted sentence followed by its citation marker."""
    return " ".join(f"{c.text} [{c.n}]" for c in citations) if citations else ABSTAIN_TEXT
