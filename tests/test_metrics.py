import pytest

from rag.measure import metrics as M


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


def test_duplicates_ties_and_empty_rankings():
    # Five passages of one article then the gold one: still rank 2 among distinct articles.
    ranked = ["x"] * 5 + ["g", "x", "g"]
    assert M.distinct(ranked) == ["x", "g"]
    assert not M.hit_at(ranked, {"g"}, 1) and M.hit_at(ranked, {"g"}, 2)
    assert M.reciprocal_rank(ranked, {"g"}) == 0.5
    # Two gold articles (a question spanning articles): either one is a hit, the first counts for MRR.
    assert M.reciprocal_rank(["a", "b", "c"], {"c", "b"}) == 0.5
    assert M.hit_at([], set(), 1) is False and M.reciprocal_rank(["a"], set()) == 0.0
    # Tied latencies: percentiles stay on the tied value.
    assert M.percentile([7.0, 7.0, 7.0, 100.0], 50) == 7.0
    assert M.percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input


def test_answer_found_handles_punctuation_and_case_like_squad():
    assert M.answer_found("The Denver Broncos won.", ["denver broncos"])
    assert M.answer_found("It was held April 15-16, online.", ["April 15–16", "April 15-16"])
    assert M.answer_found("Levi's Stadium hosted it", ["Levis Stadium"])  # apostrophe removed on both sides
    assert not M.answer_found("", ["anything"]) and not M.answer_found("the", ["the"])  # nothing left after normalising


def test_answer_found_inside_hyphenated_and_possessive_words():
    """Deleting punctuation joins words ("11-year" -> "11year"): the gold answer "11" of "an 11-year
    veteran" is in the sentence all the same, and so is a name before "'s" or a closing note mark."""
    assert M.answer_found("Thomas Davis, an 11-year veteran, played.", ["11"])
    assert M.answer_found("Despite Manning's problems with interceptions", ["Manning"])
    assert M.answer_found("he relocated to New York City:57–60 where", ["New York City"])
    assert M.answer_found("change into English-medium schools", ["English"])
    assert not M.answer_found("an 11-year veteran", ["110"]) and not M.answer_found("Manningham", ["Manning"])
    assert not M.answer_found("golden anniversary", ["gold"])  # still whole words only


def test_abstention_scores_with_nothing_to_measure():
    assert M.abstention_scores([], []) == {"abstain_precision": None, "abstain_recall": None, "false_abstention": None}
    only_unanswerable = M.abstention_scores([True, False], [False, False])
    assert only_unanswerable == {"abstain_precision": 1.0, "abstain_recall": 0.5, "false_abstention": None}


def test_squad_exact_match_and_f1_follow_the_official_script():
    from rag.measure.metrics import exact_match, f1

    assert exact_match("The Denver Broncos!", ["Denver Broncos"]) == 1.0
    assert exact_match("Broncos", ["Denver Broncos"]) == 0.0
    assert f1("Broncos", ["Denver Broncos"]) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1("the Carolina Panthers", ["Denver Broncos", "Carolina Panthers"]) == 1.0
    assert f1(None, ["x"]) == exact_match("", ["x"]) == 0.0
    assert f1("a", ["the"]) == 0.0  # both normalise to nothing shared
