"""Syncing the local index's passages and sentences into Milvus (see `rag.milvus.backend`).

Sync, per article. One collection per configuration (model, dimension, chunker, vector index
kind); the alias `ALIAS` points at it. Milvus rows are keyed by article version, not by local row
number: `art` = hash(doc id, article sha256), `pk` = art + chunk number. A rebuild renumbers local
rows but leaves an unchanged article's key alone, so its Milvus rows stay valid and are never
rewritten; a backend maps a hit's key to its own row at load. Sentence rows live in a second
collection of the same configuration (`rag.milvus.sentences`), keyed art + sentence number,
written and deleted article by article alongside the passages, in every step below.

Interruption. Milvus has no transactions and no cheap collection copy, so an incremental sync
stages its rows in the live collection and commits by one property write:
  1. rows an interrupted sync left behind (`sync` > committed) are deleted;
  2. new and changed articles' rows are inserted with `sync` = committed + 1 (nobody sees them:
     every search filters `sync <= committed`);
  3. rows retired by the previous sync are deleted (no current or previous state uses them);
  4. properties `rag.sync` (now committed + 1), `rag.retired` (article versions this sync
     replaced or removed: kept for one more sync, as the local store keeps the previous
     generation), `rag.generation` and `rag.sentences` (the sentence collection) are written
     on the passage collection in one call: the commit, for both collections.
A sync cut short before 4 leaves the committed state answering exactly as before (tested); a
backend opened on a state filters `sync <= its sync and art not in its retired`. A new
configuration is filled into a new pair of collections, committed, then the aliases are switched
(the old pair is kept as the previous one). Fusion stays ours (rag/retrieval/retriever.py), so convex and RRF
behave the same on both backends.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from rag.indexing.index import Index
from rag.indexing.vectors import HNSW_EF_CONSTRUCTION, HNSW_M, choose_kind
from rag.milvus import sentences
from rag.milvus.client import VARCHAR_MAX, MilvusProblem
from rag.milvus.writes import create, delete_articles, held_articles, insert

log = logging.getLogger("rag")

ALIAS = "rag_passages"
PREFIX = "rag_"
FAMILY = ("rag_flat_", "rag_hnsw_")  # passage collections (sentence ones are rag_sentences_…)

# --- keys and names -----------------------------------------------------------------------------

def article_key(doc_id: str, sha256: str) -> str:
    """The key of one version of an article: hex only, so it is safe inside a filter expression
    (a doc id is a file path and may hold quotes)."""
    return hashlib.sha256(f"{doc_id}\0{sha256}".encode("utf-8")).hexdigest()[:24]


def row_key(art: str, chunk_no: int) -> str:
    """The primary key of an article version's chunk."""
    return f"{art}.{chunk_no}"


def index_kind(index: Index, settings) -> str:
    """FLAT or HNSW for the dense field: the local index's size rule."""
    return choose_kind(len(index.chunks), settings.index_type, settings.flat_max)


def collection_name(index: Index, settings) -> str:
    """The collection for `index`'s configuration: one per model, dimension, chunker settings,
    vector index kind and BM25 constants, so rows of one collection are interchangeable between
    generations."""
    lexical = index.manifest.lexical
    config = [index.manifest.model_id, int(index.chunk_vectors.shape[1]), index.manifest.chunker,
              index_kind(index, settings), HNSW_M, HNSW_EF_CONSTRUCTION, lexical["bm25_k1"], lexical["bm25_b"]]
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"{PREFIX}{index_kind(index, settings)}_{digest}"


def _articles(index: Index) -> dict[str, str]:
    """article key -> doc id, for every article of `index`."""
    return {article_key(d, a.sha256): d for d, a in index.manifest.articles.items()}


def _rows_by_doc(index: Index) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row, c in enumerate(index.chunks):
        out.setdefault(c.doc_id, []).append(row)
    return out


def row_keys(index: Index) -> list[str]:
    """The primary key of each local passage row."""
    sha = {d: a.sha256 for d, a in index.manifest.articles.items()}
    return [row_key(article_key(c.doc_id, sha[c.doc_id]), c.chunk_no) for c in index.chunks]


# --- the committed state ------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """What a collection's last completed sync committed."""

    sync: int
    generation: str
    retired: tuple[str, ...] = ()  # article keys replaced or removed by that sync
    properties: dict = field(default_factory=dict)

    @property
    def sentences(self) -> str | None:
        """The sentence collection this state covers (None: committed before sentence rows)."""
        return self.properties.get("rag.sentences")

    def visible(self) -> str:
        """The filter that shows exactly this state's rows."""
        expr = f"sync <= {self.sync}"
        return expr + f" and art not in {json.dumps(list(self.retired))}" if self.retired else expr


