"""Evaluation metrics: pure functions over ranked ids, answers and abstentions."""
from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower-case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def exact_match(prediction: str | None, gold_answers: list[str]) -> float:
    """Official SQuAD v1.1 exact match, max over the gold answers (no prediction scores 0)."""
    if not prediction:
        return 0.0
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in gold_answers))


def f1(prediction: str | None, gold_answers: list[str]) -> float:
    """Official SQuAD v1.1 token F1, max over the gold answers (no prediction scores 0)."""
    if not prediction:
        return 0.0
    pred = _tokens(prediction)
    best = 0.0
    for gold in gold_answers:
        ref = _tokens(gold)
        common = Counter(pred) & Counter(ref)
        same = sum(common.values())
        if same:
            p, r = same / len(pred), same / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def distinct(ids: list[str]) -> list[str]:
    """`ids` in order with repeats removed (passages of one article count once)."""
    return list(dict.fromkeys(ids))


def hit_at(ranked: list[str], gold: set[str], k: int) -> bool:
    """A gold id among the first k distinct ids."""
    return any(d in gold for d in distinct(ranked)[:k])


def reciprocal_rank(ranked: list[str], gold: set[str], k: int = 10) -> float:
    """1/rank of the first gold id among the first k distinct ids, else 0."""
    for rank, d in enumerate(distinct(ranked)[:k], start=1):
        if d in gold:
            return 1.0 / rank
    return 0.0


def _split_words(text: str) -> str:
    """Lower-case words with every punctuation mark (ASCII or not) a word break, no articles."""
    text = "".join(" " if c in _PUNCT or unicodedata.category(c)[0] == "P" else c for c in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_found(quoted: str, gold_answers: list[str]) -> bool:
    """A gold answer's words are whole words of the quoted text, under SQuAD's normalisation (which
    deletes punctuation: "Levi's" is "levis") or with punctuation breaking words instead, so that
    "an 11-year veteran" holds "11" and "Manning's problems" holds "Manning"."""
    for normalize in (normalize_answer, _split_words):
        text = f" {normalize(quoted)} "
        if any(g and f" {g} " in text for g in map(normalize, gold_answers)):
            return True
    return False


def citation_precision(cited: list[str], gold: set[str]) -> float | None:
    """Share of cited ids that are gold; None when nothing was cited."""
    if not cited:
        return None
    return sum(c in gold for c in cited) / len(cited)


def mean(values) -> float | None:
    """Mean of the non-None values; None when there are none."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    vals = sorted(values)
    pos = (len(vals) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def abstention_scores(abstained: list[bool], answerable: list[bool]) -> dict[str, float | None]:
    """Precision and recall of abstaining on unanswerable questions, and the false-abstention rate."""
    tp = sum(a and not ans for a, ans in zip(abstained, answerable))
    fp = sum(a and ans for a, ans in zip(abstained, answerable))
    n_unanswerable = sum(not ans for ans in answerable)
    n_answerable = sum(answerable)
    return {
        "abstain_precision": tp / (tp + fp) if tp + fp else None,
        "abstain_recall": tp / n_unanswerable if n_unanswerable else None,
        "false_abstention": fp / n_answerable if n_answerable else None,
    }
