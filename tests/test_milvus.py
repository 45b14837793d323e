"""The Milvus backend on Milvus Lite: each test opens its own database under its tmp dir. Fast tests
use the hashed bag-of-words embedder of conftest.py; those marked slow use the real model."""
import json
import logging
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rag.assistant import Assistant  # noqa: E402
from rag.indexing.build import build  # noqa: E402
from rag.indexing.lexical import K1, terms  # noqa: E402
from rag.indexing.store import load_index  # noqa: E402
from rag.milvus.backend import attach, open_milvus  # noqa: E402
from rag.milvus.client import MilvusProblem, connect  # noqa: E402
from rag.milvus.sentences import FAMILY  # noqa: E402
from rag.milvus.sync import alias_target, article_key, collection_name, read_state  # noqa: E402
from rag.retrieval.backend import LocalBackend  # noqa: E402
from rag.retrieval.retriever import Retriever, rrf  # noqa: E402
from rag.settings import ROOT, from_env  # noqa: E402
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
        # "lucene" variant drops, so its scores are bm25s's times k1 + 1 (Lite's IDF is per segment:
        # the seeds make one segment; a large collection may differ slightly).
        assert [r for r, _ in lex_m] == [r for r, _ in lex_l], question
        assert np.allclose([s for _, s in lex_m], [(K1 + 1) * s for _, s in lex_l], rtol=1e-4)
        rows = [r for r, _ in dense_l[:5]]
        assert set(backend.lexical_scores(q, rows)) == set(rows)


def sentence_rows(backend) -> list[tuple]:
    """(doc_id, start, end, text) of every sentence row the backend's state sees, in article order."""
    rows = backend.client.query(backend.sentences_name, filter=backend.visible,
                                output_fields=["doc_id", "num", "start", "end", "text"])
    return [(r["doc_id"], r["start"], r["end"], r["text"]) for r in sorted(rows, key=lambda r: (r["doc_id"], r["num"]))]


def index_sentences(index) -> list[tuple]:
    """The same of the local index's sentence rows."""
    return sorted(((s.doc_id, s.start, s.end, s.text) for s in index.sentences), key=lambda t: (t[0], t[1]))


def cited(answer) -> tuple:
    """What an answer quotes, exactly: text, citations (with spans and context flags) and short answer."""
    return (answer.answer, [(c.doc_id, c.start, c.end, c.text, c.context, c.chunk_no) for c in answer.citations],
            answer.short_answer)


def test_ask_reads_sentence_rows_from_milvus_and_quotes_what_the_local_backend_quotes(tmp_path):
    settings, index, embedder = fake_index(tmp_path)
    local = Assistant(settings, index=index, progress=False, encoder=embedder)
    remote = Assistant(milvus(settings, tmp_path), index=index, progress=False, encoder=embedder)
    try:
        backend = remote.retriever.backend
        # The sentence collection holds every sentence of the index, exactly as the index holds it.
        assert backend.sentences_name == "rag_sentences_" + backend.name.removeprefix("rag_")
        assert alias_target(backend.client, "rag_sentences") == backend.sentences_name
        assert sentence_rows(backend) == index_sentences(index)
        questions = question_set()
        for question in questions:
            answer = remote.ask(question)
            assert "sentences" in answer.timings
            for c in answer.citations:
                assert index.texts[c.doc_id][c.start:c.end] == c.text
            for p in answer.passages:
                assert index.texts[p.doc_id][p.start:p.end] == p.text
            if answer.short_answer:
                a = answer.short_answer
                assert index.texts[a.doc_id][a.start:a.end] == a.text
            ours = local.ask(question)
            # FLAT and the same BM25 on both sides at this size: the same passages, hence the same answer.
            assert [p.row for p in answer.passages] == [p.row for p in ours.passages], question
            assert cited(answer) == cited(ours), question
    finally:
        remote.close()


