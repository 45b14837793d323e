"""The shipped answer models: checked by sha256 on load, trained on train articles only."""
import json
import shutil

import pytest

from rag.answer.selector import CONFIG, MODELS, Selector
from rag.measure.squad import split_of
from rag.train.fit import train_roles, training_questions


def test_shipped_models_load_and_are_small():
    selector = Selector.load()
    assert set(selector.config.files) == {"ranker.txt.xz", "reader.safetensors.xz", "span_reader.safetensors.xz",
                                          "passage_ranker.txt.xz"}
    assert sum((MODELS / name).stat().st_size for name in [*selector.config.files, CONFIG.name]) <= 10 * 2**20


@pytest.mark.parametrize("name", ["ranker.txt.xz", "reader.safetensors.xz", "span_reader.safetensors.xz", "passage_ranker.txt.xz"])
def test_a_tampered_model_file_is_refused(tmp_path, name):
    for f in MODELS.iterdir():
        shutil.copy(f, tmp_path / f.name)
    data = bytearray((tmp_path / name).read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / name).write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="hash check"):
        Selector.load(tmp_path)


@pytest.mark.parametrize("module", ["rag.answer.reader", "rag.answer.short_answer"])
def test_readers_refuse_weights_that_fail_their_checksum(module):
    import importlib

    from rag.answer.reader import Reader

    with pytest.raises(RuntimeError, match="hash check"):
        Reader(importlib.import_module(module).WEIGHTS, "0" * 64)


def test_stored_reader_weights_are_int8_rows_that_dequantize_closely():
    import torch

    from rag.answer.reader_files import dequantize, quantize

    torch.manual_seed(0)
    state = {"w": torch.randn(8, 16), "b": torch.randn(16)}
    stored = quantize(state)
    assert stored["w"].dtype == torch.int8 and stored["b"].dtype == torch.float16
    back = dequantize(stored)
    assert set(back) == {"w", "b"}
    # Each row's error is at most half a step of its own scale.
    assert torch.all((back["w"] - state["w"]).abs() <= state["w"].abs().amax(1, keepdim=True) / 254 + 1e-6)


def test_split_is_by_article_alternating_by_title():
    titles = ["Normans", "Apollo", "Warsaw", "Apollo", "Amazon_rainforest"]
    split = split_of(titles)
    assert split == {"Amazon_rainforest": "train", "Apollo": "test", "Normans": "train", "Warsaw": "test"}
    assert split_of(list(reversed(titles))) == split  # order of the file does not matter


def _squad_file(path, titles):
    data = [{"title": t, "paragraphs": [{"context": f"{t} is a place. It has 7 towers.",
                                          "qas": [{"id": f"{t}-q", "question": f"How many towers has {t}?",
                                                   "answers": [{"text": "7", "answer_start": len(t) + 20}]}]}]}
            for t in titles]
    path.write_text(json.dumps({"data": data, "version": "1.1"}), encoding="utf-8")
    return path


def test_training_never_reads_a_test_article(tmp_path):
    titles = [f"Article_{c}" for c in "ABCDEFGHIJKLMNOP"]
    path = _squad_file(tmp_path / "squad.json", titles)
    fit, calibrate = training_questions(path)
    test_titles = {t for t, s in split_of(titles).items() if s == "test"}
    used = {q["article"] for q in fit + calibrate}
    assert used and not used & test_titles
    assert used == set(titles) - test_titles
    assert {q["article"] for q in calibrate} == {t for t, r in train_roles(sorted(used)).items() if r == "calibrate"}
    assert {q["article"] for q in fit}.isdisjoint({q["article"] for q in calibrate})
    # Answer spans point into the written article file (title line, blank line, context).
    q = fit[0]
    text = f"{q['article'].replace('_', ' ')}\n\n{q['article']} is a place. It has 7 towers.\n"
    a, b = q["answer_spans"][0]
    assert text[a:b] == "7"


def test_the_package_root_is_the_public_api():
    from rag import Answer, Assistant, Citation, QuestionError, Settings, ShortAnswer, from_env

    assert Settings().k == from_env(env={}).k
    assert issubclass(QuestionError, ValueError)
    assert {"short_answer", "citations"} <= set(Answer.__dataclass_fields__)
    assert callable(Assistant) and "context" in Citation.__dataclass_fields__ and ShortAnswer


def test_exports_of_weights_no_longer_shipped_are_pruned(tmp_path, monkeypatch):
    from rag.answer.reader_files import prune_exports
    from rag.embedding import model as embedding

    monkeypatch.setattr(embedding, "cache_dir", lambda: tmp_path)
    folder = tmp_path / "reader"
    folder.mkdir()
    kept, old = "a" * 64, "b" * 64
    names = [f"reader-{kept[:16]}-m.onnx", f"reader-{kept[:16]}-m.sha256", f"reader-{kept[:16]}-m-int8pc.onnx",
             f"reader-{old[:16]}-m.onnx", f"reader-{old[:16]}-m-int8pc.sha256", ".make-x.onnx",
             f"reader-{kept[:16]}.onnx", f"reader-{kept[:16]}-int8pc.sha256"]  # the kept weights' earlier form
    for n in names:
        (folder / n).write_text("x")
    assert prune_exports({kept}) == 4
    assert sorted(f.name for f in folder.iterdir()) == sorted([names[0], names[1], names[2], ".make-x.onnx"])


