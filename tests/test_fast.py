"""Fast tests: the pipeline's logic over the seeds with a deterministic stand-in for the embedding
model (a hashed bag of words), so they run in seconds. The real model, FAISS search quality, the
server and the browser are tested elsewhere (`-m slow`); these check invariants that hold for any
embedder: exact spans, incremental builds, fusion, the answer's shape and the page's escaping."""
import shutil

import pytest

from rag.assistant import Assistant
from rag.indexing.build import build
from rag.indexing.store import load_index
from rag.serve.page import answer_markdown, sources_html
from rag.settings import from_env
from tests.conftest import QUESTIONS, SEEDS, HashEmbedder


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """(assistant, embedder, corpus folder) over a copy of the seeds, indexed with HashEmbedder."""
    corpus = tmp_path_factory.mktemp("corpus")
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, corpus / f.name)
    settings = from_env(env={}, corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("index"))
    embedder = HashEmbedder()
    build(settings, progress=False, embedder=embedder)
    index = load_index(settings.index_dir)
    return Assistant(settings, index=index, progress=False, encoder=embedder), embedder, corpus


def test_every_row_is_an_exact_span_of_its_article(fake):
    assistant, _, corpus = fake
    index = assistant.index
    assert index.manifest.model_id == HashEmbedder.model_id
    for row in [*index.chunks, *index.sentences]:
        assert (corpus / f"{row.doc_id}.txt").read_text(encoding="utf-8")[row.start : row.end] == row.text
    assert index.chunk_vectors.shape[1] == index.sentence_vectors.shape[1] == HashEmbedder.dim


def test_one_sentence_record_from_chunk_rows_to_the_files(fake):
    """A chunk holds the index's own sentence records, and the rows write back as format 2 wrote them."""
    import json

    from rag.indexing.store import live_folder

    assistant, _, _ = fake
    index = assistant.index
    for chunk, ids in zip(index.chunks, index.chunk_sentences):
        assert all(s is index.sentences[i] for s, i in zip(chunk.sentences, ids, strict=True))
    folder = live_folder(assistant.settings.index_dir)
    rows = [dict(c.to_row(), sentence_ids=ids) for c, ids in zip(index.chunks, index.chunk_sentences)]
    assert json.dumps(rows, ensure_ascii=False) == (folder / "chunks.json").read_text(encoding="utf-8")
    assert list(rows[0]) == ["doc_id", "title", "chunk_no", "start", "end", "text", "sentences", "sentence_ids"]


def test_the_bench_times_stages_through_ask(fake):
    """`Answer.timings` holds every stage, retrieval's parts among them, and the bench reads its figures there."""
    from rag.measure.timing import STAGES, query_latency

    assistant = fake[0]
    t = assistant.ask(QUESTIONS[0][0]).timings
    assert {"clean", "embed", "dense", "lexical", "fuse", "retrieve", "candidates", "answer", "total"} <= set(t)
    assert t["dense"] + t["lexical"] + t["fuse"] <= t["retrieve"]
    assert t["total"] == pytest.approx(t["clean"] + t["embed"] + t["retrieve"] + t["answer"])
    stages, ask = query_latency(assistant, [q for q, _ in QUESTIONS], 3)
    assert tuple(stages) == STAGES and 0 < stages["total"][0] <= ask[0]  # each total is inside its ask


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_returns_k_distinct_exact_passages(fake, mode):
    assistant, _, _ = fake
    for question, _ in QUESTIONS:
        passages = assistant.retriever.search(question, assistant.embed_question(question), k=5, mode=mode)
        assert 1 <= len(passages) <= 5
        assert len({(p.doc_id, p.start) for p in passages}) == len(passages)
        if mode != "hybrid":  # hybrid's best are in the passage ranker's order (tests/test_retrieval.py)
            assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        for p in passages:
            assert assistant.index.texts[p.doc_id][p.start : p.end] == p.text


