"""Acronym questions: "What does BOSA stand for?" is answered by the sentence that spells it out."""
import pytest

from rag.answer.acronym import asked_acronym, initials_of, long_form, spelled_out, written_as
from tests.conftest import SEEDS


@pytest.mark.parametrize("question,short", [
    ("What does BOSA stand for?", "BOSA"),
    ("what does vBNS stand for ", "vBNS"),
    ("What is the AFC short for?", "AFC"),
    ("What does the acronym LEM stand for?", "LEM"),
    ("What did the LMP acronym stand for regarding the Block II launch positions?", "LMP"),
    ("What does \"TGIF\" stand for?", "TGIF"),
    ("What is the full name of the ASER?", "ASER"),
    ("What do the SDGs stand for?", "SDGs"),
    ("What does the abbreviation HRM mean?", "HRM"),
    ("Who spoke at the webinars?", None),
    ("What does it stand for?", None),  # no acronym named
    ("What does Tesla stand for?", None),  # one capital: a name, not an acronym
    ("What did the delegation learn about BOSA?", None),
    # Asking something else about the acronym, or not about an acronym at all.
    ("What does NATO stand for on Ukraine?", None),
    ("What does GDPR mean for small businesses?", None),
    ("What is the full name of the FBI agent who testified?", None),
    ("WHAT DOES THE TEAM STAND FOR?", None),
    ("What does the acronym GDPR mean?", "GDPR"),
    # Typed in lower case, as in a chat box: the word as typed (the sentence must write it in capitals).
    ("what does bosa stand for", "bosa"),
    ("what do the sdgs stand for?", "sdgs"),
    ("what does it stand for", None),
    ("What does bosa stand for?", None),  # capitals elsewhere: "bosa" is a word, not an acronym
    ("What does ATP mean?", "ATP"),
])
def test_the_acronym_asked_about(question, short):
    assert asked_acronym(question) == short


@pytest.mark.parametrize("sentence,short,expected", [
    ("The American Football Conference (AFC) champion Denver Broncos won.", "AFC", "American Football Conference"),
    ("Tesla's alternating current (AC) induction motor was licensed.", "AC", "alternating current"),
    ("the Astana Civil Service Hub (ACSH) and the UN International Civil Service Commission (ICSC) met",
     "ICSC", "International Civil Service Commission"),
    ("priorities such as sustainable development goals (SDGs) and digitization", "SDGs", "sustainable development goals"),
    ("The FIS (Front Islamique de Salut) won the first round.", "FIS", "Front Islamique de Salut"),
    # A name translated from the language its acronym comes from: the capitalised words before it.
    ("a study visit to the Belgian Federal Public Service Policy and Support (BOSA), Directorate-General",
     "BOSA", "Belgian Federal Public Service Policy and Support"),
    # Every word's first letter before a letter inside a word: not "Applications Program".
    ("and grew into the Apollo Applications Program (AAP).", "AAP", "Apollo Applications Program"),
    ("the “Data Protection Service” (DPS) met", "DPS", "Data Protection Service"),  # its quote marks left out
    ("the “Data Protection Service (DPS) met", "DPS", "Data Protection Service"),
    # A word the bracket puts before the short form.
    ("ultimately led to quantum electrodynamics (or QED), which", "QED", "quantum electrodynamics"),
    ("ultimately led to quantum electrodynamics (or QED), which", "qed", "quantum electrodynamics"),
    ("the Lunar Excursion Module (also known as LEM) landed", "LEM", "Lunar Excursion Module"),
    ("The BOSA uses a new format (flex-space offices).", "BOSA", None),  # named, not spelled out
    ("It was founded in 2004 (BOSA).", "BOSA", None),  # nothing before it abbreviates it
    ("The ACSH held webinars.", "ACSH", None),
    ("the American  Football\nConference (AFC) champion", "AFC", "American  Football\nConference"),  # spaces as written
    ("the Directorate (DG) of Policy and Support (DPS) met", "DPS", None),  # not past a bracket: nothing spells it
    ("the Directorate (DG) of the Data Protection Service (DPS) met", "DPS", "Data Protection Service"),
    ("said John Smith (CEO) on Monday", "CEO", None),  # a name beside an acronym it does not spell
    ("President Joe Biden (US) spoke", "US", None),
    ("the UN (New York) office", "UN", None),
    # An acronym typed in lower case is found as the sentence writes it.
    ("a study visit to the Belgian Federal Public Service Policy and Support (BOSA), Directorate",
     "bosa", "Belgian Federal Public Service Policy and Support"),
    ("sustainable development goals (SDGs) and", "sdgs", "sustainable development goals"),
    ("It was (it) fine, said the Information Technology (it) team.", "it", None),  # not in capitals
])
def test_the_sentence_spells_it_out(sentence, short, expected):
    span = spelled_out(sentence, short)
    assert (sentence[span[0]:span[1]] if span else None) == expected


