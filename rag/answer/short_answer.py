"""The short answer: the exact span that answers, inside the quoted sentences.

A second reader (`rag/models/span_reader.safetensors.xz`, the network of `rag.answer.reader` with its top
three layers trained for spans alone, starting from the reader's) reads the question with the quoted sentences: the chosen one and the sentence
it leans on, so "Who noted…" can be answered by the name in the sentence before "He also
noted…". The span lies inside one quoted sentence.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.answer.words import HONORIFIC_NAME, TITLE_WORDS
from rag.indexing.lexical import fold
from rag.models import MODELS

WEIGHTS = MODELS / "span_reader.safetensors.xz"
# Unquoted sentences read on each side (titles excluded). Measured on SQuAD's calibration
# articles, one each side made spans worse (F1 54.2 against 55.4 after one epoch), so none.
CONTEXT = 0
# Transformer layers trained for spans (as many as the reader trains): measured on the calibration
# articles after one epoch, span F1 59.9 with three against 55.4 with two.
LAYERS = 3
# Word pieces read per window (question included): two or three sentences fit.
MAX_TOKENS = 192


@dataclass(frozen=True)
class Window:
    """Text the span reader reads: `text == source[start:start + len(text)]` of `doc_id`; a span
    may only come from inside one of the `regions` (the quoted sentences, offsets into `text`)."""

    doc_id: str
    start: int
    text: str
    regions: tuple[tuple[int, int], ...]


def window_of(index, first: int, last: int, context: int = CONTEXT, quoted: Sequence[int] | None = None) -> Window:
    """Sentences `first`..`last` (rows of one article) with up to `context` more sentences on each
    side; the article's title line is never added. A span may come from the `quoted` rows (all of
    `first`..`last` when not given): a sentence between two quoted ones is read, not answered from."""
    title = index.first_sentence_of(index.sentences[first].doc_id)
    lo, hi = first, last
    for _ in range(context):
        before = index.neighbour(lo, -1)
        if before is not None and before != title:
            lo = before
        after = index.neighbour(hi, 1)
        if after is not None:
            hi = after
    start = index.sentences[lo].start
    rows = range(first, last + 1) if quoted is None else quoted
    regions = tuple((index.sentences[r].start - start, index.sentences[r].end - start) for r in rows)
    return Window(index.sentences[first].doc_id, start, index.span_text(lo, hi), regions)


_PAIRS = (("(", ")"), ("[", "]"), ("“", "”"), ("‘", "’"), ('"', '"'))
# A capitalised word of a list entry, and a word of a question.
_NAME_WORD = re.compile(r"\b[A-Z][\w’'-]*")
_WORD = re.compile(r"\w{3,}")
# A person's name after the honorific: capitalised words ("Nataliia Aliushyna", "Pan Suk Kim").
_NAME_RUN = re.compile(r"[A-Z][\w’'-]*(\s+[A-Z][\w’'-]*)*")
# Brackets and quotes a list entry does not end inside, closer to opener.
_OPENER_OF = {")": "(", "]": "[", "}": "{", "”": "“", "’": "‘"}
# A title's word ("Head", "Minister"), and the words that end an organisation's name, not a person's.
_TITLE_WORD = re.compile(r"\b(" + "|".join(sorted(TITLE_WORDS, key=len, reverse=True)) + r")\b", re.I)
_NOT_NAMES = TITLE_WORDS | {
    "division", "board", "bureau", "agency", "department", "office", "ministry", "republic", "service", "commission",
    "committee", "council", "centre", "center", "academy", "university", "institute", "association", "society",
    "directorate", "organization", "organisation", "union", "bank", "fund", "administration", "affairs",
    "development", "management", "forum", "summit", "conference", "sector"}
# A sentence lists people when at least this many of its entries name one.
LIST_ENTRIES = 3


def _entries(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """The entries of `text[a:b]`: its parts between commas and semicolons outside brackets, each
    without the separator that ends it."""
    out, start, opened = [], a, []
    for i in range(a, b):
        ch = text[i]
        if ch in _OPENER_OF.values():
            opened.append(ch)
        elif ch in _OPENER_OF:  # a closer closes only its own opener: "’" alone writes an apostrophe
            if opened and opened[-1] == _OPENER_OF[ch]:
                opened.pop()
        elif ch in ",;" and not opened and i + 1 < b and text[i + 1].isspace():
            out.append((start, i))
            start = i + 1 + len(text[i + 1:b]) - len(text[i + 1:b].lstrip())
    out.append((start, b))
    return out


def _titled_name(entry: str) -> tuple[int, int] | None:
    """(start, end) in `entry` of the name that ends it after a title's word ("the Head of Civil
    Service Bureau of Georgia Catherine Kardava" → "Catherine Kardava"): its last two words before
    its end or "and others", each capitalised, neither an acronym nor a word of a title's or an
    organisation's name; None when the entry ends otherwise. Two words only: a place may run into
    the name ("Georgia")."""
    body = re.sub(r"\s+and\s+others\W*$", "", entry).rstrip(" ,;.")
    words = list(re.finditer(r"\S+", body))[-2:]
    if len(words) < 2 or not all(w[:1].isupper() and w[1:].islower() and re.sub(r"[’']s$", "", w.lower()) not in _NOT_NAMES
                                 for w in (m.group() for m in words)):
        return None
    return (words[0].start(), words[1].end()) if _TITLE_WORD.search(body, 0, words[0].start()) else None


def _person_in(text: str, lo: int, hi: int) -> tuple[int, int] | None:
    """Where the list entry `text[lo:hi]` names a person: from an honorific to the end of the name
    after it ("Ms. Nataliia Aliushyna"), or the name after a title (`_titled_name`); None if it names
    no one."""
    found = HONORIFIC_NAME.search(text, lo, hi)
    if found:
        return found.start(), _NAME_RUN.match(text, found.end() - 1, hi).end()
    run = _titled_name(text[lo:hi])
    return (lo + run[0], lo + run[1]) if run else None


def _same_name(a: str, b: str) -> bool:
    """Whether two folded words name the same thing, a demonym its place included ("macedonian",
    "macedonia"; "korean", "korea"; "ukrainian", "ukraine"): equal, or sharing all but the last letter
    of the shorter, five letters at least ("austria" and "australia" share five of seven)."""
    short = min(len(a), len(b))
    shared = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), short)
    return a == b or (shared >= 5 and shared >= short - 1)


def asked_entry(question: str, text: str, region: tuple[int, int]) -> tuple[int, int] | None:
    """The entry of the sentence `text[region]`, a list of people with their titles, that `question`
    singles out, as offsets into `text`: the entry whose title (its capitalised words other than the
    person's name) holds the most of the question's words, of three letters or
    more in any case, that no other entry's title holds ("Who heads the National Agency of Ukraine
    …?" in "… Director of the Civil Service Bureau of Georgia Ms. Catherine Kardava, Head of the
    National Agency of Ukraine on Civil Service Ms. Nataliia Aliushyna, …", where the span reader,
    taught on SQuAD, named the person before the title). A person the question names is not what it
    asks for ("Who spoke after Ms. Kardava?"). When no entry is singled out, the whole `region`: the
    sentences quoted before a list of people ("The Chairman … Alikhan Baimenov met …") do not answer
    who is in it. None unless `LIST_ENTRIES` entries or more (parts between commas and semicolons
    outside brackets) each name a person, after an honorific or after a title (`_titled_name`), or
    when the entry singled out names none: in other sentences the entry a question names is its topic
    as often as its answer ("When did the workshop in New York take place?"; on SQuAD test, short F1
    57.0 → 50.8 restricting every list)."""
    a, b = region
    entries = _entries(text, a, b)
    persons = [_person_in(text, lo, hi) for lo, hi in entries]
    if sum(p is not None for p in persons) < LIST_ENTRIES:
        return None
    asked = {fold(w) for w in _WORD.findall(question)}
    held = []
    for (lo, hi), person in zip(entries, persons):
        skip = person or (hi, hi)
        # Title words, not the person's name; the sentence's first word is capitalised whatever it is.
        names = {fold(m.group()) for m in _NAME_WORD.finditer(text, lo, hi)
                 if m.start() > a and not skip[0] <= m.start() < skip[1]}
        held.append({q for q in asked if any(_same_name(q, n) for n in names)})
    seen = Counter(q for h in held for q in h)
    counts = [sum(seen[q] == 1 for q in h) for h in held]
    best = max(counts)
    if not best or counts.count(best) > 1:
        return region  # no entry singled out: the person asked for is in the list, not before it
    chosen = counts.index(best)
    return entries[chosen] if persons[chosen] is not None else None


def balanced_span(text: str, a: int, b: int, region: tuple[int, int]) -> tuple[int, int]:
    """`text[a:b]` with its brackets and quote marks paired, inside `region`: a mark left alone at
    either end is dropped ("BOSA)" becomes "BOSA"), one left alone inside takes in its partner when
    that lies just outside ("Jean Cauvin (John Calvin" gains its ")"). Word pieces split at
    punctuation, so the reader's spans often stop one character short of a pair."""
    lo, hi = region
    for opener, closer in _PAIRS:
        span = text[a:b]
        if opener == closer:
            extra = span.count(opener) % 2
        else:
            extra = span.count(opener) - span.count(closer)
        if extra > 0:
            if span.startswith(opener):
                a += 1
            elif span.endswith(opener):
                b -= 1
            elif b < hi and text[b] == closer:
                b += 1
            elif opener == closer and a > lo and text[a - 1] == opener:
                a -= 1
        elif extra < 0:
            if span.endswith(closer):
                b -= 1
            elif span.startswith(closer):
                a += 1
            elif a > lo and text[a - 1] == opener:
                a -= 1
    return a, b


@lru_cache(maxsize=2)
def get_span_reader(runtime: str = "onnx-int8"):
    """The shipped span reader, loaded once per process; its sha256 is in the selector's config."""
    from rag.answer.reader import Reader
    from rag.answer.selector import get_selector

    return Reader(WEIGHTS, get_selector().config.files[WEIGHTS.name], runtime, max_tokens=MAX_TOKENS)
