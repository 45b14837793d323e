"""Fitting the selector (`rag.answer.selector`): the stage-1 trees, the stage-2 and abstention
regressions, and the thresholds, on questions the reader never saw."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answer.select import select_answer
from rag.answer.selector import stage1_lead
from rag.train.data import Example

log = logging.getLogger(__name__)


def fit_ranker(examples: list[Example], path: Path, seed: int = 0, extra: list[Example] = (), extra_weight: float = 1.0) -> str:
    """Stage 1: gradient-boosted trees over the cheap features; written as LightGBM text. Returns sha256.

    `extra` examples (another domain's questions, far fewer) count `extra_weight` times each."""
    import lightgbm

    from rag.models import write_booster

    main = [(e, 1.0) for e in examples if len(e.ids)]
    both = main + [(e, extra_weight) for e in extra if len(e.ids)]
    X = np.vstack([e.features for e, _ in both])
    y = np.concatenate([e.labels for e, _ in both])
    weight = np.concatenate([np.full(len(e.ids), w) for e, w in both])
    # The Booster API, not LGBMClassifier: answering loads the model without scikit-learn.
    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "seed": seed, "num_threads": 1,
              "deterministic": True, "force_row_wise": True, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(X, y, weight=weight), num_boost_round=300)
    return write_booster(booster, path)


@dataclass
class Scored:
    """A calibration question after stage 1 and the reader: stage-2 inputs and labels per shortlisted sentence."""

    example: Example
    shortlist: list[int]
    z: np.ndarray
    labels: np.ndarray
    readings: list
    stage1: np.ndarray  # over every candidate, not only the shortlist


def score_shortlists(examples: list[Example], index, selector, reader, shortlist: int) -> list[Scored]:
    """Run stage 1 and the reader over each example's candidates, as `select_answer` does."""
    from rag.answer.selector import combined_features

    out = []
    for ex in examples:
        if not len(ex.ids):
            continue
        s1 = selector.stage1(ex.features)
        top = [int(i) for i in np.argsort(-s1, kind="stable")[:shortlist]]
        readings = reader.read_rows(ex.question, index, [ex.ids[i] for i in top])
        z = combined_features(s1[top], readings, ex.features[top])
        out.append(Scored(ex, top, z, ex.labels[top], readings, s1))
    return out


def fit_combiner(scored: list[Scored]) -> tuple[list[float], float]:
    """Stage 2: logistic regression of "holds the answer" on the stage-2 inputs."""
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([s.z for s in scored])
    y = np.concatenate([s.labels for s in scored])
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
    return [round(float(c), 6) for c in lr.coef_[0]], round(float(lr.intercept_[0]), 6)


def stage2_probs(s: Scored, coef, intercept, lead: float) -> np.ndarray:
    """Stage-2 probabilities of a calibration question's shortlist as the product computes them:
    without the reader when stage 1's best leads the next by `lead` or more."""
    from rag.answer.selector import combined_features, probability

    if stage1_lead(s.stage1) >= lead:
        return probability(combined_features(s.stage1[s.shortlist], None, s.example.features[s.shortlist]), coef, intercept)
    return probability(s.z, coef, intercept)


def _first_picks(scored: list[Scored], coef, intercept, lead: float) -> list[int]:
    """Shortlist position of each calibration question's most probable sentence."""
    return [int(np.argmax(stage2_probs(s, coef, intercept, lead))) for s in scored]


def first_right(scored: list[Scored], coef, intercept, lead: float) -> float:
    """Share of calibration questions whose most probable sentence holds the answer."""
    return float(np.mean([s.labels[p] for s, p in zip(scored, _first_picks(scored, coef, intercept, lead))]))


# Leads tried, in order; the reader is skipped from the smallest at which skipping changes the
# chosen sentence of at most MAX_CHANGED of calibration questions. (Equal accuracy alone chose 1.5,
# changing 1.7% of picks: gains and losses cancelling on calibration, not on other questions.)
LEADS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
MAX_CHANGED = 0.005
ALWAYS_READ = 1e9


