""""What are these articles about?" is answered with the articles' titles, quoted and cited."""
import pytest

from rag.answer.overview import asks_overview
from tests.conftest import SEEDS


@pytest.mark.parametrize("text", [
    "What are these articles about?", "what are the articles about", "What is this collection about?",
    "What topics do the articles cover?", "What's in the collection?", "List the articles.", "summarize the articles",
    "Please summarise these documents", "What documents do you have?", "What is this about?", "what can I ask",
    "Can you list the articles?", "How many articles are there?", "What topics are in the articles?",
    "What can you tell me about these articles?", "Give me an overview",
])
def test_questions_about_the_collection_ask_for_the_overview(text):
    assert asks_overview(text)


@pytest.mark.parametrize("text", [
    "What is the Hub about?", "What are the webinars about?", "What topics did the webinars cover?",
    "What articles of the law were discussed?", "List the tools the delegation saw.",
    "What are these articles about the Hub's founding?", "Who wrote the articles?", "",
    "What is this article about?", "Summarize the article", "list", "How many articles does the Hub publish?",
])
def test_questions_about_what_the_articles_say_do_not(text):
    assert not asks_overview(text)


def test_the_overview_quotes_each_title_exactly(assistant):
    answer = assistant.ask("What are these articles about?")
    texts = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    assert not answer.abstained and answer.notice == f"The collection holds {len(texts)} articles; their titles:"
    assert sorted(c.doc_id for c in answer.citations) == sorted(texts)
    for c in answer.citations:
        assert texts[c.doc_id][c.start:c.end] == c.text == texts[c.doc_id].splitlines()[0].strip()
        assert c.passage is not None and c.passage.start <= c.start and c.end <= c.passage.end
    assert [c.n for c in answer.citations] == list(range(1, len(texts) + 1)) and answer.short_answer is None
    assert answer.to_dict()["citations"][0]["text"] == answer.citations[0].text
    greeted = assistant.ask("Thanks! What are these articles about?")  # a courtesy around it is left out
    assert [c.text for c in greeted.citations] == [c.text for c in answer.citations]
    assert answer.best_score == 1.0  # an answer, not an abstention, wherever a threshold reads the score
    both = assistant.ask("What are these articles about? Who chairs the ICSC?")  # one of two questions
    assert {c.text for c in answer.citations} <= {c.text for c in both.citations} and len(both.citations) > len(texts)
