"""Extractive answers: pick the sentence that answers, bring what it leans on, point at the short
answer inside it — or abstain.

The candidates are every sentence of the retrieved passages (`rag.answer.features`); the selector ranks
them and the reader reads the best few (`rag.answer.selector`, `rag.answer.reader`). What is quoted is the best
sentence, the sentence before it when it opens with a pronoun or a back-reference ("He also
noted…"), and a second answer only when the selector is nearly as sure of it. Titles are quoted
only when nothing else answers. The short answer is the span the short-answer reader
(`rag.answer.short_answer`) finds inside the first answer and the sentences quoted for it.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

from rag.answer.acronym import asked_acronym, initials_of, spelled_out, written_as
from rag.answer.features import FEATURES, gather, named_back, needs_before
from rag.answer.kind import asked_kind, holds_kind, span_answers, wants_span
from rag.answer.records import Citation, QuestionError, Selection, ShortAnswer
from rag.answer.selector import abstain_threshold, reader_lead, short_answer_bar, stage1_lead
from rag.answer.short_answer import Window, asked_entry, balanced_span, window_of
from rag.retrieval.retriever import Passage
from rag.stopwatch import Stopwatch

# Two quoted answers whose vectors are closer than this say the same thing; the second is dropped.
REDUNDANT_COSINE = 0.8


def clean_question(question: object, max_chars: int) -> tuple[str, str | None]:
    """Normalise a user's question; returns (question, notice) or raises QuestionError."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("Please type a question.")
    notice = None
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notice = f"Your question was long; only its first {len(text):,} characters were used."
    return text, notice


def context_before(index, sid: int, limit: int = 2) -> list[int]:
    """Sentences before `sid` that it leans on, oldest first: when `sid` opens with a pronoun or a
    back-reference, the sentence before it, and further back while those lean too; when it opens
    with "the" and a noun ("The delegation"), the nearest earlier sentence naming that noun instead
    ("The meeting was also attended by …" after "… met …" names none: the sentence before). All lie
    within the `limit` sentences before `sid`, never the title; linking words alone ("Moreover, the
    Career Centre …") lean on nothing (`needs_before`)."""
    if not needs_before(index.sentences[sid].text):
        return []
    title = index.first_sentence_of(index.sentences[sid].doc_id)
    reach: list[int] = []  # the sentences before `sid`, nearest first
    row = index.neighbour(sid, -1)
    while row is not None and row != title and len(reach) < limit:
        reach.append(row)
        row = index.neighbour(row, -1)
    out: list[int] = []
    current, pos = sid, 0  # pos: where in `reach` the sentence before `current` is
    while pos < len(reach) and needs_before(index.sentences[current].text):
        noun, named = named_back(index.sentences[current].text), pos
        if noun:  # the nearest sentence in reach naming it; else the one before, as for a pronoun
            names = re.compile(rf"\b{noun}", re.I)
            named = next((k for k in range(pos, len(reach)) if names.search(index.sentences[reach[k]].text)), pos)
        out.insert(0, reach[named])
        current, pos = reach[named], named + 1
    return out


def choose(probs: np.ndarray, is_title: np.ndarray, vectors: np.ndarray, threshold: float, second_within: float, max_answers: int) -> list[int]:
    """Positions (into `probs`) of the sentences to quote as answers, best first; [] to abstain.

    Titles count only when no other sentence reaches the threshold; a further answer must come
    within `second_within` of the best probability and must not repeat one already chosen.
    """
    order = [int(i) for i in np.argsort(-probs, kind="stable")]
    body = [i for i in order if not is_title[i] and probs[i] >= threshold]
    if not body:
        titles = [i for i in order if probs[i] >= threshold]
        return titles[:1]
    chosen = [body[0]]
    for i in body[1:]:
        if len(chosen) >= max_answers or probs[i] < second_within * probs[body[0]]:
            break
        if max(float(vectors[i] @ vectors[j]) for j in chosen) <= REDUNDANT_COSINE:
            chosen.append(i)
    return chosen


def select_answer(question: str, qvec: np.ndarray, passages: list[Passage], index, settings, selector, reader,
                  timings: dict[str, float] | None = None, short_reader=None) -> Selection:
    """Choose what to quote for `question` from `passages` (best first), and with `short_reader`
    the short answer inside it; each stage's seconds go into `timings` when given."""
    lap = Stopwatch(timings).lap
    cands = gather(question, qvec, passages, index, settings.answer_dense_weight)
    lap("candidates")
    if not len(cands):
        return Selection([], True, 0.0)
    config = selector.config
    stage1 = selector.stage1(cands.features)
    order = np.argsort(-stage1, kind="stable")
    lap("rank")
    acronym = asked_acronym(question)
    if acronym is not None:  # "What does BOSA stand for?": the sentence that spells it out, if one does
        found = spelled_out_among(acronym, cands, order, index)
        if found is not None:
            pos, span = found
            return spelled(index, cands.ids[pos], passages[cands.passage_of[pos]], span, short_reader is not None)
    shortlist = order[: settings.reader_shortlist or config.shortlist]
    ids = [cands.ids[i] for i in shortlist]
    readings = None
    if stage1_lead(stage1) < reader_lead(settings, config):
        readings = reader.read_rows(question, index, ids)
        lap("read")
    probs = selector.stage2(stage1[shortlist], readings, cands.features[shortlist])
    answerable = selector.answerable(probs, stage1, cands.features)
    if answerable < abstain_threshold(settings, config):
        return Selection([], True, answerable)
    is_title = cands.features[shortlist, FEATURES.index("is_title")] > 0
    picked = choose(probs, is_title, index.sentence_vectors_of(ids), 0.0, config.second_within,
                    settings.max_answer_sentences)
    citations = quote(index, [(ids[pos], passages[cands.passage_of[int(shortlist[pos])]], float(probs[pos]))
                              for pos in picked])
    if settings.answer_kind and not holds_kind(" ".join(c.text for c in citations), asked_kind(question)):
        return Selection([], True, answerable)  # e.g. "how many" answered by a sentence with no number
    short = None
    if short_reader is not None and wants_span(question):
        window = quoted_window(index, ids[picked[0]])
        short = short_answer(question, window, short_reader, short_answer_bar(settings, config))
        lap("short")
    return Selection(citations, False, answerable, short)


