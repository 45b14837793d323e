"""The JSON shapes of the HTTP API (`rag.api`): requests, answers, articles, health, errors.

The answer models restate the fields of `rag.answer`'s dataclasses (minus a citation's passage,
which `passages` lists) so the OpenAPI schema documents each; a test checks that every field
`rag ask --json` prints is declared here.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag.settings import MAX_K


class AskRequest(BaseModel):
    """A question. JSON types are checked here (422); values (an empty question, k out of range)
    by the assistant, which refuses them with the page's and the CLI's message (400)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    question: str = Field(description="the question; longer than the question limit (2,000 characters) is cut, with a notice")
    k: int | None = Field(None, description=f"passages to read, 1 to {MAX_K}; null: the server's setting")


class ShortAnswerOut(BaseModel):
    """The exact span that answers, inside a quoted sentence: `source[start:end] == text`."""

    model_config = ConfigDict(extra="allow")
    text: str
    doc_id: str
    start: int
    end: int
    score: float


class CitationOut(BaseModel):
    """A quoted sentence: `text == source[start:end]` of article `doc_id`."""

    model_config = ConfigDict(extra="allow")
    n: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    chunk_no: int
    context: bool = Field(description="quoted for what the next sentence leans on, not as the answer itself")
    page: int | None = Field(None, description="the PDF page the sentence starts on; null for other formats")


class PassageOut(BaseModel):
    """A passage read for the answer (its fields as `rag ask --json` prints them)."""

    model_config = ConfigDict(extra="allow")
    doc_id: str
    title: str
    start: int
    end: int
    text: str
    score: float


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
