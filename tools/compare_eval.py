"""Parity of two `rag eval` runs on the same questions (e.g. the local and the Milvus backend):
per mode, how often both put the same article first, give the same answer text and cite the
same articles, and the two runs' hit@1, answer recall and p50 latency.

    RAG_BACKEND=local  rag eval --squad ../shared/data/squad/dev-v1.1.json --split test --limit 2000 --output /tmp/local
    RAG_BACKEND=milvus RAG_MILVUS_URI=/tmp/squad.db rag eval ... --output /tmp/milvus
    python tools/compare_eval.py /tmp/local /tmp/milvus

Exits 1 when a mode has the same top article for fewer than 95% of questions or answer recall
more than 2 points apart (issue 13's parity bar).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def compare(a: dict, b: dict) -> list[dict]:
    """One row per mode of two report.json objects over the same questions."""
    rows = []
    for mode, left in a["records"].items():
        right = b["records"][mode]
        if [r["id"] for r in left] != [r["id"] for r in right]:
            raise ValueError(f"{mode}: the two runs asked different questions")
        n = len(left)
        ma, mb = a["metrics"][mode], b["metrics"][mode]
        rows.append({
            "mode": mode, "questions": n,
            "same_top": sum(x["ranked_ids"][:1] == y["ranked_ids"][:1] for x, y in zip(left, right)) / n,
            "same_answer": sum(x["answer"] == y["answer"] for x, y in zip(left, right)) / n,
            "same_cited": sum(x["cited_ids"] == y["cited_ids"] for x, y in zip(left, right)) / n,
            "hit1": (ma["hit1"], mb["hit1"]), "answer_recall": (ma["answer_recall"], mb["answer_recall"]),
            "p50_ms": (ma["p50_ms"], mb["p50_ms"]),
        })
    return rows


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    out = ["| mode | questions | same top article | same answer text | same cited articles | hit@1 (a / b) "
           "| answer recall (a / b) | p50 ms (a / b) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ra, rb = r["answer_recall"]
        out.append(f"| {r['mode']} | {r['questions']} | {100 * r['same_top']:.1f}% | {100 * r['same_answer']:.1f}% | "
                   f"{100 * r['same_cited']:.1f}% | {r['hit1'][0]:.3f} / {r['hit1'][1]:.3f} | {ra:.3f} / {rb:.3f} "
                   f"({100 * (rb - ra):+.1f} pts) | {r['p50_ms'][0]:.1f} / {r['p50_ms'][1]:.1f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the parity table of two `rag eval --output` folders; 1 when below the bar."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=Path, help="rag eval --output folder of the first run (e.g. local)")
    p.add_argument("b", type=Path, help="the second run's (e.g. milvus)")
    args = p.parse_args(argv)
    a, b = (json.loads((d / "report.json").read_text(encoding="utf-8")) for d in (args.a, args.b))
    rows = compare(a, b)
    print(table(rows))
    bad = [r["mode"] for r in rows if r["same_top"] < 0.95 or abs(r["answer_recall"][0] - r["answer_recall"][1]) > 0.02]
    if bad:
        print(f"below the parity bar: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
