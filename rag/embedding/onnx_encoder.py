"""The embedding model exported to ONNX and run by onnxruntime: questions at query time, passages
and sentences at build time.

The model is exported once with torch's own exporter (mean pooling and L2 normalisation inside the
graph, as sentence-transformers does them), cached under the cache folder with its sha256 beside
it, and tokenised with the model's own fast tokenizer (`tokenizers`). Embedding then needs neither
torch nor sentence-transformers (torch only for the one-time export).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from rag.embedding.model import cache_dir, cached_file, resolve_model
from rag.onnx_runtime import cpu_session

log = logging.getLogger(__name__)
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
    key = hashlib.sha256(f"{model_id}|opset{OPSET}|fused".encode()).hexdigest()[:16]
    return cached_file(cache_dir() / "encoder" / f"encoder-{key}.onnx", lambda tmp: _export(Path(source), tmp))


def _export(folder: Path, target: str) -> None:
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(folder))
    bert = config.model_type == "bert"

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

    # Eager attention exports the pattern onnxruntime's BERT optimiser fuses (see _fuse).
    extra = {"attn_implementation": "eager"} if bert else {}
    net = Pooled(AutoModel.from_pretrained(str(folder), add_pooling_layer=False, **extra)).eval()
    sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in _INPUTS)
    axes = {k: {0: "rows", 1: "tokens"} for k in _INPUTS}
    axes["embedding"] = {0: "rows"}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes fixed at export; parity is tested
        torch.onnx.export(net, sample, target, input_names=list(_INPUTS), output_names=["embedding"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    if bert:
        _fuse(target, config)


def _fuse(path: str, config) -> None:
    """onnxruntime's BERT optimiser, in place: fused attention, SkipLayerNorm and BiasGelu kernels
    (about 5% faster a question and a build; vectors within cosine 0.9999995). Kept unfused if
    the optimiser fails: the plain export computes the same vectors."""
    staged = f"{path}.fused"
    try:
        from onnxruntime.transformers import optimizer

        fused = optimizer.optimize_model(path, model_type="bert", num_heads=config.num_attention_heads,
                                         hidden_size=config.hidden_size)
        fused.save_model_to_file(staged)
        os.replace(staged, path)  # whole or not at all
    except Exception as exc:  # an optimiser that does not know this graph or this onnxruntime
        log.warning("embedding export kept unfused: %s", exc)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)


class OnnxEncoder:
    """Normalised float32 embeddings from the ONNX export; the same vectors as sentence-transformers.

    Many texts are embedded longest first in batches of `batch_size`, each padded only to its own
    longest text. Small batches are faster here than large ones: on SQuAD's passages, batches of
    16 took 0.8 of the time of batches of 64 (attention and activations stay in cache).
    """

    def __init__(self, model: str = "bundled", threads: int = 2, batch_size: int = 16):
        from tokenizers import Tokenizer

        source, self.model_id = resolve_model(model)
        folder = Path(source)
        self.max_tokens, _ = _model_files(folder)
        self.batch_size = batch_size
        self._tokenizer_file = folder / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(self._tokenizer_file))
        self.tokenizer.enable_truncation(self.max_tokens)  # what sentence-transformers cuts to
        self.tokenizer.no_padding()  # each batch is padded below, to its own longest text
        self._counter = None  # made on first count (only builds count), so questions never pay for it
        self._pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.session = cpu_session(onnx_path(model), threads)
        self.dim = int(self.session.get_outputs()[0].shape[1])

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embeddings of `texts`, one normalised row each."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if progress:
            from tqdm import tqdm  # installed with sentence-transformers

            batches = tqdm(batches, desc="embedding")
        for batch in batches:
            out[batch] = self._run([encodings[i] for i in batch])
        return out

    def _run(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, 1, e.type_ids
        (vectors,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return vectors

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, [CLS] and [SEP] included, before any cut."""
        if self._counter is None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_file(str(self._tokenizer_file))
            self._counter.no_truncation()
            self._counter.no_padding()  # tokenizer.json pads to a fixed length
        return len(self._counter.encode(text).ids)
