"""Paired sign test of two `rag eval` runs over the same questions: for each per-question outcome
(hit1, first_hit, answer_hit, retrieval_hit1, short_f1 by default), on how many questions the
first run scores higher, on how many the second, and the exact two-sided binomial p of that split
(ties dropped). hit1 is derived from the record's reciprocal rank. Only answerable questions are
compared (these measures are defined on them, as in `rag eval`'s table) unless --all is given.

    python tools/sign_test.py out/baseline out/candidate [--mode hybrid] [--fields first_hit,answer_hit]

Used to decide whether a change loses anything "beyond noise" (issue 12, item 5).
"""
from __future__ import annotations

import argparse
import json
from math import comb
from pathlib import Path

FIELDS = ("hit1", "retrieval_hit1", "first_hit", "answer_hit", "short_f1")


def value(record: dict, name: str) -> float:
    """One question's outcome as a number (booleans as 0/1)."""
    if name == "hit1":
        return float(record.get("rr") == 1)
    return float(record.get(name) or 0)


def sign_p(wins: int, losses: int) -> float:
    """Exact two-sided binomial p of `wins` against `losses` under a fair coin."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired(a: list[dict], b: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """Per field: the two runs' means, questions where A / B scores higher, and the sign test's p."""
    if [r["id"] for r in a] != [r["id"] for r in b]:
        raise ValueError("the two runs asked different questions")
    rows = []
    for name in fields:
        pairs = [(value(x, name), value(y, name)) for x, y in zip(a, b)]
        only_a, only_b = sum(x > y for x, y in pairs), sum(y > x for x, y in pairs)
        rows.append({"field": name, "a": sum(x for x, _ in pairs) / len(pairs), "b": sum(y for _, y in pairs) / len(pairs),
                     "only_a": only_a, "only_b": only_b, "p": sign_p(only_a, only_b)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="folder (or report.json) of the baseline run")
    parser.add_argument("b", help="folder (or report.json) of the candidate run")
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--fields", default=",".join(FIELDS))
    parser.add_argument("--all", action="store_true", help="also the questions the articles do not answer")
    args = parser.parse_args()
    reports = [json.loads((Path(p) / "report.json" if Path(p).is_dir() else Path(p)).read_text()) for p in (args.a, args.b)]
    a, b = (r["records"][args.mode] for r in reports)
    if not args.all:
        a, b = [r for r in a if r["answerable"]], [r for r in b if r["answerable"]]
    rows = paired(a, b, tuple(args.fields.split(",")))
    print(f"| {args.mode} | A | B | A higher | B higher | sign-test p |\n|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['field']} | {r['a']:.3f} | {r['b']:.3f} | {r['only_a']} | {r['only_b']} | {r['p']:.3g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
