"""BEIR-format data sets (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): reading one, and writing
its corpus as article files (title line, blank line, text) that `rag.indexing.build.build` indexes like
any corpus. `rag.measure.beir` runs and scores the benchmark.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rag.measure.squad import safe_id, write_articles

# Marks a folder as written by `write_corpus`, the only kind it will prune.
MARKER = ".beir-corpus"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class BeirDoc:
    """One corpus document: its BEIR id, the file stem it is written under, title and text."""

    beir_id: str
    stem: str
    title: str
    text: str


@dataclass
class BeirSet:
    """A BEIR data set restricted to one split's judged queries."""

    docs: list[BeirDoc]
    queries: dict[str, str]  # query id -> text, only queries with judgments in the split
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}
    digest: str  # of the corpus file: keys the cached index


def _jsonl(path: Path):
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels (tab-separated query-id, corpus-id, score; a header line) as {qid: {docid: score}}."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for n, row in enumerate(rows, start=1):
            row = [c.strip() for c in row]
            if not row or not any(row):
                continue
            if n == 1 and row[0] == "query-id":
                continue
            if len(row) < 3:
                raise ValueError(f"{path}:{n}: expected query-id, corpus-id, score")
            try:
                score = int(float(row[2]))
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: score {row[2]!r} is not a number") from exc
            qrels.setdefault(row[0], {})[row[1]] = score
    return qrels


def read_beir(folder: Path, split: str = "test") -> BeirSet:
    """Read a BEIR data set folder; keep the queries judged in `qrels/<split>.tsv`.

    Documents are written under unique, file-safe stems (case-blind unique too); an empty title
    falls back to the id and an empty text to the title, so no document is dropped by the corpus
    reader. Judgments naming documents not in the corpus raise ValueError.
    """
    folder = Path(folder)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    paths = {name: folder / name for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv")}
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(f"not a BEIR data set folder (no {path.relative_to(folder)}): {folder}")
    digest = hashlib.sha256(paths["corpus.jsonl"].read_bytes()).hexdigest()[:16]
    docs: list[BeirDoc] = []
    used: set[str] = set()
    for obj in _jsonl(paths["corpus.jsonl"]):
        beir_id = str(obj["_id"])
        base = stem = safe_id(beir_id)
        n = 2
        while stem.lower() in used:
            stem, n = f"{base}-{n}", n + 1
        used.add(stem.lower())
        title = " ".join(str(obj.get("title") or "").split())
        text = str(obj.get("text") or "").strip()
        docs.append(BeirDoc(beir_id, stem, title or beir_id, text or title or beir_id))
    ids = {d.beir_id for d in docs}
    if len(ids) != len(docs):
        raise ValueError(f"{paths['corpus.jsonl']}: document ids repeat")
    qrels = read_qrels(paths[f"qrels/{split}.tsv"])
    unknown = sorted({d for judged in qrels.values() for d in judged} - ids)
    if unknown:
        raise ValueError(f"qrels/{split}.tsv names {len(unknown)} document(s) not in corpus.jsonl: {', '.join(unknown[:5])}")
    texts = {str(q["_id"]): str(q["text"]) for q in _jsonl(paths["queries.jsonl"])}
    missing = sorted(set(qrels) - texts.keys())
    if missing:
        raise ValueError(f"qrels/{split}.tsv names {len(missing)} query id(s) not in queries.jsonl: {', '.join(missing[:5])}")
    # Queries whose judgments are all non-positive cannot be scored (BEIR drops them too).
    queries = {q: texts[q] for q in qrels if any(s > 0 for s in qrels[q].values())}
    return BeirSet(docs, queries, {q: qrels[q] for q in queries}, digest)


def write_corpus(docs: list[BeirDoc], folder: Path) -> None:
    """Write documents as article files (title line, blank line, text), as `squad.write_articles` does."""
    write_articles({f"{d.stem}.txt": f"{d.title}\n\n{d.text}\n" for d in docs}, folder, MARKER, "rag eval --beir")
