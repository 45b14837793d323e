"""The reader: a small BERT reading the question and a candidate sentence together.

Two heads: how likely the sentence answers the question (from [CLS]), and where in it the short
answer starts and ends (per token). The network starts from a base (`rag.answer.reader_base`: the
bundled all-MiniLM-L6-v2, or the ms-marco-MiniLM-L-12 cross-encoder), and only its top three
transformer layers and the heads are trained (`rag train`); they ship inside the package as
`rag/models/reader.safetensors.xz` (int8 weight rows, xz-compressed, sha256-checked, its base in its
metadata), and the other layers and embeddings are the base's own. Every base uses the bundled
model's tokenizer. The short-answer reader (`rag.answer.short_answer`) is the same kind of network,
with its top three layers trained for spans.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answer.reader_base import MINILM, base_modules
from rag.answer.reader_files import INPUTS, load_net, onnx_file
from rag.embedding.model import bundled_model_dir
from rag.models import MODELS
from rag.onnx_runtime import cpu_session

WEIGHTS = MODELS / "reader.safetensors.xz"
TRAINED_LAYERS = 3
MAX_TOKENS = 128
MAX_ANSWER_TOKENS = 24


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on one sentence: a relevance logit and its best answer span
    (character offsets into the sentence, and the span's score), if any."""

    logit: float
    span: tuple[int, int] | None
    span_score: float


def build_net(model_dir: Path | None = None, base: str = MINILM):
    """The reader network started from `base` (`rag.answer.reader_base`): its weights, a relevance
    head (fresh for MiniLM, the cross-encoder's own for it) and a fresh span head."""
    from torch import nn

    class ReaderNet(nn.Module):
        def __init__(self, bert, relevance):
            super().__init__()
            self.bert = bert
            self.relevance = relevance
            self.span = nn.Linear(bert.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            start, end = self.span(h).unbind(-1)
            return self.relevance(h[:, 0]).squeeze(-1), start, end

    net = ReaderNet(*base_modules(base, model_dir))
    net.base = base
    return net


def export_form(net):
    """`net` as its ONNX export traces it: the embeddings, each transformer layer given an
    additive attention mask, then the heads, called directly. It computes exactly what `net` does
    (the same outputs to the last bit on the seeds), and onnxruntime runs its export faster than
    that of `net` itself, whose transformers attention-mask plumbing the tracer records too (four
    sentences p95 16–19 against 20–24 ms, measured 2026-11-26)."""
    import torch
    from torch import nn

    class ExportForm(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, input_ids, attention_mask, token_type_ids):
            bert = self.net.bert
            h = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
            for layer in bert.encoder.layer:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h  # transformers 4 returns a tuple, 5 the states
            start, end = self.net.span(h).unbind(-1)
            return self.net.relevance(h[:, 0]).squeeze(-1), start, end

    return ExportForm().eval()


def trained_names(net, trained_layers: int = TRAINED_LAYERS) -> list[str]:
    """Parameter names that training changes (and the weights file holds): the top
    `trained_layers` transformer layers and the heads."""
    layers = net.bert.config.num_hidden_layers
    keep = tuple(f"bert.encoder.layer.{i}." for i in range(layers - trained_layers, layers))
    return [n for n, _ in net.named_parameters() if n.startswith(keep) or not n.startswith("bert.")]


def pair_tokenizer(model_dir: Path | None = None, max_tokens: int = MAX_TOKENS):
    """The bundled model's fast tokenizer set up for (question, sentence) pairs of at most
    `max_tokens`: the same word pieces, offsets and truncation as the transformers tokenizer used
    in training, without importing transformers."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str((model_dir or bundled_model_dir()) / "tokenizer.json"))
    # longest_first: a normal question keeps every word piece and the sentence is cut; a question
    # longer than the whole window is cut too, where only_second would fail.
    tokenizer.enable_truncation(max_tokens, strategy="longest_first")
    tokenizer.enable_padding()  # to the longest pair in the batch
    return tokenizer


def first_segment(question: str, context: str = "") -> str:
    """The reader's first segment: the question, then the context it reads a sentence after (what
    comes before the sentence), behind a [SEP] so the sentence alone is the second segment."""
    return f"{question} [SEP] {context}" if context else question


def reading_context(index, sid: int, chars: int) -> str:
    """The end of the sentence before row `sid` (at most `chars` characters, from a word start): what
    the reader reads a sentence after, so "It was founded in 1988" knows what "it" is. Empty for an
    article's first body sentence (titles are not context) or when `chars` is 0."""
    prev = index.neighbour(sid, -1) if chars > 0 else None
    if prev is None or prev == index.first_sentence_of(index.sentences[sid].doc_id):
        return ""
    text = index.sentences[prev].text
    if len(text) > chars:
        cut = text[-chars:]
        text = cut.split(" ", 1)[1] if " " in cut else cut
    return text


