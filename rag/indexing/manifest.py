"""The index manifest as typed records, read from and written to manifest.json (format 2).

The manifest says what an index generation was built from (model, chunker settings, corpus
folder, each article's sha256) and holds a sha256 of every other file. `to_json` writes the keys
in the order format 2 has always used, so a manifest read and written again is the same JSON.
`stale_reason` compares a manifest with the corpus and settings of now: None means up to date.
"""
from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from rag.indexing.vectors import choose_kind
from rag.ingest.corpus import Corpus
from rag.settings import Settings

# 2: articles.json (stored article text) and manifest.sha256 were added.
FORMAT_VERSION = 2


def chunker_settings(settings: Settings) -> dict:
    """The settings that change chunks or vectors; any change means re-embedding."""
    out = {
        "chunk_tokens": settings.chunk_tokens,
        "overlap_sentences": settings.overlap_sentences,
        "model_max_tokens": settings.model_max_tokens,
        "tokenizer": "cl100k_base",
        # A later chunk is embedded after its article's title, as BM25 reads it (`Chunk.passage`);
        # indexes from before embedded the chunk alone, and are rebuilt.
        "passage_title": True,
    }
    # Recorded only when not "separate", so indexes built before the setting existed (all
    # separate) stay up to date, and any other value is never mistaken for them.
    if settings.sentence_vectors != "separate":
        out["sentence_vectors"] = settings.sentence_vectors
    return out


def lexical_settings() -> dict:
    """The BM25 constants and term analyser the lexical side is built with; a change rebuilds the
    index (its vectors are reused, so only chunks' BM25 is computed again)."""
    from rag.indexing.lexical import K1, B

    return {"bm25_k1": K1, "bm25_b": B, "accents": "folded"}


# Indexes from before the constants were recorded were built with bm25s's defaults.
EARLIER_LEXICAL = {"bm25_k1": 1.5, "bm25_b": 0.75}


@dataclass(frozen=True)
class ArticleEntry:
    """What the index records of one article; `path` is relative to the corpus folder."""

    title: str
    path: str
    sha256: str
    date: str | None
    encoding: str
    chars: int
    # Added after format 2 shipped, so optional: manifests without them read as plain text files.
    format: str = "text"  # "text" (.txt/.md), "pdf", "html" or "docx"
    pages: list[int] | None = None  # PDFs: where each page starts in the indexed text

    OPTIONAL = ("format", "pages")  # keys a manifest may lack (class attribute, not a field)

    @classmethod
    def from_json(cls, raw: dict) -> ArticleEntry:
        """The entry from its manifest object; TypeError/ValueError when keys are missing or extra."""
        data = _exact(cls, raw)
        if data.get("pages") is not None:
            data["pages"] = [int(p) for p in data["pages"]]
        return cls(**data)

    def to_json(self) -> dict:
        """The manifest object of this entry; optional fields at their default are left out, so a
        plain-text article's entry is what it was before they existed."""
        out = asdict(self)
        for name in self.OPTIONAL:
            if out[name] == ArticleEntry.__dataclass_fields__[name].default:
                del out[name]
        return out

    def page_of(self, offset: int) -> int | None:
        """The 1-based page holding character `offset` of the indexed text (PDFs), else None."""
        if not self.pages:
            return None
        return bisect.bisect_right(self.pages, offset) or 1


@dataclass(frozen=True)
class Counts:
    """How many articles, chunks (passages) and sentences an index holds."""

    articles: int
    chunks: int
    sentences: int

    @classmethod
    def from_json(cls, raw: dict) -> Counts:
        """The counts from their manifest object."""
        return cls(**_exact(cls, raw))

    def to_json(self) -> dict:
        """The manifest object of these counts."""
        return asdict(self)


@dataclass
class Manifest:
    """One index generation's manifest; `files` (relative path -> sha256) is filled in when written."""

    format: int
    created: str
    model_id: str
    dim: int
    chunker: dict
    corpus_dir: str
    vector_index: str
    counts: Counts
    articles: dict[str, ArticleEntry]
    skipped: list[dict]  # {"path", "reason"} per file the build left out
    files: dict[str, str] = field(default_factory=dict)
    # Added after format 2 shipped: a manifest without it was built with EARLIER_LEXICAL.
    lexical: dict = field(default_factory=lambda: dict(EARLIER_LEXICAL))

    OPTIONAL = ("lexical",)  # keys a manifest may lack (class attribute, not a field)

    @classmethod
    def from_json(cls, raw: dict) -> Manifest:
        """The manifest from manifest.json's object; TypeError/ValueError/AttributeError when malformed."""
        data = _exact(cls, raw)
        data["counts"] = Counts.from_json(data["counts"])
        data["articles"] = {d: ArticleEntry.from_json(a) for d, a in data["articles"].items()}
        return cls(**data)

    def to_json(self) -> dict:
        """manifest.json's object, keys in format 2's order."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["lexical"] == EARLIER_LEXICAL:
            del out["lexical"]  # as a manifest from before the key was written
        out["counts"] = self.counts.to_json()
        out["articles"] = {d: a.to_json() for d, a in self.articles.items()}
        return out

    @property
    def titles(self) -> dict[str, str]:
        """doc_id -> title of every indexed article."""
        return {d: a.title for d, a in self.articles.items()}

    def sha256s(self) -> dict[str, str]:
        """doc_id -> sha256 of the article text each was built from."""
        return {d: a.sha256 for d, a in self.articles.items()}


def stale_reason(manifest: Manifest, corpus: Corpus, settings: Settings, model_id: str) -> str | None:
    """Why an index built with `manifest` does not match this corpus and settings, or None."""
    if manifest.model_id != model_id:
        return "embedding model changed"
    if manifest.chunker != chunker_settings(settings):
        return "chunking settings changed"
    if manifest.lexical != lexical_settings():
        return "BM25 settings changed"
    if manifest.corpus_dir != str(Path(settings.corpus_dir).resolve()):
        return "corpus folder changed"
    built = manifest.sha256s()
    now = {a.doc_id: a.sha256 for a in corpus.articles}
    if built != now:
        added, removed = now.keys() - built.keys(), built.keys() - now.keys()
        changed = {d for d in now.keys() & built.keys() if now[d] != built[d]}
        return f"articles changed ({len(added)} added, {len(removed)} removed, {len(changed)} modified)"
    wanted = choose_kind(manifest.counts.chunks, settings.index_type, settings.flat_max)
    if manifest.vector_index != wanted:
        return f"vector index type changed to {wanted}"
    return None


def _exact(cls, raw: dict) -> dict:
    """`raw` as keyword arguments for `cls`, refusing missing or unknown keys (a damaged manifest)."""
    if not isinstance(raw, dict):
        raise TypeError(f"{cls.__name__} must be a JSON object")
    names = {f.name for f in fields(cls)}
    required = names - set(getattr(cls, "OPTIONAL", ()))
    missing = required - set(raw)
    extra = set(raw) - names
    if missing or extra:
        raise ValueError(f"{cls.__name__}: missing {sorted(missing)}, unknown {sorted(extra)}")
    return dict(raw)