def spelled_out_among(acronym: str, cands, order: np.ndarray, index) -> tuple[int, tuple[int, int]] | None:
    """The first candidate, in `order` and not a title, that spells `acronym` out beside a bracket;
    failing that, the first holding a name with its initials, in an article that writes the
    acronym: (its position among the candidates, the long form's span in its text), else None."""
    titles = cands.features[:, FEATURES.index("is_title")] > 0
    rows = [(int(pos), index.sentences[cands.ids[int(pos)]]) for pos in order if not titles[pos]]
    for pos, sentence in rows:
        span = spelled_out(sentence.text, acronym)
        if span is not None:
            return pos, span
    written: dict[str, str | None] = {}
    for pos, sentence in rows:
        if sentence.doc_id not in written:
            written[sentence.doc_id] = written_as(index.texts[sentence.doc_id], acronym)
        span = initials_of(sentence.text, written[sentence.doc_id]) if written[sentence.doc_id] else None
        if span is not None:
            return pos, span
    return None


def spelled(index, sid: int, passage: Passage, span: tuple[int, int], short: bool = True) -> Selection:
    """The answer to an acronym question: sentence `sid`, which spells the acronym out at `span`
    (offsets into its text), and with `short` that long form as the short answer.
    A rule, not a model, found it: its score is 1. The long form needs none of what came before, so
    the sentence is quoted alone ("These deliberations … the American Society for Public
    Administration" without the two sentences "These" points back to)."""
    sentence = index.sentences[sid]
    text = sentence.text[span[0]:span[1]]
    long = ShortAnswer(text, sentence.doc_id, sentence.start + span[0], sentence.start + span[1], None) if short else None
    return Selection([citation(index, sid, passage, 1, 1.0)], False, 1.0, long)


def quote(index, picks: list[tuple[int, Passage, float]]) -> list[Citation]:
    """Citations of the answer sentences `picks` (sentence row, the passage it was found in, its
    probability), best first, each after the sentences it leans on (`context_before`); a sentence
    is quoted once, so a second answer leaning on the first does not repeat it."""
    citations: list[Citation] = []
    quoted: set[int] = set()
    for sid, passage, prob in picks:
        for row, context in [*((c, True) for c in context_before(index, sid)), (sid, False)]:
            if row not in quoted:
                quoted.add(row)
                citations.append(citation(index, row, passage, len(citations) + 1, prob, context=context))
    return citations


def quoted_window(index, sid: int) -> Window:
    """What the short-answer reader reads for answer sentence `sid`: it and the sentences quoted
    before it for what it leans on."""
    rows = [*context_before(index, sid), sid]
    return window_of(index, rows[0], sid, quoted=rows)


def short_answer(question: str, window: Window, short_reader, at_least: float) -> ShortAnswer | None:
    """The best span the short-answer reader finds inside one of the quoted sentences, if it scores
    `at_least` and answers `question` (`span_answers`: a yes/no question's span must say no)."""
    entry = asked_entry(question, window.text, window.regions[-1])  # the answer sentence comes last
    regions = [entry] if entry is not None else list(window.regions)
    (span, score), = short_reader.find_spans(question, [window.text], [regions])
    if span is None or score < at_least:
        return None
    region = next((r for r in regions if r[0] <= span[0] and span[1] <= r[1]), (span[0], span[1]))
    a, b = balanced_span(window.text, *span, region)
    text = window.text[a:b]
    if not any(ch.isalnum() for ch in text):  # a lone quote mark or full stop answers nothing
        return None
    if not span_answers(question, text, window.text, window.text[:a]):
        return None
    return ShortAnswer(text, window.doc_id, window.start + a, window.start + b, round(score, 3))


def citation(index, sid: int, passage: Passage, n: int, score: float, context: bool = False) -> Citation:
    """Citation `n` of sentence row `sid`, found in `passage` (kept when the sentence lies inside it)."""
    s = index.sentences[sid]
    inside = passage.doc_id == s.doc_id and passage.start <= s.start and s.end <= passage.end
    entry = index.article(s.doc_id)
    return Citation(n, s.doc_id, passage.title, s.start, s.end, s.text, round(score, 4), passage.chunk_no, context,
                    passage if inside else None, entry.page_of(s.start) if entry is not None else None)


def answer_first(passages: list[Passage], citations: list[Citation]) -> list[Passage]:
    """`passages` with those the citations quote moved to the front, in citation order; the rest keep
    retrieval order: the reader has read the shortlist's sentences, so the passage it quotes is the
    right one more often than retrieval's first."""
    quoted = dict.fromkeys(c.passage.row for c in citations if c.passage is not None)  # ordered, no repeats
    by_row = {p.row: p for p in passages}
    return [by_row[r] for r in quoted if r in by_row] + [p for p in passages if p.row not in quoted]
