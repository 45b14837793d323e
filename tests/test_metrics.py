import pytest

from rag import metrics as M


def test_normalize_answer_like_the_squad_scorer():
    assert M.normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert M.normalize_answer("An apple a day") == "apple day"
    assert M.normalize_answer("“5 + 1”") == "“5 1”"  # only ASCII punctuation goes, as in SQuAD


def test_hits_and_mrr_count_distinct_articles():
    ranked = ["a", "a", "a", "b", "c"]
    assert M.hit_at(ranked, {"b"}, 2) and not M.hit_at(ranked, {"c"}, 2)
    assert M.reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(ranked, {"b", "c"}) == pytest.approx(1 / 2)  # first gold counts
    assert M.reciprocal_rank([], {"a"}) == 0.0 and not M.hit_at([], {"a"}, 5)
    assert M.reciprocal_rank(["x"] * 3 + ["a"], {"a"}, k=1) == 0.0


def test_answer_found_uses_whole_normalised_words():
    assert M.answer_found("Webinars were attended by 120 people.", ["120"])
    assert not M.answer_found("It cost 1200 dollars.", ["120"])
    assert M.answer_found("held in New York, USA", ["the New York"])
    assert not M.answer_found("anything", [])


def test_citation_precision_and_means():
    assert M.citation_precision(["a", "b", "a"], {"a"}) == pytest.approx(2 / 3)
    assert M.citation_precision([], {"a"}) is None
    assert M.mean([1.0, None, 0.0]) == 0.5 and M.mean([None]) is None


def test_percentiles_interpolate():
    assert M.percentile([10, 20, 30, 40], 50) == 25
    assert M.percentile([5], 95) == 5 and M.percentile([], 50) is None
    assert M.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == pytest.approx(9.55)


def test_abstention_scores():
    abstained = [True, True, False, False, True]
    answerable = [False, True, True, False, False]
    s = M.abstention_scores(abstained, answerable)
    assert s["abstain_precision"] == pytest.approx(2 / 3)
    assert s["abstain_recall"] == pytest.approx(2 / 3)
    assert s["false_abstention"] == pytest.approx(1 / 2)
    none = M.abstention_scores([False, False], [True, True])
    assert none["abstain_precision"] is None and none["abstain_recall"] is None and none["false_abstention"] == 0
