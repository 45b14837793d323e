"""The on-disk index: build (incrementally), write atomically, verify and load.

Layout under the index folder: `CURRENT` names the live generation folder; a generation holds
manifest.json (with a sha256 of every other file) and manifest.sha256 (its own checksum),
articles.json (the text of every indexed article, which `/source` serves, so a citation always
matches what is shown even after the file changes), chunks.json, sentences.json, the chunk and
sentence vectors, vectors.faiss and bm25/. A new generation is written beside the old one and
`CURRENT` is switched with an atomic rename, so a crash mid-build leaves the old index live.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from rag.chunking import Chunk, chunk_article
from rag.corpus import Article, Corpus, load_corpus
from rag.errors import RagError
from rag.embedding import Embedder, get_embedder, resolve_model, sha256_file
from rag.lexical import LexicalIndex, terms
from rag.settings import Settings
from rag.tokens import count_tokens
from rag.vectors import build_index, choose_kind

# 2: articles.json (stored article text) and manifest.sha256 were added.
FORMAT_VERSION = 2
CURRENT = "CURRENT"


class IndexProblem(RagError):
    """The index is missing, stale or damaged; the message says which."""


class IndexMissing(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class IndexBusy(IndexProblem):
    pass


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int
    text: str


@dataclass
class Index:
    """A loaded index, ready for retrieval."""

    folder: Path
    manifest: dict
    chunks: list[Chunk]
    chunk_sentences: list[list[int]]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    vectors: faiss.Index
    lexical: LexicalIndex
    sentence_terms: list[frozenset[str]] = field(default_factory=list)
    # doc_id -> the article's text as indexed; sources and citations are served from it.
    texts: dict[str, str] = field(default_factory=dict)
    # Set when this index is older than the corpus because a rebuild failed (read-only disk...).
    warning: str | None = None
    _first_sentence: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        # Analysed once at load so answering a question tokenises only the question.
        if not self.sentence_terms:
            self.sentence_terms = [frozenset(terms(s.text)) for s in self.sentences]
        for sid, s in enumerate(self.sentences):
            self._first_sentence.setdefault(s.doc_id, sid)

    def first_sentence_of(self, doc_id: str) -> int:
        """Row of an article's first sentence (its title); an article's sentences are consecutive rows."""
        return self._first_sentence[doc_id]

    def neighbour(self, sid: int, step: int) -> int | None:
        """The sentence `step` rows away in the same article, or None at the article's edge."""
        j = sid + step
        if 0 <= j < len(self.sentences) and self.sentences[j].doc_id == self.sentences[sid].doc_id:
            return j
        return None

    @property
    def titles(self) -> dict[str, str]:
        return {d: a["title"] for d, a in self.manifest["articles"].items()}


def chunker_settings(settings: Settings) -> dict:
    """The settings that change chunks or vectors; any change means re-embedding."""
    return {
        "chunk_tokens": settings.chunk_tokens,
        "overlap_sentences": settings.overlap_sentences,
        "model_max_tokens": settings.model_max_tokens,
        "tokenizer": "cl100k_base",
    }


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


def read_manifest(index_dir: Path) -> dict:
    """The live manifest, or IndexMissing / IndexCorrupt."""
    folder = live_folder(index_dir)
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
    return manifest


def load_index(index_dir: Path, verify: bool = True) -> Index:
    """Load the live index; every file is checked against the manifest's sha256 first."""
    folder = live_folder(index_dir)
    manifest = read_manifest(index_dir)
    if verify:
        for rel, expected in manifest["files"].items():
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
    except Exception as exc:  # any parse failure means a damaged index
        raise IndexCorrupt(f"index in {folder.name} cannot be read: {exc}") from exc
    chunks, chunk_sentences = [], []
    for row in chunk_rows:
        chunk_sentences.append(row.pop("sentence_ids"))
        chunks.append(Chunk(**row))
    sentences = [Sentence(**row) for row in sentence_rows]
    if not (len(chunks) == len(chunk_vectors) == vectors.ntotal and len(sentences) == len(sentence_vectors)):
        raise IndexCorrupt("index parts disagree on their sizes")
    _check_rows(manifest, texts, chunks, sentences)
    return Index(folder, manifest, chunks, chunk_sentences, sentences, chunk_vectors, sentence_vectors, vectors, lexical,
                 texts=texts)


