"""Training data for the answer models: SQuAD's train articles split into "fit" and "calibrate",
and each question's candidate sentences with their features and labels."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answer.features import gather

# Of the train articles (sorted by title), every 6th calibrates the selector instead of training the reader.
CALIBRATE_EVERY = 6


@dataclass
class Example:
    """One question with its candidates: features, labels, and answer spans inside positives."""

    qid: str
    question: str
    answers: list[str]
    ids: list[int]
    features: np.ndarray
    labels: np.ndarray
    spans: dict[int, tuple[int, int]]  # candidate position -> answer span in that sentence's text


def train_roles(train_titles: list[str]) -> dict[str, str]:
    """Which train articles fit the reader ("fit") and which calibrate the selector ("calibrate")."""
    ordered = sorted(set(train_titles))
    return {t: "calibrate" if i % CALIBRATE_EVERY == CALIBRATE_EVERY - 1 else "fit" for i, t in enumerate(ordered)}


def training_questions(squad: Path) -> tuple[list[dict], list[dict]]:
    """(fit, calibrate) questions of a SQuAD file: train-split articles only, by `split_of`."""
    from rag.measure.squad import read_squad, split_of

    paragraphs, questions = read_squad(squad)
    split = split_of([p.article for p in paragraphs])
    train_q = [q for q in questions if split[q["article"]] == "train"]
    roles = train_roles([q["article"] for q in train_q])
    return ([q for q in train_q if roles[q["article"]] == "fit"],
            [q for q in train_q if roles[q["article"]] == "calibrate"])


def claim_questions(bset) -> list[dict]:
    """A BEIR set's judged queries as passage-ranker questions: the query's text, and the article
    stems of the documents judged relevant as its `sources`."""
    stem = {d.beir_id: d.stem for d in bset.docs}
    return [{"question": text, "sources": [stem[d] for d, score in bset.qrels[q].items() if score > 0]}
            for q, text in bset.queries.items()]


def _article(doc_id: str) -> str:
    return doc_id.rsplit("_", 1)[0]  # SQuAD paragraph ids are <article>_<n>


def make_examples(assistant, questions: list[dict], k: int, without_article: bool = False) -> list[Example]:
    """Retrieve for each question as the assistant would and label its candidate sentences:
    a candidate is positive when it is in the gold paragraph and a gold answer starts inside it.

    With `without_article`, the question's own article is left out of retrieval: the question
    becomes one the collection cannot answer (every label 0), which is what abstention learns from.
    """
    index = assistant.index
    vectors = assistant.encoder.encode([q["question"] for q in questions])
    out = []
    for q, qvec in zip(questions, vectors):
        if without_article:
            own = {_article(s) for s in q["sources"]}
            found = assistant.retriever.search(q["question"], qvec, k=6 * k)
            passages = [p for p in found if _article(p.doc_id) not in own][:k]
        else:
            passages = assistant.retriever.search(q["question"], qvec, k=k)
        cands = gather(q["question"], qvec, passages, index, assistant.settings.answer_dense_weight)
        labels = np.zeros(len(cands), dtype=np.int8)
        spans: dict[int, tuple[int, int]] = {}
        for pos, sid in enumerate(cands.ids):
            s = index.sentences[sid]
            if without_article or s.doc_id not in q["sources"]:
                continue
            inside = [(a, b) for a, b in q["answer_spans"] if s.start <= a < s.end]
            if inside:
                labels[pos] = 1
                a, b = inside[0]
                spans[pos] = (a - s.start, min(b, s.end) - s.start)
        out.append(Example(q["id"], q["question"], q["answers"], cands.ids, cands.features, labels, spans))
    return out


def question_set_examples(assistant, questions: list[dict], k: int) -> list[Example]:
    """Examples from a question set in `rag eval`'s format (answerable questions only): a candidate
    is positive when it is in a source article and holds a gold answer."""
    from rag.measure.metrics import answer_found

    index = assistant.index
    asked = [q for q in questions if q["answerable"]]
    vectors = assistant.encoder.encode([q["question"] for q in asked])
    out = []
    for q, qvec in zip(asked, vectors):
        passages = assistant.retriever.search(q["question"], qvec, k=k)
        cands = gather(q["question"], qvec, passages, index, assistant.settings.answer_dense_weight)
        labels = np.array([index.sentences[s].doc_id in q["sources"] and answer_found(index.sentences[s].text, q["answers"])
                           for s in cands.ids], dtype=np.int8)
        out.append(Example(str(q["id"]), q["question"], q["answers"], cands.ids, cands.features, labels, {}))
    return out
