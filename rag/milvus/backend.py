"""Milvus as the search engine: passages and sentences of the local index synced into two Milvus
collections (Milvus Lite for a file path, a server for http(s)://; `rag.milvus.client`), dense
and BM25 searches sent to it. How a sync works, and why it survives interruption: `rag.milvus.sync`.

Milvus ranks passages, which a backend maps back to its generation's local rows (passage rows,
their vectors and the manifest stay local); the sentences the answer layer reads for a question
come from Milvus, fetched by one query (`sentences`, `rag.milvus.reads.SentenceRows`).
Fusion stays ours (rag/retrieval/retriever.py) by default, so convex and RRF behave the same on both
backends; `RAG_MILVUS_FUSION=engine` lets Milvus fuse instead (`MilvusBackend.hybrid_search`).
"""
from __future__ import annotations

import json
import logging

import numpy as np

from rag.indexing.index import Index
from rag.indexing.vectors import hnsw_ef_search
from rag.milvus.client import MilvusProblem, connect, disconnect, engine_errors, failure, shown
from rag.milvus.reads import SentenceRows
from rag.milvus.sentences import passage_ranges
from rag.milvus.sync import ALIAS, State, alias_target, check_collection, read_state, row_keys, sync

log = logging.getLogger("rag")
SENTENCE_FIELDS = ["art", "doc_id", "num", "start", "end", "text", "after", "terms", "vector"]


class MilvusBackend:
    """Dense and BM25 rankings of one index generation's passage rows, and the sentences of those
    passages, answered by a pair of Milvus collections seen through that generation's committed state."""

    def __init__(self, client, name: str, index: Index, uri: str, state: State):
        self.client = client
        self.uri = uri
        self.name = name
        self.state = state
        self.index = index
        self.sentences_name = state.sentences
        self.n_rows = len(index.chunks)
        self.ef = hnsw_ef_search(self.n_rows)
        self.keys = row_keys(index)
        self.row_of = {k: r for r, k in enumerate(self.keys)}
        # Each passage row's article key and sentence numbers: all a question needs to name its sentence rows.
        self._located = [(k.split(".")[0], lo, hi) for k, (lo, hi) in zip(self.keys, passage_ranges(index))]
        self.visible = state.visible()
        self.closed = False
        for c in (name, self.sentences_name):
            self.client.load_collection(c)  # needed after reopening a database, harmless otherwise

    def close(self) -> None:
        """Close the client; for Milvus Lite the file's in-process server is stopped after the
        process's last client (it holds the file's lock until then). Idempotent."""
        if not self.closed:
            self.closed = True
            disconnect(self.client, self.uri)

    def sentences(self, rows: list[int]) -> SentenceRows:
        """The sentence reads of passage `rows` (and any read later), from one query of the
        sentence collection under this backend's state."""
        return SentenceRows(self.index, self._located.__getitem__, self._fetch_sentences, rows)

    def _fetch_sentences(self, keys: list[str]) -> list[dict]:
        """The visible sentence rows of `keys` (hex and digits only: safe in an expression)."""
        return self.client.query(self.sentences_name, filter=f"{self.visible} and pk in {json.dumps(keys)}",
                                 output_fields=SENTENCE_FIELDS)

    def _to_rows(self, hits, score) -> list[tuple[int, float]]:
        """(local row, score) of each hit; a key this generation does not know cannot pass the
        state filter, so none is expected (skipped rather than cited)."""
        out = [(self.row_of.get(h["pk"]), score(h)) for h in hits]
        return [(r, s) for r, s in out if r is not None]

    def _dense_params(self, n: int) -> dict:
        """Search parameters of a dense request for `n` hits (HNSW's ef at least `n`)."""
        return {"metric_type": "IP", "params": {"ef": max(self.ef, n)}}

    def dense_search(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Top-n (row, cosine) from the collection's vector index."""
        n = min(n, self.n_rows)
        if n <= 0:
            return []
        hits = self.client.search(self.name, [np.asarray(qvec, dtype=np.float32).tolist()], anns_field="vector",
                                  limit=n, output_fields=["pk"], filter=self.visible,
                                  search_params=self._dense_params(n))[0]
        return self._to_rows(hits, lambda h: float(h["distance"]))

    def _bm25(self, query_terms: list[str], n: int, filter: str) -> list[tuple[int, float]]:
        text = " ".join(query_terms)
        if not text or n <= 0:
            return []
        hits = self.client.search(self.name, [text], anns_field="sparse", limit=n, output_fields=["pk"],
                                  filter=filter, search_params={"metric_type": "BM25"})[0]
        # Milvus Lite returns BM25 scores negated (a server returns them positive): BM25 is never
        # negative, so the magnitude is the score either way.
        return self._to_rows(hits, lambda h: abs(float(h["distance"])))

    def hybrid_search(self, qvec: np.ndarray, query_terms: list[str], k: int, dense_n: int, lexical_n: int,
                      rrf_k: int) -> list[tuple[int, float]]:
        """Top-k (row, RRF score) from one hybrid_search: the dense top-`dense_n` and the BM25
        top-`lexical_n` (the same requests as `dense_search` and `lexical_search`) fused by the
        engine's RRFRanker(rrf_k)."""
        from pymilvus import AnnSearchRequest, RRFRanker  # imported with the backend, like connect's

        dense_n, lexical_n = min(dense_n, self.n_rows), min(lexical_n, self.n_rows)
        if dense_n <= 0 or k <= 0:
            return []
        reqs = [AnnSearchRequest([np.asarray(qvec, dtype=np.float32).tolist()], "vector", self._dense_params(dense_n),
                                 dense_n, filter=self.visible)]
        text = " ".join(query_terms)
        if text and lexical_n > 0:  # no analysed term: nothing for BM25 to match, dense alone ranks
            reqs.append(AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, lexical_n, filter=self.visible))
        hits = self.client.hybrid_search(self.name, reqs, RRFRanker(rrf_k), limit=k, output_fields=["pk"])[0]
        return self._to_rows(hits, lambda h: float(h["distance"]))

    def lexical_search(self, query_terms: list[str], n: int) -> list[tuple[int, float]]:
        """Top-n (row, BM25 > 0) from the collection's BM25 index, best first."""
        return [(r, s) for r, s in self._bm25(query_terms, min(n, self.n_rows), self.visible) if s > 0]

    def lexical_scores(self, query_terms: list[str], rows: list[int]) -> dict[int, float]:
        """BM25 of `rows` (rows without a query term score 0), by a search filtered to them."""
        if not rows:
            return {}
        keys = sorted({self.keys[int(r)] for r in rows})
        found = dict(self._bm25(query_terms, len(keys), f"{self.visible} and pk in {json.dumps(keys)}"))
        return {r: found.get(r, 0.0) for r in rows}