def test_answers_are_read_from_milvus_rows_not_from_the_local_sentence_arrays(tmp_path, monkeypatch):
    """With the local index's sentence rows, vectors, terms and article texts blanked after the sync,
    the Milvus backend still gives every answer it gave before, from one sentence query per question."""
    import pymilvus

    from rag.milvus.reads import SentenceRows

    settings, index, embedder = fake_index(tmp_path)
    texts = dict(index.texts)
    remote = Assistant(milvus(settings, tmp_path), index=load_index(settings.index_dir), progress=False,
                       encoder=embedder)
    try:
        questions = [q for q, _ in QUESTIONS] + question_set()[:20]
        before = [cited(remote.ask(q)) for q in questions]
        blank = remote.index
        blank.sentences, blank.sentence_terms, blank.texts = [], [], {}
        blank.sentence_vectors = np.zeros((0, blank.chunk_vectors.shape[1]), dtype=np.float32)
        blank.chunk_sentences = [[] for _ in blank.chunks]
        blank._first_sentence = {}
        queries: list[str] = []
        real = pymilvus.MilvusClient.query

        def counted(client, name, *args, **kwargs):
            queries.append(name)
            return real(client, name, *args, **kwargs)

        monkeypatch.setattr(pymilvus.MilvusClient, "query", counted)
        quoted = 0
        for question, expected in zip(questions, before):
            queries.clear()
            answer = remote.ask(question)
            assert cited(answer) == expected, question
            assert queries == [remote.retriever.backend.sentences_name]  # one round trip per question
            for c in answer.citations:
                assert texts[c.doc_id][c.start:c.end] == c.text
            quoted += bool(answer.citations)
        assert quoted >= len(QUESTIONS)
        _, reads = remote.retriever.retrieve(QUESTIONS[0][0], embedder.encode([QUESTIONS[0][0]])[0])
        assert isinstance(reads, SentenceRows) and reads.queries == 1
    finally:
        remote.close()


def test_a_state_synced_before_sentence_rows_is_refused_then_filled(synced):
    """A collection committed by the version before sentence rows (simulated: its sentence
    collection dropped) cannot be attached; the next sync fills the sentence collection."""
    settings, index, embedder, backend = synced
    sname = backend.sentences_name
    backend.client.drop_alias("rag_sentences")
    backend.client.drop_collection(sname)
    with pytest.raises(MilvusProblem, match="no sentence rows"):
        attach(settings, index)
    again = open_milvus(settings, index)
    try:
        assert again.sentences_name == sname and sentence_rows(again) == index_sentences(index)
    finally:
        again.close()


def test_the_commit_properties_keep_the_names_collections_already_hold(synced):
    """The properties a commit writes are stored in Milvus: collections synced by earlier versions
    hold `rag.sentences`, so it is read and written under that name (not a module path)."""
    settings, index, embedder, backend = synced
    props = backend.client.describe_collection(backend.name).get("properties", {})
    assert props["rag.sentences"] == backend.sentences_name
    assert read_state(backend.client, backend.name).sentences == backend.sentences_name


def test_hnsw_answers_with_the_same_top_article_as_flat(tmp_path):
    """Above RAG_FLAT_MAX passages the collection's dense index is HNSW (M 32, efConstruction 80);
    forced here by index_type, on the seeds, against FLAT in another database."""
    settings, index, embedder = fake_index(tmp_path)
    flat = Assistant(milvus(settings, tmp_path, "flat.db"), index=index, progress=False, encoder=embedder)
    hnsw = Assistant(milvus(settings, tmp_path, "hnsw.db", index_type="hnsw"), index=index, progress=False,
                     encoder=embedder)
    try:
        backend = hnsw.retriever.backend
        assert backend.name.startswith("rag_hnsw_") and flat.retriever.backend.name.startswith("rag_flat_")
        built = backend.client.describe_index(backend.name, "vector")
        params = built.get("params", built)  # Lite nests the build parameters; a server lists them flat
        assert built["index_type"] == "HNSW" and int(params["M"]) == 32 and int(params["efConstruction"]) == 80
        questions = question_set()
        same = 0
        for question in questions:
            a, b = flat.ask(question), hnsw.ask(question)
            for c in b.citations:
                assert index.texts[c.doc_id][c.start:c.end] == c.text
            same += bool(a.passages) and bool(b.passages) and a.passages[0].doc_id == b.passages[0].doc_id
        assert same >= 0.95 * len(questions), f"{same}/{len(questions)}"
    finally:
        flat.close()
        hnsw.close()


