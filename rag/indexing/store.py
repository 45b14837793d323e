"""The on-disk index: atomic writes, verification, loading and the build lock.

Layout under the index folder: `CURRENT` names the live generation folder; a generation holds
manifest.json (with a sha256 of every other file) and manifest.sha256 (its own checksum),
articles.json (the text of every indexed article, which `/source` serves, so a citation always
matches what is shown even after the file changes), chunks.json, sentences.json, the chunk and
sentence vectors, vectors.faiss and bm25/. A new generation is written beside the old one and
`CURRENT` is switched with an atomic rename, so a crash mid-build leaves the old index live.
Building the rows and vectors, and deciding when to (`ensure_index`), is `rag.indexing.build`'s job; this
module only stores what it is given.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import faiss
import numpy as np

from rag.embedding.model import sha256_file
from rag.errors import RagError
from rag.indexing.chunking import Chunk
from rag.indexing.index import Index
from rag.indexing.lexical import LexicalIndex
from rag.indexing.manifest import FORMAT_VERSION, Manifest
from rag.indexing.sentences import Sentence
from rag.indexing.vectors import build_index

CURRENT = "CURRENT"
PARTIAL = ".tmp-"  # prefix of a generation being written; never loaded, pruned by the next build
log = logging.getLogger(__name__)


class IndexProblem(RagError):
    """The index is missing, stale or damaged; the message says which."""


class IndexMissing(IndexProblem):
    """No index has been built in the folder yet."""


class IndexCorrupt(IndexProblem):
    """The live index fails a check (pointer, checksum, format, rows); it is rebuilt, never loaded."""


class IndexBusy(IndexProblem):
    """Another process held the build lock for longer than we would wait."""


# ---------------------------------------------------------------- loading


def live_folder(index_dir: Path) -> Path:
    """The generation folder `CURRENT` points at."""
    pointer = Path(index_dir) / CURRENT
    if not pointer.exists() and not pointer.is_symlink():
        raise IndexMissing(f"no index in {index_dir}: run `rag index`")
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:  # a folder, unreadable, or bytes that are not a name
        raise IndexCorrupt(f"{pointer} is damaged ({exc.__class__.__name__})") from exc
    if not name or "/" in name or name.startswith(".") or not name.isprintable():
        raise IndexCorrupt(f"{pointer} is damaged")
    return Path(index_dir) / name


def generation_folder(index_dir: Path, generation: str | None = None) -> Path:
    """The folder of generation `generation` (None: the live one, `CURRENT`'s); IndexMissing if absent."""
    if generation is None:
        return live_folder(index_dir)
    if not generation.startswith("gen-") or "/" in generation or not generation.isprintable():
        raise IndexMissing(f"{generation!r} is not an index generation")  # a name from outside (Milvus) is checked
    folder = Path(index_dir) / generation
    if not folder.is_dir():
        raise IndexMissing(f"no generation {generation} in {index_dir}")
    return folder


def read_manifest(index_dir: Path, generation: str | None = None) -> Manifest:
    """The live manifest (or generation `generation`'s), or IndexMissing / IndexCorrupt."""
    folder = generation_folder(index_dir, generation)
    try:
        raw = (folder / "manifest.json").read_bytes()
        manifest = json.loads(raw.decode("utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"index generation {folder.name} has no manifest") from exc
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"index manifest in {folder.name} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"index manifest in {folder.name} is not an object")
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexCorrupt(f"index format {manifest.get('format')} is not {FORMAT_VERSION}: rebuild needed")
    try:
        recorded = (folder / "manifest.sha256").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        recorded = None
    if recorded != hashlib.sha256(raw).hexdigest():
        raise IndexCorrupt(f"index manifest in {folder.name} is damaged (checksum mismatch)")
    try:
        return Manifest.from_json(manifest)
    except (TypeError, ValueError, AttributeError) as exc:  # a key missing, unknown or of the wrong kind
        raise IndexCorrupt(f"index manifest in {folder.name} is unreadable: {exc}") from exc


def load_index(index_dir: Path, verify: bool = True, generation: str | None = None) -> Index:
    """Load the live index (or the kept generation `generation`, e.g. the one before it); every
    file is checked against the manifest's sha256 first."""
    folder = generation_folder(index_dir, generation)
    manifest = read_manifest(index_dir, generation)
    if verify:
        for rel, expected in manifest.files.items():
            path = folder / rel
            if not path.is_file():
                raise IndexCorrupt(f"index file {rel} is missing")
            if sha256_file(path) != expected:
                raise IndexCorrupt(f"index file {rel} is damaged (checksum mismatch)")
    try:
        texts = json.loads((folder / "articles.json").read_text(encoding="utf-8"))
        chunk_rows = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
        sentence_rows = json.loads((folder / "sentences.json").read_text(encoding="utf-8"))
        chunk_vectors = np.load(folder / "chunk_vectors.npy")
        sentence_vectors = np.load(folder / "sentence_vectors.npy")
        vectors = faiss.read_index(str(folder / "vectors.faiss"))
        lexical = LexicalIndex.load(folder / "bm25")
        # One record per sentence row, shared by the chunks that hold it.
        sentences = [Sentence(**row) for row in sentence_rows]
        chunk_sentences = [row["sentence_ids"] for row in chunk_rows]
        chunks = [Chunk.from_row(row, [sentences[i] for i in ids]) for row, ids in zip(chunk_rows, chunk_sentences)]
    except Exception as exc:  # any parse failure means a damaged index
        raise IndexCorrupt(f"index in {folder.name} cannot be read: {exc}") from exc
    if not (len(chunks) == len(chunk_vectors) == vectors.ntotal and len(sentences) == len(sentence_vectors)):
        raise IndexCorrupt("index parts disagree on their sizes")
    check_rows(manifest, texts, chunks, sentences)
    return Index(folder, manifest, chunks, chunk_sentences, sentences, chunk_vectors, sentence_vectors, vectors, lexical,
                 texts=texts)


def check_rows(manifest: Manifest, texts: dict, chunks: list[Chunk], sentences: list[Sentence]) -> None:
    """Every row belongs to a listed article and quotes its stored text exactly; IndexCorrupt otherwise.

    An index holding rows of an article its manifest does not list (or of another file under the
    same id) would cite text that `/source` does not show.
    """
    if set(texts) != set(manifest.articles):
        raise IndexCorrupt("index article texts disagree with its manifest")
    for row in [*chunks, *sentences]:
        text = texts.get(row.doc_id)
        if text is None or text[row.start : row.end] != row.text:
            raise IndexCorrupt(f"index rows of {row.doc_id!r} do not match its article text")


def previous(index_dir: Path) -> Index | None:
    """The live index if it loads intact, else None (nothing to reuse or fall back on)."""
    try:
        return load_index(index_dir)
    except IndexProblem:
        return None


# ---------------------------------------------------------------- the build lock


@contextmanager
def build_lock(index_dir: Path, wait_seconds: float = 600.0):
    """Hold the index folder's build lock; wait for another builder, then give up clearly."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"Another `rag index` is building {index_dir}; waiting for it…", file=sys.stderr)
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise IndexBusy(f"another process is still building {index_dir}; try again later")
                    time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------- writing


def _fsync_tree(folder: Path) -> None:
    """fsync every file under `folder`, so a rename never publishes a generation the disk lacks."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def write_generation(index_dir: Path, manifest: Manifest, texts: dict[str, str], chunks: list[Chunk],
                     chunk_sentences: list[list[int]], sentences: list[Sentence], chunk_vectors: np.ndarray,
                     sentence_vectors: np.ndarray) -> Path:
    """Write a complete generation beside the live one, then switch `CURRENT` to it atomically.

    `manifest.files` is filled in here (the sha256 of every file written); a crash at any point
    leaves the previous generation live and at worst a `.tmp-` folder that the next build prunes.
    """
    name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = index_dir / f"{PARTIAL}{name}"
    tmp.mkdir(parents=True)
    try:
        _write_files(tmp, manifest, texts, chunks, chunk_sentences, sentences, chunk_vectors, sentence_vectors)
        final = index_dir / name
        os.replace(tmp, final)
        _point_current_at(index_dir, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, keep=final.name)
    return final


def _write_files(tmp: Path, manifest: Manifest, texts: dict[str, str], chunks: list[Chunk],
                 chunk_sentences: list[list[int]], sentences: list[Sentence], chunk_vectors: np.ndarray,
                 sentence_vectors: np.ndarray) -> None:
    """Every file of a generation into `tmp`, the manifest (with their checksums) last, all fsynced."""
    (tmp / "articles.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    rows = [dict(c.to_row(), sentence_ids=ids) for c, ids in zip(chunks, chunk_sentences)]
    (tmp / "chunks.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (tmp / "sentences.json").write_text(json.dumps([asdict(s) for s in sentences], ensure_ascii=False), encoding="utf-8")
    np.save(tmp / "chunk_vectors.npy", chunk_vectors)
    np.save(tmp / "sentence_vectors.npy", sentence_vectors)
    faiss.write_index(build_index(chunk_vectors, manifest.vector_index), str(tmp / "vectors.faiss"))
    LexicalIndex.build([c.passage for c in chunks],
                       manifest.lexical["bm25_k1"], manifest.lexical["bm25_b"]).save(tmp / "bm25")
    manifest.files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    raw_manifest = json.dumps(manifest.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
    (tmp / "manifest.json").write_bytes(raw_manifest)
    # The manifest's own checksum: an edited title or path is damage, not a new truth.
    (tmp / "manifest.sha256").write_text(hashlib.sha256(raw_manifest).hexdigest() + "\n", encoding="ascii")
    _fsync_tree(tmp)


def _point_current_at(index_dir: Path, name: str) -> None:
    """Switch `CURRENT` to generation `name` with an atomic rename, durably (file and folder fsynced)."""
    pointer_tmp = index_dir / f".{CURRENT}.tmp"
    with open(pointer_tmp, "w", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    _clear_damaged_pointer(index_dir / CURRENT)
    os.replace(pointer_tmp, index_dir / CURRENT)
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _clear_damaged_pointer(pointer: Path) -> None:
    """Remove a `CURRENT` that a file cannot replace atomically (a folder), so the switch can happen."""
    if pointer.is_dir() and not pointer.is_symlink():
        shutil.rmtree(pointer)


def _prune(index_dir: Path, keep: str) -> None:
    """Remove leftovers of crashed builds and superseded generations (keeps the newest old one)."""
    gens = sorted((p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("gen-")), key=lambda p: p.stat().st_mtime)
    old = [p for p in gens if p.name != keep]
    for path in old[:-1] + [p for p in index_dir.iterdir() if p.name.startswith(PARTIAL)]:
        shutil.rmtree(path, ignore_errors=True)
