"""A loaded index: its rows, vectors and lexical index, and the narrow interface the answer layer,
the page and the API read it through (`rag.indexing.store` loads and writes it; `rag.indexing.build` builds it)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from rag.indexing.chunking import Chunk
from rag.indexing.lexical import LexicalIndex, lexical_overlap, terms
from rag.indexing.manifest import ArticleEntry, Manifest
from rag.indexing.sentences import Sentence


@dataclass
class Index:
    """A loaded index, ready for retrieval."""

    folder: Path
    manifest: Manifest
    chunks: list[Chunk]
    chunk_sentences: list[list[int]]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    vectors: faiss.Index
    lexical: LexicalIndex
    sentence_terms: list[frozenset[str]] = field(default_factory=list)
    # doc_id -> the article's text as indexed; sources and citations are served from it.
    texts: dict[str, str] = field(default_factory=dict)
    # Set when this index is older than the corpus because a rebuild failed (read-only disk...).
    warning: str | None = None
    _first_sentence: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        # Analysed once at load so answering a question tokenises only the question.
        if not self.sentence_terms:
            self.sentence_terms = [frozenset(terms(s.text)) for s in self.sentences]
        for sid, s in enumerate(self.sentences):
            self._first_sentence.setdefault(s.doc_id, sid)

    def first_sentence_of(self, doc_id: str) -> int:
        """Row of an article's first sentence (its title); an article's sentences are consecutive rows."""
        return self._first_sentence[doc_id]

    def neighbour(self, sid: int, step: int) -> int | None:
        """The sentence `step` rows away in the same article, or None at the article's edge."""
        j = sid + step
        if 0 <= j < len(self.sentences) and self.sentences[j].doc_id == self.sentences[sid].doc_id:
            return j
        return None

    @property
    def titles(self) -> dict[str, str]:
        """doc_id -> title of every indexed article."""
        return self.manifest.titles

    def article(self, doc_id: str) -> ArticleEntry | None:
        """The manifest's record of an indexed article, or None for an id the index does not hold."""
        return self.manifest.articles.get(doc_id)

    def sentences_of(self, row: int) -> list[int]:
        """Sentence rows of chunk `row`, in text order."""
        return self.chunk_sentences[row]

    def sentence_vectors_of(self, rows) -> np.ndarray:
        """The vectors of sentence `rows` (an int, a list or an array: numpy indexing, no copy loop)."""
        return self.sentence_vectors[rows]

    def chunk_vectors_of(self, rows) -> np.ndarray:
        """The vectors of chunk `rows` (numpy indexing)."""
        return self.chunk_vectors[rows]

    def term_overlap(self, query_terms: list[str], rows: Sequence[int]) -> np.ndarray:
        """IDF-weighted share of the query's terms found in each sentence row (`lexical_overlap`)."""
        idf = self.lexical.idf
        return np.array([lexical_overlap(query_terms, self.sentence_terms[r], idf) for r in rows], dtype=np.float32)

    def sentence_texts(self, rows: Sequence[int]) -> list[str]:
        """The text of each sentence row in `rows`."""
        return [self.sentences[r].text for r in rows]

    def span_text(self, first: int, last: int) -> str:
        """The article text from sentence row `first`'s start to row `last`'s end (same article)."""
        return self.texts[self.sentences[first].doc_id][self.sentences[first].start:self.sentences[last].end]
