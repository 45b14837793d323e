"""`rag bench --sections milvus`: the Milvus backend against the local one at a given size.

Embedding 100k real passages on 2 cores takes hours, so, as the scale section does, the index is
synthetic: passages of 3-5 real sentences (real BM25 text) with vectors made around real
embeddings (`synthetic_vectors`). Each passage is one article with one sentence, so retrieval runs
its whole path (dense, BM25, fusion, sentence re-scoring) over the same rows on both backends.

Ingest: local is what a build adds after embedding (the FAISS index and bm25s); Milvus is a sync
into a new collection (insert, flush, index build, load), as `open_milvus` does on a first start.
Queries: `Retriever.search` per mode, the two backends taking turns on each query.
"""
from __future__ import annotations

import hashlib
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rag.measure.timing import percentiles, timed

MODES = ("hybrid", "dense", "bm25")


def synthetic_index(n: int, pool: list[str], base: np.ndarray, rng: np.random.Generator, py: random.Random,
                    folder: Path, settings, model_id: str) -> tuple[object, float]:
    """An in-memory Index of `n` one-passage articles, and the seconds its FAISS and BM25 indexes took."""
    from rag.indexing.chunking import Chunk
    from rag.indexing.index import Index, Sentence
    from rag.indexing.lexical import LexicalIndex
    from rag.indexing.manifest import FORMAT_VERSION, ArticleEntry, Counts, Manifest
    from rag.indexing.vectors import build_index, choose_kind
    from rag.measure.bench import synthetic_vectors

    chunks, sentences, articles, texts = [], [], {}, {}
    for i in range(n):
        doc_id, title = f"p{i:07d}", f"Passage {i}"
        body = " ".join(py.sample(pool, py.randint(3, 5)))
        text = f"{title}\n\n{body}"
        start = len(title) + 2
        chunks.append(Chunk(doc_id, title, 0, start, len(text), body))
        sentences.append(Sentence(doc_id, start, len(text), body))
        texts[doc_id] = text
        articles[doc_id] = ArticleEntry(title, f"{doc_id}.txt", hashlib.sha256(text.encode()).hexdigest(), None,
                                        "utf-8", len(text))
    vectors = synthetic_vectors(base, n, rng)
    kind = choose_kind(n, settings.index_type, settings.flat_max)
    manifest = Manifest(FORMAT_VERSION, "", model_id, int(vectors.shape[1]), {"bench": "synthetic"}, "", kind,
                        Counts(n, n, n), articles, [])
    faiss_index, faiss_s = timed(build_index, vectors, kind)
    lexical, bm25_s = timed(LexicalIndex.build, [c.passage for c in chunks])
    index = Index(folder, manifest, chunks, [[i] for i in range(n)], sentences, vectors, vectors, faiss_index, lexical,
                  texts=texts)
    return index, faiss_s + bm25_s


