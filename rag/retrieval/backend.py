"""The search seam: what retrieval asks of an index's search engine (dense and BM25 rankings over
passage rows, and the sentences of the passages a question reads), with the default
implementation over the local FAISS and bm25s indexes and the loaded `Index`.

Passage rows stay with the loaded `Index`; a backend ranks them and serves their sentences
through the reads of `Index` (the local index itself, or Milvus rows: `rag.milvus.reads`), so
fusion, sentence re-scoring and the answer layer are the same whichever engine serves them."""
from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from rag.indexing.index import Index
from rag.indexing.vectors import search as faiss_search

log = logging.getLogger("rag")


class SearchBackend(Protocol):
    """Ranks the passage rows of one index generation."""

    def dense_search(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Top-n (passage row, cosine) for a normalised query vector, best first."""

    def lexical_search(self, query_terms: list[str], n: int) -> list[tuple[int, float]]:
        """Top-n (passage row, BM25 score > 0) for analysed query terms, best first."""

    def lexical_scores(self, query_terms: list[str], rows: list[int]) -> dict[int, float]:
        """BM25 score of each of `rows` (empty when no query term is known to the index)."""

    def sentences(self, rows: list[int]):
        """The sentence reads of passage `rows` for one question: what `Index` offers the answer
        layer (`sentences_of`, `sentence_vectors_of`, `sentence_texts`, `neighbour`, ...)."""

    def close(self) -> None:
        """Release what the backend holds (connections); called once no request can use it."""


class LocalBackend:
    """Today's engine: the index's own FAISS and bm25s indexes, in this process."""

    def __init__(self, index: Index):
        self.index = index

    def dense_search(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Top-n (row, cosine) from the FAISS index."""
        return faiss_search(self.index.vectors, qvec, n)

    def lexical_search(self, query_terms: list[str], n: int) -> list[tuple[int, float]]:
        """Top-n (row, BM25) from bm25s."""
        return self.index.lexical.search(query_terms, n)

    def lexical_scores(self, query_terms: list[str], rows: list[int]) -> dict[int, float]:
        """BM25 of `rows`, read from bm25s's score of every passage."""
        all_scores = self.index.lexical.scores(query_terms)
        if all_scores is None:
            return {}
        return {r: float(all_scores[r]) for r in rows}

    def sentences(self, rows: list[int]) -> Index:
        """The index itself: it holds every sentence row."""
        return self.index

    def close(self) -> None:
        """Nothing to release: the index's memory goes with the Index."""


def open_backend(settings, index: Index) -> SearchBackend:
    """The backend the `backend` setting names, ready to search `index` (Milvus is synced first)."""
    if getattr(settings, "backend", "local") == "milvus":
        from rag.milvus.backend import open_milvus  # pymilvus is imported only when it is used

        return open_milvus(settings, index)
    return LocalBackend(index)


def open_or_previous(settings, index: Index) -> tuple[Index, SearchBackend]:
    """(index, backend) for `index`; when Milvus cannot take it (the sync failed or the server is
    gone), the generation before it on the state Milvus still commits to, marked with a warning
    so that the caller retries (LiveIndex: after a back-off). The original error when there is
    nothing earlier to answer from: Milvus unreachable, nothing committed, that generation pruned."""
    try:
        return index, open_backend(settings, index)
    except Exception as exc:
        if settings.backend != "milvus":
            raise
        from rag.milvus.backend import attach_previous

        earlier = attach_previous(settings, index.folder.parent, failed=index.folder.name)
        if earlier is None:
            raise
        old, backend = earlier
        old.warning = (f"the index could not be synced into Milvus ({exc}); answers come from the previous "
                       "index until a retry succeeds")
        log.warning(f"warning: {old.warning}")
        return old, backend
