"""Question embeddings without torch: the embedding model exported to ONNX, run by onnxruntime.

The model is exported once with torch's own exporter (mean pooling and L2 normalisation inside the
graph, as sentence-transformers does them), cached under the cache folder with its sha256 beside
it, and tokenised with the model's own fast tokenizer (`tokenizers`). Answering a question then
needs neither torch nor sentence-transformers; building the index still uses them.
"""
from __future__ import annotations

import hashlib
import json
import threading
import warnings
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.embedding import cache_dir, cached_file, resolve_model
from rag.onnx_runtime import cpu_session

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def _model_files(folder: Path) -> tuple[int, bool]:
    """(max tokens, pooling is mean) of a sentence-transformers model folder."""
    config = folder / "sentence_bert_config.json"
    max_tokens = json.loads(config.read_text()).get("max_seq_length", 256) if config.is_file() else 256
    pooling = folder / "1_Pooling" / "config.json"
    mean = not pooling.is_file() or json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", False)
    return int(max_tokens), bool(mean)


def onnx_supported(model: str) -> bool:
    """Whether `model` can take the ONNX path: a local folder with a fast tokenizer and mean pooling."""
    source, _ = resolve_model(model)
    folder = Path(source)
    return folder.is_dir() and (folder / "tokenizer.json").is_file() and _model_files(folder)[1]


def onnx_path(model: str) -> Path:
    """The model's ONNX export, made once (needs torch then) and re-made if damaged."""
    source, model_id = resolve_model(model)
    key = hashlib.sha256(f"{model_id}|opset{OPSET}".encode()).hexdigest()[:16]
    return cached_file(cache_dir() / "encoder" / f"encoder-{key}.onnx", lambda tmp: _export(Path(source), tmp))


def _export(folder: Path, target: str) -> None:
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        """The transformer, then mean pooling over real tokens and L2 normalisation."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    net = Pooled(AutoModel.from_pretrained(str(folder), add_pooling_layer=False)).eval()
    sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in _INPUTS)
    axes = {k: {0: "rows", 1: "tokens"} for k in _INPUTS}
    axes["embedding"] = {0: "rows"}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes fixed at export; parity is tested
        torch.onnx.export(net, sample, target, input_names=list(_INPUTS), output_names=["embedding"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)


class OnnxEncoder:
    """Normalised float32 embeddings from the ONNX export; the same vectors as sentence-transformers."""

    def __init__(self, model: str = "bundled", threads: int = 2):
        from tokenizers import Tokenizer

        source, self.model_id = resolve_model(model)
        folder = Path(source)
        self.max_tokens, _ = _model_files(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)  # what sentence-transformers cuts to
        self.tokenizer.enable_padding()  # to the longest in the batch; masked out by the pooling
        self.session = cpu_session(onnx_path(model), threads)
        self.dim = int(self.session.get_outputs()[0].shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of `texts`, one normalised row each."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (vectors,) = self.session.run(None, feed)
        return np.ascontiguousarray(vectors, dtype=np.float32)


class TorchEncoder:
    """The same interface over sentence-transformers, for the `query_runtime=torch` setting."""

    def __init__(self, model: str = "bundled", batch_size: int = 64):
        from rag.embedding import get_embedder

        self.embedder = get_embedder(model, batch_size)
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
        return OnnxEncoder(model)
    return TorchEncoder(model, batch_size)
