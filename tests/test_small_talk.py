"""Small talk ("hi", "thanks!") is told apart from questions and topics, which are searched for."""
import pytest

from rag.answer.small_talk import small_talk


@pytest.mark.parametrize("text", [
    "hi", "Hello!", "hey there", "Good morning", "thanks!", "Thank you so much.", "thx", "ok", "OK, great",
    "Cool, thanks a lot!", "yes", "nope", "Bye!", "got it, thanks", "thanks, that was helpful", "That's great, thanks!",
    "Thanks for your help!", "ok thank u",
])
def test_greetings_thanks_and_agreement_are_small_talk(text):
    assert small_talk(text)


@pytest.mark.parametrize("text", [
    "", "?", "Who chairs the ICSC?", "good governance", "Thanks! Who chairs the ICSC?", "thanks for the webinar dates",
    "hi, when were the webinars held", "Hello world", "ok 2025", "webinar attendance", "no remote work?",
    "thank you thank you thank you thank you thank you",  # more words than a courtesy takes
    "No?", "Day?",  # a question mark: a follow-up, not a remark
])
def test_questions_and_topics_are_not(text):
    assert not small_talk(text)


@pytest.mark.parametrize("text", ["who?", "Why?", "When was it?", "What happened?", "Who are they?", "what did he say"])
def test_questions_naming_nothing_to_look_for(text):
    from rag.answer.small_talk import names_nothing

    assert names_nothing(text)


@pytest.mark.parametrize("text", ["Who spoke?", "When was it founded?", "What about payroll?", "2025?", "Where is BOSA?",
                                  "What is IT?", "Who is Will?", "Who is X?", "What happened on 4?"])
def test_questions_naming_something(text):
    from rag.answer.small_talk import names_nothing

    assert not names_nothing(text)


def test_small_talk_between_a_question_and_its_follow_up_names_nothing():
    from rag.answer.conversation import follows, says_something

    assert not says_something("Thanks for your help!") and not says_something("thanks, that was helpful")
    assert says_something("Thanks! Who chairs the ICSC?") and says_something("Thanks, that helps a lot")
    assert follows("When was it founded?", ["Who chairs the ICSC?", "Thank you very much!"]) == ["Who chairs the ICSC?"]
