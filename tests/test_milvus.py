"""The Milvus backend on Milvus Lite: each test opens its own database under its tmp dir. Fast tests
use the hashed bag-of-words embedder of conftest.py; those marked slow use the real model."""
import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rag.assistant import Assistant  # noqa: E402
from rag.indexing import build  # noqa: E402
from rag.lexical import terms  # noqa: E402
from rag.milvus_backend import MilvusProblem, alias_target, attach, collection_name, connect, open_milvus  # noqa: E402
from rag.search_backend import LocalBackend  # noqa: E402
from rag.settings import ROOT, from_env  # noqa: E402
from rag.store import load_index  # noqa: E402
from tests.conftest import QUESTIONS, SEEDS, HashEmbedder  # noqa: E402

QUESTION_SET = ROOT / "tests" / "data" / "questions.jsonl"
ATTENDANCE = "How many people attended the webinars on Belgian HR practices?"


def question_set() -> list[str]:
    return [json.loads(line)["question"] for line in QUESTION_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


class SmallEmbedder(HashEmbedder):
    """Another model: a different id and dimension."""

    model_id = "test-hash-embedder-32"
    dim = 32


def fake_index(tmp_path, corpus=SEEDS, embedder=None):
    settings = from_env(env={}, corpus_dir=corpus, index_dir=tmp_path / "index")
    embedder = embedder or HashEmbedder()
    build(settings, progress=False, embedder=embedder)
    return settings, load_index(settings.index_dir), embedder


def milvus(settings, tmp_path, name="milvus.db", **more):
    return settings.replace(backend="milvus", milvus_uri=str(tmp_path / name), **more)


@pytest.fixture
def synced(tmp_path):
    """(settings, index, embedder, backend) with the seeds' passages synced into a fresh Lite db."""
    settings, index, embedder = fake_index(tmp_path)
    settings = milvus(settings, tmp_path)
    backend = open_milvus(settings, index)
    yield settings, index, embedder, backend
    backend.close()


def test_rankings_match_the_local_backend(synced):
    settings, index, embedder, backend = synced
    local = LocalBackend(index)
    for question, _ in QUESTIONS:
        qvec = embedder.encode([question])[0]
        dense_m, dense_l = backend.dense_search(qvec, 20), local.dense_search(qvec, 20)
        # FLAT on both sides at this size: the same rows, the same cosines.
        assert [r for r, _ in dense_m] == [r for r, _ in dense_l]
        assert np.allclose([s for _, s in dense_m], [s for _, s in dense_l], atol=1e-5)
        q = terms(question)
        lex_m, lex_l = backend.lexical_search(q, 20), local.lexical_search(q, 20)
        # The same passages in the same order; Milvus's BM25 keeps the (k1 + 1) factor that bm25s's
        # "lucene" variant drops, so its scores are bm25s's times 2.5 (Lite's IDF is per segment:
        # the seeds make one segment; a large collection may differ slightly).
        assert [r for r, _ in lex_m] == [r for r, _ in lex_l], question
        assert np.allclose([s for _, s in lex_m], [2.5 * s for _, s in lex_l], rtol=1e-4)
        rows = [r for r, _ in dense_l[:5]]
        assert set(backend.lexical_scores(q, rows)) == set(rows)


def test_ask_quotes_exact_citations_and_agrees_with_local(tmp_path):
    settings, index, embedder = fake_index(tmp_path)
    local = Assistant(settings, index=index, progress=False, encoder=embedder)
    remote = Assistant(milvus(settings, tmp_path), index=index, progress=False, encoder=embedder)
    try:
        same_top = 0
        questions = question_set()
        for question in questions:
            answer = remote.ask(question)
            for c in answer.citations:
                assert index.texts[c.doc_id][c.start:c.end] == c.text
            for p in answer.passages:
                assert index.texts[p.doc_id][p.start:p.end] == p.text
            ours = local.current().search(question, embedder.encode([question])[0])
            same_top += bool(answer.passages) and bool(ours) and answer.passages[0].doc_id == ours[0].doc_id
        assert same_top >= 0.95 * len(questions)
    finally:
        remote.retriever.backend.close()


def test_sync_is_skipped_for_the_same_generation_and_reopens_in_another_process(synced, tmp_path):
    settings, index, embedder, backend = synced
    name = collection_name(index)
    qvec = embedder.encode([QUESTIONS[0][0]])[0]
    expected = [r for r, _ in backend.dense_search(qvec, 5)]
    np.save(tmp_path / "q.npy", qvec)
    backend.close()  # releases Lite's lock on the file
    script = f"""
import json, numpy as np
from rag.settings import from_env
from rag.store import load_index
from rag.milvus_backend import attach
from pathlib import Path
s = from_env(env={{}}, index_dir=Path({str(settings.index_dir)!r}), backend="milvus", milvus_uri={settings.milvus_uri!r})
b = attach(s, load_index(s.index_dir))
print(json.dumps([b.name, [r for r, _ in b.dense_search(np.load({str(tmp_path / 'q.npy')!r}), 5)]]))
b.close()
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [name, expected]
    again = open_milvus(settings, index)  # same generation: nothing rewritten
    try:
        assert again.name == name and alias_target(again.client) == name
    finally:
        again.close()


def test_an_interrupted_sync_leaves_the_previous_collection_answering(tmp_path, monkeypatch):
    corpus_copy = tmp_path / "corpus"  # conftest's corpus_copy would mark this fast test slow
    corpus_copy.mkdir()
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, corpus_copy / f.name)
    settings, old_index, embedder = fake_index(tmp_path, corpus=corpus_copy)
    settings = milvus(settings, tmp_path)
    first = open_milvus(settings, old_index)
    old_name = first.name
    first.close()
    article = sorted(corpus_copy.glob("*.txt"))[0]
    article.write_text(article.read_text(encoding="utf-8") + "\n\nA new closing paragraph about tulips.\n", encoding="utf-8")
    build(settings, progress=False, embedder=embedder)
    new_index = load_index(settings.index_dir)
    assert collection_name(new_index) != old_name

    import pymilvus

    def broken_insert(self, *args, **kwargs):
        raise RuntimeError("power cut")

    with monkeypatch.context() as m:
        m.setattr(pymilvus.MilvusClient, "insert", broken_insert)
        with pytest.raises(RuntimeError, match="power cut"):
            open_milvus(settings, new_index)
    still = attach(settings, old_index)  # the alias was never switched
    try:
        assert still.name == old_name
        assert still.dense_search(embedder.encode([QUESTIONS[0][0]])[0], 3)
    finally:
        still.close()
    done = open_milvus(settings, new_index)  # the next sync replaces the half-written collection
    try:
        assert done.name == collection_name(new_index)
        # The previous collection is kept (a live swap may still be searching it), nothing older.
        assert sorted(done.client.list_collections()) == sorted([old_name, done.name])
        assert {r for r, _ in done.lexical_search(terms("tulips"), 5)}
    finally:
        done.close()


def test_a_collection_of_another_model_is_refused_clearly(synced, tmp_path):
    settings, index, embedder, backend = synced
    backend.close()
    _, other, _ = fake_index(tmp_path / "other", embedder=SmallEmbedder())
    with pytest.raises(MilvusProblem, match=r"model_id 'test-hash-embedder'.*dim '64' \(this index: '32'\)") as exc:
        attach(settings, other)
    assert "Rebuild it" in str(exc.value)


def test_uri_problems_are_clear_and_the_token_is_never_shown(tmp_path, caplog, capsys):
    token = "s3cret-Token-for-test"
    caplog.set_level(logging.DEBUG)
    settings = from_env(env={"RAG_BACKEND": "milvus", "RAG_MILVUS_URI": "http://127.0.0.1:1",
                             "RAG_MILVUS_TOKEN": token})
    assert token not in repr(settings)
    assert token not in str(settings.public())  # what rag eval writes into its reports
    assert "pw-in-uri" not in str(settings.replace(milvus_uri="http://alice:pw-in-uri@h:19530").public())
    with pytest.raises(MilvusProblem, match="cannot open Milvus at http://127.0.0.1:1") as exc:
        connect(settings)
    with pytest.raises(MilvusProblem, match=r"must end in \.db"):
        connect(settings.replace(milvus_uri=str(tmp_path / "milvus")))
    with pytest.raises(MilvusProblem) as masked:
        connect(settings.replace(milvus_uri="http://alice:pw-in-uri@127.0.0.1:1"))
    out = capsys.readouterr()
    for text in [str(exc.value), str(masked.value), caplog.text, out.out, out.err]:
        assert token not in text and "pw-in-uri" not in text
    with pytest.raises(ValueError, match="milvus_uri"):
        from_env(env={"RAG_BACKEND": "milvus"})
    with pytest.raises(ValueError, match="backend"):
        from_env(env={"RAG_BACKEND": "elastic"})


@pytest.mark.slow
def test_real_model_attendance_answer_and_top_article_parity(assistant, tmp_path):
    """The issue's done-when on the real model: the 120 sentence, with the default backend's citation."""
    remote = Assistant(milvus(assistant.settings, tmp_path), index=assistant.index, progress=False,
                       encoder=assistant.encoder)
    try:
        ours, theirs = assistant.ask(ATTENDANCE), remote.ask(ATTENDANCE)
        # The default backend does not quote the 120 sentence yet (a strict xfail in test_answer.py,
        # issue 10); what this backend must do is answer exactly as the default does.
        assert theirs.answer == ours.answer
        assert [(c.doc_id, c.start, c.end) for c in theirs.citations] == [(c.doc_id, c.start, c.end) for c in ours.citations]
        questions = question_set()
        same = 0
        for q in questions:
            qvec = assistant.embed_question(q)
            a, b = assistant.current().search(q, qvec), remote.current().search(q, qvec)
            same += bool(a) and bool(b) and a[0].doc_id == b[0].doc_id
        assert same >= 0.95 * len(questions)
    finally:
        remote.retriever.backend.close()
