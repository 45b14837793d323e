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


# The bench's stage names, in the order its tables list them; read from `Answer.timings`.
STAGES = ("embed", "dense", "lexical", "fuse", "answer", "candidates", "rank", "read", "short", "total")


def query_latency(assistant, questions: list[str], queries: int) -> tuple[dict, tuple[float, float]]:
    """Per-stage (p50, p95) ms of `queries` warm questions from the timings `Assistant.ask` records,
    and of each whole `ask` call as the caller sees it."""
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    ends = []
    for i in range(queries):
        answer, seconds = timed(assistant.ask, questions[i % len(questions)])
        t = answer.timings
        for k in STAGES:
            stages[k].append(t.get(k, 0.0))  # "short" is missing when the assistant abstained first
        stages["embed"][-1] += t["clean"]  # the bench's "embed" has always included cleaning the question
        ends.append(seconds)
    return {k: percentiles(v) for k, v in stages.items()}, percentiles(ends)
