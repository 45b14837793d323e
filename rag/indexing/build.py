"""Building the index, step by step: read the corpus, plan what to reuse, chunk, embed, assemble;
and `ensure_index`, which loads it, building it first when it is missing, stale or damaged.

`build` is the pipeline; each step is a function of its own. An article whose text, the model and
the chunker settings are unchanged keeps its rows and vectors from the previous index, so editing
one article re-embeds only that one. The result is handed to `rag.indexing.store.write_generation`, which
writes it atomically; this module never touches the index folder itself.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.embedding.model import Embedder, get_embedder, resolve_model
from rag.indexing.chunking import Chunk, chunk_article
from rag.indexing.index import Index
from rag.indexing.manifest import (
    FORMAT_VERSION,
    ArticleEntry,
    Counts,
    Manifest,
    chunker_settings,
    lexical_settings,
    stale_reason,
)
from rag.indexing.sentences import Sentence
from rag.indexing.store import (
    IndexBusy,
    IndexCorrupt,
    IndexMissing,
    build_lock,
    check_rows,
    load_index,
    previous,
    read_manifest,
    write_generation,
)
from rag.indexing.tokens import count_tokens
from rag.indexing.vectors import choose_kind
from rag.ingest.corpus import Article, Corpus, load_corpus
from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did: how many articles, which were re-embedded or reused, where the index is."""

    articles: int
    skipped: list
    notes: list
    embedded_articles: list[str]
    reused_articles: list[str]
    chunks: int
    sentences: int
    seconds: float
    folder: Path


@dataclass
class Rows:
    """The new index's rows, and where each row's vector comes from.

    A source is ("old", row in the previous index) or ("new", position in `to_embed`).
    """

    chunks: list[Chunk] = field(default_factory=list)
    chunk_sentences: list[list[int]] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    chunk_src: list[tuple[str, int]] = field(default_factory=list)
    sent_src: list[tuple[str, int]] = field(default_factory=list)
    to_embed: list[str] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)  # doc_ids chunked and embedded afresh
    reused: list[str] = field(default_factory=list)  # doc_ids whose rows and vectors were kept


@dataclass
class Reuse:
    """What this build may take from the previous index (nothing when `old` is None)."""

    old: Index | None = None
    rows_by_doc: dict[str, list[int]] = field(default_factory=dict)

    def rows_of(self, article: Article) -> list[int]:
        """The previous index's chunk rows of `article` when its text is unchanged, else []."""
        rows = self.rows_by_doc.get(article.doc_id, [])
        if rows and self.old.manifest.articles[article.doc_id].sha256 == article.sha256:
            return rows
        return []


def build(settings: Settings, progress: bool = True, force: bool = False, embedder: Embedder | None = None) -> BuildReport:
    """Build the index for `settings.corpus_dir`, re-embedding only articles that changed.

    An index that is intact and up to date is left as it is unless `force` is set. `embedder`
    replaces the `settings.model` one (anything with Embedder's encode, count_tokens, dim,
    max_tokens and model_id: the fast tests pass a deterministic one).
    """
    index_dir = Path(settings.index_dir)
    with build_lock(index_dir):
        return _build_locked(settings, index_dir, progress, force, embedder)


def _build_locked(settings: Settings, index_dir: Path, progress: bool, force: bool, embedder: Embedder | None) -> BuildReport:
    """The pipeline, run while holding the build lock."""
    t0 = time.perf_counter()
    corpus = read_corpus(settings)
    model_id = embedder.model_id if embedder is not None else resolve_model(settings.model)[1]
    old = previous(index_dir)
    if old is not None and not force and stale_reason(old.manifest, corpus, settings, model_id) is None:
        log.info("index is up to date")
        counts = old.manifest.counts
        return BuildReport(len(corpus.articles), corpus.skipped, corpus.notes, [], [a.doc_id for a in corpus.articles],
                           counts.chunks, counts.sentences, time.perf_counter() - t0, old.folder)
    embedder = embedder or get_embedder(settings.model, settings.batch_size, build_runtime(settings))
    reuse = plan_reuse(old, settings, embedder)
    rows = chunk_corpus(corpus, reuse, settings, embedder)
    chunk_vectors, sentence_vectors = embed_rows(rows, reuse, embedder, progress, settings.sentence_vectors)
    manifest = assemble_manifest(corpus, settings, embedder, rows)
    texts = {a.doc_id: a.text for a in corpus.articles}
    # By construction every row comes from an article of this corpus; checked, since a stray row
    # would be cited with text `/source` does not show.
    check_rows(manifest, texts, rows.chunks, rows.sentences)
    folder = write_generation(index_dir, manifest, texts, rows.chunks, rows.chunk_sentences, rows.sentences,
                              chunk_vectors, sentence_vectors)
    return BuildReport(
        articles=len(corpus.articles),
        skipped=corpus.skipped,
        notes=corpus.notes,
        embedded_articles=rows.embedded,
        reused_articles=rows.reused,
        chunks=len(rows.chunks),
        sentences=len(rows.sentences),
        seconds=time.perf_counter() - t0,
        folder=folder,
    )