def test_reader_learning_rates_are_one_for_all_epochs_or_one_per_epoch():
    from rag.cli_parser import build_parser
    from rag.train.reader import epoch_rates

    assert epoch_rates(5e-5, 3) == [5e-5] * 3
    assert epoch_rates([5e-5, 5e-5, 2e-4], 3) == [5e-5, 5e-5, 2e-4]
    with pytest.raises(ValueError, match="2 learning rates for 3 epochs"):
        epoch_rates([5e-5, 2e-4], 3)
    args = build_parser().parse_args(["train", "--squad", "x.json", "--reader-lr", "5e-5,2e-4"])
    assert args.reader_lr == [5e-5, 2e-4]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--squad", "x.json", "--reader-lr", "fast"])


def test_short_answers_are_shown_from_the_score_where_they_are_right_more_often_than_not():
    from rag.train.selector import sure_from

    # Spans right (F1 above 0) for low scores 2 times in 10, for high ones 8 in 10: the logistic
    # fit crosses a half midway, at score 0.
    pairs = [(-5.0, 0.0)] * 8 + [(-5.0, 0.5)] * 2 + [(5.0, 1.0)] * 8 + [(5.0, 0.0)] * 2
    assert abs(sure_from(pairs, 0.5)) < 0.01
    assert sure_from(pairs, 0.7) > sure_from(pairs, 0.5)  # surer spans need a higher score
    assert sure_from([(1.0, 1.0), (3.0, 0.4)], 0.5) == 1.0  # all right: every span is shown
    assert sure_from([(1.0, 0.0), (3.0, 0.0)], 0.5) == 1e9  # all wrong: none is
    assert sure_from([], 0.5) == 1e9
    # Higher scores no more often right: the score cannot tell, so the share of right spans decides.
    assert sure_from([(-1.0, 1.0), (2.0, 0.0)] * 5, 0.5) == -1.0
    assert sure_from(pairs, 0.999) == 1e9  # sure beyond any span seen: none is shown
    with pytest.raises(ValueError):
        sure_from(pairs, 1.0)


def test_the_reader_can_learn_from_answering_sentences_with_the_answer_cut_out():
    from types import SimpleNamespace

    import numpy as np

    from rag.train.data import Example
    from rag.train.reader import _readings, answer_cut

    text = "The delegation was led by its director, Dr. Danilo Rončević, and met the BOSA team."
    a = text.index("Dr. Danilo")
    b = a + len("Dr. Danilo Rončević")
    assert answer_cut(text, (a, b)) == "The delegation was led by its director, , and met the BOSA team."
    index = SimpleNamespace(sentences=[SimpleNamespace(text=t) for t in ["The visit was in June.", text, "Dr. Danilo Rončević"]])
    ex = Example("q", "Who led the delegation?", ["Dr. Danilo Rončević"], [0, 1, 2], np.zeros((3, 1)),
                 np.array([0, 1, 1]), {1: (a, b), 2: (0, 19)})
    plain = _readings(ex, [0, 1, 2], index, cut_answers=False)
    assert [(p, span) for p, _, span in plain] == [(0, None), (1, (a, b)), (2, (0, 19))]
    cut = _readings(ex, [0, 1, 2], index, cut_answers=True)
    # Each positive is read once more without its answer, as a negative; a sentence that was only its
    # answer leaves too little to read.
    assert cut[:3] == plain and cut[3:] == [(1, answer_cut(text, (a, b)), None)]


def test_train_can_keep_fitted_rankers_and_train_the_reader_further(tmp_path):
    from rag.cli_parser import build_parser
    from rag.train.fit import _kept_note

    args = build_parser().parse_args(["train", "--squad", "x.json", "--passage-ranker", "p.txt.xz", "--ranker", "r.txt.xz",
                                      "--reader-start", "reader.safetensors.xz", "--cut-answers", "--epochs", "1"])
    assert (str(args.passage_ranker), str(args.ranker), str(args.reader_start)) == ("p.txt.xz", "r.txt.xz", "reader.safetensors.xz")
    assert args.cut_answers and not build_parser().parse_args(["train", "--squad", "x.json"]).cut_answers
    # A kept passage ranker's config says what it learnt from; the shipped one's does.
    assert _kept_note(MODELS / "passage_ranker.txt.xz") == json.loads(CONFIG.read_text())["notes"]["passage_ranker"]
    assert _kept_note(tmp_path / "passage_ranker.txt.xz") == "kept"


def test_train_refuses_options_that_would_be_ignored_before_any_long_step(tmp_path):
    from rag.train.fit import check_options

    reader = MODELS / "reader.safetensors.xz"
    check_options(reader, None, False, MODELS / "passage_ranker.txt.xz", None, MODELS / "ranker.txt.xz")
    with pytest.raises(ValueError, match="--reader keeps the reader"):
        check_options(reader, None, True, None, None)
    with pytest.raises(ValueError, match="--reader keeps the reader"):
        check_options(reader, reader, False, None, None)
    with pytest.raises(ValueError, match="--beir adds data to the passage ranker"):
        check_options(None, None, False, MODELS / "passage_ranker.txt.xz", tmp_path)
    with pytest.raises(FileNotFoundError, match="--ranker: no such file"):
        check_options(None, None, False, None, None, tmp_path / "ranker.txt.xz")