def _check_rows(manifest: dict, texts: dict, chunks: list[Chunk], sentences: list[Sentence]) -> None:
    """Every row belongs to a listed article and quotes its stored text exactly; IndexCorrupt otherwise.

    An index holding rows of an article its manifest does not list (or of another file under the
    same id) would cite text that `/source` does not show.
    """
    if set(texts) != set(manifest["articles"]):
        raise IndexCorrupt("index article texts disagree with its manifest")
    for row in [*chunks, *sentences]:
        text = texts.get(row.doc_id)
        if text is None or text[row.start : row.end] != row.text:
            raise IndexCorrupt(f"index rows of {row.doc_id!r} do not match its article text")


def stale_reason(manifest: dict, corpus: Corpus, settings: Settings, model_id: str) -> str | None:
    """Why an index built with `manifest` does not match this corpus and settings, or None."""
    if manifest.get("model_id") != model_id:
        return "embedding model changed"
    if manifest.get("chunker") != chunker_settings(settings):
        return "chunking settings changed"
    if manifest.get("corpus_dir") != str(Path(settings.corpus_dir).resolve()):
        return "corpus folder changed"
    built = {d: a["sha256"] for d, a in manifest["articles"].items()}
    now = {a.doc_id: a.sha256 for a in corpus.articles}
    if built != now:
        added, removed = now.keys() - built.keys(), built.keys() - now.keys()
        changed = {d for d in now.keys() & built.keys() if now[d] != built[d]}
        return f"articles changed ({len(added)} added, {len(removed)} removed, {len(changed)} modified)"
    wanted = choose_kind(manifest["counts"]["chunks"], settings.index_type, settings.flat_max)
    if manifest.get("vector_index") != wanted:
        return f"vector index type changed to {wanted}"
    return None


# ---------------------------------------------------------------- building


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


@dataclass
class BuildReport:
    articles: int
    skipped: list
    notes: list
    embedded_articles: list[str]
    reused_articles: list[str]
    chunks: int
    sentences: int
    seconds: float
    folder: Path


def _chunks_fitting_model(article: Article, settings: Settings, embedder: Embedder) -> list[Chunk]:
    """Chunk an article; shrink the token budget until every chunk fits the model's window."""
    budget = settings.chunk_tokens
    window = min(settings.model_max_tokens, embedder.max_tokens)
    while True:
        chunks = chunk_article(article, count_tokens, budget, settings.overlap_sentences)
        if all(embedder.count_tokens(c.text) <= window for c in chunks) or budget <= 16:
            return chunks
        budget = int(budget * 0.75)


def _previous(index_dir: Path) -> Index | None:
    try:
        return load_index(index_dir)
    except IndexProblem:
        return None


def build(settings: Settings, progress: bool = True, log=print, force: bool = False) -> BuildReport:
    """Build the index for `settings.corpus_dir`, re-embedding only articles that changed.

    An index that is intact and up to date is left as it is unless `force` is set.
    """
    index_dir = Path(settings.index_dir)
    with build_lock(index_dir):
        return _build_locked(settings, index_dir, progress, log, force)