def _row(n: int, queries: int, settings, pool: list[str], base: np.ndarray, model_id: str, work: Path, log) -> dict:
    from rag.measure.bench import synthetic_vectors
    from rag.milvus.backend import open_milvus
    from rag.milvus.sync import index_kind
    from rag.retrieval.backend import LocalBackend
    from rag.retrieval.retriever import Retriever

    rng, py = np.random.default_rng(n), random.Random(n)
    index, local_s = synthetic_index(n, pool, base, rng, py, work / f"gen-bench-{n}", settings, model_id)
    remote_settings = settings.replace(backend="milvus", milvus_uri=str(work / f"bench-{n}.db"))
    backend, milvus_s = timed(open_milvus, remote_settings, index)
    row = {"size": n, "kind": index_kind(index, settings), "local_ingest_s": local_s, "milvus_ingest_s": milvus_s,
           "local_ingest_per_s": n / local_s, "milvus_ingest_per_s": n / milvus_s}
    log(f"milvus {n:,}: ingest local {local_s:.1f}s ({n / local_s:,.0f}/s), Milvus Lite {milvus_s:.1f}s "
        f"({n / milvus_s:,.0f}/s), {row['kind']}")
    try:
        # The two engines' searches and fusion are compared, not the passage ranker on top: its trees
        # turn the small differences of Milvus's own BM25 statistics into different orders.
        fused = settings.replace(passage_ranker=False)
        sides = {"local": Retriever(index, fused, LocalBackend(index)), "milvus": Retriever(index, fused, backend)}
        qvecs = synthetic_vectors(base, queries, rng)
        questions = [pool[(7 * i) % len(pool)] for i in range(queries)]
        for side in sides.values():  # warm-up: first searches pay for loading
            side.search(questions[0], qvecs[0])
        times = {(s, m): [] for s in sides for m in MODES}
        same_top = {m: 0 for m in MODES}
        top_in_3 = {m: 0 for m in MODES}
        overlap = []
        for q, v in zip(questions, qvecs):
            for mode in MODES:
                found = {}
                for s, retriever in sides.items():  # taking turns: a busy spell slows both alike
                    found[s], dt = timed(retriever.search, q, v, None, mode)
                    times[(s, mode)].append(dt)
                a, b = ([p.doc_id for p in found[s]] for s in ("local", "milvus"))
                same_top[mode] += a[:1] == b[:1]
                top_in_3[mode] += bool(b[:1]) and b[0] in a[:3]  # tolerant of near ties in BM25
            d_local = {r for r, _ in sides["local"].backend.dense_search(v, 10)}
            d_milvus = {r for r, _ in backend.dense_search(v, 10)}
            overlap.append(len(d_local & d_milvus) / 10)
        for (s, m), ts in times.items():
            row[f"{s}_{m}_p50_ms"], row[f"{s}_{m}_p95_ms"] = percentiles(ts)
        for m in MODES:
            row[f"{m}_ratio_p50"] = row[f"milvus_{m}_p50_ms"] / row[f"local_{m}_p50_ms"]
            row[f"{m}_same_top"] = same_top[m] / queries
            row[f"{m}_top_in_local3"] = top_in_3[m] / queries
        row["dense_overlap10"] = float(np.mean(overlap))
        log(f"milvus {n:,}: hybrid p50 local {row['local_hybrid_p50_ms']:.2f} ms, Milvus Lite "
            f"{row['milvus_hybrid_p50_ms']:.2f} ms ({row['hybrid_ratio_p50']:.1f}x); same top passage "
            f"{row['hybrid_same_top']:.3f}; dense top-10 overlap {row['dense_overlap10']:.3f}")
    finally:
        backend.close()
    return row


def bench_milvus(sizes: list[int], queries: int, settings, log, pool_size: int = 4000, embedder=None) -> list[dict]:
    """One row per size: ingest time and rate on each backend, query p50/p95 per mode and the
    Milvus/local ratio, and how often both give the same top passage. `embedder` (anything with
    `encode(texts)` and `model_id`) replaces the model of `settings` for the vector base."""
    from rag.embedding.model import get_embedder
    from rag.measure.bench import text_pool

    pool = text_pool(pool_size)
    embedder = embedder or get_embedder(settings.model, settings.batch_size)
    base, embed_s = timed(embedder.encode, pool)
    base = np.asarray(base, dtype=np.float32)
    log(f"milvus: {len(pool)} real sentences embedded in {embed_s:.1f}s as the base of synthetic vectors")
    work = Path(tempfile.mkdtemp(prefix="rag-bench-milvus-"))
    try:
        return [_row(n, queries, settings.replace(backend="local"), pool, base, str(getattr(embedder, "model_id", "model")),
                     work, log) for n in sizes]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def format_milvus(rows: list[dict]) -> str:
    """The Milvus rows as Markdown tables."""
    if not rows:
        return ""
    lines = ["Milvus Lite vs local (synthetic vectors around real embeddings; passages of real sentences):", "",
             "| passages | dense index | ingest local s (/s) | ingest Milvus Lite s (/s) | ingest ratio |",
             "|---:|---|---:|---:|---:|"]
    lines += [f"| {r['size']:,} | {r['kind']} | {r['local_ingest_s']:.1f} ({r['local_ingest_per_s']:,.0f}) | "
              f"{r['milvus_ingest_s']:.1f} ({r['milvus_ingest_per_s']:,.0f}) | "
              f"{r['milvus_ingest_s'] / r['local_ingest_s']:.1f}x |" for r in rows]
    lines += ["", "| passages | mode | local p50 / p95 ms | Milvus Lite p50 / p95 ms | p50 ratio | same top passage |",
              "|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['size']:,} | {m} | {r[f'local_{m}_p50_ms']:.2f} / {r[f'local_{m}_p95_ms']:.2f} | "
              f"{r[f'milvus_{m}_p50_ms']:.2f} / {r[f'milvus_{m}_p95_ms']:.2f} | {r[f'{m}_ratio_p50']:.1f}x | "
              f"{r[f'{m}_same_top']:.3f} |" for r in rows for m in MODES]
    lines += ["", "Dense top-10 rows shared by both backends: "
              + ", ".join(f"{r['dense_overlap10']:.3f} at {r['size']:,}" for r in rows)]
    return "\n".join(lines)
