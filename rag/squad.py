"""SQuAD v1.1-format files as a corpus (one article per paragraph) and a question set."""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paragraph:
    doc_id: str
    title: str
    text: str


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "article"


def read_squad(path: Path, limit: int | None = None, seed: int = 0) -> tuple[list[Paragraph], list[dict]]:
    """(paragraphs, questions) of a SQuAD v1.1 file.

    Each paragraph becomes a document, id `<title>_<n>`. With `limit`, `limit` questions are
    sampled (with `seed`) and only the articles they come from are kept, so the index stays small.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path} is not a SQuAD v1.1 file: {exc}") from exc
    paragraphs: list[Paragraph] = []
    questions: list[dict] = []
    article_of: dict[str, str] = {}
    for article in data:
        title = article["title"]
        for n, para in enumerate(article["paragraphs"]):
            doc_id = f"{_safe(title)}_{n}"
            paragraphs.append(Paragraph(doc_id, title.replace("_", " "), para["context"]))
            article_of[doc_id] = title
            for qa in para["qas"]:
                answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                questions.append({
                    "id": qa["id"], "question": qa["question"], "answers": answers,
                    "sources": [doc_id], "answerable": bool(answers),
                })
    if limit is not None and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
        keep = {article_of[q["sources"][0]] for q in questions}
        paragraphs = [p for p in paragraphs if article_of[p.doc_id] in keep]
    return paragraphs, questions


def write_corpus(paragraphs: list[Paragraph], folder: Path) -> None:
    """Write paragraphs as article files (title line, blank line, text); unchanged files are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{p.doc_id}.txt": f"{p.title}\n\n{p.text}\n" for p in paragraphs}
    for old in folder.glob("*.txt"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
