"""`rag bench --sections http`: many users over loopback HTTP against a real `app.py`, beside the
in-process compute limit measured in the same run."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from rag.measure.timing import percentiles, timed
from rag.settings import ROOT

HTTP_TIME_LIMIT = 300.0  # seconds for the whole HTTP load run; requests still open then count as errors


def compute_limit(assistant, questions: list[str], threads: int) -> dict:
    """Answers/s of `Assistant.ask` over `questions` from `threads` threads in this process: what
    the hardware allows with no server at all, the yardstick for the HTTP run."""
    from concurrent.futures import ThreadPoolExecutor

    for q in questions[:5]:  # warm: first-call costs are not what is measured
        assistant.ask(q)
    with ThreadPoolExecutor(threads) as ex:
        t0 = time.perf_counter()
        latencies = list(ex.map(lambda q: timed(assistant.ask, q)[1], questions))
        wall = time.perf_counter() - t0
    p50, p95 = percentiles(latencies)
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
    p50, p95 = percentiles(latencies) if latencies else (float("nan"), float("nan"))
    return {"users": users, "per_user": per_user, "answers": len(latencies), "errors": len(errors),
            "error_samples": sorted(set(errors))[:5], "p50_ms": p50, "p95_ms": p95,
            "answers_per_s": len(latencies) / wall, "wall_s": wall}


def bench_http(settings, users: int, per_user: int, log, threads: int = 2) -> dict:
    """An HTTP load run against /api/ask of a real `app.py` process on loopback, and beside it the
    in-process compute limit over the same questions (just before and just after); the ratio is
    what serving costs."""
    from rag.assistant import Assistant
    from rag.measure.questions import QUESTIONS, load_questions

    pool = [q["question"] for q in load_questions(QUESTIONS) if q["answerable"]]
    questions = [pool[i % len(pool)] for i in range(users * per_user)]
    assistant = Assistant(settings, progress=False)  # builds the index if needed
    port = free_port()
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
        url = wait_for_server(proc, timeout=300)
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


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(proc: subprocess.Popen, timeout: float) -> str:
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