def test_answers_quote_their_citations_exactly(fake):
    assistant, _, _ = fake
    answered = 0
    for question, _ in QUESTIONS:
        answer = assistant.ask(question)
        assert answer.abstained == (not answer.citations)
        for c in answer.citations:
            assert assistant.index.texts[c.doc_id][c.start : c.end] == c.text
            assert c.text in answer.answer
        if answer.short_answer:
            s = answer.short_answer
            assert assistant.index.texts[s.doc_id][s.start : s.end] == s.text
        answered += not answer.abstained
        if answer.citations:  # the passage the answer quotes is listed first, the rest keep their order
            quoted = [c.passage for c in answer.citations if c.passage is not None]
            assert answer.passages[0] is quoted[0]
            rest = [p.row for p in answer.passages if all(p is not q for q in quoted)]
            retrieved = [p.row for p in assistant.retriever.search(question, assistant.embed_question(question))]
            assert rest == [r for r in retrieved if r in rest]
    assert answered >= len(QUESTIONS) // 2  # bag-of-words vectors still find most of them


def test_changing_one_article_re_embeds_only_it(fake, tmp_path):
    _, _, corpus = fake
    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)
    settings = from_env(env={}, corpus_dir=work, index_dir=tmp_path / "index")
    first = build(settings, progress=False, embedder=HashEmbedder())
    assert len(first.embedded_articles) == 5
    one = sorted(work.glob("*.txt"))[0]
    one.write_text(one.read_text(encoding="utf-8") + "\nOne more sentence about the hub.\n", encoding="utf-8")
    embedder = HashEmbedder()
    second = build(settings, progress=False, embedder=embedder)
    assert second.embedded_articles == [one.stem] and len(second.reused_articles) == 4
    assert 0 < embedder.embedded < first.chunks + first.sentences
    assert build(settings, progress=False, embedder=HashEmbedder()).embedded_articles == []


def test_the_page_escapes_article_text(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.txt").write_text(
        "The <b>hub</b> report\n\nThe <script>alert(1)</script> hub has **forty** members [x](javascript:alert(1)).\n"
        "Its members meet every year in Astana.\n", encoding="utf-8")
    settings = from_env(env={}, corpus_dir=corpus, index_dir=tmp_path / "index")
    embedder = HashEmbedder()
    build(settings, progress=False, embedder=embedder)
    assistant = Assistant(settings, index=load_index(settings.index_dir), progress=False, encoder=embedder)
    answer = assistant.ask("How many members does the hub have?")
    html = answer_markdown(answer) + sources_html(answer)
    assert "<script" not in html and "<b>hub" not in html and "](javascript" not in html and "**forty**" not in html
    assert "&#60;script&#62;" in html  # shown as text, not dropped


def test_the_api_schema_declares_every_field_an_answer_carries():
    """The API's response models are made from the answer dataclasses' fields: every key the JSON has is declared."""
    from dataclasses import fields

    from rag.answer.records import Answer, Citation, ShortAnswer
    from rag.retrieval.retriever import Passage
    from rag.serve.api_schema import AskResponse, CitationOut, PassageOut, ShortAnswerOut

    def declared(model):
        return set(model.model_fields)

    answer = Answer("q", "a", False, [], [])
    assert set(answer.to_dict()) == declared(AskResponse)
    assert {f.name for f in fields(Citation)} - {"passage"} == declared(CitationOut)
    assert {f.name for f in fields(ShortAnswer)} == declared(ShortAnswerOut)
    passage = Passage(0, "d", "t", 0, 0, 1, "x", 0.5)
    assert declared(PassageOut) == set(passage.to_dict())


def test_every_command_declared_has_code_to_run():
    import argparse

    from rag.cli import COMMANDS
    from rag.cli_parser import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == set(COMMANDS)


def test_answer_first_moves_quoted_passages_ahead_in_citation_order():
    from rag.answer.records import Citation
    from rag.answer.select import answer_first
    from rag.retrieval.retriever import Passage

    passages = [Passage(r, f"d{r}", "t", 0, 0, 10, "x", 1.0 - r / 10) for r in range(5)]
    cite = lambda n, p: Citation(n, p.doc_id, "t", 0, 1, "x", 0.5, 0, passage=p)  # noqa: E731
    assert answer_first(passages, []) == passages
    reordered = answer_first(passages, [cite(1, passages[3]), cite(2, passages[1]), cite(3, passages[3])])
    assert [p.row for p in reordered] == [3, 1, 0, 2, 4]
    context = Citation(1, "d9", "t", 0, 1, "x", 0.5, 0, context=True)  # no passage: quoted for context only
    assert [p.row for p in answer_first(passages, [context, cite(2, passages[2])])] == [2, 0, 1, 3, 4]
