"""`rag bench`: what each step costs — start-up, encoding, building, queries, the index layers at
sizes up to a million vectors, and many users over HTTP.

Embedding a million real passages on 2 cores would take hours, so the scale section uses vectors
made from real embeddings of real text (random mixtures of two, plus Gaussian noise, renormalised)
and passages made from real sentences. The output says so.
"""
from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import numpy as np

from rag.measure.http_load import bench_http, format_http
from rag.measure.pipeline import bench_pipeline
from rag.measure.startup import bench_start, format_start
from rag.measure.timing import peak_mb, percentiles, rss_mb, timed
from rag.settings import ROOT, from_env

NOISE = 0.02


def text_pool(limit: int = 4000) -> list[str]:
    """Real English sentences: the seeds, then package descriptions installed on this machine."""
    from importlib import metadata

    from rag.indexing.sentences import split_sentences
    from rag.ingest.corpus import load_corpus

    pool = []
    for a in load_corpus(ROOT / "seeds").articles:
        pool += [s.text for s in split_sentences(a.text, a.body_start, a.body_end)]
    for dist in metadata.distributions():
        body = dist.metadata.get_payload() or ""
        for line in body.splitlines():
            line = line.strip()
            if 60 <= len(line) <= 400 and line[0].isalpha() and line.count(" ") > 8 and "http" not in line:
                pool.append(line)
        if len(pool) >= limit:
            break
    return list(dict.fromkeys(pool))[:limit]