def test_sync_is_skipped_for_the_same_generation_and_reopens_in_another_process(synced, tmp_path):
    settings, index, embedder, backend = synced
    name = collection_name(index, settings)
    qvec = embedder.encode([QUESTIONS[0][0]])[0]
    expected = [r for r, _ in backend.dense_search(qvec, 5)]
    np.save(tmp_path / "q.npy", qvec)
    backend.close()  # releases Lite's lock on the file
    script = f"""
import json, numpy as np
from rag.settings import from_env
from rag.indexing.store import load_index
from rag.milvus.backend import attach
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


class Writes:
    """Counts what reaches the engine: rows in each insert call, and rows each delete removed, in
    the passage collection (`inserted`, `deleted`) and the sentence one (`sentences_inserted`,
    `sentences_deleted`): a pass-through spy on pymilvus's client, which still does the writing."""

    def __init__(self, monkeypatch):
        import pymilvus

        self.inserted: list[dict] = []
        self.deleted: list[str] = []
        self.sentences_inserted: list[dict] = []
        self.sentences_deleted: list[str] = []
        insert, delete = pymilvus.MilvusClient.insert, pymilvus.MilvusClient.delete

        def counted_insert(client, name, data, *args, **kwargs):
            (self.sentences_inserted if name.startswith(FAMILY) else self.inserted).extend(data)
            return insert(client, name, data, *args, **kwargs)

        def counted_delete(client, name, *args, **kwargs):
            result = delete(client, name, *args, **kwargs)
            (self.sentences_deleted if name.startswith(FAMILY) else self.deleted).extend(
                result if isinstance(result, list) else [])
            return result

        monkeypatch.setattr(pymilvus.MilvusClient, "insert", counted_insert)
        monkeypatch.setattr(pymilvus.MilvusClient, "delete", counted_delete)

    def reset(self):
        for written in (self.inserted, self.deleted, self.sentences_inserted, self.sentences_deleted):
            written.clear()


def writable_seeds(tmp_path):
    """A copy of the seeds to edit (conftest's corpus_copy would mark these fast tests slow)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, folder / f.name)
    return folder


def edit_corpus(corpus):
    """Change one article, delete one, add one; returns (changed, deleted, added) doc ids."""
    files = sorted(corpus.glob("*.txt"))
    files[0].write_text(files[0].read_text(encoding="utf-8") + "\n\nA new closing paragraph about tulips.\n", encoding="utf-8")
    files[1].unlink()
    (corpus / "900_added.txt").write_text("Orchids flower in Astana\n\nThe botanical garden of Astana showed 300 orchids "
                                         "in March. Visitors counted the orchids twice.\n", encoding="utf-8")
    return files[0].stem, files[1].stem, "900_added"


def rebuilt(settings, embedder):
    build(settings, progress=False, embedder=embedder)
    return load_index(settings.index_dir)


def rankings(backend, embedder, questions=None):
    """Dense and BM25 rankings (row, rounded score) of every question: what a state answers."""
    out = []
    for question in questions or [q for q, _ in QUESTIONS] + ["orchids in Astana", "a new closing paragraph about tulips"]:
        qvec = embedder.encode([question])[0]
        out.append(([(r, round(s, 4)) for r, s in backend.dense_search(qvec, 10)],
                    [(r, round(s, 3)) for r, s in backend.lexical_search(terms(question), 10)]))
    return out


def local_rankings(index, embedder):
    """The same rankings from the local backend, BM25 scaled to Milvus's (x (k1 + 1), see above)."""
    return [(d, [(r, round((K1 + 1) * s, 3)) for r, s in lex]) for d, lex in rankings(LocalBackend(index), embedder)]


