"""The answer selector: which candidate sentence answers, and how sure that is.

Stage 1 ranks every candidate with gradient-boosted trees over the cheap features
(`rag.answer.features`); the reader then reads the top few, unless stage 1's best leads the next by
`reader_lead` or more (then the reader rarely changes the pick, and skipping it halves a question's
cost); stage 2, a logistic combination of the stage-1 score and how the reader ranks each sentence
among the ones it read, gives each of those a probability of holding the answer.
A third logistic model turns the best of those, and how well the candidates match the question
at all, into the probability that the articles answer it; the assistant abstains below a
threshold chosen on train data for a stated false-abstention rate. It learns from train
questions asked with their own article left out of the collection. All of it is fitted by `rag train` and ships in `rag/models/`.
"""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answer.features import FEATURES
from rag.embedding.model import checked_sha256
from rag.models import MODELS

RANKER = MODELS / "ranker.txt.xz"
CONFIG = MODELS / "selector.json"
COMBINED = ("stage1", "reader_gap", "is_title", "leans_back")


@dataclass(frozen=True)
class SelectorConfig:
    """What `rag train` chose: stage-2 weights and the thresholds, with why in `notes`."""

    shortlist: int
    coef: list[float]
    intercept: float
    answerable_coef: list[float]
    answerable_intercept: float
    abstain_below: float
    second_within: float
    reader_lead: float
    short_answer_min: float
    files: dict[str, str]
    notes: dict
    # Characters of the previous sentence the reader reads before each sentence (0: none).
    reader_context: int = 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True)


def combined_features(stage1: np.ndarray, readings: list | None, features: np.ndarray) -> np.ndarray:
    """Stage-2 inputs for the shortlisted candidates (rows of `features` in shortlist order);
    `readings` None when the reader was skipped (it then ranks none of them below another)."""
    gap = np.zeros(len(stage1), dtype=np.float32)
    if readings is not None:
        logits = np.array([r.logit for r in readings], dtype=np.float32)
        gap = logits - logits.max(initial=0.0)
    return np.column_stack([
        stage1, gap, features[:, FEATURES.index("is_title")], features[:, FEATURES.index("leans_back")],
    ]).astype(np.float32)


def stage1_lead(stage1: np.ndarray) -> float:
    """How far stage 1's best candidate leads the second (infinite with one candidate)."""
    if len(stage1) < 2:
        return float("inf")
    top2 = np.partition(stage1, len(stage1) - 2)[-2:]
    return float(top2[1] - top2[0])


def reader_lead(settings, config: SelectorConfig) -> float:
    """The stage-1 lead from which the reader is skipped: the setting when given, else the trained one."""
    return config.reader_lead if settings.reader_lead is None else settings.reader_lead


ANSWERABLE = ("best_probability", "best_relevance", "best_cosine", "best_overlap", "best_stage1")


def answerable_features(probs: np.ndarray, stage1: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Question-level inputs of the abstention decision: how sure the selector is of its best
    sentence, and how well the best candidates match the question at all."""
    return np.array([
        probs.max(), features[:, FEATURES.index("relevance")].max(), features[:, FEATURES.index("cosine")].max(),
        features[:, FEATURES.index("overlap")].max(), stage1.max(),
    ], dtype=np.float32)


def abstain_threshold(settings, config: SelectorConfig) -> float:
    """The abstention threshold in force: the setting when given, else the one `rag train` chose."""
    return config.abstain_below if settings.abstain_threshold is None else settings.abstain_threshold


def short_answer_bar(settings, config: SelectorConfig) -> float:
    """The span score a short answer must reach: the `short_answer_min` setting if set, else the trained one."""
    return config.short_answer_min if settings.short_answer_min is None else settings.short_answer_min


def probability(z: np.ndarray, coef, intercept: float) -> np.ndarray:
    """Logistic probability of each stage-2 row."""
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(coef, dtype=np.float32) + intercept)))


def _lightgbm():
    """lightgbm, imported without its optional scikit-learn and pandas interfaces when nothing has
    loaded them yet: they cost ~0.9 and ~0.4 s of a fresh `rag ask`, and only the Booster is used
    (on numpy arrays). pandas is kept out only on the main thread: a server imports it elsewhere
    (gradio) while its models load in a thread, and must not find it blocked."""
    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        import lightgbm

        return lightgbm
    blocked = ["sklearn"]
    if "pandas" not in sys.modules and threading.current_thread() is threading.main_thread():
        blocked.append("pandas")
    for name in blocked:
        sys.modules[name] = None  # `import name` inside lightgbm now fails fast; it then skips that part
    try:
        import lightgbm
    finally:
        for name in blocked:
            del sys.modules[name]
    return lightgbm


class Selector:
    """The fitted stage-1 ranker and stage-2 combination."""

    def __init__(self, ranker_file: Path, config: SelectorConfig | None = None):
        from rag.models import read_model_bytes

        self.ranker = _lightgbm().Booster(model_str=read_model_bytes(ranker_file).decode("utf-8"))
        self.config = config

    @classmethod
    def load(cls, folder: Path = MODELS) -> "Selector":
        """The selector in `folder`, every file checked against the sha256 its config records."""
        config_path = Path(folder) / CONFIG.name
        if not config_path.is_file():
            raise RuntimeError(f"answer selector missing: {config_path} (rebuild it with `rag train`)")
        config = SelectorConfig(**json.loads(config_path.read_text(encoding="utf-8")))
        for name, digest in config.files.items():
            path = Path(folder) / name
            if not path.is_file() or checked_sha256(path) != digest:
                raise RuntimeError(f"answer model file {path} is missing or fails its hash check")
        return cls(Path(folder) / RANKER.name, config)

    def stage1(self, features: np.ndarray) -> np.ndarray:
        """Stage-1 score of each candidate (higher is better)."""
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.ranker.predict(features, raw_score=True, num_threads=1).astype(np.float32)

    def stage2(self, stage1: np.ndarray, readings: list | None, features: np.ndarray) -> np.ndarray:
        """Probability that each shortlisted candidate holds the answer."""
        z = combined_features(stage1, readings, features)
        return probability(z, self.config.coef, self.config.intercept)

    def answerable(self, probs: np.ndarray, stage1: np.ndarray, features: np.ndarray) -> float:
        """Probability that the candidates hold an answer at all (abstain below `abstain_below`)."""
        q = answerable_features(probs, stage1, features)
        return float(probability(q, self.config.answerable_coef, self.config.answerable_intercept))


@lru_cache(maxsize=1)
def get_selector() -> Selector:
    """The shipped selector, loaded once per process."""
    return Selector.load()
