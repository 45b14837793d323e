"""Writing one Milvus collection of ours, whichever rows it holds (passages or sentences: both are
keyed by article version `art` and stamped with the `sync` that wrote them; `rag.milvus.sync`)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice

BATCH = 1000  # rows per insert, and per page when listing
KEYS_PER_DELETE = 1000  # article keys per delete expression


def batched(items: Iterable, n: int) -> Iterator[tuple]:
    """`items` in tuples of `n` (the last may be shorter): itertools.batched, which Python 3.11 lacks."""
    it = iter(items)
    while batch := tuple(islice(it, n)):
        yield batch


def create(client, name: str, schema, index_params) -> None:
    """A new, empty collection `name` (a leftover of an interrupted fill is dropped first: it was
    never committed, so nothing reads it)."""
    if client.has_collection(name):
        client.drop_collection(name)
    # Strong: a state is committed after its rows are flushed, and a search filtering on it must
    # see all of them (a server's default, Bounded, may lag a few seconds; Lite is always current).
    client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong")


def insert(client, name: str, rows: Iterable[dict]) -> int:
    """Insert `rows` into `name` BATCH at a time; how many there were."""
    n = 0
    for batch in batched(rows, BATCH):
        client.insert(name, list(batch))
        n += len(batch)
    return n


def delete_articles(client, name: str, keys: list[str]) -> None:
    """Delete every row of the article versions `keys` from `name`."""
    for start in range(0, len(keys), KEYS_PER_DELETE):
        client.delete(name, filter=f"art in {json.dumps(keys[start:start + KEYS_PER_DELETE])}")


def held_articles(client, name: str, sync_no: int, first: str = "chunk_no == 0") -> set[str]:
    """Article keys collection `name` holds up to sync `sync_no`: those with a `first` row (every
    article has a chunk 0 and a sentence 0)."""
    it = client.query_iterator(name, batch_size=BATCH, filter=f"{first} and sync <= {sync_no}", output_fields=["art"])
    held: set[str] = set()
    try:
        while batch := it.next():
            held.update(r["art"] for r in batch)
    finally:
        it.close()
    return held