def choose_reader_lead(scored: list[Scored], coef, intercept) -> float:
    """The smallest stage-1 lead from which skipping the reader changes the chosen sentence of at
    most `MAX_CHANGED` of the calibration questions (`ALWAYS_READ` if none does)."""
    always = _first_picks(scored, coef, intercept, ALWAYS_READ)
    for lead in LEADS:
        picks = _first_picks(scored, coef, intercept, lead)
        changed = np.mean([p != a for p, a in zip(picks, always)])
        skipped = np.mean([stage1_lead(s.stage1) >= lead for s in scored])
        log.info("reader skipped from lead %.1f: %.0f%% of questions, %.1f%% of picks changed, first %.3f",
                 lead, 100 * skipped, 100 * changed, np.mean([s.labels[p] for s, p in zip(scored, picks)]))
        if changed <= MAX_CHANGED:
            return lead
    return ALWAYS_READ


def fit_answerable(answerable: list[Scored], unanswerable: list[Scored], coef, intercept,
                   lead: float) -> tuple[list[float], float, np.ndarray]:
    """The abstention model: logistic regression of "the candidates hold the answer" on the
    question-level features; returns its weights and the probabilities of the answerable questions."""
    from sklearn.linear_model import LogisticRegression

    from rag.answer.selector import answerable_features, probability

    def rows(scored):
        return [answerable_features(stage2_probs(s, coef, intercept, lead), s.stage1, s.example.features) for s in scored]

    pos, neg = rows(answerable), rows(unanswerable)
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(np.vstack(pos + neg), [1] * len(pos) + [0] * len(neg))
    weights = [round(float(c), 6) for c in lr.coef_[0]]
    bias = round(float(lr.intercept_[0]), 6)
    return weights, bias, probability(np.vstack(pos), weights, bias)


def question_set_answerable(assistant, questions: list[dict], selector, reader) -> np.ndarray:
    """P(answerable) that `selector` gives each answerable question of a question set."""
    probe = assistant.settings.replace(abstain_threshold=-1.0)
    asked = [q for q in questions if q["answerable"]]
    out = []
    for q, qvec in zip(asked, assistant.encoder.encode([q["question"] for q in asked])):
        passages = assistant.retriever.search(q["question"], qvec)
        out.append(select_answer(q["question"], qvec, passages, assistant.index, probe, selector, reader).best_score)
    return np.array(out, dtype=np.float32)


def abstain_below(best_probs: np.ndarray, false_abstention: float) -> float:
    """The threshold that withholds the answer of `false_abstention` of answerable questions."""
    return round(float(np.quantile(best_probs, false_abstention)), 4) if len(best_probs) else 0.0


def _answer_outcome(s: Scored, index, coef, intercept, lead: float, within: float) -> tuple[bool, int]:
    """(gold answer quoted, words quoted) for one calibration question under these settings."""
    from rag.answer.features import FEATURES
    from rag.answer.select import choose, context_before
    from rag.measure.metrics import answer_found

    probs = stage2_probs(s, coef, intercept, lead)
    ids = [s.example.ids[i] for i in s.shortlist]
    is_title = s.example.features[s.shortlist, FEATURES.index("is_title")] > 0
    picked = choose(probs, is_title, index.sentence_vectors_of(ids), 0.0, within, 2)
    quoted = [index.sentences[c].text for p in picked for c in context_before(index, ids[p]) + [ids[p]]]
    text = " ".join(quoted)
    return bool(picked) and answer_found(text, s.example.answers), len(text.split())


def second_within(scored: list[Scored], index, coef, intercept, lead: float, max_words: float) -> float:
    """The loosest "second answer within this share of the best" whose answers average at most
    `max_words` words, on the calibration questions (1.0 would never add a second answer)."""
    best = 1.0
    for within in (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3):
        words = np.mean([_answer_outcome(s, index, coef, intercept, lead, within)[1] for s in scored])
        if words > max_words:
            break
        best = within
    return best


def short_answer_min(scored: list[Scored], index, coef, intercept, lead: float, span_reader, min_hit: float) -> float:
    """The span score from which a short answer is shown (`sure_from`), over the short answers the
    calibration questions get: below it the sentence is quoted without one."""
    from rag.answer.select import quoted_window
    from rag.measure.metrics import f1

    pairs = []
    for s in scored:
        first = s.example.ids[s.shortlist[int(np.argmax(stage2_probs(s, coef, intercept, lead)))]]
        window = quoted_window(index, first)
        (span, score), = span_reader.find_spans(s.example.question, [window.text], [window.regions])
        if span is not None:
            pairs.append((score, f1(window.text[span[0] : span[1]], s.example.answers)))
    return sure_from(pairs, min_hit)