def same_rankings(a, b) -> bool:
    """Rows equal, scores equal to rounding."""
    return all([r for r, _ in x] == [r for r, _ in y] and np.allclose([s for _, s in x], [s for _, s in y], atol=2e-3)
               for (dx, lx), (dy, ly) in zip(a, b, strict=True) for x, y in ((dx, dy), (lx, ly)))


def agree(a, b, min_overlap=0.75) -> bool:
    """Dense rankings identical; BM25 top-10 sharing at least `min_overlap` of their rows on
    average. Milvus keeps BM25 statistics over every row it holds (Lite: per segment), rows a
    state's filter hides included, so after an incremental sync BM25 is compared by overlap."""
    dense = all([r for r, _ in x] == [r for r, _ in y] and np.allclose([s for _, s in x], [s for _, s in y], atol=2e-3)
                for (x, _), (y, _) in zip(a, b, strict=True))
    overlaps = [len({r for r, _ in x} & {r for r, _ in y}) / len(y) for (_, x), (_, y) in zip(a, b) if y]
    return dense and sum(overlaps) / len(overlaps) >= min_overlap


def count(backend, expr="sync >= 0", name=None) -> int:
    return int(backend.client.query(name or backend.name, filter=expr, output_fields=["count(*)"])[0]["count(*)"])


def test_a_changed_corpus_writes_only_the_changed_articles(tmp_path, monkeypatch):
    corpus = writable_seeds(tmp_path)
    settings, v1, embedder = fake_index(tmp_path, corpus=corpus)
    settings = milvus(settings, tmp_path)
    writes = Writes(monkeypatch)
    first = open_milvus(settings, v1)
    assert len(writes.inserted) == len(v1.chunks) and not writes.deleted  # a new collection: every row
    before = rankings(first, embedder)
    changed, deleted, added = edit_corpus(corpus)
    v2 = rebuilt(settings, embedder)
    writes.reset()
    second = open_milvus(settings, v2)
    try:
        assert second.name == first.name  # same configuration: updated in place, not copied
        # Only the changed and the added article's rows were inserted; nothing else was rewritten.
        assert sorted({r["doc_id"] for r in writes.inserted}) == sorted([changed, added])
        assert len(writes.inserted) == sum(c.doc_id in (changed, added) for c in v2.chunks)
        assert not writes.deleted  # the old versions stay one sync, for the state before
        # The same for sentence rows: the changed and added articles' sentences, nothing else;
        # each state sees exactly its own index's sentences.
        assert len(writes.sentences_inserted) == sum(s.doc_id in (changed, added) for s in v2.sentences)
        assert {r["doc_id"] for r in writes.sentences_inserted} == {changed, added} and not writes.sentences_deleted
        assert sentence_rows(second) == index_sentences(v2) and sentence_rows(first) == index_sentences(v1)
        assert set(second.state.retired) == {article_key(changed, v1.manifest.articles[changed].sha256),
                                             article_key(deleted, v1.manifest.articles[deleted].sha256)}
        # v2 renumbered the local rows (an article was deleted): its rows are found all the same,
        # and the state before answers exactly as it did (nothing it holds was written).
        assert agree(rankings(second, embedder), local_rankings(v2, embedder))
        assert same_rankings(rankings(first, embedder), before)
        assert any(v2.chunks[r].doc_id == added for r, _ in second.lexical_search(terms("orchids"), 3))
        assert not any(v1.chunks[r].doc_id == added for r, _ in first.lexical_search(terms("orchids"), 3))
        asked = Assistant(settings, index=v2, progress=False, encoder=embedder)  # same state: writes nothing
        for question in [q for q, _ in QUESTIONS] + ["How many orchids did the garden show?"]:
            for c in asked.ask(question).citations:
                assert v2.texts[c.doc_id][c.start:c.end] == c.text
        asked.retriever.backend.close()
        # The next sync deletes what only v1 needed: the old version of the changed article and
        # the deleted article, and nothing else.
        gone = [c for c in v1.chunks if c.doc_id in (changed, deleted)]
        (corpus / "901_more.txt").write_text("Tulips in Almaty\n\nTulips opened early.\n", encoding="utf-8")
        v3 = rebuilt(settings, embedder)
        writes.reset()
        third = open_milvus(settings, v3)
        try:
            assert [r["doc_id"] for r in writes.inserted] == ["901_more"]
            assert len(writes.deleted) == len(gone)
            assert not third.state.retired and count(third) == len(v3.chunks)  # v3 only added: nothing kept
            # The retired versions' sentence rows went with their passages.
            assert len(writes.sentences_deleted) == sum(s.doc_id in (changed, deleted) for s in v1.sentences)
            assert {r["doc_id"] for r in writes.sentences_inserted} == {"901_more"}
            assert count(third, name=third.sentences_name) == len(v3.sentences)
            assert sentence_rows(third) == index_sentences(v3)
            assert agree(rankings(third, embedder), local_rankings(v3, embedder))
        finally:
            third.close()
    finally:
        second.close()
        first.close()