def encode_pairs(tokenizer, question: str, sentences: list[str], contexts: list[str] | None = None) -> dict:
    """Model inputs for (question, sentence) pairs, each sentence read after its context when
    `contexts` are given, with each token's offsets into its sentence and which segment it belongs
    to (0 question and context, 1 sentence, None special or padding)."""
    firsts = [first_segment(question, c) for c in contexts] if contexts else [question] * len(sentences)
    encodings = tokenizer.encode_batch(list(zip(firsts, sentences)))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        "offset_mapping": np.array([e.offsets for e in encodings], dtype=np.int64),
        "sequence_ids": [e.sequence_ids for e in encodings],
        "word_ids": [e.word_ids for e in encodings],
    }


def word_edges(enc: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per row and token: whether the token begins a word, and whether it ends one (a word is what
    the tokenizer split at spaces and punctuation: "Astana" is "as" + "##tana", one word)."""
    starts = np.zeros(enc["input_ids"].shape, dtype=bool)
    ends = np.zeros(enc["input_ids"].shape, dtype=bool)
    for row, (seqs, words) in enumerate(zip(enc["sequence_ids"], enc["word_ids"])):
        keys = [None if w is None else (q, w) for q, w in zip(seqs, words)]
        for t, key in enumerate(keys):
            if key is not None:
                starts[row, t] = t == 0 or keys[t - 1] != key
                ends[row, t] = t + 1 == len(keys) or keys[t + 1] != key
    return starts, ends


def sentence_tokens(enc: dict) -> np.ndarray:
    """Which tokens of each row belong to the sentence (segment 1), as a boolean array."""
    return np.array([[sid == 1 for sid in row] for row in enc["sequence_ids"]], dtype=bool)


def region_tokens(enc: dict, regions: list[list[tuple[int, int]]]) -> np.ndarray:
    """Per row and token: 1 + the number of the row's character region the sentence token overlaps
    (regions are disjoint), 0 for tokens outside every region."""
    inside = sentence_tokens(enc)
    offsets = enc["offset_mapping"]
    labels = np.zeros(inside.shape, dtype=np.int64)
    for row, spans in enumerate(regions):
        for n, (a, b) in enumerate(spans, start=1):
            labels[row][inside[row] & (offsets[row, :, 1] > a) & (offsets[row, :, 0] < b)] = n
    return labels


def best_spans(start, end, allowed: np.ndarray, max_len: int = MAX_ANSWER_TOKENS,
               edges: tuple[np.ndarray, np.ndarray] | None = None) -> list[tuple[int, int, float]]:
    """Per row: (first token, last token, score) of the best span of `allowed` tokens (nonzero),
    starting and ending in the same region (equal labels); with `edges` (`word_edges`), starting
    where a word begins and ending where one ends, so no answer cuts a word in two."""
    out = []
    for row in range(start.shape[0]):
        label = np.asarray(allowed[row], dtype=np.int64)
        s = np.where(label > 0, start[row], -np.inf)
        e = np.where(label > 0, end[row], -np.inf)
        if edges is not None:
            s = np.where(edges[0][row], s, -np.inf)
            e = np.where(edges[1][row], e, -np.inf)
        n = len(s)
        # score[i, j] = s[i] + e[j] for i <= j < i + max_len, both in one region
        grid = s[:, None] + e[None, :]
        i, j = np.indices((n, n))
        grid[(j < i) | (j >= i + max_len) | (label[:, None] != label[None, :])] = -np.inf
        flat = int(np.argmax(grid))
        a, b = divmod(flat, n)
        out.append((a, b, float(grid[a, b])))
    return out


RUNTIMES = ("onnx-int8", "onnx", "torch")


class Reader:
    """Scores candidate sentences and finds the answer span in them; thread-safe.

    `runtime="onnx"` runs the same network exported to ONNX with onnxruntime (about twice as fast
    on a CPU as PyTorch, same outputs to ~1e-6); "onnx-int8" runs that export with int8 weights
    (about twice as fast again; on 1,500 SQuAD test questions the same answer recall, first
    sentence +0.003, short-answer F1 -0.5); "torch" runs it in PyTorch.
    """

    def __init__(self, weights: Path, expected_sha256: str, runtime: str = "onnx", threads: int = 2,
                 max_tokens: int = MAX_TOKENS, context_chars: int = 0):
        self.context_chars = context_chars
        if runtime not in RUNTIMES:
            raise ValueError(f"reader runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        self.tokenizer = pair_tokenizer(max_tokens=max_tokens)
        self.runtime = runtime
        self._lock = threading.Lock()
        if runtime == "torch":
            self.net = load_net(weights, expected_sha256)
        else:
            self.session = cpu_session(onnx_file(weights, expected_sha256, int8=runtime == "onnx-int8"), threads)
            self._rows = ThreadPoolExecutor(threads, thread_name_prefix="reader")

    def _forward(self, enc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.runtime != "torch":
            logit, start, end = self.session.run(None, {k: enc[k] for k in INPUTS})
            return logit, start, end
        import torch

        with self._lock, torch.inference_mode():
            logit, start, end = self.net(**{k: torch.as_tensor(enc[k]) for k in INPUTS})
        return logit.numpy(), start.numpy(), end.numpy()

    def read(self, question: str, sentences: list[str], contexts: list[str] | None = None) -> list[Reading]:
        """One Reading per sentence (each read after its context, when given)."""
        if not sentences:
            return []
        if self.runtime != "torch" and len(sentences) > 1:
            # One sentence a run, `threads` runs at once: MiniLM's small matrices keep two cores
            # busier side by side than one padded batch split between them (seed reads ~25% faster
            # on a 2-core host), and as int8 quantises a run's activations with one scale, a sentence
            # read alone reads the same whichever sentences are shortlisted with it.
            contexts = contexts or [None] * len(sentences)
            return list(self._rows.map(self._read_one, [question] * len(sentences), sentences, contexts))
        enc = encode_pairs(self.tokenizer, question, sentences, contexts)
        logit, start, end = self._forward(enc)
        spans = _char_spans(enc, start, end, sentence_tokens(enc))
        return [Reading(float(logit[row]), span, score) for row, (span, score) in enumerate(spans)]

    def _read_one(self, question: str, sentence: str, context: str | None) -> Reading:
        return self.read(question, [sentence], None if context is None else [context])[0]

    def read_rows(self, question: str, index, rows: list[int]) -> list[Reading]:
        """One Reading per sentence row of `index`, with the context this reader was trained to read."""
        contexts = [reading_context(index, r, self.context_chars) for r in rows] if self.context_chars else None
        return self.read(question, index.sentence_texts(rows), contexts)

    def find_spans(self, question: str, texts: list[str], regions: list[list[tuple[int, int]]]) -> list[tuple[tuple[int, int] | None, float]]:
        """Per text: the best answer span (character offsets into the text) lying inside one of its
        regions, and the span's score; (None, -inf) when no token of any region was read."""
        if not texts:
            return []
        enc = encode_pairs(self.tokenizer, question, texts)
        _, start, end = self._forward(enc)
        return _char_spans(enc, start, end, region_tokens(enc, regions))


def _char_spans(enc: dict, start, end, allowed: np.ndarray) -> list[tuple[tuple[int, int] | None, float]]:
    """Per row: the best span of `allowed` tokens as character offsets into the row's text, and its
    score (None when no token was allowed)."""
    offsets = enc["offset_mapping"]
    out = []
    for row, (a, b, score) in enumerate(best_spans(start, end, allowed, edges=word_edges(enc))):
        span = (int(offsets[row, a, 0]), int(offsets[row, b, 1])) if np.isfinite(score) else None
        out.append((span, score))
    return out


@lru_cache(maxsize=2)
def get_reader(runtime: str = "onnx-int8") -> Reader:
    """The shipped reader, loaded once per process; its sha256 is in the selector's config."""
    from rag.answer.selector import get_selector

    config = get_selector().config
    return Reader(WEIGHTS, config.files[WEIGHTS.name], runtime, context_chars=config.reader_context)
