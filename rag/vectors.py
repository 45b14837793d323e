"""FAISS vector indexes: exact (flat) while that is fast enough, HNSW beyond."""
from __future__ import annotations

import faiss
import numpy as np

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64


def choose_kind(n_vectors: int, setting: str = "auto", flat_max: int = 200_000) -> str:
    """'flat' or 'hnsw' for `n_vectors` under the `index_type` setting."""
    if setting != "auto":
        return setting
    return "flat" if n_vectors <= flat_max else "hnsw"


def build_index(vectors: np.ndarray, kind: str = "flat") -> faiss.Index:
    """An inner-product index over normalised `vectors` (cosine similarity)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown vector index type {kind!r}")
    if len(vectors):
        index.add(vectors)
    return index


def search(index: faiss.Index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Top-k (row, cosine) for one normalised query vector, best first."""
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