def _build_locked(settings: Settings, index_dir: Path, progress: bool, log, force: bool) -> BuildReport:
    t0 = time.perf_counter()
    corpus = load_corpus(settings.corpus_dir, settings.max_article_bytes)
    for s in corpus.skipped:
        log(f"skipped {s.name}: {s.reason}")
    for note in corpus.notes:
        log(f"note: {note}")
    if not corpus.articles:
        raise ValueError(f"no usable articles in {settings.corpus_dir}: {corpus.summary()}")
    model_id = resolve_model(settings.model)[1]
    old = _previous(index_dir)
    if old is not None and not force and stale_reason(old.manifest, corpus, settings, model_id) is None:
        counts = old.manifest["counts"]
        log("index is up to date")
        return BuildReport(len(corpus.articles), corpus.skipped, corpus.notes, [], [a.doc_id for a in corpus.articles],
                           counts["chunks"], counts["sentences"], time.perf_counter() - t0, old.folder)
    embedder = get_embedder(settings.model, settings.batch_size)
    reusable = old is not None and (
        old.manifest.get("model_id") == embedder.model_id and old.manifest.get("chunker") == chunker_settings(settings)
    )
    old_by_doc: dict[str, list[int]] = {}
    if reusable:
        for row, c in enumerate(old.chunks):
            old_by_doc.setdefault(c.doc_id, []).append(row)

    # Per article: its chunks, then where each chunk's and sentence's vector comes from.
    chunks: list[Chunk] = []
    chunk_sentences: list[list[int]] = []
    sentences: list[Sentence] = []
    chunk_src: list[tuple[str, int]] = []  # ("old", row) or ("new", position in to_embed)
    sent_src: list[tuple[str, int]] = []
    to_embed: list[str] = []
    embedded, reused = [], []
    for article in corpus.articles:
        old_rows = old_by_doc.get(article.doc_id, [])
        same = reusable and old_rows and old.manifest["articles"][article.doc_id]["sha256"] == article.sha256
        if same:
            reused.append(article.doc_id)
            sent_map: dict[int, int] = {}
            for row in old_rows:
                ids = []
                for sid in old.chunk_sentences[row]:
                    if sid not in sent_map:
                        sent_map[sid] = len(sentences)
                        sentences.append(old.sentences[sid])
                        sent_src.append(("old", sid))
                    ids.append(sent_map[sid])
                chunks.append(old.chunks[row])
                chunk_sentences.append(ids)
                chunk_src.append(("old", row))
            continue
        embedded.append(article.doc_id)
        span_ids: dict[tuple[int, int], int] = {}
        for chunk in _chunks_fitting_model(article, settings, embedder):
            ids = []
            for s, e in chunk.sentences:
                if (s, e) not in span_ids:
                    span_ids[(s, e)] = len(sentences)
                    sentences.append(Sentence(article.doc_id, s, e, article.text[s:e]))
                    sent_src.append(("new", len(to_embed)))
                    to_embed.append(article.text[s:e])
                ids.append(span_ids[(s, e)])
            chunks.append(chunk)
            chunk_sentences.append(ids)
            chunk_src.append(("new", len(to_embed)))
            to_embed.append(chunk.text)

    if to_embed:
        log(f"embedding {len(to_embed)} passages and sentences from {len(embedded)} article(s)")
    new_vectors = embedder.encode(to_embed, progress=progress)

    def gather(src, old_vectors):
        out = np.zeros((len(src), embedder.dim), dtype=np.float32)
        for i, (where, j) in enumerate(src):
            out[i] = old_vectors[j] if where == "old" else new_vectors[j]
        return out

    chunk_vectors = gather(chunk_src, old.chunk_vectors if reusable else None)
    sentence_vectors = gather(sent_src, old.sentence_vectors if reusable else None)
    kind = choose_kind(len(chunks), settings.index_type, settings.flat_max)
    manifest = {
        "format": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model_id": embedder.model_id,
        "dim": embedder.dim,
        "chunker": chunker_settings(settings),
        "corpus_dir": str(Path(settings.corpus_dir).resolve()),
        "vector_index": kind,
        "counts": {"articles": len(corpus.articles), "chunks": len(chunks), "sentences": len(sentences)},
        "articles": {
            a.doc_id: {
                "title": a.title,
                "path": a.path.relative_to(settings.corpus_dir).as_posix(),
                "sha256": a.sha256,
                "date": a.date,
                "encoding": a.encoding,
                "chars": len(a.text),
            }
            for a in corpus.articles
        },
        "skipped": [{"path": s.name, "reason": s.reason} for s in corpus.skipped],
    }
    texts = {a.doc_id: a.text for a in corpus.articles}
    # By construction every row comes from an article of this corpus; checked, since a stray row
    # would be cited with text `/source` does not show.
    _check_rows(manifest, texts, chunks, sentences)
    folder = _write_generation(
        index_dir, manifest, texts, chunks, chunk_sentences, sentences, chunk_vectors, sentence_vectors, kind
    )
    return BuildReport(
        articles=len(corpus.articles),
        skipped=corpus.skipped,
        notes=corpus.notes,
        embedded_articles=embedded,
        reused_articles=reused,
        chunks=len(chunks),
        sentences=len(sentences),
        seconds=time.perf_counter() - t0,
        folder=folder,
    )


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def _write_generation(index_dir, manifest, texts, chunks, chunk_sentences, sentences, chunk_vectors, sentence_vectors,
                      kind) -> Path:
    name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    try:
        (tmp / "articles.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        rows = [dict(asdict(c), sentence_ids=ids) for c, ids in zip(chunks, chunk_sentences)]
        (tmp / "chunks.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        (tmp / "sentences.json").write_text(
            json.dumps([asdict(s) for s in sentences], ensure_ascii=False), encoding="utf-8"
        )
        np.save(tmp / "chunk_vectors.npy", chunk_vectors)
        np.save(tmp / "sentence_vectors.npy", sentence_vectors)
        faiss.write_index(build_index(chunk_vectors, kind), str(tmp / "vectors.faiss"))
        LexicalIndex.build([f"{c.title}\n{c.text}" if c.chunk_no else c.text for c in chunks]).save(tmp / "bm25")
        manifest["files"] = {
            p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        raw_manifest = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        (tmp / "manifest.json").write_bytes(raw_manifest)
        # The manifest's own checksum: an edited title or path is damage, not a new truth.
        (tmp / "manifest.sha256").write_text(hashlib.sha256(raw_manifest).hexdigest() + "\n", encoding="ascii")
        _fsync_tree(tmp)
        final = index_dir / name
        os.replace(tmp, final)
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
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, keep=final.name)
    return final


def _clear_damaged_pointer(pointer: Path) -> None:
    """Remove a `CURRENT` that a file cannot replace atomically (a folder), so the switch can happen."""
    if pointer.is_dir() and not pointer.is_symlink():
        shutil.rmtree(pointer)


def _prune(index_dir: Path, keep: str) -> None:
    """Remove leftovers of crashed builds and superseded generations (keeps the newest old one)."""
    gens = sorted((p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("gen-")), key=lambda p: p.stat().st_mtime)
    old = [p for p in gens if p.name != keep]
    for path in old[:-1] + [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]:
        shutil.rmtree(path, ignore_errors=True)


def ensure_index(settings: Settings, progress: bool = True, log=print) -> Index:
    """Load the index, building or refreshing it first if it is missing, stale or damaged."""
    index_dir = Path(settings.index_dir)
    corpus = load_corpus(settings.corpus_dir, settings.max_article_bytes)
    try:
        reason = stale_reason(read_manifest(index_dir), corpus, settings, resolve_model(settings.model)[1])
        if reason is None:
            return load_index(index_dir)
        log(f"index is out of date ({reason}); updating")
    except IndexMissing:
        log("no index yet; building it")
    except IndexCorrupt as exc:
        log(f"index is damaged ({exc}); rebuilding")
    try:
        build(settings, progress=progress, log=log)
    except (OSError, IndexBusy) as exc:  # read-only folder, full disk, a stuck builder
        return _fallback(index_dir, exc, log)
    return load_index(index_dir)


def _fallback(index_dir: Path, exc: Exception, log) -> Index:
    """The previous complete index, marked with a warning, when a rebuild could not be written."""
    old = _previous(index_dir)
    if old is None:
        raise exc
    old.warning = f"the index could not be updated ({exc}); answers come from the previous index"
    log(f"warning: {old.warning}")
    return old
