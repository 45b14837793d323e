"""Retrieval: dense and BM25 rankings of passages, fused, then reordered by the learned passage
ranker."""