def _quietly_disconnect(client, settings) -> None:
    """Close a client after a failure; a second failure while closing must not hide the first."""
    try:
        disconnect(client, str(settings.milvus_uri))
    except Exception as exc:  # the server may be gone: nothing left to release there
        log.debug(f"closing the Milvus client failed too: {type(exc).__name__}")


def _with_new_client(settings, doing: str, work):
    """(client, work(client)) on a new client; if `work` fails the client is closed, and an engine
    error becomes the clear MilvusProblem saying what could not be done (`doing`)."""
    client = connect(settings)
    try:
        return client, work(client)
    except engine_errors() as exc:
        _quietly_disconnect(client, settings)
        raise failure(settings, exc, doing) from None
    except BaseException:
        _quietly_disconnect(client, settings)
        raise


def open_milvus(settings, index: Index) -> MilvusBackend:
    """Connect, sync `index` into Milvus (nothing is written when it is there already) and return the backend."""
    client, report = _with_new_client(settings, "sync the index into", lambda c: sync(c, index, settings))
    return MilvusBackend(client, report.name, index, str(settings.milvus_uri), report.state)


def attach(settings, index: Index) -> MilvusBackend:
    """The backend over the collection `ALIAS` already points at, checked against `index`, without
    writing (for a process that shares a collection another one keeps in sync)."""
    def collection(client) -> tuple[str, State]:
        name = alias_target(client)
        if name is None:
            raise MilvusProblem(f"Milvus at {shown(settings.milvus_uri)} holds no {ALIAS!r} collection yet; build it first")
        return name, check_collection(client, name, index)

    client, (name, state) = _with_new_client(settings, "read the collection of", collection)
    return MilvusBackend(client, name, index, str(settings.milvus_uri), state)


def attach_previous(settings, index_dir, failed: str) -> tuple[Index, MilvusBackend] | None:
    """(index, backend) answering from the state the alias still commits to, over the generation
    of `index_dir` that state was synced from, when a sync of generation `failed` could not
    finish; None when there is no such pair (Milvus unreachable, nothing committed yet, or that
    generation no longer kept on disk). Writes nothing."""
    from rag.indexing.store import IndexProblem, load_index

    try:
        client = connect(settings)
    except MilvusProblem:
        return None
    try:
        name = alias_target(client)
        state = read_state(client, name) if name else None
        if state is None or state.generation in ("", failed):
            raise LookupError("no earlier committed state")
        index = load_index(index_dir, generation=state.generation)
        backend = MilvusBackend(client, name, index, str(settings.milvus_uri), check_collection(client, name, index))
    except (LookupError, IndexProblem, MilvusProblem, *engine_errors()) as exc:
        log.debug(f"no previous Milvus state to answer from: {type(exc).__name__}")
        _quietly_disconnect(client, settings)
        return None
    except BaseException:
        _quietly_disconnect(client, settings)
        raise
    return index, backend