def read_state(client, name: str) -> State | None:
    """The committed state of collection `name`, or None when no sync of it ever completed."""
    props = client.describe_collection(name).get("properties", {}) or {}
    if "rag.sync" not in props:
        return None
    return State(int(props["rag.sync"]), props.get("rag.generation", ""), tuple(json.loads(props.get("rag.retired", "[]"))), props)


def expected_properties(index: Index) -> dict[str, str]:
    """What a collection committed for `index` records about it (compared when it is reopened)."""
    return {"rag.model_id": index.manifest.model_id, "rag.dim": str(int(index.chunk_vectors.shape[1])),
            "rag.generation": index.folder.name, "rag.rows": str(len(index.chunks))}


def check_collection(client, name: str, index: Index) -> State:
    """The committed state of `name`; MilvusProblem if it was not committed for `index` (model,
    dimension, generation, rows)."""
    state = read_state(client, name)
    found = state.properties if state else {}
    want = expected_properties(index)
    wrong = [f"{k[4:]} {found.get(k)!r} (this index: {v!r})" for k, v in want.items() if found.get(k) != v]
    if wrong:
        raise MilvusProblem(f"Milvus collection {name!r} was built for another index: " + "; ".join(wrong)
                            + ". Rebuild it (rag index with RAG_BACKEND=milvus) or point RAG_MILVUS_URI elsewhere.")
    if not _has_sentences(client, state):
        raise MilvusProblem(f"Milvus collection {name!r} holds no sentence rows (synced by an earlier version); "
                            "sync it again (rag index with RAG_BACKEND=milvus).")
    return state


def _has_sentences(client, state: State) -> bool:
    """Whether `state` names a sentence collection that exists."""
    return bool(state.sentences) and client.has_collection(state.sentences)


def _commit(client, name: str, index: Index, sync_no: int, retired: list[str]) -> State:
    """The commit point: one property write makes sync `sync_no` the state searches see, in the
    passage collection `name` and its sentence collection alike."""
    props = {**expected_properties(index), "rag.sync": str(sync_no), "rag.retired": json.dumps(sorted(retired)),
             "rag.sentences": sentences.collection_for(name)}
    client.alter_collection_properties(name, properties=props)
    return State(sync_no, index.folder.name, tuple(sorted(retired)), props)


# --- writing ------------------------------------------------------------------------------------

def _schema(client, dim: int):
    from pymilvus import DataType, Function, FunctionType

    s = sentences.keyed_schema(client, "chunk_no")
    s.add_field("title", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
    # BM25 reads our own analysed terms (rag.indexing.lexical.terms: Snowball stems, stop words out), joined
    # by spaces, so both engines see the same terms; Lite offers no whitespace tokenizer, and the
    # standard one splits exactly there since a term is word characters only.
    s.add_field("terms", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"})
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                            input_field_names=["terms"], output_field_names=["sparse"]))
    return s


def _index_params(client, kind: str, lexical: dict):
    """Vector and BM25 index parameters; `lexical`: the mirrored index's BM25 constants (its
    manifest's), so Milvus scores passages as its bm25s index does."""
    p = client.prepare_index_params()
    if kind == "flat":
        p.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    else:  # build parameters must be nested under "params" or Milvus ignores them silently
        p.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                    params={"params": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}})
    p.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                params={"params": {"bm25_k1": lexical["bm25_k1"], "bm25_b": lexical["bm25_b"]}})
    return p


def _rows(index: Index, rows: list[int], sync_no: int) -> Iterator[dict]:
    """The passage rows of local `rows` for sync `sync_no` (a generator, inserted batch by batch)."""
    from rag.indexing.lexical import terms

    for row in rows:
        c = index.chunks[row]
        art = article_key(c.doc_id, index.manifest.articles[c.doc_id].sha256)
        yield {"pk": row_key(art, c.chunk_no), "art": art, "sync": sync_no, "doc_id": c.doc_id,
               "chunk_no": c.chunk_no, "start": c.start, "end": c.end, "title": c.title, "text": c.text,
               "terms": " ".join(terms(c.passage)),
               "vector": index.chunk_vectors[row].tolist()}


@dataclass
class SyncReport:
    """What one sync wrote: passage and sentence rows inserted, article versions deleted, whether it
    filled a new pair of collections."""

    name: str
    state: State
    inserted: int = 0
    sentences: int = 0
    deleted_articles: int = 0
    filled: bool = False


