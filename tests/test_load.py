"""Many users at once against a real server on loopback: bounded in count and time.

The server runs in its own process, as users run it, so the clients' threads do not share its
interpreter lock. The clients still share its 2 cores, and one gradio_client call costs ~140 ms
of round trip against ~15 ms of answering, so the figures are mostly the clients'.

CI runs a small count; the full load test is
    RAG_LOAD_USERS=50 RAG_LOAD_QUESTIONS=10 .venv/bin/python -m pytest tests/test_load.py -s
"""
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rag.measure.questions import QUESTIONS as QUESTION_SET, load_questions
from tests.conftest import app_process

USERS = int(os.environ.get("RAG_LOAD_USERS", "8"))
QUESTIONS = int(os.environ.get("RAG_LOAD_QUESTIONS", "3"))


def test_concurrent_users_all_get_cited_answers(seed_settings, assistant):
    with app_process(seed_settings) as (url, _):
        _run_users(url)


def _run_users(server: str) -> None:
    from gradio_client import Client

    pool = [q for q in load_questions(QUESTION_SET) if q["answerable"]]
    errors, latencies, uncited = [], [], []

    def user(u: int):
        client = Client(server, verbose=False)
        for i in range(QUESTIONS):
            q = pool[(u * QUESTIONS + i) % len(pool)]
            t0 = time.perf_counter()
            try:
                data = client.predict(q["question"], 8, api_name="/ask")
            except Exception as exc:  # counted, not raised: the test reports them all
                errors.append(repr(exc))
                continue
            latencies.append(time.perf_counter() - t0)
            if "error" in data or not (data["abstained"] or data["citations"]):
                uncited.append(q["id"])
            elif not data["abstained"]:
                assert all(c["text"] in data["answer"] for c in data["citations"])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=USERS) as ex:
        list(ex.map(user, range(USERS)))
    wall = time.perf_counter() - t0
    n = len(latencies)
    p50, p95 = np.percentile(latencies, 50) * 1000, np.percentile(latencies, 95) * 1000
    print(f"\nload: {USERS} users x {QUESTIONS} questions: {n} answers, {len(errors)} errors, "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, {n / wall:.1f} answers/s")
    assert errors == [] and uncited == []
    assert n == USERS * QUESTIONS
