import pytest

from rag.retrieval.retriever import Retriever, convex, rrf
from tests.conftest import QUESTIONS


def test_rrf_orders_by_weighted_reciprocal_rank():
    fused = rrf([[1, 2, 3], [3, 1]], [1.0, 1.0], k=60)
    assert [item for item, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    # Weights move the balance; ties keep first-seen order.
    assert [i for i, _ in rrf([[1], [2]], [1.0, 2.0])] == [2, 1]
    assert [i for i, _ in rrf([[1], [2]], [1.0, 1.0])] == [1, 2]
    assert rrf([[], []], [1.0, 1.0]) == []


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_right_article_is_retrieved(assistant, mode):
    hits = 0
    for question, doc_id in QUESTIONS:
        qvec = assistant.embed_question(question)
        passages = assistant.retriever.search(question, qvec, k=3, mode=mode)
        hits += doc_id in [p.doc_id for p in passages]
    assert hits >= (10 if mode == "hybrid" else 8)


def test_a_name_typed_without_its_accents_finds_its_sentence(assistant):
    """BM25 and the term overlap fold accents: "roncevic" matches "Rončević" (the embedding's
    tokenizer folds them too)."""
    question = "who is danilo roncevic"
    passages = assistant.retriever.search(question, assistant.embed_question(question), k=3, mode="bm25")
    assert passages and "Rončević" in passages[0].text
    answer = assistant.ask(question)
    assert any("Rončević" in c.text for c in answer.citations)


def test_passages_carry_their_scores_and_spans(assistant):
    q = QUESTIONS[0][0]
    passages = assistant.retriever.search(q, assistant.embed_question(q), k=5)
    assert len(passages) == 5
    for p in passages:
        assert p.dense_rank is not None or p.lexical_rank is not None
        assert p.title and p.end > p.start


def test_unknown_mode_is_refused(assistant):
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        assistant.retriever.search("x", assistant.embed_question("x"), mode="magic")


def test_convex_combines_max_normalised_scores():
    # dense: a best (1.0), b half; lexical: b best (10), c 5.
    fused = dict(convex({1: 0.8, 2: 0.4}, {2: 10.0, 3: 5.0}, 0.7, 0.3))
    assert fused[1] == pytest.approx(0.7 * 1.0)
    assert fused[2] == pytest.approx(0.7 * 0.5 + 0.3 * 1.0)
    assert fused[3] == pytest.approx(0.3 * 0.5)
    assert [i for i, _ in convex({1: 0.8, 2: 0.4}, {2: 10.0, 3: 5.0}, 0.7, 0.3)] == [1, 2, 3]
    # A deeper candidate list (more low scores) leaves the scores of the others unchanged.
    deeper = dict(convex({1: 0.8, 2: 0.4, 4: 0.1}, {2: 10.0, 3: 5.0, 5: 0.5}, 0.7, 0.3))
    assert all(deeper[i] == pytest.approx(fused[i]) for i in fused)
    assert convex({}, {}, 1.0, 1.0) == []
    with pytest.raises(ValueError):
        convex({1: 1.0}, {}, 0.0, 0.0)


def test_dense_scores_blend_chunk_and_best_sentence(assistant):
    index = assistant.index
    q = assistant.embed_question(QUESTIONS[0][0])
    rows = [0, 1, 2]
    chunk = index.chunk_vectors[rows] @ q
    best = [max(float(index.sentence_vectors[i] @ q) for i in index.chunk_sentences[r]) for r in rows]
    for w in (0.0, 0.5, 1.0):
        r = Retriever(index, assistant.settings.replace(sentence_weight=w))
        got = r.dense_scores(q, rows)
        assert [got[x] for x in rows] == pytest.approx([(1 - w) * c + w * b for c, b in zip(chunk, best)], abs=1e-5)


@pytest.mark.parametrize("fusion", ["rrf", "convex"])
def test_fusion_settings_retrieve_the_right_article(assistant, fusion):
    r = Retriever(assistant.index, assistant.settings.replace(fusion=fusion, sentence_weight=0.7, dense_weight=0.7,
                                                              lexical_weight=0.3, passage_ranker=False))
    hits = 0
    for question, doc_id in QUESTIONS:
        passages = r.search(question, assistant.embed_question(question), k=3)
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        hits += doc_id in [p.doc_id for p in passages]
    assert hits == 10
    # A deeper search starts with the same passages (scores do not depend on depth).
    q = QUESTIONS[2][0]
    qvec = assistant.embed_question(q)
    top = [p.row for p in r.search(q, qvec, k=5)]
    assert [p.row for p in r.search(q, qvec, k=30)][:5] == top


def test_passage_features_by_hand():
    import numpy as np

    from rag.retrieval.passage_ranker import FEATURES, passage_features

    fused = {7: 0.9, 8: 0.5}
    dense, chunk, lexical = {7: 0.6, 8: 0.3}, {7: 0.5, 8: 0.4}, {7: 2.0, 8: 8.0}
    cos = {7: np.array([0.2, 0.7], dtype=np.float32), 8: np.array([0.1], dtype=np.float32)}
    ov = {7: np.array([0.5, 0.25], dtype=np.float32), 8: np.array([1.0], dtype=np.float32)}
    x = passage_features([8, 7], fused, dense, chunk, lexical, cos, ov, {7: 0, 8: 3}, 4)
    row = dict(zip(FEATURES, x[0]))  # passage 8
    assert row["fused_rank"] == 1 and row["dense_rank"] == 1 and row["bm25_rank"] == 0
    assert row["dense_norm"] == pytest.approx(0.5) and row["chunk_norm"] == pytest.approx(0.8) and row["bm25_norm"] == 1
    assert row["best_sentence"] == pytest.approx(0.1) and row["overlap_best"] == 1 and row["overlap_second"] == 0
    assert row["relevance_best"] == pytest.approx(0.55) and row["chunk_no"] == 3 and row["sentences"] == 1
    first = dict(zip(FEATURES, x[1]))  # passage 7: two sentences
    assert first["overlap_best"] == 0.5 and first["overlap_second"] == 0.25 and first["best_sentence"] == pytest.approx(0.7)
    assert first["relevance_best"] == pytest.approx(0.5 * 0.7 + 0.5 * 0.25) and first["question_terms"] == 4
    # A candidate BM25 did not score (none of the question's terms known) ranks last on that side.
    alone = passage_features([9], {9: 0.2, 7: 0.9}, {9: 0.2, 7: 0.6}, {9: 0.2, 7: 0.5}, {7: 2.0}, {}, {}, {9: 0}, 0)
    assert dict(zip(FEATURES, alone[0]))["bm25_rank"] == 2 and dict(zip(FEATURES, alone[0]))["bm25_norm"] == 0
    # and so does one BM25 scored 0, whatever order the backend listed its zeros in.
    zero = passage_features([9], {9: 0.2, 7: 0.9}, {9: 0.2, 7: 0.6}, {9: 0.2, 7: 0.5}, {9: 0.0, 7: 0.0}, {}, {}, {9: 0}, 0)
    assert dict(zip(FEATURES, zero[0]))["bm25_rank"] == 2
    # Tied scores share a rank, whichever order a backend listed them in (Milvus and bm25s differ).
    for lexical in ({5: 1.5, 18: 1.0, 6: 1.0, 9: 0.5}, {5: 1.5, 6: 1.0, 18: 1.0, 9: 0.5}):
        rows = [5, 18, 6, 9]
        tied = passage_features(rows, dict.fromkeys(rows, 0.5), dict.fromkeys(rows, 0.5), dict.fromkeys(rows, 0.5),
                                lexical, {}, {}, dict.fromkeys(rows, 0), 0)
        assert [dict(zip(FEATURES, x))["bm25_rank"] for x in tied] == [0, 1, 1, 3]
        assert [dict(zip(FEATURES, x))["fused_rank"] for x in tied] == [0, 0, 0, 0]


def test_the_passage_ranker_reorders_the_best_fused_passages(assistant):
    import numpy as np

    class Ascending:  # scores each reranked row above the one before it: fusion's order reversed
        def score(self, features, rows=None):
            return np.arange(len(features), dtype=np.float32)

    q = QUESTIONS[0][0]
    qvec = assistant.embed_question(q)
    plain = Retriever(assistant.index, assistant.settings.replace(passage_ranker=False))
    assert plain.ranker is None
    fused = plain.search(q, qvec, k=40)
    assert [p.score for p in fused] == sorted((p.score for p in fused), reverse=True)
    ranked = Retriever(assistant.index, assistant.settings, ranker=Ascending()).search(q, qvec, k=40)
    assert [p.row for p in ranked] == [p.row for p in reversed(fused)]
    assert {p.row: p.score for p in ranked} == {p.row: p.score for p in fused}  # each keeps its fused score


def test_the_shipped_passage_ranker_is_on_by_default(assistant):
    from rag.retrieval.passage_ranker import PassageRanker

    assert isinstance(assistant.retriever.ranker, PassageRanker)
    q = QUESTIONS[0][0]
    qvec = assistant.embed_question(q)
    passages = assistant.retriever.search(q, qvec, k=5)
    assert len(passages) == 5 and len({p.row for p in passages}) == 5
    # A deeper search (a benchmark's) starts with the same passages: the ranker's inputs for the
    # best candidates do not depend on how deep the lists go.
    assert [p.row for p in assistant.retriever.search(q, qvec, k=30)][:5] == [p.row for p in passages]


def test_fit_passage_ranker_weighs_questions(tmp_path):
    import numpy as np

    from rag.retrieval.passage_ranker import FEATURES, PassageRanker, fit_passage_ranker

    # Two kinds of question that disagree: in one the candidate scoring 1 on the first feature is
    # the answer, in the other the candidate scoring 0. The heavier kind decides the order.
    def group(answer_high: bool, seed: int):
        X = np.random.default_rng(seed).random((2, len(FEATURES)), dtype=np.float32)
        X[:, 0] = [1.0, 0.0]
        return X, np.array([answer_high, not answer_high], dtype=np.int8)

    groups = [group(i % 2 == 0, i) for i in range(400)]
    probe = np.zeros((2, len(FEATURES)), dtype=np.float32)
    probe[:, 0] = [1.0, 0.0]
    for heavy_high in (True, False):
        weights = [4.0 if (i % 2 == 0) == heavy_high else 1.0 for i in range(len(groups))]
        path = tmp_path / f"ranker-{heavy_high}.txt.xz"
        fit_passage_ranker(groups, path, weights=weights)
        high, low = PassageRanker(path).score(probe)
        assert (high > low) == heavy_high
