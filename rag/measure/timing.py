"""Timing helpers shared by the benchmarks: percentiles, a timed call, memory, per-stage latency."""
from __future__ import annotations

import resource
import time

import numpy as np


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(values: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds of durations in seconds."""
    arr = np.array(values) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def timed(fn, *args):
    """(fn(*args), seconds it took)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def query_latency(assistant, questions: list[str], queries: int) -> tuple[dict, tuple[float, float]]:
    """Per-stage (p50, p95) ms of `queries` warm questions, and of the whole `ask` timed on its own."""
    from rag.answer import clean_question, select_answer
    from rag.lexical import terms
    from rag.vectors import search

    s, index = assistant.settings, assistant.index
    names = ("embed", "dense", "lexical", "fuse", "answer")
    parts = ("candidates", "rank", "read", "short")
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
        select_answer(text, qvec, passages, index, s, assistant.selector, assistant.reader, inner, assistant.span_reader)
        t.append(time.perf_counter())
        for k in parts:
            stages[k].append(inner.get(k, 0.0))
        for k, a, b in zip(names, t, t[1:]):
            stages[k].append(b - a)
        stages["total"].append(t[-1] - t[0])
        ends.append(timed(assistant.ask, q)[1])
    return {k: percentiles(v) for k, v in stages.items()}, percentiles(ends)
