"""The JSON shapes of the HTTP API (`rag.serve.api`): requests, answers, articles, health, errors.

The models of a short answer, a citation and a passage are made from `rag.answer.records`'s and
`rag.retrieval.retriever`'s dataclasses (minus a citation's passage, which `passages` lists, and a passage's
row), so the OpenAPI schema documents the very fields `rag ask --json` prints. They only describe:
the answer itself is sent as `Answer.to_dict` makes it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from rag.answer.records import Citation, ShortAnswer
from rag.retrieval.retriever import Passage
from rag.settings import MAX_K

MAX_EARLIER_SENT = 20  # earlier questions a request may carry (the last few are read)


class AskRequest(BaseModel):
    """A question. JSON types are checked here (422); values (an empty question, k out of range)
    by the assistant, which refuses them with the page's and the CLI's message (400)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    question: str = Field(description="the question; longer than the question limit (2,000 characters) is cut, with a notice")
    k: int | None = Field(None, description=f"passages to read, 1 to {MAX_K}; null: the server's setting")
    earlier: list[str] = Field(default_factory=list, max_length=MAX_EARLIER_SENT,
                               description="the conversation's questions before this one, oldest first: a question "
                                           "pointing back to them (\"When was it founded?\") is searched for with them, "
                                           "and one naming only a new topic (\"And the OECD?\") is answered as the last "
                                           "of them asked again about it")


def response_model(cls: type, name: str, leave_out: tuple[str, ...] = ()) -> type[BaseModel]:
    """A model of dataclass `cls`'s fields but `leave_out`, named `name` in the schema. Every field is
    required, since the JSON always has it; a field's `doc` metadata is its description."""
    hints = get_type_hints(cls)
    fields = {f.name: (hints[f.name], Field(description=f.metadata.get("doc")))
              for f in dataclasses.fields(cls) if f.name not in leave_out}
    return create_model(name, __config__=ConfigDict(extra="allow"), __doc__=cls.__doc__, **fields)


ShortAnswerOut = response_model(ShortAnswer, "ShortAnswerOut")
CitationOut = response_model(Citation, "CitationOut", leave_out=("passage",))
PassageOut = response_model(Passage, "PassageOut", leave_out=("row",))


class AskResponse(BaseModel):
    """Exactly the object `rag ask --json` prints (`Answer.to_dict`)."""

    model_config = ConfigDict(extra="allow")
    question: str
    answer: str
    short_answer: ShortAnswerOut | None
    abstained: bool
    citations: list[CitationOut]
    passages: list[PassageOut]
    notice: str | None
    best_score: float
    index: str | None = Field(None, description="the index generation that answered; pass it to /api/articles/{id}?index=")
    searched: str = Field("", description="what the search read: the question as the models read it, "
                                          "after the earlier questions a follow-up was read with (a text "
                                          "asking several questions: each search's text, joined by ' | ')")
    timings_ms: dict[str, float]


class ArticleOut(BaseModel):
    """One indexed article."""

    id: str
    title: str
    characters: int = Field(description="length of the indexed text; citations' offsets are into it")
    chunks: int
    date: str | None = None
    format: str = Field(description="pdf, html, docx, or a text file's extension (txt, md), as `rag list` shows it")
    pages: int | None = Field(None, description="a PDF's number of pages; null for other formats")


class ArticlesOut(BaseModel):
    """The indexed articles, in id order."""

    count: int
    articles: list[ArticleOut]


class ArticleText(BaseModel):
    """An indexed article's text as indexed: what citations quote."""

    doc_id: str
    title: str
    text: str
    index: str  # the index generation the text comes from


class HealthOut(BaseModel):
    """Whether questions can be answered now."""

    status: str = Field(description="ok, loading (the index is being loaded or built) or unavailable (the last load failed)")
    articles: int | None = None
    chunks: int | None = None
    rebuilding: bool = Field(False, description="the articles changed and a new index is being built; "
                                                "questions are answered from the current one meanwhile")
    warning: str | None = Field(None, description="why the index in use is older than the articles, if it is")
    error: str | None = None


class Problem(BaseModel):
    """An error: a message meant for the user."""

    detail: Any


def problem(description: str) -> dict:
    """An OpenAPI `responses` entry for an error status."""
    return {"model": Problem, "description": description}
