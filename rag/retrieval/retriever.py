"""Retrieval: dense (FAISS) and lexical (BM25) rankings, fused by reciprocal rank or a convex
combination of scores; the learned passage ranker (`rag.retrieval.passage_ranker`) then reorders the best."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from rag.indexing.index import Index
from rag.indexing.lexical import terms
from rag.retrieval.backend import LocalBackend, SearchBackend
from rag.retrieval.passage_ranker import RERANK, get_passage_ranker, passage_features
from rag.retrieval.spelling import Vocabulary
from rag.stopwatch import Stopwatch

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
    # `doc`: the field's description in the API's schema (rag.serve.api_schema).
    score: float = field(metadata={"doc": "its fused score (the passage ranker, when on, orders the best 40 by its own)"})
    dense_score: float | None = field(default=None, metadata={"doc": "its dense score; null when the dense search did not rank it"})
    dense_rank: int | None = field(default=None, metadata={"doc": "its rank in the dense search, from 1; null when not ranked there"})
    lexical_score: float | None = field(default=None, metadata={"doc": "its BM25 score; null when BM25 did not rank it"})
    lexical_rank: int | None = field(default=None, metadata={"doc": "its rank in the BM25 search, from 1; null when not ranked there"})

    def to_dict(self) -> dict:
        """The JSON shape of a passage (its row number is the index's business, not the reader's)."""
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


def convex(dense: dict[int, float], lexical: dict[int, float], dense_weight: float, lexical_weight: float) -> list[tuple[int, float]]:
    """Convex combination of max-normalised scores over the union of candidates, best first.

    Each side is divided by its best score among the candidates (a candidate missing from a side
    scores 0 there). Dividing by the maximum rather than min-max keeps a passage's fused score
    independent of how deep the candidate lists go, so a deeper search only extends the ranking.
    Ties keep dense-then-lexical first-seen order.
    """
    total = dense_weight + lexical_weight
    if total <= 0:
        raise ValueError("fusion weights must not both be zero")
    d_max = max((v for v in dense.values() if v > 0), default=1.0)
    l_max = max((v for v in lexical.values() if v > 0), default=1.0)
    order = {item: i for i, item in enumerate(dict.fromkeys([*dense, *lexical]))}
    scores = {
        item: (dense_weight * max(dense.get(item, 0.0), 0.0) / d_max + lexical_weight * lexical.get(item, 0.0) / l_max) / total
        for item in order
    }
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


class Retriever:
    """Finds the passages of an index that best match a question."""

    def __init__(self, index: Index, settings, backend: SearchBackend | None = None, ranker=None):
        self.index = index
        self.settings = settings
        # Who ranks passage rows; the index still holds the rows, texts and sentence vectors.
        self.backend = backend or LocalBackend(index)
        # The learned passage ranker (`rag.retrieval.passage_ranker`): the shipped one unless given or switched off.
        if ranker is None and settings.passage_ranker:
            ranker = get_passage_ranker()
        self.ranker = ranker

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """The words of the index's sentences, for reading a question's misspelt words (built on first use)."""
        return Vocabulary.of(s.text for s in self.index.sentences)

    def search(self, question: str, qvec: np.ndarray | None, k: int | None = None, mode: str = "hybrid",
               timings: dict[str, float] | None = None) -> list[Passage]:
        """Top-k passages for `question` (its normalised embedding `qvec` for dense and hybrid); the
        seconds of the dense search, the lexical search and the fusion go into `timings` when given."""
        return self.retrieve(question, qvec, k, mode, timings)[0]

    def retrieve(self, question: str, qvec: np.ndarray | None, k: int | None = None, mode: str = "hybrid",
                 timings: dict[str, float] | None = None) -> tuple[list[Passage], object]:
        """(top-k passages, their sentence reads) for `question`, as `search`; the reads (the
        backend's `sentences`: the local index, or rows fetched from Milvus in one query) hold the
        sentences of every passage the re-scoring and the answer layer read."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose from {', '.join(MODES)}")
        s = self.settings
        k = k or s.k
        lap = Stopwatch(timings).lap
        engine_fuses = s.milvus_fusion == "engine" and hasattr(self.backend, "hybrid_search")
        if mode == "hybrid" and engine_fuses:
            # Milvus fuses (issue 13): one round trip, RRF with our constant; the engine reports
            # only fused scores, so the passages carry no per-side score or rank.
            fused = self.backend.hybrid_search(qvec, terms(question), k, max(s.dense_k, k), max(s.lexical_k, k),
                                               s.rrf_k)
            lap("fuse")
            passages = self._passages(fused[:k], [], [])
            return passages, self._sentences([p.row for p in passages], lap)
        dense = self.backend.dense_search(qvec, max(s.dense_k, k)) if mode != "bm25" else []
        lap("dense")
        query_terms = terms(question)
        lexical = self.backend.lexical_search(query_terms, max(s.lexical_k, k)) if mode != "dense" else []
        lap("lexical")
        if qvec is not None and dense and s.sentence_weight > 0:
            # Re-scoring reads the candidates' sentences, and the top k are among them: one fetch.
            reads = self._sentences([r for r, _ in dense] + [r for r, _ in lexical], lap)
            passages = self.fuse(dense, lexical, k, mode, qvec=qvec, query_terms=query_terms, reads=reads)
            lap("fuse")
        else:
            passages = self.fuse(dense, lexical, k, mode, qvec=qvec, query_terms=query_terms)
            lap("fuse")
            reads = self._sentences([p.row for p in passages], lap)
        return passages, reads

    def _sentences(self, rows: list[int], lap):
        """The backend's sentence reads of passage `rows`, timed as the "sentences" stage."""
        reads = self.backend.sentences(rows)
        lap("sentences")
        return reads

    def dense_scores(self, qvec: np.ndarray, rows, chunk_scores: dict[int, float] | None = None,
                     reads=None) -> dict[int, float]:
        """Dense score of each passage row: its chunk cosine, blended with its best sentence's
        cosine by the `sentence_weight` setting (a passage is often found by one sentence); the
        sentences are read from `reads` (default: the index)."""
        w = self.settings.sentence_weight
        rows = list(rows)
        chunk = self._chunk_cosines(qvec, rows, chunk_scores or {})
        if w <= 0 or not rows:
            return {r: chunk[r] for r in rows}
        out = {}
        for r, sims in zip(rows, self._sentence_cosines(qvec, rows, reads)[0]):
            best = float(sims.max()) if len(sims) else chunk[r]
            out[r] = (1 - w) * chunk[r] + w * best
        return out

    def _chunk_cosines(self, qvec: np.ndarray, rows: list[int], known: dict[int, float]) -> dict[int, float]:
        """`known` chunk cosines, with those of `rows` it lacks computed from the index's chunk vectors."""
        chunk = dict(known)
        missing = [r for r in rows if r not in chunk]
        if missing:
            chunk.update(zip(missing, (self.index.chunk_vectors_of(missing) @ qvec).tolist()))
        return chunk

    def _sentence_cosines(self, qvec: np.ndarray, rows: list[int], reads=None) -> tuple[list[np.ndarray], list[int]]:
        """(each row's sentences' cosines to `qvec`, in row order; the sentence ids, flat), read from
        `reads` (default: the index) in one product."""
        reads = reads if reads is not None else self.index
        groups = [list(reads.sentences_of(r)) for r in rows]
        flat = [i for g in groups for i in g]
        sims = reads.sentence_vectors_of(np.array(flat, dtype=np.int64)) @ qvec if flat else np.zeros(0, dtype=np.float32)
        bounds = np.cumsum([0, *map(len, groups)])
        return [sims[a:b] for a, b in zip(bounds[:-1], bounds[1:])], flat

    def fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]], k: int, mode: str = "hybrid",
             qvec: np.ndarray | None = None, query_terms: list[str] | None = None, reads=None) -> list[Passage]:
        """The top-k passages from the dense and lexical (row, score) rankings under `mode`.

        With `qvec`, dense candidates are re-scored by `dense_scores` (sentence blend); under
        convex fusion every candidate also gets the side it is missing: its dense score from
        `qvec`, its BM25 score from `query_terms`. Sentences are read from `reads` (default: the index).
        In hybrid mode the passage ranker, when there is one, reorders the best `RERANK` (`rerank`).
        """
        s = self.settings
        chunk = dict(dense)  # chunk cosines, before the sentence blend
        if qvec is not None and dense and s.sentence_weight > 0:
            rescored = self.dense_scores(qvec, [r for r, _ in dense], dict(dense), reads)
            dense = sorted(rescored.items(), key=lambda kv: -kv[1])
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        elif s.fusion == "convex":
            d, l = dict(dense), dict(lexical)
            others = [r for r in l if r not in d]
            if qvec is not None and others:
                d.update(self.dense_scores(qvec, others, reads=reads))
            if query_terms is not None and any(r not in l for r in d):
                l.update(self.backend.lexical_scores(query_terms, [r for r in d if r not in l]))
            fused = convex(d, l, s.dense_weight, s.lexical_weight)
            if mode == "hybrid" and self.ranker is not None and qvec is not None and query_terms is not None:
                fused = self.rerank(fused, d, l, chunk, qvec, query_terms, reads)
        else:
            fused = rrf([[r for r, _ in dense], [r for r, _ in lexical]], [s.dense_weight, s.lexical_weight], s.rrf_k)
        return self._passages(fused[:k], dense, lexical)

    def candidate_features(self, fused: list[tuple[int, float]], dense: dict[int, float], lexical: dict[int, float],
                           chunk: dict[int, float], qvec: np.ndarray, query_terms: list[str], reads=None) -> tuple[list[int], np.ndarray]:
        """(the best `RERANK` fused rows, their passage-ranker features): `dense`, `lexical` and
        `chunk` hold every candidate's scores (chunk cosines computed here where missing)."""
        reads = reads if reads is not None else self.index
        rows = [r for r, _ in fused[:RERANK]]
        chunk = self._chunk_cosines(qvec, rows, chunk)
        # One product over these rows' sentences, as `rag train` computed them: a cosine taken in another
        # product differs in its last bits, enough to move LightGBM's splits, and the shipped files
        # would no longer be what the documented command rebuilds.
        per_row, flat = self._sentence_cosines(qvec, rows, reads)
        overlaps = reads.term_overlap(query_terms, flat) if flat else np.zeros(0, dtype=np.float32)
        cosines, overlap_of, at = {}, {}, 0
        for r, sims in zip(rows, per_row):
            cosines[r], overlap_of[r] = sims, overlaps[at:at + len(sims)]
            at += len(sims)
        chunk_no = {r: self.index.chunks[r].chunk_no for r in rows}
        return rows, passage_features(rows, dict(fused), dense, chunk, lexical, cosines, overlap_of, chunk_no,
                                      len(query_terms))

    def rerank(self, fused: list[tuple[int, float]], dense: dict[int, float], lexical: dict[int, float],
               chunk: dict[int, float], qvec: np.ndarray, query_terms: list[str], reads=None) -> list[tuple[int, float]]:
        """`fused` with its best `RERANK` rows in the passage ranker's order (each keeps its fused
        score); ties keep fusion's order."""
        rows, features = self.candidate_features(fused, dense, lexical, chunk, qvec, query_terms, reads)
        scores = self.ranker.score(features, rows)
        order = np.argsort(-scores, kind="stable")
        top = dict(fused[:len(rows)])
        return [(rows[i], top[rows[i]]) for i in order] + fused[len(rows):]

    def _passages(self, fused: list[tuple[int, float]], dense: list[tuple[int, float]],
                  lexical: list[tuple[int, float]]) -> list[Passage]:
        """Passages of the fused (row, score) list, with each row's score and rank on either side."""
        d_info = {r: (sc, i + 1) for i, (r, sc) in enumerate(dense)}
        l_info = {r: (sc, i + 1) for i, (r, sc) in enumerate(lexical)}
        out = []
        for row, score in fused:
            c = self.index.chunks[row]
            ds, dr = d_info.get(row, (None, None))
            ls, lr = l_info.get(row, (None, None))
            out.append(Passage(row, c.doc_id, c.title, c.chunk_no, c.start, c.end, c.text, float(score), ds, dr, ls, lr))
        return out
