"""`rag bench --sections start`: a fresh `rag ask` and `app.py` with an index on disk, and the warm
stages of a question on the seeds."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.measure.http_load import free_port, wait_for_server
from rag.measure.timing import query_latency
from rag.settings import ROOT


def bench_start(settings, queries: int, log) -> dict:
    """Cold start of `rag ask` and of `app.py` with an index on disk, and warm per-stage latency,
    on the seeds (three fresh processes each; medians)."""
    from rag.assistant import Assistant
    from rag.measure.questions import QUESTIONS, load_questions

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
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(free_port())], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_server(proc, timeout=300)
        return time.perf_counter() - t0
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
