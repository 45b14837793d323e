"""`rag bench --sections pipeline`: the encode rate raw and through the build, an incremental
rebuild, a cold start, and warm questions stage by stage, over a corpus of copies of the seeds."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.measure.timing import query_latency, timed
from rag.settings import ROOT


def _copies_of_seeds(corpus: Path, copies: int) -> Path:
    """A corpus big enough to time: the seeds, each in `copies` versions (a line added to differ)."""
    corpus.mkdir()
    for f in sorted((ROOT / "seeds").glob("*.txt")):
        for n in range(copies):
            (corpus / f"{f.stem}-{n}.txt").write_text(f.read_text(encoding="utf-8") + f"\nEdition {n}.\n", encoding="utf-8")
    return corpus


def _cold_start_s(s) -> float:
    """Median of 3: a new process answering one question with the index of `s` on disk."""
    env = dict(os.environ, RAG_INDEX_DIR=str(s.index_dir), RAG_CORPUS_DIR=str(s.corpus_dir))
    colds = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rag", "ask", "--json", "Who spoke at the webinars?"],
                       env=env, capture_output=True, check=True, timeout=300)
        colds.append(time.perf_counter() - t0)
    return float(np.median(colds))


def bench_pipeline(settings, queries: int, log, copies: int = 10) -> dict:
    """Encode rate raw vs pipeline, rebuild, cold start, and warm per-stage query latency on the
    seeds and on a build corpus of `copies` versions of each seed article."""
    from rag.embedding.model import get_embedder
    from rag.indexing.build import build, build_runtime
    from rag.indexing.store import load_index

    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        corpus = _copies_of_seeds(work / "corpus", copies)
        s = settings.replace(corpus_dir=corpus, index_dir=work / "index")
        embedder = get_embedder(s.model, s.batch_size, build_runtime(s))  # the build's own encoder
        embedder.encode(["warm up"])
        # Build, raw encode of the same texts, build again from scratch: the raw run sits between
        # the two builds, so drift of the CPU's speed over the run does not favour either side.
        report, first_s = timed(lambda: build(s, progress=False))
        index = load_index(s.index_dir)
        texts = [c.passage for c in index.chunks] + [x.text for x in index.sentences]
        _, raw_s = timed(lambda: embedder.encode(texts))
        _, second_s = timed(lambda: build(s.replace(index_dir=work / "index-2"), progress=False))
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
        rep, out["rebuild_one_s"] = timed(lambda: build(s, progress=False))
        out["rebuild_one_embedded"] = len(rep.embedded_articles)

        out["cold_start_s"] = _cold_start_s(s)
        log(f"cold start: {out['cold_start_s']:.2f}s (median of 3)")

        out.update(_warm_queries(settings, s, work / "seed-index", queries, log))
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _warm_queries(seed_settings, corpus_settings, seed_index: Path, queries: int, log) -> dict:
    """Warm queries, stage by stage: on the seeds (indexed into `seed_index`), and on the build
    corpus of `corpus_settings` (already indexed)."""
    from rag.assistant import Assistant
    from rag.measure.questions import QUESTIONS, load_questions

    out = {}
    questions = [q["question"] for q in load_questions(QUESTIONS)]
    seeds = Assistant(seed_settings.replace(index_dir=seed_index), progress=False)
    out["stages_ms"], out["ask_ms"] = query_latency(seeds, questions, queries)
    log(f"ask (seeds): p50 {out['ask_ms'][0]:.1f} ms, p95 {out['ask_ms'][1]:.1f} ms over {queries} questions")
    built = Assistant(corpus_settings, progress=False)
    out["corpus_chunks"] = len(built.index.chunks)
    out["corpus_stages_ms"], out["corpus_ask_ms"] = query_latency(built, questions, queries)
    log(f"ask ({len(built.index.manifest.articles)} articles): p50 {out['corpus_ask_ms'][0]:.1f} ms, "
        f"p95 {out['corpus_ask_ms'][1]:.1f} ms")
    return out
