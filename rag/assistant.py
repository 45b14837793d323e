"""The assistant: one object that turns a question into a cited extractive answer."""
from __future__ import annotations

import numbers
import time
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from rag.answer.conversation import MAX_EARLIER, follows, refers_back, says_something, search_vector
from rag.answer.ellipsis import asked_again, speaks_of, topic_of
from rag.answer.kind import as_question, questions_in
from rag.answer.language import MESSAGE as LANGUAGE_MESSAGE, foreign_language, warm as warm_language
from rag.answer.overview import asks_overview, overview
from rag.answer.reader import get_reader
from rag.answer.reader_files import prune_exports
from rag.answer.records import Answer, QuestionError, Reading, Selection, merged, render
from rag.answer.select import answer_first, clean_question, select_answer
from rag.answer.selector import get_selector
from rag.answer.short_answer import get_span_reader
from rag.answer.small_talk import MESSAGE as SMALL_TALK_MESSAGE, VAGUE, names_nothing, small_talk
from rag.embedding.question_encoder import Batcher, get_question_encoder
from rag.indexing.build import ensure_index
from rag.indexing.index import Index
from rag.indexing.live import LiveIndex
from rag.retrieval.backend import open_backend, open_or_previous
from rag.retrieval.retriever import Retriever
from rag.retrieval.spelling import english_words, misspelt, respelled
from rag.settings import MAX_K, Settings, from_env
from rag.stopwatch import Stopwatch

MAX_SCANNED = 20  # earlier turns looked through for the last few that say something
K_MESSAGE = f"The number of passages to read (k) must be a whole number from 1 to {MAX_K}."