def _create_sentences(client, name: str, index: Index) -> str:
    """A new, empty sentence collection for passage collection `name`; its name."""
    sname = sentences.collection_for(name)
    create(client, sname, sentences.schema(client, int(index.sentence_vectors.shape[1])), sentences.index_params(client))
    return sname


def _fill(client, name: str, index: Index, settings) -> SyncReport:
    """A new pair of collections holding all of `index`'s passages and sentences, committed as sync 1."""
    create(client, name, _schema(client, int(index.chunk_vectors.shape[1])),
            _index_params(client, index_kind(index, settings), index.manifest.lexical))
    sname = _create_sentences(client, name, index)
    inserted = insert(client, name, _rows(index, list(range(len(index.chunks))), 1))
    written = insert(client, sname, sentences.rows(index, _articles(index), 1))
    client.flush(name)
    client.flush(sname)
    return SyncReport(name, _commit(client, name, index, 1, []), inserted, written, filled=True)


def _update(client, name: str, index: Index, state: State) -> SyncReport:
    """Bring a committed pair of collections to `index`, writing only articles whose version
    changed (the staged steps of the module docstring, on passages and sentences alike). A state
    committed before sentence rows existed gets its sentence collection filled here."""
    new = state.sync + 1
    sname = sentences.collection_for(name)
    if not client.has_collection(sname):
        _create_sentences(client, name, index)
    for c in (name, sname):
        client.load_collection(c)  # a reopened database holds its collections released
        client.delete(c, filter=f"sync > {state.sync}")  # staged rows of an interrupted sync
    held = held_articles(client, name, state.sync)
    held_sentences = held_articles(client, sname, state.sync, "num == 0")
    wanted = _articles(index)
    by_doc = _rows_by_doc(index)
    rows = [r for art in wanted if art not in held for r in by_doc[wanted[art]]]
    inserted = insert(client, name, _rows(index, rows, new))
    written = insert(client, sname, sentences.rows(index, {a: d for a, d in wanted.items() if a not in held_sentences}, new))
    gone = [art for art in state.retired if art not in wanted]  # the previous state no longer needs them
    for c in (name, sname):
        client.flush(c)
        delete_articles(client, c, gone)
        client.flush(c)
    retired = sorted((held - set(state.retired)) - set(wanted))  # the committed state's, kept one sync more
    return SyncReport(name, _commit(client, name, index, new, retired), inserted, written, len(gone))


def alias_target(client, alias: str = ALIAS) -> str | None:
    """The collection `alias` points at, or None."""
    # Asked by listing: describe_alias on a missing alias makes pymilvus log an ERROR with a traceback.
    if alias not in client.list_aliases().get("aliases", []):
        return None
    return client.describe_alias(alias)["collection_name"]


def _point_alias_at(client, name: str, alias: str = ALIAS, family: tuple[str, ...] = FAMILY) -> None:
    """Switch `alias` to `name`, keeping the collection it leaves (a request in flight during a live
    swap may still read it) and dropping older collections of its `family`."""
    previous = alias_target(client, alias)
    if previous == name:
        return
    if previous is None:
        client.create_alias(name, alias)
    else:
        client.alter_alias(name, alias)
    for old in client.list_collections():
        if old.startswith(family) and old not in (name, previous):
            client.drop_collection(old)


def sync(client, index: Index, settings) -> SyncReport:
    """Make `ALIAS` point at a collection whose committed state is `index`'s passages and sentences.

    Nothing is written when it already is. A collection of the same configuration is updated
    article by article; otherwise a new pair is filled, committed and then aliased (passages
    first: a reader finds the sentence collection through the state, not through its alias).
    """
    name = collection_name(index, settings)
    state = read_state(client, name) if client.has_collection(name) else None
    if state is None:
        report = _fill(client, name, index, settings)
    elif state.generation == index.folder.name and _has_sentences(client, state):
        report = SyncReport(name, check_collection(client, name, index))
    else:
        report = _update(client, name, index, state)
    _point_alias_at(client, name)
    _point_alias_at(client, sentences.collection_for(name), sentences.ALIAS, (sentences.FAMILY,))
    if report.inserted or report.sentences or report.deleted_articles or report.filled:
        log.info(f"Milvus: {report.inserted} passages and {report.sentences} sentences written, "
                 f"{report.deleted_articles} retired article versions deleted, in {name}")
    return report

