"""The reader: MiniLM reading the question and a candidate sentence together.

Two heads over the bundled all-MiniLM-L6-v2: how likely the sentence answers the question (from
[CLS]), and where in it the short answer starts and ends (per token). Only the top two of the six
transformer layers and the heads are trained (`rag train`); they ship inside the package as
`rag/models/reader.safetensors` (fp16, sha256-checked), and the bottom four layers, the
embeddings and the tokenizer are the bundled model's own.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.embedding import bundled_model_dir, checked_sha256

WEIGHTS = Path(__file__).resolve().parent / "models" / "reader.safetensors"
TRAINED_LAYERS = 2
MAX_TOKENS = 128
MAX_ANSWER_TOKENS = 24


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on one sentence: a relevance logit and its best answer span
    (character offsets into the sentence, and the span's score), if any."""

    logit: float
    span: tuple[int, int] | None
    span_score: float


def build_net(model_dir: Path | None = None):
    """The reader network with the bundled model's weights (heads freshly initialised)."""
    import torch
    from torch import nn
    from transformers import AutoModel

    class ReaderNet(nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert
            hidden = bert.config.hidden_size
            self.relevance = nn.Linear(hidden, 1)
            self.span = nn.Linear(hidden, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            start, end = self.span(h).unbind(-1)
            return self.relevance(h[:, 0]).squeeze(-1), start, end

    bert = AutoModel.from_pretrained(str(model_dir or bundled_model_dir()), add_pooling_layer=False)
    torch.manual_seed(0)
    return ReaderNet(bert)


def trained_names(net) -> list[str]:
    """Parameter names that training changes (and the weights file holds)."""
    layers = net.bert.config.num_hidden_layers
    keep = tuple(f"bert.encoder.layer.{i}." for i in range(layers - TRAINED_LAYERS, layers))
    return [n for n, _ in net.named_parameters() if n.startswith(keep) or not n.startswith("bert.")]


def pair_tokenizer(model_dir: Path | None = None):
    """The bundled model's fast tokenizer set up for (question, sentence) pairs: the same word
    pieces, offsets and truncation as the transformers tokenizer used in training, without
    importing transformers."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str((model_dir or bundled_model_dir()) / "tokenizer.json"))
    # longest_first: a normal question keeps every word piece and the sentence is cut; a question
    # longer than the whole window is cut too, where only_second would fail.
    tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
    tokenizer.enable_padding()  # to the longest pair in the batch
    return tokenizer


def encode_pairs(tokenizer, question: str, sentences: list[str]) -> dict:
    """Model inputs for (question, sentence) pairs, with each token's offsets into its sentence and
    which segment it belongs to (0 question, 1 sentence, None special or padding)."""
    encodings = tokenizer.encode_batch([(question, s) for s in sentences])
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        "offset_mapping": np.array([e.offsets for e in encodings], dtype=np.int64),
        "sequence_ids": [e.sequence_ids for e in encodings],
    }


def best_spans(start, end, sequence_ids: list[list], max_len: int = MAX_ANSWER_TOKENS) -> list[tuple[int, int, float]]:
    """Per row: (first token, last token, score) of the best span inside the sentence segment."""
    out = []
    for row in range(start.shape[0]):
        allowed = np.array([sid == 1 for sid in sequence_ids[row]])
        s = np.where(allowed, start[row], -np.inf)
        e = np.where(allowed, end[row], -np.inf)
        n = len(s)
        # score[i, j] = s[i] + e[j] for i <= j < i + max_len
        grid = s[:, None] + e[None, :]
        i, j = np.indices((n, n))
        grid[(j < i) | (j >= i + max_len)] = -np.inf
        flat = int(np.argmax(grid))
        a, b = divmod(flat, n)
        out.append((a, b, float(grid[a, b])))
    return out


def load_net(weights: Path, expected_sha256: str):
    """The reader network with the trained tensors of `weights` (sha256-checked), in eval mode."""
    from safetensors.torch import load_file

    if not Path(weights).is_file():
        raise RuntimeError(f"reader weights missing: {weights} (rebuild them with `rag train`)")
    got = checked_sha256(weights)
    if got != expected_sha256:
        raise RuntimeError(f"reader weights {weights} fail their hash check (sha256 {got})")
    net = build_net()
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    missing = set(trained_names(net)) - set(state)
    if missing:
        raise RuntimeError(f"reader weights {weights} lack {len(missing)} tensors")
    net.load_state_dict(state, strict=False)
    return net.eval()


_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_file(weights: Path, expected_sha256: str) -> Path:
    """The reader exported to ONNX once per weights file, cached beside the unpacked model.

    The export is written atomically with its own sha256 beside it; a damaged copy is re-exported.
    """
    import os
    import tempfile

    from rag.embedding import cache_dir

    folder = cache_dir() / "reader"
    path = folder / f"reader-{expected_sha256[:16]}.onnx"
    digest = path.with_suffix(".sha256")
    if path.is_file() and digest.is_file() and digest.read_text().strip() == checked_sha256(path):
        return path
    import torch

    net = load_net(weights, expected_sha256)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in _INPUTS)
        axes = {k: {0: "rows", 1: "tokens"} for k in _INPUTS}
        axes.update({"logit": {0: "rows"}, "start": {0: "rows", 1: "tokens"}, "end": {0: "rows", 1: "tokens"}})
        torch.onnx.export(net, sample, tmp, input_names=list(_INPUTS), output_names=["logit", "start", "end"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, path)
        digest.write_text(checked_sha256(path) + "\n")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class Reader:
    """Scores candidate sentences and finds the answer span in them; thread-safe.

    `runtime="onnx"` runs the same network exported to ONNX with onnxruntime (about twice as fast
    on a CPU, same outputs to ~1e-6); "torch" runs it in PyTorch.
    """

    def __init__(self, weights: Path, expected_sha256: str, runtime: str = "onnx", threads: int = 2):
        self.tokenizer = pair_tokenizer()
        self.runtime = runtime
        self._lock = threading.Lock()
        if runtime == "onnx":
            import onnxruntime as ort

            from rag.question_encoder import session_options

            self.session = ort.InferenceSession(str(onnx_file(weights, expected_sha256)), session_options(threads),
                                                providers=["CPUExecutionProvider"])
        elif runtime == "torch":
            self.net = load_net(weights, expected_sha256)
        else:
            raise ValueError(f"reader runtime must be onnx or torch, not {runtime!r}")

    def _forward(self, enc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.runtime == "onnx":
            logit, start, end = self.session.run(None, {k: enc[k] for k in _INPUTS})
            return logit, start, end
        import torch

        with self._lock, torch.inference_mode():
            logit, start, end = self.net(**{k: torch.as_tensor(enc[k]) for k in _INPUTS})
        return logit.numpy(), start.numpy(), end.numpy()

    def read(self, question: str, sentences: list[str]) -> list[Reading]:
        """One Reading per sentence."""
        if not sentences:
            return []
        enc = encode_pairs(self.tokenizer, question, sentences)
        offsets = enc["offset_mapping"]
        logit, start, end = self._forward(enc)
        spans = best_spans(start, end, enc["sequence_ids"])
        out = []
        for row, (a, b, score) in enumerate(spans):
            span = (int(offsets[row, a, 0]), int(offsets[row, b, 1])) if np.isfinite(score) else None
            out.append(Reading(float(logit[row]), span, score))
        return out


@lru_cache(maxsize=2)
def get_reader(runtime: str = "onnx") -> Reader:
    """The shipped reader, loaded once per process; its sha256 is in the selector's config."""
    from rag.selector import get_selector

    return Reader(WEIGHTS, get_selector().config.files[WEIGHTS.name], runtime)
