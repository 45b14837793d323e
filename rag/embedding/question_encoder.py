"""Question embeddings: the ONNX encoder (no torch at query time) or sentence-transformers, and a
micro-batching queue so concurrent questions are embedded together."""
from __future__ import annotations

import threading
from concurrent.futures import Future
from functools import lru_cache

import numpy as np

from rag.embedding.onnx_encoder import onnx_supported


class TorchEncoder:
    """The same interface over sentence-transformers, for the `query_runtime=torch` setting."""

    def __init__(self, model: str = "bundled", batch_size: int = 64):
        from rag.embedding.model import get_embedder

        self.embedder = get_embedder(model, batch_size, runtime="torch")
        self.model_id, self.dim = self.embedder.model_id, self.embedder.dim
        self._lock = threading.Lock()  # the tokenizer and torch module are not re-entrant

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of `texts`, one normalised row each."""
        with self._lock:
            return self.embedder.encode(list(texts))


class Batcher:
    """Embeds concurrent questions together: throughput grows with users instead of queueing.

    One worker thread takes the first waiting question and every other one already waiting (up to
    `max_batch`) and embeds them in one call. A lone question is embedded at once (no added
    wait); under load, questions that arrive while a batch runs form the next batch.
    """

    def __init__(self, encoder, max_batch: int = 32):
        self.encoder = encoder
        self.max_batch = max_batch
        self._queue: list[tuple[str, Future]] = []
        self._ready = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="rag-embed", daemon=True)
        self._worker.start()

    def embed(self, text: str) -> np.ndarray:
        """One question's embedding (waits for its batch)."""
        future: Future = Future()
        with self._ready:
            self._queue.append((text, future))
            self._ready.notify()
        return future.result()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                vectors = self.encoder.encode([text for text, _ in batch])
            except BaseException as exc:  # every waiting caller gets the error, the worker lives on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors):
                future.set_result(vector)


@lru_cache(maxsize=4)
def get_question_encoder(model: str = "bundled", runtime: str = "onnx", batch_size: int = 64):
    """One shared question encoder per (model, runtime); "onnx" falls back to torch for a model the
    export does not cover (not mean-pooled, or a hub name without a local folder)."""
    if runtime == "onnx" and onnx_supported(model):
        from rag.embedding.model import get_embedder

        return get_embedder(model, batch_size, "onnx")  # one session, shared with the index build
    return TorchEncoder(model, batch_size)
