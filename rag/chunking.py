"""Packing whole sentences into token-bounded, overlapping chunks with exact character spans."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rag.corpus import Article
from rag.sentences import Span, split_long, split_sentences

Counter = Callable[[str], int]


@dataclass
class Chunk:
    """A passage of an article: whole sentences, `text == article.text[start:end]`."""

    doc_id: str
    title: str
    chunk_no: int
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]] = field(default_factory=list)


def article_sentences(article: Article, count_tokens: Counter, max_tokens: int) -> list[Span]:
    """The title then the body's sentences; a sentence over `max_tokens` is cut at whitespace."""
    spans = [Span(article.title_start, article.title_end)]
    spans += split_sentences(article.text, article.body_start, article.body_end)
    out: list[Span] = []
    for span in spans:
        if count_tokens(article.text[span.start : span.end]) > max_tokens:
            out.extend(split_long(article.text, span, count_tokens, max_tokens))
        else:
            out.append(span)
    return out


def pack(text: str, spans: list[Span], count_tokens: Counter, max_tokens: int, overlap: int) -> list[list[Span]]:
    """Group consecutive sentence spans so each group's text fits `max_tokens`.

    Each group after the first repeats the last `overlap` sentences of the previous one, when
    they fit with at least one new sentence. Every sentence must fit alone.
    """
    groups: list[list[Span]] = []
    i = 0
    while i < len(spans):
        group = [spans[i]]
        j = i + 1
        while j < len(spans) and count_tokens(text[group[0].start : spans[j].end]) <= max_tokens:
            group.append(spans[j])
            j += 1
        groups.append(group)
        if j >= len(spans):
            break
        # Step back for overlap, but always move forward by at least one sentence.
        nxt = max(j - overlap, i + 1)
        while nxt < j and count_tokens(text[spans[nxt].start : spans[j].end]) > max_tokens:
            nxt += 1
        i = nxt
    return groups


def chunk_article(article: Article, count_tokens: Counter, max_tokens: int = 128, overlap: int = 1) -> list[Chunk]:
    """Split one article into chunks of whole sentences of at most `max_tokens` tokens."""
    spans = article_sentences(article, count_tokens, max_tokens)
    chunks = []
    for n, group in enumerate(pack(article.text, spans, count_tokens, max_tokens, overlap)):
        start, end = group[0].start, group[-1].end
        chunks.append(
            Chunk(
                doc_id=article.doc_id,
                title=article.title,
                chunk_no=n,
                start=start,
                end=end,
                text=article.text[start:end],
                sentences=[(s.start, s.end) for s in group],
            )
        )
    return chunks