@pytest.mark.parametrize("cut_at", ["insert", "insert sentences", "delete", "delete sentences",
                                    "alter_collection_properties"])
def test_an_interrupted_sync_leaves_the_previous_state_answering(tmp_path, monkeypatch, cut_at):
    """Cut after the staged rows were written (insert: the passages'; insert sentences: the
    sentence rows', after the passages'), while cleaning up (delete: the second sync's deletes of
    what the first retired, in either collection) or just before the commit: the committed state
    answers exactly as before, with exactly its own sentence rows, in this process and in a fresh
    client, and the next sync finishes."""
    cut_at, _, where = cut_at.partition(" ")
    corpus = writable_seeds(tmp_path)
    settings, v1, embedder = fake_index(tmp_path, corpus=corpus)
    settings = milvus(settings, tmp_path)
    first = open_milvus(settings, v1)
    if cut_at == "delete":  # a committed sync with something retired, so the next one deletes
        files = sorted(corpus.glob("*.txt"))
        files[2].write_text(files[2].read_text(encoding="utf-8") + "\n\nLilies too.\n", encoding="utf-8")
        first.close()
        v1 = rebuilt(settings, embedder)
        first = open_milvus(settings, v1)
    before = rankings(first, embedder)
    asked = Assistant(settings, index=v1, progress=False, encoder=embedder)  # v1's state: writes nothing
    answers = [cited(asked.ask(q)) for q, _ in QUESTIONS]
    asked.close()
    edit_corpus(corpus)
    v2 = rebuilt(settings, embedder)

    import pymilvus

    real = getattr(pymilvus.MilvusClient, cut_at)

    def power_cut(client, *args, **kwargs):
        if cut_at == "delete" and "art in" not in kwargs.get("filter", ""):
            return real(client, *args, **kwargs)  # the clean-up of staged rows comes before
        if where == "sentences" and not args[0].startswith(FAMILY):
            return real(client, *args, **kwargs)  # the passage collection's write comes before
        if cut_at != "alter_collection_properties":  # at the commit: the process dies before it lands
            real(client, *args, **kwargs)  # the write lands, then the process dies
        raise RuntimeError("power cut")

    with monkeypatch.context() as m:
        m.setattr(pymilvus.MilvusClient, cut_at, power_cut)
        with pytest.raises(RuntimeError, match="power cut"):
            open_milvus(settings, v2)
    try:
        assert read_state(first.client, first.name).generation == v1.folder.name
        if cut_at != "delete":
            assert count(first, f"sync > {first.state.sync}") > 0  # staged rows are really there
        if where or cut_at == "alter_collection_properties":
            assert count(first, f"sync > {first.state.sync}", first.sentences_name) > 0  # staged sentences too
        # The committed state sees exactly v1's sentence rows, none of the staged ones.
        assert sentence_rows(first) == index_sentences(v1)
        # Exactly as before, unless the cut came after deleting rows only the state before that
        # one used: that changes Milvus's BM25 statistics (see `agree`), not which rows it sees.
        assert (agree if cut_at == "delete" else same_rankings)(rankings(first, embedder), before)
        with pytest.raises(MilvusProblem, match="generation"):
            attach(settings, v2)  # nobody can take the half-written state for v2's
        fresh = attach(settings, v1)
        try:
            assert (agree if cut_at == "delete" else same_rankings)(rankings(fresh, embedder), before)
            assert sentence_rows(fresh) == index_sentences(v1)
        finally:
            fresh.close()
        again = Assistant(settings, index=v1, progress=False, encoder=embedder)
        try:
            now = [cited(again.ask(q)) for q, _ in QUESTIONS]
            for _, citations, _ in now:
                assert all(v1.texts[d][a:b] == t for d, a, b, t, *_ in citations)
            if cut_at != "delete":  # BM25 statistics unchanged: the same answers, to the character
                assert now == answers
        finally:
            again.close()
        done = open_milvus(settings, v2)  # the next sync clears the staged rows and finishes
        try:
            assert agree(rankings(done, embedder), local_rankings(v2, embedder))
            assert count(done, f"sync > {done.state.sync}") == 0
            assert count(done, f"sync > {done.state.sync}", done.sentences_name) == 0
            assert sentence_rows(done) == index_sentences(v2)
        finally:
            done.close()
    finally:
        first.close()


