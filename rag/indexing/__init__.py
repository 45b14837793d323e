"""The index: sentences and token-bounded chunks of every article, their vectors (FAISS) and terms
(BM25), built step by step, stored atomically and loaded whole; kept in step with the corpus while
serving."""
