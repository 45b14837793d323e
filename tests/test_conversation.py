"""Follow-up questions: which ones point back, what they are searched with, which ask the last question again
about a new topic, and the SQuAD sets made of them."""
import numpy as np
import pytest

from rag.answer.conversation import MAX_EARLIER, QUESTION_WEIGHT, follows, refers_back, search_text, search_vector
from rag.answer.ellipsis import asked_again, reframed, speaks_of, topic_of
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


@pytest.mark.parametrize("question,topic", [
    ("And the online conference?", "the online conference"),
    ("What about payroll?", "payroll"),
    ("how about in Georgia", "in Georgia"),
    ("And what about the OECD?", "the OECD"), ("Same for the OECD?", "the OECD"),
    ("What about the OECD then?", "the OECD"), ("Ok, how about Georgia instead?", "Georgia"),
    ("And then?", None), ("What about it?", None), ("And so?", None),
    ("And, um, the OECD?", "the OECD"), ("What about the OECD too, then?", "the OECD"),
    ("And the revised plan?", "the revised plan"), ("And Doctor Who?", "Doctor Who"),  # a name, not a question
    # A question of its own, more than one sentence, or words that name nothing: no topic.
    ("And what's the budget?", None), ("And in 2024, how many attended?", None),
    ("And the OECD was founded in what year?", None), ("What about the treaty angered the French?", None),
    ("And the ACSH? Who chairs the ICSC?", None), ("And…?", None), ("And 😀?", None), ("And you?", None),
    ("And thanks!", None), ("And the?", None), ("And so on?", None), ("And/or the OECD?", None),
    ("And the Head of the National Agency of Ukraine on Civil Service?", "the Head of the National Agency of Ukraine on Civil Service"),
    ("And who organized it?", None),  # a question of its own
    ("And when?", None),
    ("Who chairs the ICSC?", None),
    ("And?", None),
    ("What about Luther declined as his antisemitism increased?", None),  # a clause: it says something (SQuAD dev)
    ("And the many people who came to the webinars from all the central and local bodies?", None),  # too long to be a name
])
def test_an_add_on_naming_only_a_topic_is_told_from_one_asking_its_own_question(question, topic):
    assert topic_of(question) == topic
    if topic is not None:
        assert refers_back(question)


@pytest.mark.parametrize("last,topic,expected", [
    ("How many people attended the Belgian HR webinars?", "the online conference",
     "How many people attended the online conference?"),
    ("Who was the honorable guest of the online conference?", "the New York workshop",
     "Who was the honorable guest of the New York workshop?"),
    ("Who organized the online conference on civil service reforms?", "the New York workshop",
     "Who organized the New York workshop?"),
    ("When did the Serbian delegation visit Belgium?", "the Kazakh delegation",  # the word they share
     "When did the Kazakh delegation visit Belgium?"),
    ("Who is the Head of the Civil Service Bureau of Georgia?", "the Head of the National Agency of Ukraine",
     "Who is the Head of the National Agency of Ukraine?"),
    ("Which tool do the Belgians use for performance management?", "for payroll",  # the same preposition
     "Which tool do the Belgians use for payroll?"),
    ("Which tool do the Belgians use for performance management?", "workforce planning",  # a preposition's object
     "Which tool do the Belgians use for workforce planning?"),
    ("When were the webinars held?", "in 2024", "When were the webinars held in 2024?"),  # no such phrase: added
    ("Who received an award there?", "at the online conference",  # a place for "there"
     "Who received an award at the online conference?"),
    ("Is there a workshop?", "in Georgia", "Is there a workshop in Georgia?"),  # "there is" names no place
    ("How many people were there?", "for payroll", "How many people were there for payroll?"),  # no place
    ("Why was there a delay?", "at the conference", "Why was there a delay at the conference?"),  # "there is"
    ("Who spoke over there?", "at the workshop", "Who spoke over there at the workshop?"),
    ("Who spoke there?", "on Monday", "Who spoke there on Monday?"),  # a time, not a place
    ("There were how many people?", "at the conference", "There were how many people at the conference?"),
    ("Who chairs the ICSC?", "the ACSH", "Who chairs the ACSH?"),  # a name for a name
    ("Where did the Normans settle?", "Super Bowl 50", "Where did Super Bowl 50 settle?"),
    ("Where is it based?", "the ACSH", "Where is the ACSH based?"),  # a pronoun stands for one phrase
    ("When did the Serbian study visit to Belgium take place?", "the New York workshop",
     "When did the New York workshop take place?"),  # the subject ends at its verb
    ("When did the Serbian delegation visit Belgium?", "the Kazakh one",  # a verb before a name
     "When did the Kazakh one visit Belgium?"),
    ("When was the visit to Belgium organised?", "the visit to France", "When was the visit to France organised?"),
    ("who chairs the icsc?", "the OECD", "who chairs the OECD?"),  # as the user wrote it
    ("Why?", "the ACSH", None),
    ("Tell me more", "the ACSH", None),  # nothing to stand in for
])
def test_the_last_question_is_asked_again_about_the_new_topic(last, topic, expected):
    assert reframed(last, topic) == expected