def sure_from(pairs: list[tuple[float, float]], min_hit: float) -> float:
    """The span score from which short answers share a word with a gold answer (F1 above 0) at
    least `min_hit` of the time, by a logistic fit of that on the score over the (score, F1)
    `pairs`; 1e9 when no score is that sure. Below it a short answer is more often wrong than not
    (at 0.5), and none is better than a wrong one in bold. The fit is smooth on purpose: the share
    hovers near a half over a wide range of scores, where a step-wise fit jumps."""
    from sklearn.linear_model import LogisticRegression

    if not 0 < min_hit < 1:
        raise ValueError(f"min_hit must lie between 0 and 1, not {min_hit}")
    scores = np.array([[score] for score, _ in pairs], dtype=np.float64)
    hits = np.array([value > 0 for _, value in pairs])
    if not hits.any():  # none right (or none at all): no short answer is shown
        return 1e9
    if hits.all():  # all right: every one is
        return round(float(scores.min()), 3)
    fit = LogisticRegression(C=1e6, max_iter=5000).fit(scores, hits)
    slope, offset = float(fit.coef_[0][0]), float(fit.intercept_[0])
    if slope <= 0:  # surer spans no more often right: the score cannot tell
        return round(float(scores.min()), 3) if hits.mean() >= min_hit else 1e9
    bar = (np.log(min_hit / (1 - min_hit)) - offset) / slope
    if bar > scores.max():  # no span seen was that sure
        return 1e9
    return round(float(max(bar, scores.min())), 3)


def fit_selector(calibrate: list[Example], unanswerable: list[Example], index, stage1, reader, span_reader,
                 shortlist: int, false_abstention: float, max_words: float, short_min_hit: float) -> dict:
    """Stage 2, the abstention model and the thresholds, fitted on the calibration questions
    (which the ranker and the reader never saw); the selector config's fields."""
    scored = score_shortlists(calibrate, index, stage1, reader, shortlist)
    negatives = score_shortlists(unanswerable, index, stage1, reader, shortlist)
    coef, intercept = fit_combiner(scored)
    lead = choose_reader_lead(scored, coef, intercept)
    q_coef, q_intercept, answerable = fit_answerable(scored, negatives, coef, intercept, lead)
    log.info("calibration: stage 1 first %.3f, combined first %.3f", np.mean([s.labels[0] for s in scored]),
             first_right(scored, coef, intercept, lead))
    return {
        "shortlist": shortlist, "coef": coef, "intercept": intercept, "reader_lead": lead,
        "answerable_coef": q_coef, "answerable_intercept": q_intercept,
        "abstain_below": abstain_below(answerable, false_abstention),
        "second_within": second_within(scored, index, coef, intercept, lead, max_words),
        "short_answer_min": short_answer_min(scored, index, coef, intercept, lead, span_reader, short_min_hit),
    }


def calibrate_on_question_set(fitted: dict, files: dict, folder: Path, reader, question_settings, questions: list[dict],
                              false_abstention: float) -> float:
    """The abstention threshold that also keeps false abstentions on a question set of the
    product's own domain (news articles, not Wikipedia) at `false_abstention`; the lower of the two."""
    from rag.answer.selector import RANKER, Selector, SelectorConfig
    from rag.assistant import Assistant
    from rag.retrieval.passage_ranker import WEIGHTS as PASSAGE_WEIGHTS, PassageRanker

    selector = Selector(folder / RANKER.name, SelectorConfig(**fitted, files=files, notes={}))
    ranker = PassageRanker(folder / PASSAGE_WEIGHTS.name) if PASSAGE_WEIGHTS.name in files else None
    assistant = Assistant(question_settings.replace(passage_ranker=False), progress=False, answer_models=False)
    assistant.retriever.ranker = ranker  # the one fitted with this selector, not the shipped one
    probs = question_set_answerable(assistant, questions, selector, reader)
    return min(fitted["abstain_below"], abstain_below(probs, false_abstention))
