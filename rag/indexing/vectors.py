"""FAISS vector indexes: exact (flat) while that is fast enough, HNSW beyond."""
from __future__ import annotations

import os

import faiss
import numpy as np

# One query at a time is searched on one thread: OpenMP start-up costs more than it saves at
# these sizes, and concurrent users already occupy the other core.
faiss.omp_set_num_threads(1)

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80


def hnsw_ef_search(n_vectors: int) -> int:
    """Search breadth for an HNSW index of `n_vectors`: wider as it grows, to hold recall@10 >= 0.95.

    Measured (rag bench vectors, efConstruction 80): 100k at 128 → 0.98; 1M at 128 → 0.87–0.91,
    at 512 → 0.956, at 1024 → 0.979 (p50 1.9 ms). So 128 up to ~128k, doubling per doubling, 1024 cap.
    """
    ef = 128
    while ef < 1024 and ef * 1000 < n_vectors:
        ef *= 2
    return ef


def choose_kind(n_vectors: int, setting: str = "auto", flat_max: int = 50_000) -> str:
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
        index.hnsw.efSearch = hnsw_ef_search(len(vectors))  # saved with the index
    else:
        raise ValueError(f"unknown vector index type {kind!r}")
    if len(vectors):
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        index.add(vectors)
        faiss.omp_set_num_threads(1)
    return index


def search(index: faiss.Index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Top-k (row, cosine) for one normalised query vector, best first."""
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
