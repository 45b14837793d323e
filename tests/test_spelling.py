"""A question's misspelt words read as the collection's nearest words."""
from rag.retrieval.spelling import Vocabulary, corrections, english_words, respelled

VOCABULARY = Vocabulary.of([
    "Alikhan Baimenov met the delegation. The delegation visited Brussels.",
    "Webinars were attended by 120 people; the webinar was attended online.",
    "Rončević spoke on recruitment. Recruiting is hard; recruitment is harder.",
])
ENGLISH = {"tallest", "mountain", "attended", "delegation"}.__contains__


def test_a_word_the_collection_lacks_is_read_as_its_nearest_word():
    assert corrections("who is alikhan baimanov", VOCABULARY, ENGLISH) == {"baimanov": "baimenov"}
    assert corrections("how many atended", VOCABULARY, ENGLISH) == {"atended": "attended"}
    assert corrections("the delegtaion", VOCABULARY, ENGLISH) == {"delegtaion": "delegation"}  # a swap is one edit
    assert corrections("who is roncevik", VOCABULARY, ENGLISH) == {"roncevik": "roncevic"}  # accents folded


def test_known_words_short_words_and_far_words_stay_as_typed():
    assert corrections("What is the tallest mountain in Africa?", VOCABULARY, ENGLISH) == {}
    assert corrections("Who met the delegation in Brussels?", VOCABULARY, ENGLISH) == {}
    assert corrections("webinr", VOCABULARY, ENGLISH) == {"webinr": "webinar"}
    assert corrections("webn", VOCABULARY, ENGLISH) == {}  # under five letters: too many neighbours
    assert corrections("baimxxov", VOCABULARY, ENGLISH) == {"baimxxov": "baimenov"}  # eight letters: two edits
    assert corrections("baimxxv", VOCABULARY, ENGLISH) == {}  # seven: one edit only
    assert corrections("Why couldn't Baimenov's delegation come?", Vocabulary.of(["he could", "Baimenov"]),
                       lambda w: False) == {}  # not "could't", not "Baimenov"


def test_the_more_frequent_of_equally_near_words_wins():
    # "recruitmant" is one edit from "recruitment" (twice in the collection) only.
    assert corrections("recruitmant", VOCABULARY, ENGLISH) == {"recruitmant": "recruitment"}
    vocabulary = Vocabulary.of(["cables cables tables"])
    assert corrections("xables", vocabulary, lambda w: False) == {"xables": "cables"}


def test_respelled_keeps_a_capital_and_replaces_whole_words_only():
    fixes = {"Baimanov": "baimenov", "atended": "attended"}
    assert respelled("Who is Baimanov? Baimanovs atended", fixes) == "Who is Baimenov? Baimanovs attended"
    assert respelled("unchanged", {}) == "unchanged"


def test_english_words_are_the_bundled_vocabulary_whole_words():
    words = english_words()
    assert {"tallest", "mountain", "attended"} <= words
    assert "baimenov" not in words and "##s" not in words