def test_live_swaps_close_backends_two_swaps_old_and_the_new_one_keeps_answering(tmp_path):
    """A live rebuild swaps in a backend per generation; the one two swaps old is closed. On Milvus
    Lite every client of the file shares one in-process server, so closing an old backend must not
    stop the server the new one uses."""
    from milvus_lite.server_manager import server_manager_instance

    corpus = writable_seeds(tmp_path)
    settings, v1, embedder = fake_index(tmp_path, corpus=corpus)
    settings = milvus(settings, tmp_path)
    assistant = Assistant(settings, index=v1, progress=False, encoder=embedder)  # what _swap does on a rebuild:
    backends = [assistant.retriever.backend]
    edit_corpus(corpus)
    assistant._swap(rebuilt(settings, embedder))
    backends.append(assistant.retriever.backend)
    (corpus / "901_more.txt").write_text("Tulips in Almaty\n\nTulips opened early in April.\n", encoding="utf-8")
    v3 = rebuilt(settings, embedder)
    assistant._swap(v3)
    backends.append(assistant.retriever.backend)
    try:
        assert [b.closed for b in backends] == [True, False, False]  # v2's is kept, for requests in flight
        for question in [q for q, _ in QUESTIONS] + ["When did the tulips open in Almaty?"]:
            answer = assistant.ask(question)
            assert answer.index == v3.folder.name and answer.citations
            for c in answer.citations:
                assert v3.texts[c.doc_id][c.start:c.end] == c.text
        assert backends[1].dense_search(embedder.encode(["orchids"])[0], 3)  # the previous one still answers too
    finally:
        assistant.close()
    assert all(b.closed for b in backends)
    assert str(settings.milvus_uri) not in server_manager_instance._servers  # the file's lock is free again


def test_engine_fusion_returns_exact_distinct_passages_mostly_agreeing_with_ours(synced):
    """RAG_MILVUS_FUSION=engine: one hybrid_search fused by Milvus's RRFRanker(rrf_k) instead of our
    convex fusion of two searches."""
    settings, index, embedder, backend = synced
    ours = Retriever(index, settings, backend)
    engine = Retriever(index, settings.replace(milvus_fusion="engine"), backend)
    questions = question_set()
    same_top = 0
    for question in questions:
        qvec = embedder.encode([question])[0]
        passages = engine.search(question, qvec)
        assert len({p.row for p in passages}) == len(passages) == settings.k, question
        for p in passages:
            assert index.texts[p.doc_id][p.start:p.end] == p.text
        # The engine's RRF is ours, unweighted with k 60, over the same two searches (ties aside).
        q = terms(question)
        mine = rrf([[r for r, _ in backend.dense_search(qvec, 20)], [r for r, _ in backend.lexical_search(q, 20)]],
                   [1, 1], settings.rrf_k)[:settings.k]
        assert np.allclose([p.score for p in passages], [s for _, s in mine], atol=1e-6), question
        same_top += passages[0].doc_id == ours.search(question, qvec)[0].doc_id
    # Observed 54 of 64 with the hashed embedder; RRF is not our convex fusion, so only mostly.
    assert same_top >= 0.75 * len(questions)
    with pytest.raises(ValueError, match="milvus_fusion must be ours or engine"):
        from_env(env={"RAG_MILVUS_FUSION": "rrf"})


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
        assert any("120" in c.text for c in theirs.citations)
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