def synthetic_vectors(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors around real ones: a random mix of two real embeddings plus noise."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        i, j = rng.integers(0, len(base), m), rng.integers(0, len(base), m)
        w = rng.random((m, 1), dtype=np.float32)
        v = w * base[i] + (1 - w) * base[j] + rng.normal(0, NOISE, (m, base.shape[1])).astype(np.float32)
        out[s : s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _vector_search_row(vectors: np.ndarray, qs: np.ndarray) -> dict:
    """Build time and p50/p95 of top-10 search over `vectors`, flat and HNSW, and HNSW's recall@10."""
    from rag.indexing.vectors import build_index, search

    row = {}
    flat, row["flat_build_s"] = timed(build_index, vectors, "flat")
    exact, times = [], []
    for q in qs:
        res, dt = timed(search, flat, q, 10)
        exact.append({r for r, _ in res})
        times.append(dt)
    row["flat_p50_ms"], row["flat_p95_ms"] = percentiles(times)
    del flat
    approx, row["hnsw_build_s"] = timed(build_index, vectors, "hnsw")
    times, recall = [], []
    for q, truth in zip(qs, exact):
        res, dt = timed(search, approx, q, 10)
        times.append(dt)
        recall.append(len({r for r, _ in res} & truth) / 10)
    row["hnsw_p50_ms"], row["hnsw_p95_ms"] = percentiles(times)
    row["hnsw_recall10"] = float(np.mean(recall))
    return row


def _bm25_row(pool: list[str], n: int, queries: int, py: random.Random) -> dict:
    """Build time and p50/p95 of BM25 over `n` passages of 3-5 real sentences each."""
    from rag.indexing.lexical import LexicalIndex, terms

    row = {}
    passages = [" ".join(py.sample(pool, py.randint(3, 5))) for _ in range(n)]
    lex, row["bm25_build_s"] = timed(LexicalIndex.build, passages)
    del passages
    times = []
    for i in range(queries):
        words = terms(pool[i % len(pool)])[:8]
        _, dt = timed(lex.search, words, 20)
        times.append(dt)
    row["bm25_p50_ms"], row["bm25_p95_ms"] = percentiles(times)
    return row


def bench_scale(sizes: list[int], queries: int, settings, log, pool_size: int = 4000) -> list[dict]:
    """Flat vs approximate vector search, and BM25, at each size."""
    import faiss

    from rag.embedding.model import get_embedder

    pool = text_pool(pool_size)
    embedder = get_embedder(settings.model, settings.batch_size)
    base, embed_s = timed(embedder.encode, pool)
    log(f"scale: {len(pool)} real sentences embedded in {embed_s:.1f}s as the base of synthetic vectors")
    rng = np.random.default_rng(0)
    qs = synthetic_vectors(base, queries, rng)
    py = random.Random(0)
    rows = []
    for n in sizes:
        row = {"size": n, **_vector_search_row(synthetic_vectors(base, n, rng), qs), **_bm25_row(pool, n, queries, py)}
        row["rss_mb"], row["peak_rss_mb"] = rss_mb(), peak_mb()
        log(f"size {n:,}: flat p50 {row['flat_p50_ms']:.2f} ms, hnsw p50 {row['hnsw_p50_ms']:.2f} ms "
            f"recall@10 {row['hnsw_recall10']:.3f} (build {row['hnsw_build_s']:.0f}s), bm25 p50 {row['bm25_p50_ms']:.2f} ms, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB")
        rows.append(row)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return rows


def format_tables(pipe: dict | None, scale: list[dict]) -> str:
    """The benchmark as Markdown tables."""
    lines = []
    if pipe:
        lines += [
            "| step | figure |", "|---|---:|",
            f"| raw encode (the build's encoder alone) | {pipe['raw_encode_per_s']:.0f} texts/s |",
            f"| pipeline (rag index, {pipe['articles']} articles, {pipe['texts']} texts) | {pipe['pipeline_per_s']:.0f} texts/s ({100 * pipe['pipeline_per_s'] / pipe['raw_encode_per_s']:.0f}% of raw) |",
            f"| full build (mean of two) | {pipe['build_s']:.1f} s |",
            f"| rebuild after changing one article | {pipe['rebuild_one_s']:.1f} s ({pipe['rebuild_one_embedded']} re-embedded) |",
            f"| cold start to first answer | {pipe['cold_start_s']:.2f} s |",
            f"| warm ask p50 / p95, seeds | {pipe['ask_ms'][0]:.1f} / {pipe['ask_ms'][1]:.1f} ms |",
            f"| warm ask p50 / p95, build corpus ({pipe['articles']} articles, {pipe['corpus_chunks']} chunks) | {pipe['corpus_ask_ms'][0]:.1f} / {pipe['corpus_ask_ms'][1]:.1f} ms |",
            "", "| stage | seeds p50 ms | seeds p95 ms | build corpus p50 ms | build corpus p95 ms |", "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {k} | {a:.2f} | {b:.2f} | {pipe['corpus_stages_ms'][k][0]:.2f} | {pipe['corpus_stages_ms'][k][1]:.2f} |"
            for k, (a, b) in pipe["stages_ms"].items()
        ]
        lines.append("")
    if scale:
        lines += [
            "Scale (synthetic vectors around real embeddings; passages of real sentences):", "",
            "| vectors | flat p50/p95 ms | HNSW build s | HNSW p50/p95 ms | HNSW recall@10 | BM25 build s | BM25 p50/p95 ms | peak RSS MB |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['size']:,} | {r['flat_p50_ms']:.2f} / {r['flat_p95_ms']:.2f} | {r['hnsw_build_s']:.1f} | "
            f"{r['hnsw_p50_ms']:.2f} / {r['hnsw_p95_ms']:.2f} | {r['hnsw_recall10']:.3f} | {r['bm25_build_s']:.1f} | "
            f"{r['bm25_p50_ms']:.2f} / {r['bm25_p95_ms']:.2f} | {r['peak_rss_mb']:.0f} |"
            for r in scale
        ]
    return "\n".join(lines)


def plot(scale: list[dict], path: Path) -> None:
    """Search latency (p50) against size, per index layer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["size"] for r in scale]
    for key, label in (("flat_p50_ms", "flat (exact)"), ("hnsw_p50_ms", "HNSW"), ("bm25_p50_ms", "BM25")):
        ax.plot(sizes, [r[key] for r in scale], marker="o", label=label)
    ax.set(xscale="log", yscale="log", xlabel="passages / vectors", ylabel="p50 latency (ms)", title="Search latency vs size")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


SECTIONS = ("start", "pipeline", "scale", "http", "milvus")


def run_cli(args) -> int:
    """Entry point of `rag bench`."""
    sections = [x.strip() for x in args.sections.split(",") if x.strip()]
    if not sections or set(sections) - set(SECTIONS):
        raise ValueError(f"--sections takes a comma-separated list of {', '.join(SECTIONS)}, not {args.sections!r}")
    try:
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--sizes must be comma-separated integers, not {args.sizes!r}") from None
    if {"scale", "milvus"} & set(sections) and (not sizes or min(sizes) < 100):
        raise ValueError("--sizes needs sizes of at least 100")
    if not (1 <= args.users <= 1000 and 1 <= args.per_user <= 1000):
        raise ValueError("--users and --per-user must be from 1 to 1000")
    settings = from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    pipe = bench_pipeline(settings, args.queries, log, args.copies) if "pipeline" in sections else None
    scale = bench_scale(sizes, args.queries, settings, log, args.pool) if "scale" in sections else []
    http = bench_http(settings, args.users, args.per_user, log) if "http" in sections else None
    start = bench_start(settings, args.queries, log) if "start" in sections else None
    milvus = []
    if "milvus" in sections:
        from rag.measure.bench_milvus import bench_milvus, format_milvus

        milvus = bench_milvus(sizes, args.queries, settings, log, args.pool)
    print("\n\n".join(filter(None, [start and format_start(start), format_tables(pipe, scale), http and format_http(http),
                                     milvus and format_milvus(milvus)])))
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        report = {"start": start, "pipeline": pipe, "scale": scale, "noise": NOISE, "http": http, "milvus": milvus}
        (out / "bench.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        written = ["bench.json"]
        if scale:
            plot(scale, out / "bench.png")
            written.append("bench.png")
        print(f"\nwrote {out}/{', '.join(written)}")
    return 0
