"""Packing whole sentences into token-bounded, overlapping chunks with exact character spans."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rag.indexing.sentences import Sentence, split_long, split_sentences
from rag.ingest.corpus import Article

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
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def passage(self) -> str:
        """What BM25 indexes and the embedding model reads: a later chunk after its article's
        title (the first one already opens with it). Every engine reads this, so their scores agree."""
        return f"{self.title}\n{self.text}" if self.chunk_no else self.text

    def to_row(self) -> dict:
        """The chunk's row in chunks.json, without its sentence ids (the store adds them); sentences
        are stored as [start, end] pairs, the shape format 2 has always written."""
        return {"doc_id": self.doc_id, "title": self.title, "chunk_no": self.chunk_no, "start": self.start,
                "end": self.end, "text": self.text, "sentences": [[s.start, s.end] for s in self.sentences]}

    @classmethod
    def from_row(cls, row: dict, sentences: list[Sentence]) -> Chunk:
        """The chunk of a chunks.json row, holding the index's own `sentences` records (its rows by
        `sentence_ids`); ValueError when the row's spans are not those records'."""
        if row["sentences"] != [[s.start, s.end] for s in sentences]:
            raise ValueError(f"chunk {row['chunk_no']} of {row['doc_id']!r} disagrees with its sentence rows")
        return cls(row["doc_id"], row["title"], row["chunk_no"], row["start"], row["end"], row["text"], sentences)


def article_sentences(article: Article, count_tokens: Counter, max_tokens: int) -> list[Sentence]:
    """The title then the body's sentences; a sentence over `max_tokens` is cut at whitespace."""
    text, doc_id = article.text, article.doc_id
    found = [Sentence(doc_id, article.title_start, article.title_end, text[article.title_start : article.title_end])]
    found += split_sentences(text, article.body_start, article.body_end, doc_id)
    out: list[Sentence] = []
    for sentence in found:
        if count_tokens(sentence.text) > max_tokens:
            out.extend(split_long(text, sentence, count_tokens, max_tokens))
        else:
            out.append(sentence)
    return out


def pack(text: str, sentences: list[Sentence], count_tokens: Counter, max_tokens: int, overlap: int) -> list[list[Sentence]]:
    """Group consecutive sentences so each group's text fits `max_tokens`.

    Each group after the first repeats the last `overlap` sentences of the previous one, when
    they fit with at least one new sentence. Every sentence must fit alone.
    """
    groups: list[list[Sentence]] = []
    i = 0
    while i < len(sentences):
        group = [sentences[i]]
        j = i + 1
        while j < len(sentences) and count_tokens(text[group[0].start : sentences[j].end]) <= max_tokens:
            group.append(sentences[j])
            j += 1
        groups.append(group)
        if j >= len(sentences):
            break
        # Step back for overlap, but always move forward by at least one sentence.
        nxt = max(j - overlap, i + 1)
        while nxt < j and count_tokens(text[sentences[nxt].start : sentences[j].end]) > max_tokens:
            nxt += 1
        i = nxt
    return groups


def chunk_article(article: Article, count_tokens: Counter, max_tokens: int = 128, overlap: int = 1) -> list[Chunk]:
    """Split one article into chunks of whole sentences of at most `max_tokens` tokens."""
    sentences = article_sentences(article, count_tokens, max_tokens)
    chunks = []
    for n, group in enumerate(pack(article.text, sentences, count_tokens, max_tokens, overlap)):
        start, end = group[0].start, group[-1].end
        chunks.append(
            Chunk(
                doc_id=article.doc_id,
                title=article.title,
                chunk_no=n,
                start=start,
                end=end,
                text=article.text[start:end],
                sentences=group,
            )
        )
    return chunks
