"""Milvus as the search engine: passages of the local index synced into a Milvus collection
(Milvus Lite for a file path, a server for http(s)://), dense and BM25 searches sent to it.

This slice keeps the local index as the source of rows, texts and sentence vectors (the answer
layer reads them from there); Milvus ranks passage rows. Each index generation gets its own
collection, filled completely before the alias `ALIAS` is switched to it, so an interrupted sync
leaves the previous collection answering. Fusion stays ours (rag/retrieval.py), so convex and RRF
behave the same on both backends.
"""
from __future__ import annotations

import logging
import re

import numpy as np

from rag.errors import RagError
from rag.index import Index
from rag.vectors import HNSW_EF_CONSTRUCTION, HNSW_M, choose_kind, hnsw_ef_search

log = logging.getLogger("rag")

ALIAS = "rag_passages"
PREFIX = "rag_"
BATCH = 1000
VARCHAR_MAX = 65535
# bm25s's defaults (method "lucene"), so Milvus scores passages with the same BM25 constants.
BM25_K1, BM25_B = 1.5, 0.75


class _LiteNoise(logging.Filter):
    """Drops grpc's ERROR for the one call Milvus Lite does not implement: pymilvus 3.0.2 asks for
    AllocTimestamp on create_collection, Lite answers "Method not implemented", the client carries
    on and the collection is fine; left alone it prints two tracebacks per build."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Method not implemented" not in record.getMessage()


logging.getLogger("grpc._server").addFilter(_LiteNoise())


class MilvusProblem(RagError):
    """Milvus cannot be reached, or holds a collection this index cannot use."""


def collection_name(index: Index) -> str:
    """The collection of an index generation: its folder name made safe for Milvus."""
    return PREFIX + re.sub(r"\W", "_", index.folder.name)


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def shown(uri: str) -> str:
    """`uri` fit for a message: credentials written into it (user:password@) are masked."""
    return re.sub(r"//[^/@]*@", "//***@", str(uri))


def is_server(uri: str) -> bool:
    """Whether `uri` names a Milvus server (anything else is a Milvus Lite file)."""
    return str(uri).startswith(("http://", "https://", "tcp://", "unix:"))


def connect(settings):
    """A MilvusClient for `milvus_uri` (a file path opens Milvus Lite in this process); the token
    is passed to the client only and never appears in a message."""
    from pymilvus import MilvusClient

    uri, token = settings.milvus_uri, settings.milvus_token
    if not uri:
        raise MilvusProblem("backend 'milvus' needs RAG_MILVUS_URI (a .db file path for Milvus Lite, or http://host:19530)")
    if not is_server(uri) and not str(uri).endswith(".db"):  # pymilvus reads only *.db as Milvus Lite
        raise MilvusProblem(f"RAG_MILVUS_URI {shown(uri)!r}: a Milvus Lite database path must end in .db (or give http://host:19530)")
    try:
        return MilvusClient(uri=str(uri), token=token) if token else MilvusClient(uri=str(uri))
    except Exception as exc:  # pymilvus raises several types for a bad URI, a lock or a dead server
        raise MilvusProblem(f"cannot open Milvus at {shown(uri)}: {_scrub(shown(f'{type(exc).__name__}: {exc}'), token)}") from None


def expected_properties(index: Index) -> dict[str, str]:
    """What a collection built from `index` records about itself (compared when it is reopened)."""
    return {"rag.model_id": index.manifest.model_id, "rag.dim": str(int(index.chunk_vectors.shape[1])),
            "rag.generation": index.folder.name, "rag.rows": str(len(index.chunks))}


def check_collection(client, name: str, index: Index) -> None:
    """Raise MilvusProblem if collection `name` was not built from `index` (model, dimension, rows)."""
    found = client.describe_collection(name).get("properties", {}) or {}
    want = expected_properties(index)
    wrong = [f"{k[4:]} {found.get(k)!r} (this index: {v!r})" for k, v in want.items() if found.get(k) != v]
    if wrong:
        raise MilvusProblem(f"Milvus collection {name!r} was built for another index: " + "; ".join(wrong)
                            + ". Rebuild it (rag index with RAG_BACKEND=milvus) or point RAG_MILVUS_URI elsewhere.")


def _schema(client, dim: int):
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    s.add_field("doc_id", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("chunk_no", DataType.INT64)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("title", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
    # BM25 reads our own analysed terms (rag.lexical.terms: Snowball stems, stop words out), joined
    # by spaces, so both engines see the same terms; Lite offers no whitespace tokenizer, and the
    # standard one splits exactly there since a term is word characters only.
    s.add_field("terms", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"})
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                            input_field_names=["terms"], output_field_names=["sparse"]))
    return s


def _index_params(client, n_rows: int, settings):
    p = client.prepare_index_params()
    # The same choice as the local FAISS index: exact search while that is fast enough.
    if choose_kind(n_rows, settings.index_type, settings.flat_max) == "flat":
        p.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    else:  # build parameters must be nested under "params" or Milvus ignores them silently
        p.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                    params={"params": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}})
    p.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                params={"params": {"bm25_k1": BM25_K1, "bm25_b": BM25_B}})
    return p


def _rows(index: Index, start: int, stop: int) -> list[dict]:
    from rag.lexical import passage_text, terms

    out = []
    for row in range(start, stop):
        c = index.chunks[row]
        out.append({"row": row, "doc_id": c.doc_id, "chunk_no": c.chunk_no, "start": c.start, "end": c.end,
                    "title": c.title, "text": c.text, "terms": " ".join(terms(passage_text(c.title, c.text, c.chunk_no))),
                    "vector": index.chunk_vectors[row].tolist()})
    return out


def alias_target(client) -> str | None:
    """The collection `ALIAS` points at, or None."""
    # Asked by listing: describe_alias on a missing alias makes pymilvus log an ERROR with a traceback.
    if ALIAS not in client.list_aliases().get("aliases", []):
        return None
    return client.describe_alias(ALIAS)["collection_name"]


def sync(client, index: Index, settings) -> str:
    """Make `ALIAS` point at a complete collection of `index`'s passages; returns its name.

    Nothing is written when the alias already points at this generation's collection. Otherwise
    the generation's collection is (re)built from scratch, then the alias is switched and
    collections older than the previous one dropped: a sync cut short leaves the alias on the
    previous, complete collection.
    """
    name = collection_name(index)
    if alias_target(client) == name:
        check_collection(client, name, index)
        return name
    if client.has_collection(name):  # a leftover of an interrupted sync
        client.drop_collection(name)
    n = len(index.chunks)
    client.create_collection(name, schema=_schema(client, int(index.chunk_vectors.shape[1])),
                             index_params=_index_params(client, n, settings))
    for start in range(0, n, BATCH):
        client.insert(name, _rows(index, start, min(n, start + BATCH)))
    client.flush(name)
    client.alter_collection_properties(name, properties=expected_properties(index))
    previous = alias_target(client)
    if previous is None:
        client.create_alias(name, ALIAS)
    else:
        client.alter_alias(name, ALIAS)
    # The previous collection is kept, as the local store keeps the previous generation: a request
    # that took the old retriever just before a live swap still searches a collection that exists.
    for old in client.list_collections():
        if old.startswith(PREFIX) and old not in (name, previous):
            client.drop_collection(old)
    log.info(f"Milvus: {n} passages synced into {name}")
    return name


class MilvusBackend:
    """Dense and BM25 rankings of passage rows, answered by a Milvus collection."""

    def __init__(self, client, name: str, n_rows: int, uri: str):
        self.client = client
        self.uri = uri
        self.name = name
        self.n_rows = n_rows
        self.ef = hnsw_ef_search(n_rows)
        self.client.load_collection(name)  # needed after reopening a database, harmless otherwise

    def close(self) -> None:
        """Close the client and, for Milvus Lite, stop the in-process Lite server, which holds the
        database's lock until then (another process cannot open the file before)."""
        self.client.close()
        if not is_server(self.uri):
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(str(self.uri))

    def dense_search(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Top-n (row, cosine) from the collection's vector index."""
        n = min(n, self.n_rows)
        if n <= 0:
            return []
        hits = self.client.search(self.name, [np.asarray(qvec, dtype=np.float32).tolist()], anns_field="vector",
                                  limit=n, output_fields=["row"],
                                  search_params={"metric_type": "IP", "params": {"ef": max(self.ef, n)}})[0]
        return [(int(h["entity"]["row"]), float(h["distance"])) for h in hits]

    def _bm25(self, query_terms: list[str], n: int, filter: str = "") -> list[tuple[int, float]]:
        text = " ".join(query_terms)
        if not text or n <= 0:
            return []
        hits = self.client.search(self.name, [text], anns_field="sparse", limit=n, output_fields=["row"],
                                  filter=filter, search_params={"metric_type": "BM25"})[0]
        # Milvus Lite returns BM25 scores negated (a server returns them positive): BM25 is never
        # negative, so the magnitude is the score either way.
        return [(int(h["entity"]["row"]), abs(float(h["distance"]))) for h in hits]

    def lexical_search(self, query_terms: list[str], n: int) -> list[tuple[int, float]]:
        """Top-n (row, BM25 > 0) from the collection's BM25 index, best first."""
        return [(r, s) for r, s in self._bm25(query_terms, min(n, self.n_rows)) if s > 0]

    def lexical_scores(self, query_terms: list[str], rows: list[int]) -> dict[int, float]:
        """BM25 of `rows` (rows without a query term score 0), by a search filtered to them."""
        if not rows:
            return {}
        found = dict(self._bm25(query_terms, len(rows), filter=f"row in {sorted(set(int(r) for r in rows))}"))
        return {r: found.get(r, 0.0) for r in rows}


def open_milvus(settings, index: Index) -> MilvusBackend:
    """Connect, sync `index` into Milvus if the alias is not on it yet, and return the backend."""
    client = connect(settings)
    name = sync(client, index, settings)
    return MilvusBackend(client, name, len(index.chunks), str(settings.milvus_uri))


def attach(settings, index: Index) -> MilvusBackend:
    """The backend over the collection `ALIAS` already points at, checked against `index`, without
    writing (for a process that shares a collection another one keeps in sync)."""
    client = connect(settings)
    name = alias_target(client)
    if name is None:
        raise MilvusProblem(f"Milvus at {shown(settings.milvus_uri)} holds no {ALIAS!r} collection yet; build it first")
    check_collection(client, name, index)
    return MilvusBackend(client, name, len(index.chunks), str(settings.milvus_uri))
