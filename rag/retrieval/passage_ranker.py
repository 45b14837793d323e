"""The learned passage ranker: reorders the best fused candidates with gradient-boosted trees over
their retrieval scores and ranks and over how well their best sentences cover the question's terms.

Fusion adds two normalised scores with fixed weights; the trees also read what fusion cannot, such
as a passage whose one sentence holds every rare term of the question. Fitted by `rag train` on
SQuAD's train articles and SciFact's train claims (LightGBM `lambdarank`), shipped as
`rag/models/passage_ranker.txt.xz` with its sha256 in the selector's config;
`RAG_PASSAGE_RANKER=off` keeps fusion's order.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.models import MODELS

WEIGHTS = MODELS / "passage_ranker.txt.xz"
# The fused candidates reordered; the rest keep fusion's order below them. The ranker was fitted
# on the union of the dense and lexical top 20, so this covers every candidate at the page's depth.
RERANK = 40

# BM25 enters divided by its best candidate's score only: its raw scale depends on the backend
# (Milvus's BM25 is bm25s's times k1 + 1) and on the collection.
FEATURES = (
    "fused", "fused_rank", "dense", "dense_norm", "dense_rank", "chunk", "chunk_norm", "best_sentence",
    "bm25_norm", "bm25_rank", "overlap_best", "overlap_second", "relevance_best",
    "chunk_no", "sentences", "question_terms",
)


def _ranks(scores: dict[int, float], positive: bool = False) -> dict[int, int]:
    """Each row's rank (from 0) by descending score, rows with equal scores sharing the best rank
    of their tie (backends list tied rows in different orders); with `positive`, only rows scoring
    above 0 are ranked (a BM25 score of 0 matches nothing)."""
    kept = {r: v for r, v in scores.items() if v > 0 or not positive}
    first: dict[float, int] = {}
    for i, v in enumerate(sorted(kept.values(), reverse=True)):
        first.setdefault(v, i)
    return {r: first[v] for r, v in kept.items()}


def passage_features(rows: list[int], fused: dict[int, float], dense: dict[int, float], chunk: dict[int, float],
                     lexical: dict[int, float], sentence_cosines: dict[int, np.ndarray],
                     sentence_overlaps: dict[int, np.ndarray], chunk_no: dict[int, int], question_terms: int) -> np.ndarray:
    """One row of FEATURES per passage row in `rows`: its fused, dense (chunk and sentence blend) and
    chunk-cosine scores, each also divided by its best over all candidates, its BM25 score so divided,
    and its ranks;
    its best sentence's cosine; the IDF overlap of its best two sentences with the question; the
    best hand-set relevance (half cosine, half overlap) of a sentence; where it sits in its article."""
    best = {name: max(max(s.values(), default=0.0), 1e-9) for name, s in (("d", dense), ("c", chunk), ("l", lexical))}
    f_rank, d_rank, l_rank = _ranks(fused), _ranks(dense), _ranks(lexical, positive=True)
    last = len(fused)  # the rank of a candidate a side did not score or BM25 found nothing in
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float32)
    for i, r in enumerate(rows):
        cos = sentence_cosines.get(r, np.zeros(0))
        ov = np.sort(sentence_overlaps.get(r, np.zeros(0)))
        rel = 0.5 * cos + 0.5 * sentence_overlaps.get(r, np.zeros(0)) if len(cos) else np.zeros(1)
        d, c, lx = dense.get(r, 0.0), chunk.get(r, 0.0), lexical.get(r, 0.0)
        out[i] = (
            fused[r], f_rank[r], d, d / best["d"], d_rank.get(r, last), c, c / best["c"],
            cos.max() if len(cos) else 0.0, lx / best["l"], l_rank.get(r, last),
            ov[-1] if len(ov) else 0.0, ov[-2] if len(ov) > 1 else 0.0, rel.max(),
            chunk_no[r], len(cos), question_terms,
        )
    return out


class PassageRanker:
    """The fitted trees; `score` gives each candidate's ranking score (higher is better)."""

    def __init__(self, path: Path):
        from rag.answer.selector import _lightgbm
        from rag.models import read_model_bytes

        self.booster = _lightgbm().Booster(model_str=read_model_bytes(path).decode("utf-8"))

    def score(self, features: np.ndarray, rows: list[int] | None = None) -> np.ndarray:
        """Ranking score of each feature row (of passage `rows`, which the trees do not need)."""
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.booster.predict(features, raw_score=True, num_threads=1).astype(np.float32)


class FeatureLog:
    """Stands in for the ranker while `rag train` gathers its data: keeps fusion's order and
    records the rows and features of the last question retrieved for."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        """Forget the last question's candidates (a search that reranks nothing leaves none)."""
        self.rows, self.features = [], np.zeros((0, len(FEATURES)), dtype=np.float32)

    def score(self, features: np.ndarray, rows: list[int] | None = None) -> np.ndarray:
        """Zeros (a stable sort keeps fusion's order), after noting `rows` and `features`."""
        self.rows, self.features = list(rows or []), features
        return np.zeros(len(features), dtype=np.float32)


def ranker_examples(assistant, questions: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) of each question's reranked candidates, exactly as retrieval computes
    them; a candidate is positive when its article is one of the question's `sources`."""
    log, kept = FeatureLog(), assistant.retriever.ranker
    assistant.retriever.ranker = log
    try:
        out = []
        for q, qvec in zip(questions, assistant.encoder.encode([q["question"] for q in questions])):
            log.clear()
            assistant.retriever.search(q["question"], qvec)
            labels = np.array([assistant.index.chunks[r].doc_id in q["sources"] for r in log.rows], dtype=np.int8)
            out.append((log.features, labels))
        return out
    finally:
        assistant.retriever.ranker = kept


@lru_cache(maxsize=1)
def get_passage_ranker() -> PassageRanker | None:
    """The shipped ranker (its sha256 checked with the selector's files), or None when the shipped
    models predate it."""
    from rag.answer.selector import get_selector

    if WEIGHTS.name not in get_selector().config.files:
        return None
    return PassageRanker(WEIGHTS)


def fit_passage_ranker(groups: list[tuple[np.ndarray, np.ndarray]], path: Path, seed: int = 0,
                       weights: list[float] | None = None) -> str:
    """LightGBM `lambdarank` over (features, labels) per question, each question weighted by
    `weights` (default 1), written as text at `path`; returns its sha256. Questions without a gold
    candidate teach nothing and are left out."""
    import lightgbm

    from rag.models import write_booster

    kept = [(g, w) for g, w in zip(groups, weights or [1.0] * len(groups)) if len(g[1]) and g[1].max() > 0]
    groups = [g for g, _ in kept]
    X = np.vstack([g[0] for g in groups])
    y = np.concatenate([g[1] for g in groups])
    row_weights = np.concatenate([np.full(len(g[1]), w, dtype=np.float32) for g, w in kept])
    params = {"objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 50,
              "lambdarank_truncation_level": 10, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
              "seed": seed, "num_threads": 1, "deterministic": True, "force_row_wise": True, "verbose": -1}
    data = lightgbm.Dataset(X, y, group=[len(g[1]) for g in groups], weight=row_weights)
    return write_booster(lightgbm.train(params, data, num_boost_round=300), path)
