"""The torch-free query path: ONNX question embeddings, the reader's own tokenizer, batching, stdin."""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from rag.settings import ROOT

DATA = ROOT / "tests" / "data"


def _questions() -> list[str]:
    return [json.loads(line)["question"] for f in ("questions.jsonl", "heldout.jsonl") for line in open(DATA / f)]


def test_onnx_and_torch_vectors_agree_on_every_seed_text_and_question(assistant):
    from rag.embedding.model import get_embedder
    from rag.embedding.onnx_encoder import OnnxEncoder

    index = assistant.index
    texts = [c.text for c in index.chunks] + [s.text for s in index.sentences] + _questions()
    texts.append("a question far longer than the model's window " * 60)  # truncated the same way
    torch_vectors = get_embedder().encode(texts)
    onnx = OnnxEncoder()
    one_by_one = np.vstack([onnx.encode([t]) for t in texts])
    batched = onnx.encode(texts)
    assert len(texts) > 200
    assert (torch_vectors * one_by_one).sum(1).min() >= 0.9999
    assert (torch_vectors * batched).sum(1).min() >= 0.9999
    # Word pieces: the same ids as sentence-transformers' tokenizer, truncation included.
    wanted = get_embedder().model.tokenizer(texts, truncation=True, max_length=onnx.max_tokens)["input_ids"]
    assert [e.ids[: sum(e.attention_mask)] for e in onnx.tokenizer.encode_batch(texts)] == wanted


def test_the_index_build_embeds_with_onnx_and_matches_pytorch(assistant, tmp_path):
    """The default build runtime: the seed index's vectors are PyTorch's to 1e-5, token counts
    (which decide where chunks end) are the same, and `build_runtime=torch` still builds."""
    from rag.embedding.model import Embedder, get_embedder
    from rag.embedding.onnx_encoder import OnnxEncoder
    from rag.indexing.build import build_runtime

    settings, index = assistant.settings, assistant.index
    assert settings.build_runtime == "onnx" and build_runtime(settings) == "onnx"
    assert isinstance(get_embedder(settings.model, settings.batch_size, build_runtime(settings)), OnnxEncoder)
    assert get_embedder(settings.model, settings.batch_size, "onnx") is assistant.encoder  # one session for both
    assert build_runtime(settings.replace(sentence_vectors="pooled")) == "torch"
    torch_side = get_embedder(runtime="torch")
    assert isinstance(torch_side, Embedder)
    chunk_texts = [c.passage for c in index.chunks]  # what the model reads
    sentence_texts = [s.text for s in index.sentences]
    assert (torch_side.encode(chunk_texts) * index.chunk_vectors).sum(1).min() >= 0.99999
    assert (torch_side.encode(sentence_texts) * index.sentence_vectors).sum(1).min() >= 0.99999
    onnx = OnnxEncoder(batch_size=3)  # several batches of unequal widths
    long_text = "a passage far longer than the model's window " * 60
    for text in chunk_texts[:40] + [long_text, ""]:
        assert onnx.count_tokens(text) == torch_side.count_tokens(text)
    mixed = chunk_texts[:7] + sentence_texts[:7] + [long_text]
    assert np.allclose(onnx.encode(mixed), torch_side.encode(mixed), atol=1e-5)
    assert onnx.encode([]).shape == (0, onnx.dim)
    # The torch setting builds the same rows with the same vectors.
    from rag.indexing.build import build
    from rag.indexing.store import load_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    first = sorted(settings.corpus_dir.glob("*.txt"))[0]
    (corpus / first.name).write_text(first.read_text())
    built = {}
    for runtime in ("onnx", "torch"):
        one = settings.replace(corpus_dir=corpus, index_dir=tmp_path / runtime, build_runtime=runtime)
        build(one, progress=False)
        built[runtime] = load_index(one.index_dir)
    a, b = built["onnx"], built["torch"]
    assert [c.text for c in a.chunks] == [c.text for c in b.chunks] and len(a.sentences) == len(b.sentences)
    assert np.allclose(a.chunk_vectors, b.chunk_vectors, atol=1e-5)
    assert np.allclose(a.sentence_vectors, b.sentence_vectors, atol=1e-5)