def build_runtime(settings: Settings) -> str:
    """The embedding runtime of a build: the setting's, except late chunking, which needs torch's
    token embeddings."""
    return settings.build_runtime if settings.sentence_vectors == "separate" else "torch"


def read_corpus(settings: Settings) -> Corpus:
    """Step 1: the corpus, each skipped file and note logged; ValueError when no article is usable."""
    corpus = load_corpus(settings.corpus_dir, settings.max_article_bytes, settings.max_upload_bytes)
    for s in corpus.skipped:
        log.info(f"skipped {s.name}: {s.reason}")
    for note in corpus.notes:
        log.info(f"note: {note}")
    if not corpus.articles:
        raise ValueError(f"no usable articles in {settings.corpus_dir}: {corpus.summary()}")
    return corpus


def plan_reuse(old: Index | None, settings: Settings, embedder: Embedder) -> Reuse:
    """Step 2: the previous index's chunk rows by article, when its vectors can be kept at all.

    Vectors are reusable only when the previous index used the same model and chunker settings;
    whether an article's own text is unchanged is decided per article (`Reuse.rows_of`).
    """
    if old is None or old.manifest.model_id != embedder.model_id or old.manifest.chunker != chunker_settings(settings):
        return Reuse()
    reuse = Reuse(old)
    for row, c in enumerate(old.chunks):
        reuse.rows_by_doc.setdefault(c.doc_id, []).append(row)
    return reuse


def chunk_corpus(corpus: Corpus, reuse: Reuse, settings: Settings, embedder: Embedder) -> Rows:
    """Step 3: every article's chunks and sentences, kept from the previous index when its text is unchanged."""
    rows = Rows()
    for article in corpus.articles:
        old_rows = reuse.rows_of(article)
        if old_rows:
            _keep_rows(rows, reuse.old, old_rows, article.doc_id)
        else:
            _add_chunks(rows, article, _chunks_fitting_model(article, settings, embedder))
    return rows


def _keep_rows(rows: Rows, old: Index, old_rows: list[int], doc_id: str) -> None:
    """Copy an unchanged article's chunks and sentences from the previous index, renumbering sentences."""
    rows.reused.append(doc_id)
    sent_map: dict[int, int] = {}
    for row in old_rows:
        ids = []
        for sid in old.chunk_sentences[row]:
            if sid not in sent_map:
                sent_map[sid] = len(rows.sentences)
                rows.sentences.append(old.sentences[sid])
                rows.sent_src.append(("old", sid))
            ids.append(sent_map[sid])
        rows.chunks.append(old.chunks[row])
        rows.chunk_sentences.append(ids)
        rows.chunk_src.append(("old", row))


def _add_chunks(rows: Rows, article: Article, chunks: list[Chunk]) -> None:
    """Add a new or changed article's chunks; each distinct sentence and each chunk is queued for embedding."""
    rows.embedded.append(article.doc_id)
    row_of: dict[Sentence, int] = {}  # a sentence in two overlapping chunks is one row
    for chunk in chunks:
        ids = []
        for sentence in chunk.sentences:
            if sentence not in row_of:
                row_of[sentence] = len(rows.sentences)
                rows.sentences.append(sentence)
                rows.sent_src.append(("new", len(rows.to_embed)))
                rows.to_embed.append(sentence.text)
            ids.append(row_of[sentence])
        rows.chunks.append(chunk)
        rows.chunk_sentences.append(ids)
        rows.chunk_src.append(("new", len(rows.to_embed)))
        rows.to_embed.append(chunk.passage)


def _chunks_fitting_model(article: Article, settings: Settings, embedder: Embedder) -> list[Chunk]:
    """Chunk an article; shrink the token budget until every chunk fits the model's window."""
    budget = settings.chunk_tokens
    window = min(settings.model_max_tokens, embedder.max_tokens)
    while True:
        chunks = chunk_article(article, count_tokens, budget, settings.overlap_sentences)
        if all(embedder.count_tokens(c.passage) <= window for c in chunks) or budget <= 16:
            return chunks
        budget = int(budget * 0.75)


def embed_rows(rows: Rows, reuse: Reuse, embedder: Embedder, progress: bool,
               sentence_vectors: str = "separate") -> tuple[np.ndarray, np.ndarray]:
    """Step 4: (chunk vectors, sentence vectors), new texts embedded in one batch run, the rest copied.

    `sentence_vectors` "separate" encodes each new sentence on its own; "pooled" and
    "pooled-first" take it from the chunk pass (`late_chunk_vectors`).
    """
    if sentence_vectors == "separate":
        if rows.to_embed:
            log.info(f"embedding {len(rows.to_embed)} passages and sentences from {len(rows.embedded)} article(s)")
        new_vectors = embedder.encode(rows.to_embed, progress=progress)
    else:
        new_vectors = late_chunk_vectors(rows, embedder, progress, first_only=sentence_vectors == "pooled-first")
    old = reuse.old

    def gather(src: list[tuple[str, int]], old_vectors: np.ndarray | None) -> np.ndarray:
        out = np.zeros((len(src), embedder.dim), dtype=np.float32)
        for i, (where, j) in enumerate(src):
            out[i] = old_vectors[j] if where == "old" else new_vectors[j]
        return out

    return (gather(rows.chunk_src, old.chunk_vectors if old is not None else None),
            gather(rows.sent_src, old.sentence_vectors if old is not None else None))


