"""Retrieval: dense (FAISS) and lexical (BM25) rankings fused with reciprocal-rank fusion."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.lexical import terms
from rag.store import Index
from rag.vectors import search as dense_search

MODES = ("hybrid", "dense", "bm25")


@dataclass
class Passage:
    """A retrieved chunk with where it comes from and why it ranked."""

    row: int
    doc_id: str
    title: str
    chunk_no: int
    start: int
    end: int
    text: str
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "row"}


def rrf(rankings: list[list[int]], weights: list[float], k: int = 60) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1.

    Ties keep the order in which items first appear across the rankings.
    """
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(dict.fromkeys(x for r in rankings for x in r))}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


class Retriever:
    """Finds the passages of an index that best match a question."""

    def __init__(self, index: Index, settings):
        self.index = index
        self.settings = settings

    def search(self, question: str, qvec: np.ndarray | None, k: int | None = None, mode: str = "hybrid") -> list[Passage]:
        """Top-k passages for `question` (its normalised embedding `qvec` for dense and hybrid)."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose from {', '.join(MODES)}")
        s = self.settings
        k = k or s.k
        dense = dense_search(self.index.vectors, qvec, max(s.dense_k, k)) if mode != "bm25" else []
        lexical = self.index.lexical.search(terms(question), max(s.lexical_k, k)) if mode != "dense" else []
        return self.fuse(dense, lexical, k, mode)

    def fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]], k: int, mode: str = "hybrid") -> list[Passage]:
        """The top-k passages from the dense and lexical (row, score) rankings under `mode`."""
        s = self.settings
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        else:
            fused = rrf([[r for r, _ in dense], [r for r, _ in lexical]], [s.dense_weight, s.lexical_weight], s.rrf_k)
        d_info = {r: (sc, i + 1) for i, (r, sc) in enumerate(dense)}
        l_info = {r: (sc, i + 1) for i, (r, sc) in enumerate(lexical)}
        out = []
        for row, score in fused[:k]:
            c = self.index.chunks[row]
            ds, dr = d_info.get(row, (None, None))
            ls, lr = l_info.get(row, (None, None))
            out.append(Passage(row, c.doc_id, c.title, c.chunk_no, c.start, c.end, c.text, float(score), ds, dr, ls, lr))
        return out
