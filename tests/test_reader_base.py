"""The networks a reader starts from: the cross-encoder's int8 ONNX weights, dequantised into PyTorch,
judge as the ONNX file does; a trained reader's file says which network it grew from."""
import numpy as np
import pytest

from rag.answer.reader_base import CROSS_ENCODER, MINILM
from rag.models import MODELS

pytestmark = pytest.mark.slow  # builds the 12-layer network from the package's ONNX file

QUESTION = "Who heads the Serbian Human Resource Management Service?"


def _seed_sentences() -> list[str]:
    from pathlib import Path

    from rag.indexing.sentences import split_sentences

    text = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))[2].read_text(encoding="utf-8")
    return [s.text for s in split_sentences(text) if len(s.text.split()) > 4][:12]


@pytest.fixture(scope="module")
def cross_encoder_net():
    from rag.answer.reader import build_net

    return build_net(base=CROSS_ENCODER).eval()


def _logits(net, pairs) -> tuple[np.ndarray, dict]:
    """The net's relevance logits for (question, sentence) pairs, and the inputs it was fed."""
    import torch

    from rag.answer.reader import pair_tokenizer

    enc = pair_tokenizer().encode_batch(pairs)
    feed = {"input_ids": [e.ids for e in enc], "attention_mask": [e.attention_mask for e in enc],
            "token_type_ids": [e.type_ids for e in enc]}
    with torch.inference_mode():
        return net(**{k: torch.tensor(v) for k, v in feed.items()})[0].numpy(), {k: np.array(v) for k, v in feed.items()}


def test_the_dequantised_cross_encoder_judges_as_its_onnx_file_does(cross_encoder_net):
    import onnxruntime as ort

    from rag.answer.reader_base import cross_encoder_file

    pairs = [(QUESTION, s) for s in _seed_sentences()]
    ours, feed = _logits(cross_encoder_net, pairs)
    session = ort.InferenceSession(str(cross_encoder_file()), providers=["CPUExecutionProvider"])
    theirs = session.run(None, feed)[0][:, 0]
    # The file quantises activations too, so scores differ by a little; the judgement does not.
    assert np.corrcoef(ours, theirs)[0, 1] > 0.99
    assert np.abs(ours - theirs).max() < 1.0
    assert int(np.argmax(ours)) == int(np.argmax(theirs))


def test_a_reader_file_records_its_base_and_loads_as_it_was_saved(cross_encoder_net, tmp_path):
    from rag.answer.reader_files import base_in, layers_in, load_net
    from rag.train.reader import save_reader

    path = tmp_path / "reader.safetensors.xz"
    sha = save_reader(cross_encoder_net, path)
    assert (base_in(path), layers_in(path)) == (CROSS_ENCODER, 3)
    pairs = [(QUESTION, s) for s in _seed_sentences()]
    before, _ = _logits(cross_encoder_net, pairs)
    after, _ = _logits(load_net(path, sha), pairs)
    assert np.abs(before - after).max() < 0.2  # the top layers stored as int8 rows
    # Files written before readers had a choice of base read as the bundled MiniLM's.
    assert base_in(MODELS / "span_reader.safetensors.xz") == MINILM


def test_the_cross_encoder_file_is_held_to_its_checksum(monkeypatch):
    from rag.answer import reader_base

    monkeypatch.setattr(reader_base, "CROSS_ENCODER_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="hash check"):
        reader_base.cross_encoder_file()


def test_train_refuses_a_base_it_would_ignore_or_does_not_know():
    from rag.cli_parser import build_parser
    from rag.train.fit import check_options

    reader = MODELS / "reader.safetensors.xz"
    with pytest.raises(ValueError, match="--reader keeps the reader"):
        check_options(reader, None, False, None, None, reader_base=CROSS_ENCODER)
    with pytest.raises(ValueError, match="--reader-start trains further from a file"):
        check_options(None, reader, False, None, None, reader_base=CROSS_ENCODER)
    with pytest.raises(ValueError, match="reader base must be one of"):
        check_options(None, None, False, None, None, reader_base="bert-large")
    args = build_parser().parse_args(["train", "--squad", "x.json", "--reader-base", CROSS_ENCODER])
    assert args.reader_base == CROSS_ENCODER