def test_the_encoder_export_is_fused_and_survives_an_optimiser_failure(assistant, tmp_path, monkeypatch):
    """The shared export runs onnxruntime's fused BERT kernels; if the optimiser fails, the plain
    export is kept and gives the same vectors."""
    import onnx
    from onnxruntime.transformers import optimizer

    from rag.embedding.onnx_encoder import OnnxEncoder, onnx_path

    fused_ops = {n.op_type for n in onnx.load(str(onnx_path("bundled"))).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= fused_ops
    texts = [s.text for s in assistant.index.sentences[:30]] + _questions()[:10]
    want = OnnxEncoder().encode(texts)

    def broken(*args, **kwargs):
        raise RuntimeError("optimiser out of order")

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(optimizer, "optimize_model", broken)
    plain = onnx_path("bundled")
    assert str(plain).startswith(str(tmp_path)) and "Attention" not in {n.op_type for n in onnx.load(str(plain)).graph.node}
    assert not list(plain.parent.glob("*.fused"))
    assert (OnnxEncoder().encode(texts) * want).sum(1).min() >= 0.99999


def test_reader_tokenizer_matches_the_training_tokenizer(assistant):
    from transformers import AutoTokenizer

    from rag.answer.reader import MAX_TOKENS, encode_pairs, pair_tokenizer
    from rag.embedding.model import bundled_model_dir

    sentences = [s.text for s in assistant.index.sentences]
    hf = AutoTokenizer.from_pretrained(str(bundled_model_dir()))
    ours = pair_tokenizer()
    for question in _questions()[:20] + ["why " * 300]:  # the last one is cut on the question side too
        want = hf([question] * len(sentences), sentences, truncation="longest_first", max_length=MAX_TOKENS,
                  padding=True, return_offsets_mapping=True, return_tensors="np")
        got = encode_pairs(ours, question, sentences)
        for key in ("input_ids", "attention_mask", "token_type_ids", "offset_mapping"):
            assert np.array_equal(want[key], got[key]), (question, key)
        assert [want.sequence_ids(r) for r in range(len(sentences))] == got["sequence_ids"]


def test_torch_runtime_gives_the_same_answers(assistant):
    from rag.assistant import Assistant

    torch_side = Assistant(assistant.settings.replace(query_runtime="torch"), index=assistant.index, progress=False)
    for question in _questions()[:12]:
        a, b = assistant.ask(question), torch_side.ask(question)
        assert (a.answer, a.abstained, [c.start for c in a.citations]) == (b.answer, b.abstained, [c.start for c in b.citations])


def test_a_question_is_answered_without_importing_torch(seed_settings, assistant):
    # The session's assistant built the index and the ONNX exports; a fresh process only loads them.
    code = (
        "import sys\n"
        "from rag.assistant import Assistant\n"
        "a = Assistant(progress=False)\n"
        "answer = a.ask('How many people attended the webinars?')\n"
        "assert '120' in answer.answer, answer.answer\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'sklearn', 'pandas') if m in sys.modules]\n"
        "print('loaded:', heavy)\n"
    )
    env = dict(os.environ, RAG_INDEX_DIR=str(seed_settings.index_dir), RAG_CORPUS_DIR=str(seed_settings.corpus_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "loaded: []" in out.stdout


def test_an_index_is_built_without_importing_torch(assistant, tmp_path):
    # The ONNX export exists (the session's build made it): building an index needs no torch.
    code = (
        "import sys\n"
        "from rag.indexing.build import build\n"
        "from rag.settings import from_env\n"
        "report = build(from_env(), progress=False)\n"
        "assert report.chunks > 0 and report.embedded_articles, report\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'sklearn') if m in sys.modules]\n"
        "print('loaded:', heavy)\n"
    )
    env = dict(os.environ, RAG_INDEX_DIR=str(tmp_path / "index"), RAG_CORPUS_DIR=str(assistant.settings.corpus_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "loaded: []" in out.stdout


def test_ask_reads_questions_from_stdin_one_per_line(seed_settings, assistant):
    env = dict(os.environ, RAG_INDEX_DIR=str(seed_settings.index_dir), RAG_CORPUS_DIR=str(seed_settings.corpus_dir))
    lines = "How many people attended the webinars?\n\n   \n" + "x" * 5000 + "\nWho won the 2018 FIFA World Cup?\n"
    out = subprocess.run([sys.executable, "-m", "rag", "ask", "--json"], input=lines, capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(replies) == 3  # blank lines are skipped
    assert "120" in replies[0]["answer"] and not replies[0]["abstained"]
    assert len(replies[1]["question"]) == 2000 and "first 2,000 characters" in replies[1]["notice"]
    assert replies[2]["abstained"] is True
    text = subprocess.run([sys.executable, "-m", "rag", "ask"], input="How many people attended the webinars?\n",
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert text.returncode == 0 and "Answer: 120" in text.stdout and "Sources:" in text.stdout
    # With --chat the lines are one conversation: a follow-up is read with the questions before it.
    chat = "What was the online conference on current civil service reforms?\nHow many countries did its participants come from?\n"
    for flags, follows in ((["--chat"], True), ([], False)):
        out = subprocess.run([sys.executable, "-m", "rag", "ask", "--json", *flags], input=chat, capture_output=True,
                             text=True, env=env, cwd=ROOT, timeout=300)
        second = json.loads(out.stdout.splitlines()[1])
        assert out.returncode == 0 and ("following on from" in (second["notice"] or "")) is follows, out.stderr
        assert (second["short_answer"] is not None and second["short_answer"]["text"] == "20") is follows
    refused = subprocess.run([sys.executable, "-m", "rag", "ask", "--chat", "Who spoke?"], capture_output=True, text=True,
                             env=env, cwd=ROOT, timeout=300)
    assert refused.returncode == 2 and "--chat reads a conversation" in refused.stderr


class _CountingEncoder:
    """A deterministic stand-in that records the batch sizes it is given."""

    def __init__(self, fail_on: str | None = None):
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.fail_on = fail_on

    def encode(self, texts):
        self.gate.wait(5)  # hold the first batch so that the others queue up behind it
        self.batches.append(len(texts))
        if self.fail_on in texts:
            raise RuntimeError("encoder failed")
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def test_batcher_embeds_waiting_questions_together_and_routes_each_result():
    from rag.embedding.question_encoder import Batcher

    encoder = _CountingEncoder()
    batcher = Batcher(encoder, max_batch=32)
    results: dict[str, np.ndarray] = {}
    texts = ["q" * n for n in range(1, 21)]
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, batcher.embed(t))) for t in texts]
    for t in threads:
        t.start()
    encoder.gate.set()
    for t in threads:
        t.join(10)
    assert all(results[t][0] == len(t) for t in texts)  # every caller got its own vector
    assert sum(encoder.batches) == 20 and max(encoder.batches) > 1


def test_batcher_gives_an_encoder_error_to_its_callers_and_keeps_working():
    from rag.embedding.question_encoder import Batcher

    encoder = _CountingEncoder(fail_on="boom")
    encoder.gate.set()
    batcher = Batcher(encoder)
    with pytest.raises(RuntimeError, match="encoder failed"):
        batcher.embed("boom")
    assert batcher.embed("fine")[0] == 4


def test_a_changed_model_file_is_hashed_again(tmp_path, monkeypatch):
    from rag.embedding.model import checked_sha256, sha256_file

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "weights.bin"
    f.write_bytes(b"a" * 1000)
    first = checked_sha256(f)
    assert first == sha256_file(f) and checked_sha256(f) == first  # second call from the stamp
    f.write_bytes(b"b" * 1000)  # same size, new content and time
    assert checked_sha256(f) == sha256_file(f) != first


def test_the_readers_export_form_computes_what_the_network_does(assistant):
    """The form the reader is traced in for ONNX (attention masks made by hand, faster in
    onnxruntime) gives the network's own outputs, bit for bit, on padded batches of seed pairs."""
    import torch

    from rag.answer.reader import WEIGHTS, encode_pairs, export_form, pair_tokenizer
    from rag.answer.reader_files import INPUTS, load_net
    from rag.answer.selector import get_selector

    net = load_net(WEIGHTS, get_selector().config.files[WEIGHTS.name])
    form = export_form(net)
    sentences = [s.text for s in assistant.index.sentences][:12]
    for question in _questions()[:3]:
        enc = encode_pairs(pair_tokenizer(), question, sentences)
        inputs = {k: torch.as_tensor(enc[k]) for k in INPUTS}
        with torch.inference_mode():
            for a, b in zip(net(**inputs), form(**inputs)):
                assert torch.equal(a, b)


def test_reader_runtimes_agree(assistant):
    """The float ONNX export reads exactly as PyTorch; the int8 one ranks sentences the same way."""
    from rag.answer.reader import get_reader

    readers = {name: get_reader(name) for name in ("torch", "onnx", "onnx-int8")}
    # Every seed sentence, read in batches of similar length: one batch padded every row to the
    # longest sentence, and took 86 s of a suite on a slow host.
    sentences = sorted((s.text for s in assistant.index.sentences), key=len)
    batches = [sentences[i:i + 16] for i in range(0, len(sentences), 16)]
    same_best = 0
    questions = _questions()[:12]
    for question in questions:
        got = {name: [x for b in batches for x in r.read(question, b)] for name, r in readers.items()}
        logits = {name: np.array([x.logit for x in rs]) for name, rs in got.items()}
        assert np.abs(logits["torch"] - logits["onnx"]).max() < 1e-3
        assert [x.span for x in got["torch"]] == [x.span for x in got["onnx"]]
        assert np.corrcoef(logits["onnx"], logits["onnx-int8"])[0, 1] > 0.9
        same_best += int(np.argmax(logits["onnx"]) == np.argmax(logits["onnx-int8"]))
    assert same_best >= 0.8 * len(questions)


def test_the_onnx_readers_read_a_sentence_the_same_in_any_company(assistant):
    """Sentences are read one per run (int8 quantises a run's activations with one scale): a
    sentence's reading does not depend on which sentences are shortlisted with it, nor on their
    length, and each reading comes back in its sentence's place."""
    from rag.answer.reader import get_reader

    sentences = sorted((s.text for s in assistant.index.sentences), key=len)
    short, long = sentences[len(sentences) // 2], sentences[-1]
    question = _questions()[0]
    for runtime in ("onnx-int8", "onnx"):
        reader = get_reader(runtime)
        alone = {s: reader.read(question, [s])[0] for s in (short, long, sentences[0])}
        for company in ([short, long], [long, short, sentences[0]]):
            assert reader.read(question, company) == [alone[s] for s in company]


def test_short_answer_reader_runtimes_agree(assistant):
    """The short-answer reader picks the same spans in PyTorch and its float ONNX export, and
    overlapping ones with int8 weights, in the sentences the assistant quotes."""
    from rag.answer.select import quoted_window
    from rag.answer.short_answer import get_span_reader

    readers = {name: get_span_reader(name) for name in ("torch", "onnx", "onnx-int8")}
    asked = []
    for question in _questions()[:30]:
        answer = assistant.ask(question)
        main = [c for c in answer.citations if not c.context]
        if main:
            row = next(r for r, s in enumerate(assistant.index.sentences) if (s.doc_id, s.start) == (main[0].doc_id, main[0].start))
            asked.append((question, quoted_window(assistant.index, row)))
    assert len(asked) >= 20
    got = {name: [r.find_spans(q, [w.text], [w.regions])[0] for q, w in asked] for name, r in readers.items()}
    assert [s for s, _ in got["torch"]] == [s for s, _ in got["onnx"]]
    assert np.allclose([x for _, x in got["torch"]], [x for _, x in got["onnx"]], atol=1e-3)
    # int8 weights move some span edges by a word or two (SQuAD test F1 56.3 against 57.1 in float):
    # the spans must still overlap the float ones.
    overlap = sum(a is not None and b is not None and a[0] < b[1] and b[0] < a[1]
                  for (a, _), (b, _) in zip(got["onnx"], got["onnx-int8"]))
    assert overlap >= 0.8 * len(asked)
