"""The sentence collection: each passage collection of `rag.milvus.sync` has a sentence collection
of the same configuration, filled and retired by the same per-article sync and made visible by
the same commit (the passage collection's `rag.sync` and `rag.sentences` properties), so a state
covers both and a reader filters both with `State.visible()`.

A row is one sentence of one article version: pk `art`.`num` (`num`: its number in the article,
0 = the title line), `art`, `sync`, doc id, char span, text, `after` (the article text between it
and the next sentence, so a run of sentences is rebuilt exactly: `text[start:end]` of the run),
its analysed terms, the chunk numbers it belongs to and its vector. A question's sentences are
fetched by primary key (`rag.milvus.reads`): on Milvus Lite `pk in [...]` took 14 ms for 300 rows
where `array_contains_any(chunks, ...)` took 240 ms.
"""
from __future__ import annotations

from collections.abc import Iterator

from rag.indexing.index import Index
from rag.milvus.client import VARCHAR_MAX, MilvusProblem

ALIAS = "rag_sentences"
FAMILY = "rag_sentences_"
# Chunk numbers a sentence row can list: with overlap_sentences at most 10, a sentence is in at most 11.
MAX_CHUNKS = 64


def collection_for(passages: str) -> str:
    """The sentence collection paired with passage collection `passages` (rag_flat_… -> rag_sentences_flat_…)."""
    return FAMILY + passages.removeprefix("rag_")


def sentence_key(art: str, num: int) -> str:
    """The primary key of sentence `num` of an article version."""
    return f"{art}.{num}"


def keyed_schema(client, number: str):
    """A schema with the fields both collections open with: pk, art (the article version), sync
    (the sync that wrote the row), doc id, the row's `number` in its article, and its char span."""
    from pymilvus import DataType

    s = client.create_schema(auto_id=False)
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
    s.add_field("art", DataType.VARCHAR, max_length=32)
    s.add_field("sync", DataType.INT64)
    s.add_field("doc_id", DataType.VARCHAR, max_length=VARCHAR_MAX)
    for name in (number, "start", "end"):
        s.add_field(name, DataType.INT64)
    return s


def schema(client, dim: int):
    """The sentence collection's fields."""
    from pymilvus import DataType

    s = keyed_schema(client, "num")
    s.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("after", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("terms", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.INT64, max_capacity=MAX_CHUNKS)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    return s


def index_params(client):
    """FLAT on the vector: never searched (rows are fetched by key), but Milvus loads a collection
    only when each vector field has an index."""
    p = client.prepare_index_params()
    p.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    return p


def sentence_spans(index: Index) -> dict[str, tuple[int, int]]:
    """doc_id -> (first, last) sentence row of each article (an article's sentences are consecutive rows)."""
    out: dict[str, tuple[int, int]] = {}
    for sid, s in enumerate(index.sentences):
        out[s.doc_id] = (out.get(s.doc_id, (sid, sid))[0], sid)
    return out


def passage_ranges(index: Index) -> list[tuple[int, int]]:
    """(first, last) sentence number, within its article, of each passage row."""
    return [(ids[0] - index.first_sentence_of(c.doc_id), ids[-1] - index.first_sentence_of(c.doc_id))
            for c, ids in zip(index.chunks, index.chunk_sentences)]


def _chunks_of(index: Index) -> dict[int, list[int]]:
    """sentence row -> the chunk numbers it belongs to."""
    out: dict[int, list[int]] = {}
    for c, ids in zip(index.chunks, index.chunk_sentences):
        for sid in ids:
            out.setdefault(sid, []).append(c.chunk_no)
    return out


def rows(index: Index, articles: dict[str, str], sync_no: int) -> Iterator[dict]:
    """The sentence rows of `articles` (article key -> doc id) for sync `sync_no`, one article
    after another (a generator: a first fill of a large index is inserted batch by batch)."""
    spans, chunks_of = sentence_spans(index), _chunks_of(index)
    for art, doc_id in articles.items():
        first, last = spans[doc_id]
        text = index.texts[doc_id]
        for sid in range(first, last + 1):
            s = index.sentences[sid]
            after = text[s.end:index.sentences[sid + 1].start] if sid < last else ""
            if len(after.encode("utf-8")) > VARCHAR_MAX:  # would be cut by Milvus, breaking exact spans
                raise MilvusProblem(f"{doc_id!r}: {len(after):,} characters between two sentences do not fit a Milvus row")
            yield {"pk": sentence_key(art, sid - first), "art": art, "sync": sync_no, "doc_id": doc_id,
                   "num": sid - first, "start": s.start, "end": s.end, "text": s.text, "after": after,
                   "terms": " ".join(sorted(index.sentence_terms[sid])), "chunks": chunks_of.get(sid, []),
                   "vector": index.sentence_vectors[sid].tolist()}
