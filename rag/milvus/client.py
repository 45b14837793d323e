"""Opening and closing Milvus clients: Milvus Lite (a .db file, in this process) or a server;
credentials kept out of every message."""
from __future__ import annotations

import logging
import os
import re
import threading

from rag.errors import RagError


class _LiteNoise(logging.Filter):
    """Drops two harmless messages. grpc's ERROR for the one call Milvus Lite does not implement:
    pymilvus 3.0.2 asks for AllocTimestamp on create_collection, Lite answers "Method not
    implemented", the client carries on and the collection is fine (two tracebacks per build
    otherwise); and query_iterator's WARNING that Lite gives no MVCC timestamp."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "Method not implemented" not in message and "failed to get mvccTs" not in message


logging.getLogger("grpc._server").addFilter(_LiteNoise())
logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_LiteNoise())


# Milvus's longest VARCHAR, in bytes.
VARCHAR_MAX = 65535


class MilvusProblem(RagError):
    """Milvus cannot be reached, or holds a collection this index cannot use."""


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def shown(uri: str) -> str:
    """`uri` fit for a message: credentials written into it (user:password@) are masked."""
    return re.sub(r"//[^/@]*@", "//***@", str(uri))


def is_server(uri: str) -> bool:
    """Whether `uri` names a Milvus server (anything else is a Milvus Lite file)."""
    return str(uri).startswith(("http://", "https://", "tcp://", "unix:"))


# Milvus Lite runs one in-process server per database file, shared by every client of this
# process that opens the file; releasing it stops all of them. Our clients count themselves here
# so the server is released only when the last one closes (a live swap opens the next client
# while the previous ones still answer).
_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}


def _lite_opened(uri: str) -> None:
    with _lite_lock:
        path = os.path.abspath(uri)
        _lite_users[path] = _lite_users.get(path, 0) + 1


def _lite_closed(uri: str) -> None:
    """Count one client of `uri` closed; stop the Lite server (freeing the file's lock) after the last."""
    path = os.path.abspath(uri)
    with _lite_lock:
        left = _lite_users.get(path, 0) - 1
        if left > 0:
            _lite_users[path] = left
            return
        _lite_users.pop(path, None)
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


def failure(settings, exc: BaseException, doing: str = "open") -> MilvusProblem:
    """A clear MilvusProblem for `exc` met while talking to `settings.milvus_uri`: the URI and the
    engine's message, credentials masked."""
    detail = _scrub(shown(f"{type(exc).__name__}: {exc}"), settings.milvus_token)
    return MilvusProblem(f"cannot {doing} Milvus at {shown(settings.milvus_uri)}: {detail}")


def engine_errors() -> tuple[type[BaseException], ...]:
    """The exceptions pymilvus raises when the engine fails or is unreachable (a server that went
    away after a client was made fails on the first call: pymilvus shares one connection per
    address, so making the client succeeds)."""
    from pymilvus.exceptions import MilvusException

    return (MilvusException,)


def connect(settings):
    """A MilvusClient for `milvus_uri` (a file path opens Milvus Lite in this process); the token
    is passed to the client only and never appears in a message. Close it with `disconnect`."""
    from pymilvus import MilvusClient

    uri, token = settings.milvus_uri, settings.milvus_token
    if not uri:
        raise MilvusProblem("backend 'milvus' needs RAG_MILVUS_URI (a .db file path for Milvus Lite, or http://host:19530)")
    if not is_server(uri) and not str(uri).endswith(".db"):  # pymilvus reads only *.db as Milvus Lite
        raise MilvusProblem(f"RAG_MILVUS_URI {shown(uri)!r}: a Milvus Lite database path must end in .db (or give http://host:19530)")
    try:
        client = MilvusClient(uri=str(uri), token=token) if token else MilvusClient(uri=str(uri))
    except Exception as exc:  # pymilvus raises several types for a bad URI, a lock or a dead server
        raise failure(settings, exc) from None
    if not is_server(uri):
        _lite_opened(str(uri))
    return client


def disconnect(client, uri: str) -> None:
    """Close a client of `connect`; for Milvus Lite, stop the file's server after its last client."""
    client.close()
    if not is_server(uri):
        _lite_closed(str(uri))
