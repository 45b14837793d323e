"""Question sets for `rag eval`: JSON lines of {id, question, answers, sources, answerable}, checked;
an optional "earlier" lists the conversation's questions before it (a follow-up is read with them)."""
from __future__ import annotations

import json
from pathlib import Path

from rag.settings import ROOT

# The seed question set: evaluation data, kept outside the corpus so it is never indexed.
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
REQUIRED = ("id", "question", "answers", "sources", "answerable")


def _check_question(q: object, where: str) -> dict:
    """`q` if it is a well-formed question record, else ValueError naming the problem."""
    if not isinstance(q, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(q).__name__}")
    missing = [key for key in REQUIRED if key not in q]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(q["question"], str) or not q["question"].strip():
        raise ValueError(f"{where}: question must be non-empty text")
    if not isinstance(q["answerable"], bool):
        raise ValueError(f"{where}: answerable must be true or false")
    for key in ("answers", "sources"):
        if not isinstance(q[key], list) or not all(isinstance(x, str) for x in q[key]):
            raise ValueError(f"{where}: {key} must be a list of strings")
    earlier = q.get("earlier", [])
    if not isinstance(earlier, list) or not all(isinstance(x, str) for x in earlier):
        raise ValueError(f"{where}: earlier must be a list of strings")
    if q["answerable"] and not (q["answers"] and q["sources"]):
        raise ValueError(f"{where}: an answerable question needs at least one answer and one source")
    return q


def load_questions(path: Path) -> list[dict]:
    """Read and check a question file (one JSON object a line); ValueError says what is wrong and where."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    questions: list[dict] = []
    line_of: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
        _check_question(q, f"{path}:{n}")
        qid = str(q["id"])
        if qid in line_of:
            raise ValueError(f"{path}:{n}: id {qid!r} already used on line {line_of[qid]}")
        line_of[qid] = n
        questions.append(q)
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def unknown_sources(questions: list[dict], doc_ids) -> list[str]:
    """Source ids the questions name that are not in the index (typos score as misses)."""
    known = set(doc_ids)
    return sorted({s for q in questions for s in q["sources"] if s not in known})
