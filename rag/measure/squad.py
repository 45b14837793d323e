"""SQuAD v1.1-format files as a corpus (one article per paragraph) and a question set."""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

# Marks a folder as written by `write_corpus`, the only kind it will prune.
MARKER = ".squad-corpus"


SPLITS = ("train", "test")


def split_of(titles: list[str]) -> dict[str, str]:
    """The fixed train/test split of a SQuAD file, by article: titles sorted, every other one is
    test (the 2nd, 4th, ...). Questions never choose their split, so a test article's paragraphs
    and questions never reach training."""
    ordered = sorted(dict.fromkeys(titles))
    return {t: SPLITS[i % 2] for i, t in enumerate(ordered)}


@dataclass(frozen=True)
class Paragraph:
    doc_id: str
    title: str
    text: str
    article: str


def safe_id(name: str) -> str:
    """`name` as a file stem: runs of anything but letters, digits, '.', '-' and '_' become '_'."""
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "article"


def _parse(data: list) -> tuple[list[Paragraph], list[dict]]:
    paragraphs: list[Paragraph] = []
    questions: list[dict] = []
    used: set[str] = set()
    for article in data:
        title = article["title"]
        # Two titles can map to one stem ("AC/DC" and "AC_DC"; "Foo" and "foo" on a case-blind
        # file system), a title can repeat: ids stay unique.
        base = stem = safe_id(title)
        n = 2
        while stem.lower() in used:
            stem, n = f"{base}-{n}", n + 1
        used.add(stem.lower())
        for i, para in enumerate(article["paragraphs"]):
            doc_id = f"{stem}_{i}"
            paragraph = Paragraph(doc_id, title.replace("_", " "), para["context"], title)
            paragraphs.append(paragraph)
            offset = len(paragraph.title) + 2  # where the context starts in the written file
            for qa in para["qas"]:
                answers = list(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                spans = sorted({(offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                                for a in qa.get("answers", []) if "answer_start" in a})
                questions.append({
                    "id": str(qa["id"]), "question": qa["question"], "answers": answers,
                    "sources": [doc_id], "answerable": bool(answers), "article": title,
                    "answer_spans": [list(s) for s in spans],
                })
    return paragraphs, questions


def read_squad(path: Path, limit: int | None = None, seed: int = 0) -> tuple[list[Paragraph], list[dict]]:
    """(paragraphs, questions) of a SQuAD v1.1 file.

    Each paragraph becomes a document, id `<title>_<n>` (n from 0, title made filesystem-safe).
    With `limit`, `limit` questions are sampled (with `seed`) and only the paragraphs of the
    articles they come from are kept, so the index stays small.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SQuAD file not found: {path}")
    try:
        paragraphs, questions = _parse(json.loads(path.read_text(encoding="utf-8-sig"))["data"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"{path} is not a SQuAD v1.1 file: {reason}") from exc
    if not questions:
        raise ValueError(f"{path} holds no questions")
    if limit is not None and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
        article_of = {p.doc_id: p.article for p in paragraphs}
        keep = {article_of[q["sources"][0]] for q in questions}
        paragraphs = [p for p in paragraphs if p.article in keep]
    return paragraphs, questions


def write_articles(wanted: dict[str, str], folder: Path, marker: str, writer: str) -> None:
    """Write `wanted` ({file name: text}) into `folder`; unchanged files are kept, files no longer
    wanted are removed. Refuses a non-empty folder that `marker` does not show `writer` wrote."""
    folder = Path(folder)
    if folder.is_dir() and any(folder.iterdir()) and not (folder / marker).exists():
        raise ValueError(f"{folder} already holds files not written by {writer}; choose another --index")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / marker).write_text(f"written by {writer}\n", encoding="utf-8")
    for old in folder.glob("*.txt"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def write_corpus(paragraphs: list[Paragraph], folder: Path) -> None:
    """Write paragraphs as article files (title line, blank line, text), as `write_articles` does."""
    write_articles({f"{p.doc_id}.txt": f"{p.title}\n\n{p.text}\n" for p in paragraphs}, folder, MARKER, "rag eval --squad")
