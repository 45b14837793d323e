"""Sentence splitting with pysbd, keeping exact character spans into the article text.

`Sentence` is the one sentence record of the package: splitting makes it, chunks group it, the
index stores it (one row of sentences.json) and a citation quotes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd

# Longest paragraph handed to pysbd at once: its cost grows faster than linearly.
_MAX_PARAGRAPH = 20_000


# Slots: an index load builds one of these per sentence row (~12k on SQuAD), so they stay small.
@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of an article: `text == article_text[start:end]` of article `doc_id`."""

    doc_id: str
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str, start: int = 0, end: int | None = None, doc_id: str = "") -> list[Sentence]:
    """The sentences of `text[start:end]` (of article `doc_id`), paragraph by paragraph; whitespace
    is never inside an edge."""
    end = len(text) if end is None else end
    out: list[Sentence] = []
    for para in re.finditer(r"[^\n]+", text[start:end]):
        p0 = start + para.start()
        for piece_start, piece in _pieces(para.group()):
            out.extend(Sentence(doc_id, s, e, text[s:e]) for s, e in _segment(p0 + piece_start, piece))
    return out


_SPACE = re.compile(r"\s+")


def _pieces(paragraph: str):
    """Cut a huge paragraph so pysbd stays fast; normal paragraphs pass whole.

    A cut falls after a sentence end if there is one, else at the last whitespace of any kind
    (tabs, no-break spaces...), never inside a word: a piece may run past the limit to the next
    whitespace (up to 5 times it; a longer run of non-space characters has no word boundary).
    """
    pos = 0
    while len(paragraph) - pos > _MAX_PARAGRAPH:
        end = pos + _MAX_PARAGRAPH
        cut = paragraph.rfind(". ", pos, end)
        if cut > pos:
            cut += 1
        else:
            spaces = [m.start() for m in _SPACE.finditer(paragraph, pos + 1, end)]
            if spaces:
                cut = spaces[-1]
            else:
                after = _SPACE.search(paragraph, end, pos + 5 * _MAX_PARAGRAPH)
                cut = after.start() if after else end
        yield pos, paragraph[pos:cut]
        pos = cut
    yield pos, paragraph[pos:]


def _segment(offset: int, piece: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence pysbd finds in `piece`, which starts at `offset`."""
    spans = []
    cursor = 0
    for sent in _segmenter().segment(piece):
        stripped = sent.strip()
        if not stripped:
            continue
        found = piece.find(stripped, cursor)
        if found < 0:  # pysbd altered the text; fall back to the cursor position
            found = cursor + len(sent) - len(sent.lstrip())
            stripped = piece[found : found + len(stripped)]
        spans.append((offset + found, offset + found + len(stripped)))
        cursor = found + len(stripped)
    return spans


def split_long(text: str, sentence: Sentence, count_tokens, max_tokens: int) -> list[Sentence]:
    """Cut one over-long sentence of `text` at whitespace into pieces of at most `max_tokens` tokens."""
    base = sentence.start
    words = [m.span() for m in re.finditer(r"\S+", sentence.text)]
    pieces: list[Sentence] = []
    i = 0
    while i < len(words):
        lo, hi = i + 1, len(words)
        start = base + words[i][0]
        # Longest prefix of words that fits: binary search on the token count.
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count_tokens(text[start : base + words[mid - 1][1]]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        end = base + words[lo - 1][1]
        pieces.append(Sentence(sentence.doc_id, start, end, text[start:end]))
        i = lo
    return pieces