def following_assistant(settings, embedder, monkeypatch):
    """An Assistant that follows its corpus folder (as the app's does), with the stand-in embedder
    for its rebuilds, checking the folder at every question."""
    from rag.indexing.store import load_index as load

    monkeypatch.setattr("rag.assistant.ensure_index", lambda s, progress=True: load(s.index_dir))
    monkeypatch.setattr("rag.indexing.live.build", lambda s, progress=True: build(s, progress=False, embedder=embedder))
    assistant = Assistant(settings, progress=False, encoder=embedder)
    assistant._live.interval = 0.0
    return assistant


class FlakyInsert:
    """Every insert call is counted in `calls`; while `armed`, the next one lands on the engine and
    then the process's sync fails (the server went away mid-sync), once."""

    def __init__(self, monkeypatch):
        import pymilvus

        self.calls: list[int] = []
        self.armed = True
        real = pymilvus.MilvusClient.insert

        def flaky(client, name, data, *args, **kwargs):
            self.calls.append(len(data))
            result = real(client, name, data, *args, **kwargs)
            if self.armed:
                self.armed = False
                raise RuntimeError("server gone mid-sync")
            return result

        monkeypatch.setattr(pymilvus.MilvusClient, "insert", flaky)


def assert_answers_from(assistant, index, question, doc_id=None):
    answer = assistant.ask(question)
    assert answer.index == index.folder.name and answer.citations
    for c in answer.citations:
        assert index.texts[c.doc_id][c.start:c.end] == c.text
    if doc_id is not None:
        assert any(c.doc_id == doc_id for c in answer.citations)
    return answer


def test_a_failed_sync_in_a_live_swap_is_retried_after_a_back_off(tmp_path, monkeypatch):
    """The corpus changes, the sync of the rebuilt index fails mid-way: questions are answered from
    the index in use (its committed Milvus state), a question right after does not retry (back-off,
    never a retry per question), and once the back-off is over the next question's check retries
    the sync, which clears the staged rows and puts the new index in use."""
    corpus = writable_seeds(tmp_path)
    settings, v1, embedder = fake_index(tmp_path, corpus=corpus)
    assistant = following_assistant(milvus(settings, tmp_path), embedder, monkeypatch)
    live, first = assistant._live, assistant.retriever.backend
    try:
        _, _, added = edit_corpus(corpus)
        calls = FlakyInsert(monkeypatch).calls
        live.poll()  # what a question does first
        live.wait()
        assert calls and live.error and "server gone mid-sync" in live.error
        assert live._retry_at > time.monotonic() + 20  # FIRST_BACKOFF is 30 s
        assert assistant.retriever.backend is first and not first.closed
        assert count(first, f"sync > {first.state.sync}") > 0  # the staged rows of the cut sync are there
        for question, doc_id in QUESTIONS:
            assert_answers_from(assistant, v1, question)
        orchids = assistant.ask("How many orchids did the garden show?")
        assert not any(c.doc_id == added for c in orchids.citations)  # not in the state in use
        tries = len(calls)
        for _ in range(3):  # questions during the back-off: no retry
            assistant.ask(QUESTIONS[0][0])
            assert not live.rebuilding
        assert len(calls) == tries
        live._retry_at = 0.0  # the back-off is over
        live.poll()
        live.wait()
        assert live.error is None and len(calls) > tries
        v2 = assistant.index
        assert v2.folder.name != v1.folder.name and assistant.retriever.backend is not first
        assert_answers_from(assistant, v2, "How many orchids did the garden show?", added)
        second = assistant.retriever.backend
        assert count(second, f"sync > {second.state.sync}") == 0  # the retry cleared the staged rows
        assert not first.closed  # kept for requests in flight: the failed swap did not count as a swap
    finally:
        assistant.close()


