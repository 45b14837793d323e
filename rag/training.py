"""`rag train`: fit the reader and the answer selector on SQuAD's *train* articles only.

    rag train --squad ../shared/data/squad/dev-v1.1.json

Steps: index all 48 articles (as `rag eval --squad` does, cached), retrieve for every train-split
question, gather candidate sentences and features (`rag.features`), fine-tune the reader's top
layers on the "fit" articles (listwise loss over each question's candidates plus the answer-span
loss), then fit the selector on the held-apart "calibrate" articles, whose questions the reader
never saw. Test articles are never read. Seeded; PyTorch's multi-threaded sums make a re-run
equal in scores rather than byte for byte.

The steps live in `rag.training_data`, `rag.reader_training` and `rag.selector_fitting`.
"""
from __future__ import annotations

import logging
from pathlib import Path

from rag.reader_training import save_reader, train_reader
from rag.selector_fitting import calibrate_on_question_set, fit_ranker, fit_selector
from rag.training_data import make_examples, train_roles, training_questions

__all__ = ["run", "train_roles", "training_questions"]

log = logging.getLogger(__name__)


def run(squad: Path, output: Path, settings, epochs: int = 1, shortlist: int = 4, seed: int = 0,
        false_abstention: float = 0.03, max_words: float = 35.0, short_min_f1: float = 0.5,
        questions: list[dict] | None = None, question_settings=None, question_false_abstention: float = 0.02,
        reader_weights: Path | None = None) -> dict:
    """Everything `rag train` does; returns the summary it prints. Writes into `output`:
    ranker.txt, reader.safetensors and selector.json (which holds the other two's sha256).

    `questions` (a question set over `question_settings`' corpus, e.g. the seeds') only lowers the
    abstention threshold so its answerable questions are withheld at most `question_false_abstention`.
    `reader_weights` skips training the reader and uses those weights (for a refit after a change
    to retrieval or features)."""
    import shutil

    import torch

    from rag.assistant import Assistant
    from rag.embedding import sha256_file
    from rag.reader import Reader
    from rag.selector import ANSWERABLE, COMBINED, CONFIG, RANKER, Selector, SelectorConfig

    torch.manual_seed(seed)
    fit_q, calibrate_q = training_questions(squad)
    assistant = Assistant(settings, progress=True, answer_models=False)
    log.info("retrieving for %d + %d train questions", len(fit_q), len(calibrate_q))
    fit = make_examples(assistant, fit_q, settings.k)
    calibrate = make_examples(assistant, calibrate_q, settings.k)
    unanswerable = make_examples(assistant, calibrate_q, settings.k, without_article=True)
    output.mkdir(parents=True, exist_ok=True)
    # Stage 1 also sees the fit questions asked without their article, so its score means
    # "this answers" in absolute terms, not only "best of these candidates".
    fit_unanswerable = make_examples(assistant, fit_q, settings.k, without_article=True)
    files = {RANKER.name: fit_ranker(fit + fit_unanswerable, output / RANKER.name, seed)}
    if reader_weights is None:
        log.info("training the reader on %d questions", len(fit))
        net = train_reader(fit, assistant.index, epochs=epochs, seed=seed)
        files["reader.safetensors"] = save_reader(net, output / "reader.safetensors")
    else:  # refit only what depends on retrieval, keeping trained reader weights
        if Path(reader_weights).resolve() != (output / "reader.safetensors").resolve():
            shutil.copy(reader_weights, output / "reader.safetensors")
        files["reader.safetensors"] = sha256_file(output / "reader.safetensors")
    reader = Reader(output / "reader.safetensors", files["reader.safetensors"])
    fitted = fit_selector(calibrate, unanswerable, assistant.index, Selector(output / RANKER.name), reader, shortlist,
                          false_abstention, max_words, short_min_f1)
    if questions:
        fitted["abstain_below"] = calibrate_on_question_set(fitted, files, output, reader, question_settings, questions,
                                                            question_false_abstention)
    config = SelectorConfig(
        **fitted, files=files,
        notes={
            "data": f"{squad.name}: {len(fit)} questions fit the ranker and reader, {len(calibrate)} calibrate "
                    "(and, asked without their article, teach abstention); test articles unread",
            "false_abstention": false_abstention, "max_words": max_words, "short_min_f1": short_min_f1,
            "question_set_false_abstention": question_false_abstention if questions else None,
            "epochs": epochs, "seed": seed, "combined": list(COMBINED), "answerable": list(ANSWERABLE),
        },
    )
    (output / CONFIG.name).write_text(config.to_json() + "\n", encoding="utf-8")
    return config.__dict__