def check_k(k: object) -> int | None:
    """`k` as an int from 1 to MAX_K (None keeps the setting); QuestionError with K_MESSAGE otherwise."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not float(k).is_integer() or not 1 <= k <= MAX_K:
        raise QuestionError(K_MESSAGE)
    return int(k)


def check_earlier(earlier: object) -> list[str]:
    """`earlier` as a list of texts (None: none); QuestionError when it is not one."""
    if earlier is None:
        return []
    if isinstance(earlier, str) or not isinstance(earlier, (list, tuple)) or not all(isinstance(t, str) for t in earlier):
        raise QuestionError("The earlier questions must be a list of texts.")
    return list(earlier)


def cut_raw(question: object, max_chars: int) -> tuple[object, str | None]:
    """Cut a huge question before it is cleaned (cleaning 10 MB takes seconds); (question, notice)."""
    limit = 4 * max_chars  # room for whitespace and control characters that cleaning removes
    if not isinstance(question, str) or len(question) <= limit:
        return question, None
    return question[:limit], f"Your question was long; only its first {max_chars:,} characters were read."


def preload(settings: Settings) -> None:
    """Load the answer models now (each is loaded once per process): the selector, both readers, the
    language identifier and, with spelling on, the English words, so the first question is as fast
    as the rest; exports of reader weights no longer shipped are deleted from the cache."""
    get_selector(), get_reader(settings.reader_runtime), get_span_reader(settings.reader_runtime), warm_language()
    if settings.spelling:
        english_words()
    prune_exports(set(get_selector().config.files.values()))


class Assistant:
    """Answers questions from an index; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, index: Index | None = None, progress: bool = True,
                 answer_models: bool = True, encoder=None):
        """Load (building if needed) the index; with `answer_models`, also the selector and reader,
        so the first question is as fast as the rest (`rag train` fits them, so it passes False).
        `encoder` (anything with `encode(texts)`) replaces the question encoder of `settings`."""
        self.settings = settings or from_env()
        self.index = index or ensure_index(self.settings, progress=progress)
        s = self.settings
        self.encoder = encoder or get_question_encoder(s.model, s.query_runtime, s.batch_size)
        if answer_models:
            preload(s)
        self._batcher = Batcher(self.encoder)
        if index is None:
            # Milvus could not take the index (a sync cut short, the server gone): answer from the
            # generation before it on the state Milvus still commits to; the warning makes
            # LiveIndex retry after a back-off (a given index has no retry, so it is not replaced).
            self.index, backend = open_or_previous(self.settings, self.index)
        else:
            backend = open_backend(self.settings, self.index)
        self.retriever = Retriever(self.index, self.settings, backend)
        if answer_models and s.spelling:
            self.retriever.vocabulary  # noqa: B018 (built now, so the first question is as fast as the rest)
        self._previous: Index | None = None
        self._previous_retriever: Retriever | None = None
        # An index this assistant loaded itself follows its corpus folder (rebuilt in the background).
        self._live = None if index is not None else LiveIndex(self.settings, self._swap, stale=self.index.warning)

    def _swap(self, index: Index) -> None:
        """Put a rebuilt index in use; a request takes the retriever once and uses its index throughout.

        The index it replaces stays reachable for `source` for one more swap, so a citation given
        just before the swap can still be shown in the text it quotes."""
        # The backend first (Milvus: the sync): if it fails, nothing has moved, the index in use
        # keeps answering and LiveIndex retries the swap after a back-off.
        retriever = Retriever(index, self.settings, open_backend(self.settings, index))
        if self.settings.spelling:
            retriever.vocabulary  # noqa: B018 (built in the rebuild's thread, not by the next question)
        stale = self._previous_retriever  # two swaps old once this one is done
        self._previous, self._previous_retriever = self.retriever.index, self.retriever
        self.retriever = retriever
        self.index = index
        # A request takes the retriever once and finishes in well under a swap's rebuild, so none
        # still uses a backend two swaps old: close it (Milvus: its client and, after the process's
        # last client, Milvus Lite's server; local: nothing).
        if stale is not None:
            stale.backend.close()

    def close(self) -> None:
        """Close the search backends in use and kept (for a process that is done answering)."""
        for retriever in (self.retriever, self._previous_retriever):
            if retriever is not None:
                retriever.backend.close()

    def current(self) -> Retriever:
        """The retriever (and its `.index`) to serve one request with, after a cheap corpus check."""
        if self._live is not None:
            self._live.poll()
        return self.retriever

    @cached_property
    def selector(self):
        """The answer selector (loaded on first use, so tools that only retrieve never load it)."""
        return get_selector()

    @cached_property
    def reader(self):
        """The reader model (loaded on first use)."""
        return get_reader(self.settings.reader_runtime)

    @cached_property
    def span_reader(self):
        """The short-answer reader (loaded on first use)."""
        return get_span_reader(self.settings.reader_runtime)

    def read_as(self, text: str, retriever: Retriever | None = None) -> tuple[str, dict[str, str]]:
        """(`text` as the models read it, {misspelt word: the collection's word read instead}): the
        collection's nearest word for a word it lacks that is no English word ("baimanov" →
        "baimenov"), then the form of SQuAD's questions (`as_question`)."""
        fixes = misspelt(text, (retriever or self.retriever).vocabulary) if self.settings.spelling else {}
        return as_question(respelled(text, fixes)), fixes

    def embed_question(self, question: str):
        """The question's normalised embedding (truncated to the model window); questions asked at
        the same time are embedded in one batch."""
        return self._batcher.embed(question)

    def read(self, text: str, earlier: Sequence[str] | None = (), retriever: Retriever | None = None) -> Reading:
        """How question `text` (cleaned) is read: as the models read it (`read_as`), and the earlier
        questions of the conversation (oldest first; `rag.answer.conversation.follows`) it follows
        on from. QuestionError when `earlier` is not a list of texts."""
        earlier = check_earlier(earlier)
        asked, fixes = self.read_as(text, retriever)
        if not earlier or not refers_back(asked):
            return Reading(asked, fixes, [])
        read, limit = [], self.settings.max_question_chars
        for t in reversed(earlier[-MAX_SCANNED:]):  # the last turns that say something, newest first
            try:
                t = clean_question(cut_raw(t, limit)[0], limit)[0]
            except QuestionError:  # a blank turn
                continue
            if says_something(t):
                read.insert(0, self.read_as(t, retriever)[0])
                if len(read) == MAX_EARLIER:
                    break
        # A topic is asked about with the last of these that asks something, even past a remark.
        return Reading(asked, fixes, follows(asked, read), asked_again(asked, read))

    def search_vector(self, reading: Reading) -> np.ndarray:
        """The question's vector for the search and the answer's scoring: its own, or for a
        follow-up, weighted with the vector of the questions it follows."""
        qvec = self.embed_question(reading.asked)
        return search_vector(qvec, self.embed_question(" ".join(reading.followed))) if reading.followed else qvec

    def ask(self, question: object, k: int | None = None, mode: str = "hybrid", earlier: Sequence[str] = ()) -> Answer:
        """Answer `question` by quoting article sentences, or abstain. Raises QuestionError for bad input.

        `earlier`: the conversation's questions before this one, oldest first; a question that
        points back to them ("When was it founded?") is searched for together with them. A text
        asking several questions ("Who spoke? How many attended?") gets each answered in turn."""
        start = time.perf_counter()
        k, earlier = check_k(k), check_earlier(earlier)
        question, cut = cut_raw(question, self.settings.max_question_chars)
        text, notice = clean_question(question, self.settings.max_question_chars)
        retriever = self.current()  # one index for the whole question, even if a rebuild swaps it
        if small_talk(text):  # "thanks!": nothing to search for, nothing to quote
            elapsed = time.perf_counter() - start
            return Answer.message(text, SMALL_TALK_MESSAGE, notice or cut, {"clean": elapsed, "total": elapsed},
                                  retriever.index.folder.name)
        parts = questions_in(text)
        if len(parts) > 1 and foreign_language(text):  # one question: split, its parts are too short to tell
            parts = [text]
        before = time.perf_counter() - start  # cleaning and splitting: part of the "clean" stage
        if len(parts) == 1:
            answer = self._answer(text, k, mode, earlier, retriever)
        else:  # each after the ones before it, as a follow-up would be
            own = [self.read_as(part, retriever)[0] for part in parts]
            answer = merged(text, [self._answer(part, k, mode, [*earlier, *parts[:i]], retriever, own)
                                   for i, part in enumerate(parts)])
        for stage in ("clean", "total"):
            answer.timings[stage] = answer.timings.get(stage, 0.0) + before
        answer.question = text
        answer.notice = " ".join(filter(None, [notice or cut, answer.notice])) or None
        return answer

    def _answer(self, text: str, k: int | None, mode: str, earlier: Sequence[str], retriever: Retriever,
                own: Sequence[str] = ()) -> Answer:
        """The answer to one cleaned question `text` (see `ask`), from `retriever`'s index; `own`: the
        questions of the same message, as read (following on from them needs no notice)."""
        timings: dict[str, float] = {}  # each stage below, and the stages of search and select_answer
        watch = Stopwatch(timings)
        if (asks_overview(text) or asks_overview(as_question(text))) and retriever.index.chunks:
            citations, passages, said = overview(retriever.index)  # "What are these articles about?": the titles
            watch.total()
            return Answer(text, render(citations), False, citations, passages, said, 1.0, timings,
                          index=retriever.index.folder.name)
        notices = []
        reading = self.read(text, earlier, retriever)  # what the models read; the answer echoes `text` as typed
        if reading.fixes:
            notices.append("Read " + ", ".join(f"“{typed}” as “{word}”" for typed, word in reading.fixes.items()) + ".")
        if reading.again:
            notices.append(f"Read as “{reading.again}”.")
        elif reading.followed and reading.followed[0] not in own:
            notices.append(f"Read as following on from “{reading.followed[0]}”.")
        watch.lap("clean")
        if names_nothing(reading.searched) and not foreign_language(text):  # "who?": a search would find anyone
            watch.total()
            return Answer.message(text, VAGUE, " ".join(notices) or None, timings, retriever.index.folder.name,
                                  reading.searched)
        qvec = self.search_vector(reading)  # answer scoring needs it in every mode
        watch.lap("embed")
        passages, sentences = retriever.retrieve(reading.searched, qvec, k=k, mode=mode, timings=timings)
        watch.lap("retrieve")
        # The answer layer reads sentences through `sentences`: the local index, or (Milvus) the
        # rows of this question's passages fetched from the sentence collection. Its models read
        # the question as asked, not the search text: a follow-up's answer answers the follow-up
        # ("And the online conference?" is answered as the last question asked again about it).
        chosen = select_answer(reading.answered, qvec, passages, sentences, self.settings, self.selector, self.reader, timings,
                               self.span_reader)
        if reading.again and not chosen.abstained and not speaks_of(topic_of(reading.asked), chosen.citations):
            chosen = Selection([], True, chosen.best_score)  # it answers the last topic, not the one asked about
        watch.lap("answer")
        watch.total()
        reply = render(chosen.citations)
        if foreign_language(text):
            notices.append(LANGUAGE_MESSAGE)
            if chosen.abstained:  # not "the articles don't answer": they were asked in another language
                reply = LANGUAGE_MESSAGE
        return Answer(
            question=reading.asked if own else text,  # a part of a message is named as read
            answer=reply,
            abstained=chosen.abstained,
            citations=chosen.citations,
            passages=answer_first(passages, chosen.citations),
            notice=" ".join(notices) or None,
            timings=timings,
            best_score=chosen.best_score,
            short_answer=chosen.short_answer,
            index=retriever.index.folder.name,
            searched=reading.searched,
        )

    def source(self, doc_id: str, index: str | None = None) -> dict:
        """An indexed article's full text as indexed, for showing a citation in context; ValueError otherwise.

        The text comes from the index, not the live file, so it is what the citations quote. With
        `index` (an answer's `index`), it comes from the generation that gave that answer — the one
        in use or the one it replaced — so offsets match even across a background rebuild.
        """
        chosen = self.current().index
        if index is not None and index != chosen.folder.name:
            older = self._previous
            if older is None or older.folder.name != index:
                raise ValueError("the articles were re-indexed since that answer; ask again to see its sources")
            chosen = older
        entry = chosen.article(doc_id) if isinstance(doc_id, str) else None
        if entry is None:
            shown = doc_id[:200] + "…" if isinstance(doc_id, str) and len(doc_id) > 200 else doc_id
            raise ValueError(f"unknown article: {shown!r}")
        return {"doc_id": doc_id, "title": entry.title, "text": chosen.texts[doc_id], "index": chosen.folder.name}

    def refresh(self, timeout: float = 600.0) -> str | None:
        """Re-index the corpus folder now if it changed, and wait until the new index is in use
        (after an upload or delete on the page): None when it is, else why not (see LiveIndex.refresh).
        An index given to the constructor does not follow any folder: nothing to do."""
        return self._live.refresh(timeout) if self._live is not None else None

    @property
    def rebuilding(self) -> bool:
        """Whether a new index is being built in the background (questions use the current one)."""
        return self._live is not None and self._live.rebuilding


__all__ = ["Assistant", "QuestionError"]
