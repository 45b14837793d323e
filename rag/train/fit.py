"""`rag train`: fit the answer models on train splits only (SQuAD's *train* articles and, for the
passage ranker, a BEIR set's train claims).

    rag train --squad ../shared/data/squad/dev-v1.1.json --beir ../shared/data/beir/scifact

Steps: index all 48 articles (as `rag eval --squad` does, cached), fit the passage ranker
(`rag.retrieval.passage_ranker`) on the "fit" articles' questions (and, with --beir, the BEIR set's train
claims over its own index, cached as `rag eval --beir` builds it), retrieve with it for every
train-split question, gather candidate sentences and features (`rag.answer.features`), fine-tune the reader's top
layers on the "fit" articles (listwise loss over each question's candidates plus the answer-span
loss), then fit the selector on the held-apart "calibrate" articles, whose questions the reader
never saw. Test articles are never read. Seeded; PyTorch's multi-threaded sums make a re-run
equal in scores rather than byte for byte.

The steps live in `rag.train.data`, `rag.train.reader` and `rag.train.selector`.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from rag.train.data import claim_questions, make_examples, train_roles, training_questions
from rag.train.reader import epoch_rates, save_reader, train_reader
from rag.train.selector import calibrate_on_question_set, fit_ranker, fit_selector
from rag.train.short_answer import span_examples, train_span_reader

__all__ = ["run", "train_roles", "training_questions"]

log = logging.getLogger(__name__)


# long because: every argument is documented and each training step is one line, in order; split,
# the steps would only pass the same dozen values along.
def run(squad: Path, output: Path, settings, epochs: int = 1, shortlist: int = 4, seed: int = 0,
        false_abstention: float = 0.03, max_words: float = 35.0, short_min_hit: float = 0.5,
        questions: list[dict] | None = None, question_settings=None, question_false_abstention: float = 0.02,
        reader_weights: Path | None = None, span_epochs: int = 3, span_weights: Path | None = None,
        reader_lr: float | list[float] = 5e-5, reader_layers: int | None = None, reader_context: int = 0,
        beir: Path | None = None, beir_weight: float = 3.0, passage_ranker: Path | None = None,
        ranker: Path | None = None, reader_start: Path | None = None, cut_answers: bool = False,
        reader_base: str | None = None) -> dict:
    """Everything `rag train` does; returns the summary it prints. Writes into `output`:
    ranker.txt.xz, reader.safetensors.xz, span_reader.safetensors.xz and selector.json (which holds the
    others' sha256).

    `questions` (a question set over `question_settings`' corpus, e.g. the seeds') only lowers the
    abstention threshold so its answerable questions are withheld at most `question_false_abstention`.
    `reader_lr` is the reader's learning rate, one for all epochs or one per epoch; `reader_layers`
    how many of its top layers are trained (default: `rag.answer.reader.TRAINED_LAYERS`); `reader_context`
    how many characters of the sentence before it the reader reads before each sentence.
    `reader_weights` skips training the reader and uses those weights (for a refit after a change
    to retrieval or features); `span_weights` likewise for the short-answer reader, which is
    otherwise trained from the reader's weights for `span_epochs`. `beir` (a BEIR data set folder)
    adds its train claims to the passage ranker's data, each weighing `beir_weight` questions.
    `passage_ranker` and `ranker` keep those fitted trees instead of fitting them (a refit after a
    change to the reader: LightGBM's splits move with a CPU's last bits, the trees need not).
    `reader_start` trains the reader further from those weights, for `epochs` more epochs; with
    `cut_answers` each positive is also read with its answer cut out, as a negative. `reader_base`
    is the network a newly trained reader starts from (`rag.answer.reader_base`; default the bundled MiniLM)."""
    import torch

    from rag.answer.reader import WEIGHTS as READER_WEIGHTS, Reader
    from rag.answer.reader_files import base_in, layers_in
    from rag.answer.selector import ANSWERABLE, COMBINED, CONFIG, RANKER, Selector, SelectorConfig
    from rag.answer.short_answer import MAX_TOKENS as SPAN_TOKENS, WEIGHTS as SPAN_WEIGHTS
    from rag.assistant import Assistant
    from rag.retrieval.passage_ranker import (
        WEIGHTS as PASSAGE_WEIGHTS,
        PassageRanker,
        fit_passage_ranker,
        ranker_examples,
    )

    check_options(reader_weights, reader_start, cut_answers, passage_ranker, beir, ranker, span_weights, reader_base)
    if reader_weights is None:
        epoch_rates(reader_lr, epochs)  # a wrong count fails now, not after the retrieval pass
    torch.manual_seed(seed)
    fit_q, calibrate_q = training_questions(squad)
    assistant = Assistant(settings.replace(passage_ranker=False), progress=True, answer_models=False)
    output.mkdir(parents=True, exist_ok=True)
    if passage_ranker is not None:
        ranker_data = _kept_note(passage_ranker)
        files = {PASSAGE_WEIGHTS.name: _copied(passage_ranker, output / PASSAGE_WEIGHTS.name)}
    else:  # the passage ranker first: what it puts on top is what the answer models then learn from
        groups = ranker_examples(assistant, fit_q)
        weights, ranker_data = [1.0] * len(groups), f"{len(fit_q)} fit questions"
        if beir is not None:
            claims = _claim_examples(beir, settings)
            groups, weights = groups + claims, weights + [beir_weight] * len(claims)
            ranker_data += f" + {len(claims)} {beir.name} train claims, each weighing {beir_weight:g}"
        log.info("fitting the passage ranker on %d questions", len(groups))
        files = {PASSAGE_WEIGHTS.name: fit_passage_ranker(groups, output / PASSAGE_WEIGHTS.name, seed, weights)}
    assistant.retriever.ranker = PassageRanker(output / PASSAGE_WEIGHTS.name)
    log.info("retrieving for %d + %d train questions", len(fit_q), len(calibrate_q))
    fit = make_examples(assistant, fit_q, settings.k)
    calibrate = make_examples(assistant, calibrate_q, settings.k)
    unanswerable = make_examples(assistant, calibrate_q, settings.k, without_article=True)
    if ranker is not None:
        files[RANKER.name] = _copied(ranker, output / RANKER.name)
    else:
        # Stage 1 also sees the fit questions asked without their article, so its score means
        # "this answers" in absolute terms, not only "best of these candidates".
        fit_unanswerable = make_examples(assistant, fit_q, settings.k, without_article=True)
        files[RANKER.name] = fit_ranker(fit + fit_unanswerable, output / RANKER.name, seed)
    files[READER_WEIGHTS.name] = _reader(fit, assistant.index, output, epochs, reader_lr, reader_weights, seed,
                                         reader_layers, reader_context, reader_start, cut_answers, reader_base)
    # Stage 2 and the thresholds are fitted on the scores of the product's runtime (int8), as the bar below is.
    reader = Reader(output / READER_WEIGHTS.name, files[READER_WEIGHTS.name], "onnx-int8", context_chars=reader_context)
    files[SPAN_WEIGHTS.name] = _span_reader(fit_q, assistant.index, output, files, span_epochs, span_weights, seed)
    span_reader = Reader(output / SPAN_WEIGHTS.name, files[SPAN_WEIGHTS.name], "onnx-int8", max_tokens=SPAN_TOKENS)
    fitted = fit_selector(calibrate, unanswerable, assistant.index, Selector(output / RANKER.name), reader, span_reader,
                          shortlist, false_abstention, max_words, short_min_hit)
    if questions:
        fitted["abstain_below"] = calibrate_on_question_set(fitted, files, output, reader, question_settings, questions,
                                                            question_false_abstention)
    config = SelectorConfig(
        **fitted, files=files, reader_context=reader_context,
        notes={
            "data": f"{squad.name}: {len(fit)} questions fit the ranker and reader, {len(calibrate)} calibrate "
                    "(and, asked without their article, teach abstention); test articles unread",
            "passage_ranker": ranker_data,
            "false_abstention": false_abstention, "max_words": max_words, "short_min_hit": short_min_hit,
            "question_set_false_abstention": question_false_abstention if questions else None,
            "epochs": epochs, "reader_lr": reader_lr, "reader_start": str(reader_start) if reader_start else None,
            "cut_answers": cut_answers, "reader_base": base_in(output / READER_WEIGHTS.name),
            "reader_layers": layers_in(output / READER_WEIGHTS.name), "span_epochs": span_epochs, "seed": seed, "combined": list(COMBINED), "answerable": list(ANSWERABLE),
        },
    )
    (output / CONFIG.name).write_text(config.to_json() + "\n", encoding="utf-8")
    return config.__dict__


def check_options(reader_weights: Path | None, reader_start: Path | None, cut_answers: bool,
                  passage_ranker: Path | None, beir: Path | None, ranker: Path | None = None,
                  span_weights: Path | None = None, reader_base: str | None = None) -> None:
    """Refuse options that contradict each other, before any long step: each would be ignored."""
    if reader_weights is not None and (reader_start is not None or cut_answers or reader_base is not None):
        raise ValueError("--reader keeps the reader as it is: drop --reader-start, --reader-base and --cut-answers, or --reader")
    if reader_start is not None and reader_base is not None:
        raise ValueError("--reader-start trains further from a file, whose base is its own: drop --reader-base")
    if reader_base is not None:
        from rag.answer.reader_base import check_base

        check_base(reader_base)
    if passage_ranker is not None and beir is not None:
        raise ValueError("--beir adds data to the passage ranker, which --passage-ranker keeps: drop one of them")
    given = (("--reader", reader_weights), ("--reader-start", reader_start), ("--passage-ranker", passage_ranker),
             ("--ranker", ranker), ("--span-reader", span_weights))
    for name, path in given:
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{name}: no such file: {path}")


def _kept_note(passage_ranker: Path) -> str:
    """What a kept passage ranker learnt from, as the selector config beside it says."""
    beside = Path(passage_ranker).parent / "selector.json"
    if beside.is_file():
        return json.loads(beside.read_text(encoding="utf-8"))["notes"].get("passage_ranker", "kept")
    return "kept"


def _claim_examples(beir: Path, settings) -> list:
    """Passage-ranker examples of a BEIR data set's *train* claims, over its own index (the one
    `rag eval --beir` caches; built when missing)."""
    from rag.assistant import Assistant
    from rag.measure.beir import beir_index_settings
    from rag.measure.beir_data import read_beir
    from rag.retrieval.passage_ranker import ranker_examples

    bset = read_beir(beir, "train")
    claims = Assistant(beir_index_settings(bset, settings.replace(passage_ranker=False)), progress=True,
                       answer_models=False)
    log.info("gathering passage-ranker examples for %d %s train claims", len(bset.queries), beir.name)
    return ranker_examples(claims, claim_questions(bset))


def _copied(weights: Path, target: Path) -> str:
    """Use trained `weights` as `target` (a refit keeps them); returns their sha256."""
    from rag.embedding.model import sha256_file
    from rag.models import copy_model

    copy_model(weights, target)
    return sha256_file(target)


def _reader(fit: list, index, output: Path, epochs: int, lr, weights: Path | None, seed: int,
            layers: int | None = None, context_chars: int = 0, start: Path | None = None,
            cut_answers: bool = False, base: str | None = None) -> str:
    """Train (or copy) the reader into `output`, from `start`'s weights when given, else from `base`;
    returns its sha256."""
    from rag.answer.reader import WEIGHTS
    from rag.answer.reader_base import MINILM
    from rag.answer.reader_files import load_net
    from rag.embedding.model import checked_sha256

    if weights is not None:
        return _copied(weights, output / WEIGHTS.name)
    log.info("training the reader on %d questions", len(fit))
    # A start file has no recorded digest to hold it to; its stamped one spares load_net a second read.
    net = load_net(start, checked_sha256(start)) if start is not None else None
    net = train_reader(fit, index, epochs=epochs, lr=lr, seed=seed, layers=layers, context_chars=context_chars,
                       net=net, cut_answers=cut_answers, base=base or MINILM)
    return save_reader(net, output / WEIGHTS.name, layers)


def _span_reader(questions: list[dict], index, output: Path, files: dict, epochs: int, weights: Path | None,
                 seed: int) -> str:
    """Train (or copy) the short-answer reader into `output`, starting from the reader's weights;
    returns its sha256."""
    from rag.answer.reader import WEIGHTS as READER
    from rag.answer.reader_files import load_net
    from rag.answer.short_answer import LAYERS, WEIGHTS

    if weights is not None:
        return _copied(weights, output / WEIGHTS.name)
    examples = span_examples(questions, index)
    log.info("training the short-answer reader on %d questions", len(examples))
    net = load_net(output / READER.name, files[READER.name])
    return save_reader(train_span_reader(examples, net, epochs=epochs, seed=seed), output / WEIGHTS.name, LAYERS)