def test_the_long_form_is_the_shortest_ending_that_abbreviates_it():
    assert long_form("the Lunar Excursion Module", "LEM") == "Lunar Excursion Module"
    assert long_form("run by the alternating current", "AC") == "alternating current"
    assert long_form("in 2004", "BOSA") is None
    assert long_form("the Ministry of Finance", "MF") == "Ministry of Finance"  # "of" inside the name skipped
    assert long_form("the Ministry of Finance", "MOF") == "Ministry of Finance"  # or matched when it is wanted


@pytest.mark.parametrize("question", ["What does BOSA stand for?", "what does bosa stand for"])
def test_an_acronym_question_quotes_the_sentence_that_spells_it_out(assistant, question):
    answer = assistant.ask(question)
    assert not answer.abstained
    short = answer.short_answer
    assert short is not None and short.text == "Belgian Federal Public Service Policy and Support" and short.score is None
    assert (SEEDS / f"{short.doc_id}.txt").read_text(encoding="utf-8")[short.start:short.end] == short.text
    assert any(c.doc_id == short.doc_id and c.start <= short.start and short.end <= c.end and not c.context
               for c in answer.citations)


@pytest.mark.parametrize("sentence,short,expected", [
    ("experts from the United States, representing the American Society for Public Administration.", "ASPA",
     "American Society for Public Administration"),
    ("the National Basketball Association and", "NBA", "National Basketball Association"),
    ("the Astana Civil Service Hub met", "ACSH", "Astana Civil Service Hub"),
    ("the American Society for Public Administration Awards", "ASPA", None),  # a longer name goes on
    ("the American society for Public Administration", "ASPA", None),  # a word in lower case breaks it
    ("the North Atlantic Treaty", "NATO", None),  # letters left over
    ("for Public Administration", "PA", None),  # two letters: too short to tell
    ("In Public Affairs, he said", "IPA", None),  # a sentence's first small word opens no name
    ("the American Society for Public Administration", "aspa", None),  # as written, in capitals, only
])
def test_a_name_spells_out_an_acronym_by_its_initials(sentence, short, expected):
    span = initials_of(sentence, short)
    assert (sentence[span[0]:span[1]] if span else None) == expected


def test_an_acronym_is_taken_as_the_article_writes_it():
    assert written_as("the executive director of the ASPA, was honored", "aspa") == "ASPA"
    assert written_as("the Aspa river", "aspa") is None
    assert written_as("the ASPAS", "aspa") is None


@pytest.mark.parametrize("question", ["What does ASPA stand for?", "what does aspa stand for"])
def test_an_acronym_named_in_another_sentence_is_spelled_out_by_its_initials(assistant, question):
    """Article 003 names the American Society for Public Administration in one sentence and writes
    "the ASPA" in the next; no bracket ties them. The sentence naming it is quoted alone, though it
    opens with "These", as the long form needs nothing before it."""
    answer = assistant.ask(question)
    assert not answer.abstained
    short = answer.short_answer
    assert short is not None and short.text == "American Society for Public Administration" and short.score is None
    assert (SEEDS / f"{short.doc_id}.txt").read_text(encoding="utf-8")[short.start:short.end] == short.text
    assert len(answer.citations) == 1 and answer.citations[0].text.startswith("These deliberations")


@pytest.mark.parametrize("question,named", [("What does OECD stand for?", "OECD"), ("What does UN stand for?", "UN")])
def test_an_acronym_no_article_spells_out_gets_its_sentence_without_a_short_answer(assistant, question, named):
    """The seeds never spell out OECD or UN: the best sentence is quoted, but a span of it that
    cannot abbreviate to the acronym ("strategic partners and founders of …") is no short answer."""
    answer = assistant.ask(question)
    assert not answer.abstained and named in answer.quoted()
    assert answer.short_answer is None
