import numpy as np
import pytest

from rag.answer import ABSTAIN_TEXT, QuestionError, clean_question, expected_type, lexical_overlap, select
from tests.conftest import SEEDS
from tests.test_retrieval import QUESTIONS

OFF_TOPIC = [
    "Who won the 2018 FIFA World Cup?",
    "What is the boiling point of mercury?",
    "How do I bake sourdough bread?",
    "What is the capital of Australia?",
]


def source(doc_id: str) -> str:
    return (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")


def test_the_webinar_attendance_question_quotes_120(assistant):
    answer = assistant.ask("How many people attended the webinars on Belgian HR practices?")
    assert not answer.abstained
    hit = [c for c in answer.citations if "120" in c.text]
    assert hit and hit[0].doc_id == "000_46a559f0544261a8"
    assert f"[{hit[0].n}]" in answer.answer


def test_citations_are_verbatim_spans_of_their_files(assistant):
    for question, _ in QUESTIONS:
        answer = assistant.ask(question)
        for c in answer.citations:
            assert source(c.doc_id)[c.start : c.end] == c.text
            assert c.text in answer.answer
        for p in answer.passages:
            assert source(p.doc_id)[p.start : p.end] == p.text


def test_answers_come_from_the_right_article(assistant):
    right = sum(
        bool(a.citations) and a.citations[0].doc_id == doc
        for a, doc in ((assistant.ask(q), d) for q, d in QUESTIONS)
    )
    assert right >= 8


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained and answer.answer == ABSTAIN_TEXT and not answer.citations
    assert answer.passages  # the closest passages are still offered


def test_clean_question():
    assert clean_question("  what\x00 is\tthis?\n", 100) == ("what is this?", None)
    text, notice = clean_question("word " * 1000, 50)
    assert len(text) <= 50 and "long" in notice
    for bad in ["", "   ", "\x00\x01", None]:
        with pytest.raises(QuestionError):
            clean_question(bad, 100)


def test_expected_type():
    assert expected_type("How many people came?") == "number"
    assert expected_type("When was it held?") == "date"
    assert expected_type("Who spoke first?") == "person"
    assert expected_type("What was discussed?") is None


def test_lexical_overlap_weights_rare_terms():
    idf = {"rare": 5.0, "common": 1.0}.get
    assert lexical_overlap(["rare", "common"], {"rare"}, idf) == pytest.approx(5 / 6)
    assert lexical_overlap([], {"rare"}, idf) == 0.0


def test_select_skips_near_duplicates_and_weak_sentences():
    v = np.eye(4, dtype=np.float32)
    v[1] = v[0]  # sentence 1 duplicates sentence 0
    scores = np.array([0.9, 0.88, 0.85, 0.2], dtype=np.float32)
    assert select(scores, v, max_n=3, ratio=0.85, redundancy_max=0.8) == [0, 2]
    assert select(scores, v, max_n=1, ratio=0.85, redundancy_max=0.8) == [0]
    assert select(np.zeros(0), v[:0], 3, 0.85, 0.8) == []
