"""`rag bench`: what each step costs — encoding, building, cold start, queries, and the index
layers at sizes up to a million vectors.

Embedding a million real passages on 2 cores would take hours, so the scale section uses vectors
made from real embeddings of real text (random mixtures of two, plus Gaussian noise, renormalised)
and passages made from real sentences. The output says so.
"""
from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.settings import ROOT, from_env

NOISE = 0.02


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(values: list[float]) -> tuple[float, float]:
    arr = np.array(values) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def text_pool(limit: int = 4000) -> list[str]:
    """Real English sentences: the seeds, then package descriptions installed on this machine."""
    from importlib import metadata

    from rag.corpus import load_corpus
    from rag.sentences import split_sentences

    pool = []
    for a in load_corpus(ROOT / "seeds").articles:
        pool += [a.text[s.start : s.end] for s in split_sentences(a.text, a.body_start, a.body_end)]
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


def bench_pipeline(settings, queries: int, log, copies: int = 10) -> dict:
    """Encode rate raw vs pipeline, rebuild, cold start, and warm per-stage query latency on the
    seeds and on a build corpus of `copies` versions of each seed article."""
    from rag.assistant import Assistant
    from rag.embedding import get_embedder
    from rag.evaluation import QUESTIONS, load_questions
    from rag.indexing import build
    from rag.store import load_index

    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        # A corpus big enough to time: the seeds, each in `copies` versions (a line added to differ).
        corpus = work / "corpus"
        corpus.mkdir()
        for f in sorted((ROOT / "seeds").glob("*.txt")):
            for n in range(copies):
                (corpus / f"{f.stem}-{n}.txt").write_text(f.read_text(encoding="utf-8") + f"\nEdition {n}.\n", encoding="utf-8")
        s = settings.replace(corpus_dir=corpus, index_dir=work / "index")
        embedder = get_embedder(s.model, s.batch_size)
        embedder.encode(["warm up"])
        # Build, raw encode of the same texts, build again from scratch: the raw run sits between
        # the two builds, so drift of the CPU's speed over the run does not favour either side.
        report, first_s = _timed(lambda: build(s, progress=False))
        index = load_index(s.index_dir)
        texts = [c.text for c in index.chunks] + [x.text for x in index.sentences]
        _, raw_s = _timed(lambda: embedder.model.encode(texts, batch_size=s.batch_size, normalize_embeddings=True))
        _, second_s = _timed(lambda: build(s.replace(index_dir=work / "index-2"), progress=False))
        build_s = (first_s + second_s) / 2
        out = {
            "texts": len(texts),
            "raw_encode_per_s": len(texts) / raw_s,
            "pipeline_per_s": len(texts) / build_s,
            "build_s": build_s,
            "build_runs_s": [first_s, second_s],
            "articles": report.articles,
        }
        log(f"encode: raw {out['raw_encode_per_s']:.0f}/s, pipeline {out['pipeline_per_s']:.0f}/s over {len(texts)} texts "
            f"(builds {first_s:.1f}s and {second_s:.1f}s)")

        # Incremental: change one article, time the rebuild.
        one = corpus / "000_46a559f0544261a8-0.txt"
        one.write_text(one.read_text(encoding="utf-8") + "One more line.\n", encoding="utf-8")
        rep, out["rebuild_one_s"] = _timed(lambda: build(s, progress=False))
        out["rebuild_one_embedded"] = len(rep.embedded_articles)

        # Cold start: a new process answering one question with the index on disk.
        env = dict(os.environ, RAG_INDEX_DIR=str(s.index_dir), RAG_CORPUS_DIR=str(corpus))
        colds = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rag", "ask", "--json", "Who spoke at the webinars?"],
                           env=env, capture_output=True, check=True, timeout=300)
            colds.append(time.perf_counter() - t0)
        out["cold_start_s"] = float(np.median(colds))
        log(f"cold start: {out['cold_start_s']:.2f}s (median of 3)")

        # Warm queries, stage by stage: on the seeds, and on the build corpus (`copies` × 5 articles).
        questions = [q["question"] for q in load_questions(QUESTIONS)]
        seeds = Assistant(settings.replace(index_dir=work / "seed-index"), progress=False)
        out["stages_ms"], out["ask_ms"] = query_latency(seeds, questions, queries)
        log(f"ask (seeds): p50 {out['ask_ms'][0]:.1f} ms, p95 {out['ask_ms'][1]:.1f} ms over {queries} questions")
        built = Assistant(s, progress=False)
        out["corpus_chunks"] = len(built.index.chunks)
        out["corpus_stages_ms"], out["corpus_ask_ms"] = query_latency(built, questions, queries)
        log(f"ask ({report.articles} articles): p50 {out['corpus_ask_ms'][0]:.1f} ms, p95 {out['corpus_ask_ms'][1]:.1f} ms")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_start(settings, queries: int, log) -> dict:
    """Cold start of `rag ask` and of `app.py` with an index on disk, and warm per-stage latency,
    on the seeds (three fresh processes each; medians)."""
    from rag.assistant import Assistant
    from rag.evaluation import QUESTIONS, load_questions

    work = Path(tempfile.mkdtemp(prefix="rag-bench-start-"))
    try:
        s = settings.replace(index_dir=work / "index")
        assistant = Assistant(s, progress=False)  # builds the index and the ONNX exports once
        env = dict(os.environ, RAG_INDEX_DIR=str(s.index_dir), RAG_CORPUS_DIR=str(s.corpus_dir), OMP_WAIT_POLICY="PASSIVE")
        asks, apps = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rag", "ask", "--json", "How many people attended the webinars?"],
                           env=env, capture_output=True, check=True, timeout=300)
            asks.append(time.perf_counter() - t0)
            apps.append(_app_ready(env))
        out = {"ask_cold_s": float(np.median(asks)), "ask_cold_all": asks,
               "app_ready_s": float(np.median(apps)), "app_ready_all": apps}
        log(f"cold start: rag ask {out['ask_cold_s']:.2f}s, app.py ready {out['app_ready_s']:.2f}s (medians of 3)")
        questions = [q["question"] for q in load_questions(QUESTIONS)]
        out["stages_ms"], out["ask_ms"] = query_latency(assistant, questions, queries)
        log(f"warm ask (seeds): p50 {out['ask_ms'][0]:.1f} ms, p95 {out['ask_ms'][1]:.1f} ms over {queries} questions")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _app_ready(env: dict) -> float:
    """Seconds from starting `python app.py` to its "Serving on" line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(_free_port())], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if "Serving on" in line:
                return time.perf_counter() - t0
        raise RuntimeError("app.py exited before serving")
    finally:
        proc.terminate()
        proc.wait(30)


def format_start(start: dict) -> str:
    """The start-up section as Markdown."""
    lines = ["| start-up | figure |", "|---|---:|",
             f"| `rag ask` from a fresh process (median of 3) | {start['ask_cold_s']:.2f} s |",
             f"| `app.py` ready, index on disk (median of 3) | {start['app_ready_s']:.2f} s |",
             f"| warm ask p50 / p95, seeds | {start['ask_ms'][0]:.1f} / {start['ask_ms'][1]:.1f} ms |",
             "", "| stage | p50 ms | p95 ms |", "|---|---:|---:|"]
    lines += [f"| {k} | {a:.2f} | {b:.2f} |" for k, (a, b) in start["stages_ms"].items()]
    return "\n".join(lines)


def query_latency(assistant, questions: list[str], queries: int) -> tuple[dict, tuple[float, float]]:
    """Per-stage (p50, p95) ms of `queries` warm questions, and of the whole `ask` timed on its own."""
    from rag.answer import clean_question, select_answer
    from rag.lexical import terms
    from rag.vectors import search

    s, index = assistant.settings, assistant.index
    names = ("embed", "dense", "lexical", "fuse", "answer")
    parts = ("candidates", "rank", "read")
    stages = {k: [] for k in names + parts + ("total",)}
    ends = []
    for i in range(queries):
        q = questions[i % len(questions)]
        t = [time.perf_counter()]
        text, _ = clean_question(q, s.max_question_chars)
        qvec = assistant.embed_question(text)
        t.append(time.perf_counter())
        dense = search(index.vectors, qvec, max(s.dense_k, s.k))
        t.append(time.perf_counter())
        query_terms = terms(text)
        lexical = index.lexical.search(query_terms, max(s.lexical_k, s.k))
        t.append(time.perf_counter())
        passages = assistant.retriever.fuse(dense, lexical, s.k, qvec=qvec, query_terms=query_terms)
        t.append(time.perf_counter())
        inner: dict[str, float] = {}
        select_answer(text, qvec, passages, index, s, assistant.selector, assistant.reader, inner)
        t.append(time.perf_counter())
        for k in parts:
            stages[k].append(inner.get(k, 0.0))
        for k, a, b in zip(names, t, t[1:]):
            stages[k].append(b - a)
        stages["total"].append(t[-1] - t[0])
        ends.append(_timed(assistant.ask, q)[1])
    return {k: _pct(v) for k, v in stages.items()}, _pct(ends)


def bench_scale(sizes: list[int], queries: int, settings, log, pool_size: int = 4000) -> list[dict]:
    """Flat vs approximate vector search, and BM25, at each size."""
    import faiss

    from rag.embedding import get_embedder
    from rag.lexical import LexicalIndex, terms
    from rag.vectors import build_index, search

    pool = text_pool(pool_size)
    embedder = get_embedder(settings.model, settings.batch_size)
    base, embed_s = _timed(embedder.encode, pool)
    log(f"scale: {len(pool)} real sentences embedded in {embed_s:.1f}s as the base of synthetic vectors")
    rng = np.random.default_rng(0)
    qs = synthetic_vectors(base, queries, rng)
    py = random.Random(0)
    rows = []
    for n in sizes:
        row = {"size": n}
        vectors = synthetic_vectors(base, n, rng)
        flat, row["flat_build_s"] = _timed(build_index, vectors, "flat")
        exact, times = [], []
        for q in qs:
            res, dt = _timed(search, flat, q, 10)
            exact.append({r for r, _ in res})
            times.append(dt)
        row["flat_p50_ms"], row["flat_p95_ms"] = _pct(times)
        del flat
        for kind in ("hnsw",):
            approx, row[f"{kind}_build_s"] = _timed(build_index, vectors, kind)
            times, recall = [], []
            for q, truth in zip(qs, exact):
                res, dt = _timed(search, approx, q, 10)
                times.append(dt)
                recall.append(len({r for r, _ in res} & truth) / 10)
            row[f"{kind}_p50_ms"], row[f"{kind}_p95_ms"] = _pct(times)
            row[f"{kind}_recall10"] = float(np.mean(recall))
            del approx
        del vectors
        # BM25 over passages of 3-5 real sentences each.
        passages = [" ".join(py.sample(pool, py.randint(3, 5))) for _ in range(n)]
        lex, row["bm25_build_s"] = _timed(LexicalIndex.build, passages)
        del passages
        times = []
        for i in range(queries):
            words = terms(pool[i % len(pool)])[:8]
            _, dt = _timed(lex.search, words, 20)
            times.append(dt)
        row["bm25_p50_ms"], row["bm25_p95_ms"] = _pct(times)
        del lex
        row["rss_mb"], row["peak_rss_mb"] = _rss_mb(), _peak_mb()
        log(f"size {n:,}: flat p50 {row['flat_p50_ms']:.2f} ms, hnsw p50 {row['hnsw_p50_ms']:.2f} ms "
            f"recall@10 {row['hnsw_recall10']:.3f} (build {row['hnsw_build_s']:.0f}s), bm25 p50 {row['bm25_p50_ms']:.2f} ms, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB")
        rows.append(row)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return rows


HTTP_TIME_LIMIT = 300.0  # seconds for the whole HTTP load run; requests still open then count as errors


def compute_limit(assistant, questions: list[str], threads: int) -> dict:
    """Answers/s of `Assistant.ask` over `questions` from `threads` threads in this process: what
    the hardware allows with no server at all, the yardstick for the HTTP run."""
    from concurrent.futures import ThreadPoolExecutor

    for q in questions[:5]:  # warm: first-call costs are not what is measured
        assistant.ask(q)
    with ThreadPoolExecutor(threads) as ex:
        t0 = time.perf_counter()
        latencies = list(ex.map(lambda q: _timed(assistant.ask, q)[1], questions))
        wall = time.perf_counter() - t0
    p50, p95 = _pct(latencies)
    return {"threads": threads, "answers": len(questions), "answers_per_s": len(questions) / wall,
            "ask_p50_ms": p50, "ask_p95_ms": p95}


def http_load(url: str, questions: list[str], users: int, per_user: int, time_limit: float = HTTP_TIME_LIMIT) -> dict:
    """`users` concurrent clients each POSTing `per_user` questions in turn to `url`/api/ask over
    plain HTTP (one keep-alive connection each), bounded by `time_limit` seconds in all."""
    import asyncio

    import httpx

    latencies: list[float] = []
    errors: list[str] = []

    async def user(client, u: int) -> None:
        for i in range(per_user):
            q = questions[(u * per_user + i) % len(questions)]
            t0 = time.perf_counter()
            try:
                reply = await client.post("/api/ask", json={"question": q})
                data = reply.json()
            except (httpx.HTTPError, ValueError) as exc:  # counted, not raised: the run reports them all
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if reply.status_code != 200 or not (data.get("abstained") or data.get("citations")):
                errors.append(f"{reply.status_code}: {reply.text[:200]}")
                continue
            latencies.append(time.perf_counter() - t0)

    async def run() -> float:
        limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60, trust_env=False) as client:
            await client.post("/api/ask", json={"question": questions[0]})  # the server's first answer
            t0 = time.perf_counter()
            tasks = [asyncio.ensure_future(user(client, u)) for u in range(users)]
            done, pending = await asyncio.wait(tasks, timeout=time_limit)
            for task in pending:
                task.cancel()
            return time.perf_counter() - t0

    wall = asyncio.run(run())
    missing = users * per_user - len(latencies) - len(errors)
    errors += ["not answered within the time limit"] * missing
    p50, p95 = _pct(latencies) if latencies else (float("nan"), float("nan"))
    return {"users": users, "per_user": per_user, "answers": len(latencies), "errors": len(errors),
            "error_samples": sorted(set(errors))[:5], "p50_ms": p50, "p95_ms": p95,
            "answers_per_s": len(latencies) / wall, "wall_s": wall}


def bench_http(settings, users: int, per_user: int, log, threads: int = 2) -> dict:
    """An HTTP load run against /api/ask of a real `app.py` process on loopback, and beside it the
    in-process compute limit over the same questions (just before and just after); the ratio is
    what serving costs."""
    from rag.assistant import Assistant
    from rag.evaluation import QUESTIONS, load_questions

    pool = [q["question"] for q in load_questions(QUESTIONS) if q["answerable"]]
    questions = [pool[i % len(pool)] for i in range(users * per_user)]
    assistant = Assistant(settings, progress=False)  # builds the index if needed
    port = _free_port()
    # The server is app.py in its own process, as users run it, so the clients here do not share
    # its interpreter lock; they do share its 2 cores. PASSIVE: idle OpenMP threads (the server's
    # during the compute runs, ours during the HTTP run) must not spin (10x per question, measured).
    env = dict(os.environ, RAG_INDEX_DIR=str(settings.index_dir), RAG_CORPUS_DIR=str(settings.corpus_dir))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if settings.model:
        env["RAG_MODEL"] = str(settings.model)
    cmd = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port), "--concurrency", str(threads)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = _wait_for_server(proc, timeout=300)
        # The compute limit just before and just after the HTTP run: on a shared machine the CPU
        # available drifts, and bracketing keeps the drift from favouring either side.
        before = compute_limit(assistant, questions, threads)
        out = http_load(url, questions, users, per_user)
        after = compute_limit(assistant, questions, threads)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    limit = dict(before, answers_per_s=(before["answers_per_s"] + after["answers_per_s"]) / 2,
                 runs_answers_per_s=[before["answers_per_s"], after["answers_per_s"]])
    log(f"compute limit: {limit['answers_per_s']:.1f} answers/s with {threads} threads in-process "
        f"(before {before['answers_per_s']:.1f}, after {after['answers_per_s']:.1f}; ask p50 {before['ask_p50_ms']:.1f} ms)")
    out["compute"] = limit
    out["ratio"] = out["answers_per_s"] / limit["answers_per_s"]
    log(f"http: {users} users x {per_user} questions: {out['answers']} answers, {out['errors']} errors, "
        f"p50 {out['p50_ms']:.0f} ms, p95 {out['p95_ms']:.0f} ms, {out['answers_per_s']:.1f} answers/s "
        f"= {100 * out['ratio']:.0f}% of the compute limit")
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(proc: subprocess.Popen, timeout: float) -> str:
    """The URL app.py prints once it serves; its output is drained afterwards so it never blocks."""
    import threading

    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError("app.py exited before serving:\n" + "".join(seen[-20:]))
        seen.append(line)
        if line.startswith("Serving on "):
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return line.split()[2]
    raise RuntimeError(f"app.py did not serve within {timeout:.0f}s")


def format_http(http: dict) -> str:
    """The HTTP load run as a Markdown table."""
    c = http["compute"]
    return "\n".join([
        "| serving (loopback HTTP, POST /api/ask) | figure |", "|---|---:|",
        f"| users x questions | {http['users']} x {http['per_user']} |",
        f"| answers / errors | {http['answers']} / {http['errors']} |",
        f"| latency p50 / p95 | {http['p50_ms']:.0f} / {http['p95_ms']:.0f} ms |",
        f"| throughput | {http['answers_per_s']:.1f} answers/s |",
        f"| in-process compute limit ({c['threads']} threads; mean of before and after) | {c['answers_per_s']:.1f} answers/s "
        f"({' and '.join(f'{x:.1f}' for x in c['runs_answers_per_s'])}; ask p50 {c['ask_p50_ms']:.1f} ms) |",
        f"| HTTP / compute limit | {100 * http['ratio']:.0f}% |",
    ])


def format_tables(pipe: dict | None, scale: list[dict]) -> str:
    """The benchmark as Markdown tables."""
    lines = []
    if pipe:
        lines += [
            "| step | figure |", "|---|---:|",
            f"| raw SentenceTransformer.encode | {pipe['raw_encode_per_s']:.0f} texts/s |",
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


SECTIONS = ("start", "pipeline", "scale", "http")


def run_cli(args) -> int:
    """Entry point of `rag bench`."""
    sections = [x.strip() for x in args.sections.split(",") if x.strip()]
    if not sections or set(sections) - set(SECTIONS):
        raise ValueError(f"--sections takes a comma-separated list of {', '.join(SECTIONS)}, not {args.sections!r}")
    try:
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--sizes must be comma-separated integers, not {args.sizes!r}") from None
    if "scale" in sections and (not sizes or min(sizes) < 100):
        raise ValueError("--sizes needs sizes of at least 100")
    if not (1 <= args.users <= 1000 and 1 <= args.per_user <= 1000):
        raise ValueError("--users and --per-user must be from 1 to 1000")
    settings = from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    pipe = bench_pipeline(settings, args.queries, log, args.copies) if "pipeline" in sections else None
    scale = bench_scale(sizes, args.queries, settings, log, args.pool) if "scale" in sections else []
    http = bench_http(settings, args.users, args.per_user, log) if "http" in sections else None
    start = bench_start(settings, args.queries, log) if "start" in sections else None
    print("\n\n".join(filter(None, [start and format_start(start), format_tables(pipe, scale), http and format_http(http)])))
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        report = {"start": start, "pipeline": pipe, "scale": scale, "noise": NOISE, "http": http}
        (out / "bench.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        written = ["bench.json"]
        if scale:
            plot(scale, out / "bench.png")
            written.append("bench.png")
        print(f"\nwrote {out}/{', '.join(written)}")
    return 0