def test_a_start_whose_sync_fails_answers_from_the_previous_state_then_retries(tmp_path, monkeypatch):
    """The app starts on a rebuilt index (v2) and its sync fails mid-way: it answers from the
    generation before (v1, still kept on disk) on the state Milvus committed for it, says so, and
    retries after the back-off; an index given to the constructor is never replaced (the error)."""
    corpus = writable_seeds(tmp_path)
    settings, v1, embedder = fake_index(tmp_path, corpus=corpus)
    settings = milvus(settings, tmp_path)
    open_milvus(settings, v1).close()
    _, _, added = edit_corpus(corpus)
    v2 = rebuilt(settings, embedder)
    flaky = FlakyInsert(monkeypatch)
    with pytest.raises(RuntimeError, match="server gone"):
        Assistant(settings, index=v2, progress=False, encoder=embedder)
    flaky.armed, calls = True, flaky.calls
    calls.clear()
    assistant = following_assistant(settings, embedder, monkeypatch)
    live = assistant._live
    try:
        assert assistant.index.folder.name == v1.folder.name
        assert "could not be synced into Milvus" in assistant.index.warning and "server gone" in assistant.index.warning
        for question, doc_id in QUESTIONS:
            assert_answers_from(assistant, v1, question)
        assert assistant.source(QUESTIONS[0][1])["index"] == v1.folder.name
        assistant.ask(QUESTIONS[0][0])
        assert not live.rebuilding and live._retry_at > time.monotonic() + 20 and len(calls) == 1
        live._retry_at = 0.0  # the back-off is over
        live.poll()
        live.wait()
        assert live.error is None and assistant.index.folder.name == v2.folder.name and not assistant.index.warning
        assert_answers_from(assistant, v2, "How many orchids did the garden show?", added)
    finally:
        assistant.close()


def test_the_bench_section_compares_both_backends_on_a_synthetic_index():
    """`rag bench --sections milvus` at a tiny size, on the stand-in embedder: every figure is
    there and both backends rank the same passages first (FLAT on both sides at this size)."""
    from rag.measure.bench_milvus import MODES, bench_milvus, format_milvus

    rows = bench_milvus([300], 5, from_env(env={}), lambda m: None, pool_size=200, embedder=HashEmbedder())
    (row,) = rows
    assert row["size"] == 300 and row["kind"] == "flat" and row["milvus_ingest_per_s"] > 0
    for mode in MODES:
        assert row[f"{mode}_ratio_p50"] > 0
    # FLAT on the same vectors: the dense rankings are the same. BM25 is scored by Milvus from its
    # own statistics, not bm25s's, and the synthetic passages (random draws from one pool of 200
    # sentences) leave near ties: bm25s's top two are within 0.3-1.3% for three of the five
    # questions, and clean-clone runs on a slow host put the other passage first for one and then
    # two of the five (why a run differs from the next is not verified). Milvus's first passage
    # must be among the local top 3.
    assert row["dense_same_top"] == 1.0 and row["dense_overlap10"] == 1.0
    assert row["hybrid_top_in_local3"] == 1.0 and row["bm25_top_in_local3"] == 1.0
    # The same first passage is one of the local top 3, and each share counts whole questions.
    for mode in ("hybrid", "bm25"):
        assert row[f"{mode}_same_top"] <= row[f"{mode}_top_in_local3"]
        assert round(row[f"{mode}_same_top"] * 5, 6).is_integer()
    assert "| 300 | hybrid |" in format_milvus(rows)
