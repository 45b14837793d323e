"""The Milvus backend (RAG_BACKEND=milvus): the local index's passages and sentences synced into
Milvus, and searched there."""
