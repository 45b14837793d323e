import faiss
import numpy as np

from rag.indexing.build import build
from rag.indexing.store import load_index
from rag.indexing.vectors import build_index, choose_kind, hnsw_ef_search, search
from rag.settings import from_env


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_index_type_follows_size_unless_set():
    assert choose_kind(50_000, "auto", 50_000) == "flat"
    assert choose_kind(50_001, "auto", 50_000) == "hnsw"
    assert choose_kind(10, "hnsw") == "hnsw" and choose_kind(10**7, "flat") == "flat"


def test_hnsw_search_breadth_grows_with_size_and_is_saved(tmp_path):
    assert hnsw_ef_search(10_000) == 128 and hnsw_ef_search(1_000_000) == 1024
    assert hnsw_ef_search(300_000) == 512 and hnsw_ef_search(10**8) == 1024
    index = build_index(_unit(2000), "hnsw")
    faiss.write_index(index, str(tmp_path / "v.faiss"))
    assert faiss.read_index(str(tmp_path / "v.faiss")).hnsw.efSearch == hnsw_ef_search(2000)


def test_hnsw_agrees_with_exact_search():
    vectors, queries = _unit(3000), _unit(50, seed=1)
    flat, hnsw = build_index(vectors, "flat"), build_index(vectors, "hnsw")
    recall = np.mean([
        len({r for r, _ in search(hnsw, q, 10)} & {r for r, _ in search(flat, q, 10)}) / 10 for q in queries
    ])
    assert recall >= 0.95
    best = search(flat, vectors[7], 3)
    assert best[0][0] == 7 and abs(best[0][1] - 1.0) < 1e-5 and best[0][1] >= best[1][1] >= best[2][1]


def test_empty_index_and_k_beyond_size():
    assert search(build_index(np.zeros((0, 8), np.float32)), _unit(1, 8)[0], 5) == []
    assert len(search(build_index(_unit(3, 8)), _unit(1, 8)[0], 10)) == 3


def test_changing_the_index_type_rebuilds_without_re_embedding(corpus_copy, tmp_path):
    flat = from_env(env={}, corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    build(flat, progress=False)
    assert load_index(flat.index_dir).manifest.vector_index == "flat"
    report = build(flat.replace(index_type="hnsw"), progress=False)
    index = load_index(flat.index_dir)
    assert report.embedded_articles == [] and index.manifest.vector_index == "hnsw"
    assert isinstance(index.vectors, faiss.IndexHNSWFlat) and index.vectors.ntotal == len(index.chunks)