def test_a_topic_is_asked_about_with_the_last_question_that_asks_something_itself():
    chat = ["Who chairs the ICSC?", "And the ACSH?"]
    assert asked_again("What about the OECD?", chat) == "Who chairs the OECD?"
    assert asked_again("And the OECD?", []) is None  # nothing to ask again
    assert asked_again("When was it founded?", chat) is None  # asks its own question
    assert asked_again("And the OECD?", ["And the ACSH?"]) is None
    # The last question of a turn of several; a remark asks nothing to ask again.
    assert asked_again("And the ACSH?", ["Who chairs the ICSC? Where is it based?"]) == "Where is the ACSH based?"
    assert asked_again("And the OECD?", ["Who chairs the ICSC? And the ACSH?"]) == "Who chairs the OECD?"
    assert asked_again("And the OECD?", ["Who chairs the ICSC?", "Thanks, that helps a lot"]) == "Who chairs the OECD?"
    assert asked_again("And the OECD?", ["Thanks, that helps a lot"]) is None
    again = asked_again("And the imams?", ["Name a text the priests teach from."])  # a request asks too
    assert again is not None and again.startswith("Name a text") and "imams" in again


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


def test_squad_ellipses_ask_the_same_question_about_another_articles_subject_first():
    qs = [{"id": "1", "question": "Where did Super Bowl 50 take place?", "article": "Super_Bowl_50"},
          {"id": "2", "question": "Who won Super Bowl 50?", "article": "Super_Bowl_50"},
          {"id": "3", "question": "Who ruled the Normans?", "article": "Normans"},
          {"id": "4", "question": "Where is Warsaw's old town?", "article": "Warsaw"},  # possessive: skipped
          {"id": "5", "question": "Who lived in Warsaw?", "article": "Warsaw"},
          {"id": "6", "question": "What is made of oxygen?", "article": "Oxygen"},  # no other common noun
          {"id": "7", "question": "Super Bowl 50 was where?", "article": "Super_Bowl_50"}]  # first word
    sets = follow_ups(qs, "ellipsis")
    assert [q["id"] for q in sets] == ["1", "2", "3", "5"]
    usual = {"Super_Bowl_50": "Super Bowl 50", "Normans": "the Normans", "Warsaw": "Warsaw"}
    for q in sets:
        mention = usual[q["article"]]
        assert q["question"] in (f"And {mention}?", f"What about {mention}?")
        assert mention not in q["earlier"][0]
        assert any(q["earlier"][0] == q["original"].replace(mention, usual[other])
                   for other in usual if other != q["article"])
    by_id = {q["id"]: q for q in sets}
    assert by_id["3"]["earlier"][0] in ("Who ruled Super Bowl 50?", "Who ruled Warsaw?")
    assert by_id["5"]["earlier"][0] in ("Who lived in Super Bowl 50?", "Who lived in the Normans?")


def test_an_answer_speaks_of_a_topic_when_its_sentence_passage_or_title_names_it():
    from rag.answer.records import Citation
    from rag.retrieval.retriever import Passage

    passage = Passage(0, "a", "Study visit to Belgium", 0, 0, 90, "The visit took place in Brussels. It lasted three days.", 1.0)
    cited = [Citation(1, "a", "Study visit to Belgium", 33, 55, "It lasted three days.", 0.9, 0, passage=passage)]
    assert speaks_of("the visits", cited)  # stemmed, as the search reads words
    assert speaks_of("Brussels", cited)  # in the passage the sentence was found in
    assert speaks_of("Belgium", cited)  # in the article's title
    assert not speaks_of("the OECD meeting in Dubai", cited)
    assert speaks_of("the", cited)  # nothing to look for


def test_squad_answer_pronouns_point_to_the_person_answering_the_who_question_before():
    p = ["SB_0"]
    qs = [{"id": "1", "question": "Who was the MVP?", "answers": ["Von Miller", "Miller"], "sources": p},
          {"id": "2", "question": "How many fumbles did Von Miller force?", "answers": ["two"], "sources": p},
          {"id": "3", "question": "Who sacked Cam Newton?", "answers": ["the defense"], "sources": p},  # no name
          {"id": "4", "question": "Where did Von Miller's team play?", "answers": ["Santa Clara"], "sources": p},
          {"id": "5", "question": "Who was limited?", "answers": ["Newton"], "sources": p},
          {"id": "6", "question": "How often was Cam Newton sacked?", "answers": ["seven"], "sources": p},  # longer name
          {"id": "7", "question": "Who beat Von Miller?", "answers": ["nobody"], "sources": ["SB_1"]}]  # another paragraph
    sets = follow_ups(qs, "answer-pronoun")
    assert [(q["id"], q["question"], q["earlier"]) for q in sets] == [
        ("2", "How many fumbles did he force?", ["Who was the MVP?"]),
        ("4", "Where did his team play?", ["Who was the MVP?"])]
    assert sets[0]["original"] == "How many fumbles did Von Miller force?"
