"""The assistant: one object that turns a question into a cited extractive answer."""
from __future__ import annotations

import threading
import time
from functools import cached_property

from rag.answer import Answer, QuestionError, clean_question, render, select_answer
from rag.corpus import source_text
from rag.embedding import get_embedder
from rag.reader import get_reader
from rag.retrieval import Retriever
from rag.selector import get_selector
from rag.settings import Settings, from_env
from rag.store import Index, ensure_index


class Assistant:
    """Answers questions from an index; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, index: Index | None = None, progress: bool = True, log=print,
                 answer_models: bool = True):
        """Load (building if needed) the index; with `answer_models`, also the selector and reader,
        so the first question is as fast as the rest (`rag train` fits them, so it passes False)."""
        self.settings = settings or from_env()
        self.embedder = get_embedder(self.settings.model, self.settings.batch_size)
        self.index = index or ensure_index(self.settings, progress=progress, log=log)
        self.retriever = Retriever(self.index, self.settings)
        self._lock = threading.Lock()  # the tokenizer and torch module are not re-entrant
        if answer_models:
            self.selector, self.reader  # noqa: B018  (loads both now)

    @cached_property
    def selector(self):
        """The answer selector (loaded on first use, so tools that only retrieve never load it)."""
        return get_selector()

    @cached_property
    def reader(self):
        """The reader model (loaded on first use)."""
        return get_reader(self.settings.reader_runtime)

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
        stages: dict[str, float] = {}
        chosen = select_answer(text, qvec, passages, self.index, self.settings, self.selector, self.reader, stages)
        t4 = time.perf_counter()
        return Answer(
            question=text,
            answer=render(chosen.citations),
            abstained=chosen.abstained,
            citations=chosen.citations,
            passages=passages,
            notice=notice,
            timings={"clean": t1 - t0, "embed": t2 - t1, "retrieve": t3 - t2, **stages, "answer": t4 - t3, "total": t4 - t0},
            best_score=chosen.best_score,
            short_answer=chosen.short_answer,
        )

    def source(self, doc_id: str) -> dict:
        """An indexed article's full text, for showing a citation in context; ValueError otherwise."""
        entry = self.index.manifest["articles"].get(doc_id) if isinstance(doc_id, str) else None
        if entry is None:
            raise ValueError(f"unknown article: {doc_id!r}")
        text = source_text(self.index.manifest["corpus_dir"], entry["path"])
        return {"doc_id": doc_id, "title": entry["title"], "text": text}


__all__ = ["Assistant", "QuestionError"]
