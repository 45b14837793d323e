"""The assistant: one object that turns a question into a cited extractive answer."""
from __future__ import annotations

import threading
import time

from rag.answer import Answer, QuestionError, answer_from, clean_question, render
from rag.corpus import source_text
from rag.embedding import get_embedder
from rag.retrieval import Retriever
from rag.settings import Settings, from_env
from rag.store import Index, ensure_index


class Assistant:
    """Answers questions from an index; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, index: Index | None = None, progress: bool = True, log=print):
        self.settings = settings or from_env()
        self.embedder = get_embedder(self.settings.model, self.settings.batch_size)
        self.index = index or ensure_index(self.settings, progress=progress, log=log)
        self.retriever = Retriever(self.index, self.settings)
        self._lock = threading.Lock()  # the tokenizer and torch module are not re-entrant

    def embed_question(self, question: str):
        """The question's normalised embedding (truncated to the model window by the model)."""
        with self._lock:
            return self.embedder.encode([question])[0]

    def ask(self, question: object, k: int | None = None, mode: str = "hybrid") -> Answer:
        """Answer `question` by quoting article sentences, or abstain. Raises QuestionError for bad input."""
        t0 = time.perf_counter()
        text, notice = clean_question(question, self.settings.max_question_chars)
        t1 = time.perf_counter()
        qvec = self.embed_question(text)  # answer scoring needs it in every mode
        t2 = time.perf_counter()
        passages = self.retriever.search(text, qvec, k=k, mode=mode)
        t3 = time.perf_counter()
        citations, abstained, best = answer_from(text, qvec, passages, self.index, self.settings)
        t4 = time.perf_counter()
        return Answer(
            question=text,
            answer=render(citations),
            abstained=abstained,
            citations=citations,
            passages=passages,
            notice=notice,
            timings={"clean": t1 - t0, "embed": t2 - t1, "retrieve": t3 - t2, "answer": t4 - t3, "total": t4 - t0},
            best_score=best,
        )

    def source(self, doc_id: str) -> dict:
        """An indexed article's full text, for showing a citation in context; ValueError otherwise."""
        entry = self.index.manifest["articles"].get(doc_id) if isinstance(doc_id, str) else None
        if entry is None:
            raise ValueError(f"unknown article: {doc_id!r}")
        text = source_text(self.index.manifest["corpus_dir"], entry["path"])
        return {"doc_id": doc_id, "title": entry["title"], "text": text}


__all__ = ["Assistant", "QuestionError"]