def late_chunk_vectors(rows: Rows, embedder: Embedder, progress: bool, first_only: bool = False) -> np.ndarray:
    """The vectors of `rows.to_embed` from one pass over the new chunks ("late chunking").

    A chunk's vector is its usual embedding; a sentence's is the mean of the chunk pass's token
    embeddings inside it, averaged over every chunk that holds it whole (overlap puts a sentence
    in two), or taken from the first such chunk when `first_only`. A sentence no chunk pass
    covered (truncated by the model's window) is encoded on its own.
    """
    new = [(row, j) for row, (where, j) in enumerate(rows.chunk_src) if where == "new"]
    if new:
        log.info(f"embedding {len(new)} passages from {len(rows.embedded)} article(s), sentences pooled from them")
    texts = [rows.chunks[row].passage for row, _ in new]
    # A sentence's offsets inside what the model reads: past the title a later chunk opens with.
    shift = [len(t) - len(rows.chunks[row].text) - rows.chunks[row].start for t, (row, _) in zip(texts, new)]
    spans = [[(rows.sentences[s].start + d, rows.sentences[s].end + d) for s in rows.chunk_sentences[row]]
             for d, (row, _) in zip(shift, new)]
    chunk_vectors, pooled = embedder.encode_spans(texts, spans, progress)
    out = np.zeros((len(rows.to_embed), embedder.dim), dtype=np.float32)
    by_sentence: dict[int, list[np.ndarray]] = {}  # sentence row -> its vectors, in chunk order
    for (row, j), vector, per_span in zip(new, chunk_vectors, pooled):
        out[j] = vector
        for s, v in zip(rows.chunk_sentences[row], per_span):
            if v is not None:
                by_sentence.setdefault(s, []).append(v)
    alone = []  # (position in to_embed, sentence text) of sentences no chunk pass covered
    for s, (where, j) in enumerate(rows.sent_src):
        if where != "new":
            continue
        got = by_sentence.get(s)
        if not got:
            alone.append((j, rows.sentences[s].text))
            continue
        mean = got[0] if first_only else np.mean(got, axis=0)
        out[j] = mean / np.linalg.norm(mean)
    if alone:
        log.info(f"{len(alone)} sentence(s) cut by the model's window: encoded on their own")
        out[[j for j, _ in alone]] = embedder.encode([t for _, t in alone])
    return out


def assemble_manifest(corpus: Corpus, settings: Settings, embedder: Embedder, rows: Rows) -> Manifest:
    """Step 5: the manifest of the new index (its file checksums are added when it is written)."""
    return Manifest(
        format=FORMAT_VERSION,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        model_id=embedder.model_id,
        dim=embedder.dim,
        chunker=chunker_settings(settings),
        lexical=lexical_settings(),
        corpus_dir=str(Path(settings.corpus_dir).resolve()),
        vector_index=choose_kind(len(rows.chunks), settings.index_type, settings.flat_max),
        counts=Counts(articles=len(corpus.articles), chunks=len(rows.chunks), sentences=len(rows.sentences)),
        articles={
            a.doc_id: ArticleEntry(
                title=a.title,
                path=a.path.relative_to(settings.corpus_dir).as_posix(),
                sha256=a.sha256,
                date=a.date,
                encoding=a.encoding,
                chars=len(a.text),
                format=a.format,
                pages=list(a.pages) if a.pages is not None else None,
            )
            for a in corpus.articles
        },
        skipped=[{"path": s.name, "reason": s.reason} for s in corpus.skipped],
    )


# ---------------------------------------------------------------- load, or build first


def ensure_index(settings: Settings, progress: bool = True) -> Index:
    """Load the index, building or refreshing it first if it is missing, stale or damaged."""
    index_dir = Path(settings.index_dir)
    corpus = load_corpus(settings.corpus_dir, settings.max_article_bytes, settings.max_upload_bytes)
    try:
        reason = stale_reason(read_manifest(index_dir), corpus, settings, resolve_model(settings.model)[1])
        if reason is None:
            return load_index(index_dir)
        log.info(f"index is out of date ({reason}); updating")
    except IndexMissing:
        log.info("no index yet; building it")
    except IndexCorrupt as exc:
        log.info(f"index is damaged ({exc}); rebuilding")
    try:
        build(settings, progress=progress)
    except (OSError, IndexBusy) as exc:  # read-only folder, full disk, a stuck builder
        return _fallback(index_dir, exc)
    return load_index(index_dir)


def _fallback(index_dir: Path, exc: Exception) -> Index:
    """The previous complete index, marked with a warning, when a rebuild could not be written."""
    old = previous(index_dir)
    if old is None:
        raise exc
    old.warning = f"the index could not be updated ({exc}); answers come from the previous index"
    log.warning(f"warning: {old.warning}")
    return old
