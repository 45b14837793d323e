"""Follow-up questions: which ones point back, what they are searched with, and the SQuAD sets made of them."""
import numpy as np
import pytest

from rag.answer.conversation import MAX_EARLIER, QUESTION_WEIGHT, follows, refers_back, search_text, search_vector
from rag.measure.followups import as_pronoun, follow_ups


@pytest.mark.parametrize("question,points_back", [
    ("When was it founded?", True),
    ("How many people attended them?", True),
    ("What council does she chair?", True),
    ("Where did he meet Alikhan Baimenov?", True),
    ("What is its budget?", True),
    ("Who chairs the ICSC?", False),
    ("Which items are on the agenda?", False),  # "it" inside a word is no pronoun
    ("Is there a webinar this year?", False),  # "there" and "this" open too many questions that stand alone
    ("What about payroll?", True), ("And in Georgia?", True), ("how about the OECD", True),
    ("And what did the delegation learn about digital HR tools in Belgium?", False),  # long: it asks anew
])
def test_a_question_points_back_with_a_personal_pronoun(question, points_back):
    assert refers_back(question) is points_back


def test_a_follow_up_reaches_back_to_the_last_question_that_stands_alone():
    chat = ["Who spoke at the webinars?", "Who chairs the ICSC?", "Where did it hold a workshop?"]
    assert follows("When did it take place?", chat) == ["Who chairs the ICSC?", "Where did it hold a workshop?"]
    assert follows("Who chairs the ICSC?", chat) == []  # stands alone
    assert follows("When did it take place?", []) == []  # nothing before
    assert follows("When was it?", ["", "  ", "Who chairs the ICSC?", ""]) == ["Who chairs the ICSC?"]
    # A turn that names nothing is no subject: "thanks!" after a question is skipped.
    assert follows("When was it founded?", ["Who chairs the ICSC?", "thanks!", "ok"]) == ["Who chairs the ICSC?"]
    assert follows("When was it founded?", ["I am interested in the ICSC."]) == ["I am interested in the ICSC."]
    pronouns_only = [f"What did it say {n}?" for n in range(10)]
    assert len(follows("And then what did it do?", pronouns_only)) == MAX_EARLIER


def test_the_search_reads_the_earlier_questions_then_the_follow_up():
    assert search_text("When?", ["Who chairs the ICSC?"]) == "Who chairs the ICSC? When?"
    assert search_text("Who chairs the ICSC?", []) == "Who chairs the ICSC?"
    q = np.array([1.0, 0.0], dtype=np.float32)
    before = np.array([0.0, 1.0], dtype=np.float32)
    v = search_vector(q, before)
    assert v.dtype == np.float32 and np.isclose(np.linalg.norm(v), 1.0)
    assert np.isclose(v[0] / v[1], QUESTION_WEIGHT)  # the question counts more than what it follows


@pytest.mark.parametrize("question,title,expected", [
    ("Where did Super Bowl 50 take place?", "Super_Bowl_50", "Where did it take place?"),
    ("Super Bowl 50 was played where?", "Super_Bowl_50", "It was played where?"),
    ("Who ruled the Normans in 1066?", "Normans", "Who ruled them in 1066?"),
    ("When did the Normans arrive?", "Normans", "When did they arrive?"),
    ("What is Warsaw's population?", "Warsaw", "What is its population?"),
    ("What did the Huguenots believe?", "Huguenot", "What did they believe?"),
    ("Where is Fresno's airport?", "Fresno,_California", "Where is its airport?"),
    ("What is the capital of Kenya?", "Warsaw", None),
])
def test_squad_follow_ups_turn_the_articles_subject_into_a_pronoun(question, title, expected):
    assert as_pronoun(question, title) == expected


def test_squad_follow_up_sets_ask_after_the_articles_previous_question_naming_it():
    qs = [{"id": "1", "question": "Where is Warsaw?", "article": "Warsaw"},
          {"id": "2", "question": "What river flows through it?", "article": "Warsaw"},  # does not name it
          {"id": "3", "question": "How old is Warsaw?", "article": "Warsaw"},
          {"id": "4", "question": "Who ruled the Normans?", "article": "Normans"}]
    pronoun = follow_ups(qs, "pronoun")
    assert [(q["id"], q["question"], q["earlier"]) for q in pronoun] == [("3", "How old is it?", ["Where is Warsaw?"])]
    assert [(q["id"], q["earlier"]) for q in follow_ups(qs, "alone")] == [("3", [])]
    topics = follow_ups(qs, "new-topic")
    assert len(topics) == 4 and all(q["question"] == orig["question"] for q, orig in zip(topics, qs))
    article = {q["question"]: q["article"] for q in qs}
    assert all(article[q["earlier"][0]] != q["article"] for q in topics)
    with pytest.raises(ValueError, match="unknown follow-up set"):
        follow_ups(qs, "coreference")
