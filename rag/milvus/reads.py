"""`SentenceRows`: the sentence reads the answer layer makes of `rag.indexing.index.Index` (`sentences`,
`sentences_of`, `sentence_vectors_of`, `sentence_texts`, `neighbour`, `first_sentence_of`,
`term_overlap`, `span_text`), answered from sentence rows fetched from Milvus for one question.

Retrieval names the passages it will read (`MilvusBackend.sentences`); one `query` by primary key
fetches their sentences plus the two before and the one after each passage: what the answer layer
reads around a sentence (the neighbours' cosines, up to two sentences of context before it).
Sentence ids are local to the view: article ordinal << 32 | sentence number, so an article's
sentences are consecutive ids as in `Index` and `sid - first_sentence_of(doc)` is the number.
What the view does not hold comes from the local index: the manifest (`article`, `titles`), BM25
IDF (`term_overlap`) and passage vectors (`chunk_vectors_of`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.indexing.index import Index
from rag.indexing.lexical import lexical_overlap
from rag.indexing.sentences import Sentence
from rag.milvus.sentences import sentence_key

# Sentences fetched around each passage: two before (context_before looks back at most two), one after.
BEFORE, AFTER = 2, 1
_SHIFT = 32  # bits of a view id that hold the sentence number


class SentenceRows:
    """The sentence reads of one question, from Milvus rows: `locate(row)` gives a passage row's
    (article key, first, last sentence number); `fetch(keys)` returns the visible rows of those keys."""

    def __init__(self, index: Index, locate: Callable[[int], tuple[str, int, int]],
                 fetch: Callable[[list[str]], list[dict]], rows: Sequence[int] = ()):
        self.index = index
        self._locate, self._fetch = locate, fetch
        self.sentences: dict[int, Sentence] = {}
        self.queries = 0  # round trips made: one per question unless a read asks beyond `rows`
        self._base: dict[str, int] = {}  # article key -> its first sentence's id
        self._doc_base: dict[str, int] = {}
        self._asked: set[int] = set()
        self._passages: dict[int, list[int]] = {}
        self._at: dict[int, int] = {}  # id -> row of `_vectors`
        self._vectors = np.zeros((0, index.chunk_vectors.shape[1]), dtype=np.float32)  # same model, same dim
        self._terms: dict[int, frozenset[str]] = {}
        self._after: dict[int, str] = {}
        self.load(rows)

    def _id(self, art: str, num: int) -> int:
        base = self._base.setdefault(art, len(self._base) << _SHIFT)
        return base + num

    def load(self, rows: Sequence[int]) -> None:
        """Fetch, in one query, the sentences of passage `rows` not loaded yet and their neighbours."""
        keys: list[str] = []
        for row in dict.fromkeys(int(r) for r in rows):
            if row in self._passages:
                continue
            art, lo, hi = self._locate(row)
            self._passages[row] = [self._id(art, n) for n in range(lo, hi + 1)]
            for n in range(max(lo - BEFORE, 0), hi + AFTER + 1):
                if (sid := self._id(art, n)) not in self._asked:
                    self._asked.add(sid)
                    keys.append(sentence_key(art, n))
        if not keys:
            return
        self.queries += 1
        found = self._fetch(keys)
        vectors = [self._vectors]
        for r in found:
            sid = self._id(r["art"], int(r["num"]))
            self._doc_base[r["doc_id"]] = sid - int(r["num"])
            self.sentences[sid] = Sentence(r["doc_id"], int(r["start"]), int(r["end"]), r["text"])
            self._terms[sid] = frozenset(r["terms"].split())
            self._after[sid] = r["after"]
            self._at[sid] = len(self._at)
            vectors.append(np.asarray(r["vector"], dtype=np.float32).reshape(1, -1))
        self._vectors = np.concatenate(vectors)

    def first_sentence_of(self, doc_id: str) -> int:
        """Id of an article's first sentence (its title), whether fetched or not."""
        return self._doc_base[doc_id]

    def neighbour(self, sid: int, step: int) -> int | None:
        """The sentence `step` away in the same article, or None at the article's edge."""
        j = sid + step
        if j >> _SHIFT != sid >> _SHIFT:  # before sentence 0
            return None
        if j not in self._asked:  # a read beyond what `load` fetches: a bug, never a silent edge
            raise LookupError(f"sentence {j & ((1 << _SHIFT) - 1)} of a passage's article was not fetched")
        return j if j in self.sentences else None  # asked but absent: past the article's last sentence

    def sentences_of(self, row: int) -> list[int]:
        """Sentence ids of passage `row`, in text order (fetched now if retrieval did not name it)."""
        if row not in self._passages:
            self.load([row])
        return self._passages[row]

    def sentence_vectors_of(self, rows) -> np.ndarray:
        """The vectors of sentence `rows` (an int, a list or an array, as `Index`'s)."""
        if np.ndim(rows) == 0:
            return self._vectors[self._at[int(rows)]]
        return self._vectors[[self._at[int(r)] for r in rows]]

    def chunk_vectors_of(self, rows) -> np.ndarray:
        """Passage vectors: still the local index's."""
        return self.index.chunk_vectors_of(rows)

    def term_overlap(self, query_terms: list[str], rows: Sequence[int]) -> np.ndarray:
        """IDF-weighted share of the query's terms in each sentence (IDF: the local BM25 index's)."""
        idf = self.index.lexical.idf
        return np.array([lexical_overlap(query_terms, self._terms[r], idf) for r in rows], dtype=np.float32)

    def sentence_texts(self, rows: Sequence[int]) -> list[str]:
        """The text of each sentence in `rows`."""
        return [self.sentences[r].text for r in rows]

    def span_text(self, first: int, last: int) -> str:
        """The article text from sentence `first`'s start to sentence `last`'s end (same article),
        rebuilt from the rows' texts and the text `after` each."""
        return "".join(self.sentences[i].text + self._after[i] for i in range(first, last)) + self.sentences[last].text

    def article(self, doc_id: str):
        """The local manifest's record of an article (page numbers for citations)."""
        return self.index.article(doc_id)

    @property
    def titles(self) -> dict[str, str]:
        """doc_id -> title, from the local manifest."""
        return self.index.titles
