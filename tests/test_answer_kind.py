"""The kind of answer a question plainly asks for, and the quotes that can hold it."""
import pytest

from rag.answer.kind import (KINDS, as_question, asked_kind, asks_for_person, asks_question, holds_kind, names_person, questions_in,
                             span_answers, wants_span)


@pytest.mark.parametrize("question,kind", [
    ("How many people attended the webinars?", "count"),
    ("In what year was the Hub founded?", "year"),
    ("Which decade saw the reform?", "year"),
    ("On what date will the conference be held?", "date"),
    ("What day of the week does it meet?", "date"),
    ("How much did the study visit cost?", "money"),
    ("What was the budget of the conference?", "money"),
    ("What is the monetary value of the award?", "money"),
    ("What percentage of staff work remotely?", "share"),
    ("What is the email address of the Hub?", "email"),
    ("What is the phone number of the centre?", "phone"),
    ("What is the Hub's website?", "web"),
    ("How old was the director?", "count"),
    ("How far is the venue from the airport?", "measure"),
    ("How long did the study visit last?", "duration"),
    ("how long has baimenov been chairman of the steering comittee", "duration"),
    # Words that do not pin the kind down are left alone.
    ("When was it held?", None),
    ("Who spoke at the webinars?", None),
    ("How much influence did the talks have?", None),
    ("What did he say in his email?", None),
    ("What was discussed?", None),
    ("What day-to-day tasks does the Hub support?", None),
    ("What age group took part?", None),
])
def test_the_asked_kind_is_read_from_plain_question_words(question, kind):
    assert asked_kind(question) == kind
    assert kind is None or kind in KINDS


@pytest.mark.parametrize("text,kind,holds", [
    ("Webinars were attended by 120 people.", "count", True),
    ("Two experts spoke.", "count", True),
    ("The Hub has planned various webinars for civil servants.", "count", False),
    ("From November 27 to 30, the Hub and the Commission organised a workshop.", "count", False),  # days, not a count
    ("On 5th of May the Hub met the delegation.", "count", False),
    ("This effort focused on 21st-century merit-based civil service.", "count", False),  # an era, not a count
    ("The castle dates from the 12th century and has 40 rooms.", "count", True),
    ("Growth in the 20th century was 3 per cent.", "share", True),
    ("On May 5, 300 people attended.", "count", True),
    ("The opening was celebrated with a dinner attended by 2000 guests.", "count", True),
    ("From 4 to 6 June 2025, a delegation of twelve visited.", "count", True),
    ("Civil servants may 2 times a year apply.", "count", True),  # "may", not May
    ("From November 27 to 30 the workshop ran.", "share", False),
    ("The Hub was founded in 2013.", "year", True),
    ("It grew in the 1990s.", "year", True),
    ("The Hub conducts needs assessment surveys.", "year", False),
    ("The webinars were held on Wednesdays.", "date", True),
    ("From November 27 to 30 the workshop ran.", "date", True),
    ("The representatives were invited to the annual conference.", "date", False),
    ("Over 200 experts from 20 countries took part.", "date", False),  # numbers, but no date
    ("It opened on 15/04.", "date", True), ("Held 15.04.24.", "date", True), ("It was held on the 15th.", "date", True),
    ("Over 200 experts may take part.", "date", False),  # "may", not May
    ("Growth was 1.5 per cent in 20-25 countries.", "date", False),  # numbers with marks are no written date
    ("Images were sent on Christmas Eve.", "date", True), ("It opens on Independence Day.", "date", True),
    ("The same day 200 experts came.", "date", False),
    ("Entry is free.", "money", True),
    ("The grant was €2 million.", "money", True),
    ("The delegation learned about recruitment.", "money", False),
    ("Over 200 experts took part.", "money", False),  # a number alone is not a sum
    ("It cost 3 million.", "money", True),
    ("Write to info@example.org for details.", "email", True),
    ("The Chairman met the delegation.", "email", False),
    ("Call +7 7172 55 02 02.", "phone", True),
    ("See www.astanacivilservicehub.org.", "web", True),
    ("The venue is 12 km from the airport.", "measure", True),
    ("The delegation learned about recruitment.", "measure", False),
    ("The river was inhabited since the Paleolithic.", "duration", True),  # told by its ends
    ("From November 27 to 30 the workshop ran.", "duration", True),
    ("The visit lasted three days.", "duration", True),
    ("The reign was brief.", "duration", True),
    ("The Chairman met the Head of the OECD Directorate at the seventh World Government Summit in Dubai.",
     "duration", False),
    ("Anything at all.", None, True),
])
def test_a_quote_holds_the_kind_only_when_it_could_answer(text, kind, holds):
    assert holds_kind(text, kind) is holds


def test_a_plain_kind_question_whose_answer_is_not_stated_is_not_answered(assistant):
    """The seeds say the Hub plans "various webinars", never how many: without the kind check
    this quoted that sentence; a counted question about a number the seeds do state is still answered."""
    answer = assistant.ask("How many webinars will the Hub hold next year?")
    assert answer.abstained and not answer.citations
    # The New York workshop's opening sentence has digits, but only its dates ("From November 27 to 30").
    assert assistant.ask("How many Kazakh officials attended the New York workshop?").abstained
    assert not assistant.ask("How many people attended the webinars on Belgian HR practices?").abstained


def test_years_next_to_letters_and_websites_named_in_passing():
    assert holds_kind("a Bureau Cabinet dated c1750 from Germany", "year")
    assert holds_kind("the loss of rainforest by 2100", "year")
    assert not holds_kind("a room 25000 feet long", "year")
    assert asked_kind("What is the search feature on the museum's website called?") is None
    assert asked_kind("What website does the Hub run?") == "web"


@pytest.mark.parametrize("text,asks", [
    ("How many came", True), ("Did the delegation visit Belgium?", True), ("List the tools", True),
    ("_____ helps the biosphere from UV.", True), ("Name one other fault.", True), ("Telnet was sold to", True),
    ("differences between X.25 and ARPANET technologies", True),
    ("webinar attendance", False), ("Gulmira Raisova", False), ("Serbian delegation Belgium", False),
])
def test_a_question_is_told_from_a_topic_search(text, asks):
    assert asks_question(text) is asks


@pytest.mark.parametrize("text,wants", [
    ("Tell me about the New York workshop", False), ("Please describe the webinars.", False),
    ("Can you tell me about the workshop?", False), ("Hi, tell me a bit about the Hub", False),
    ("Could you please describe the visit?", False), ("Give me an overview of the visit", False),
    ("Summarise the visit", False), ("webinar attendance", False),
    ("Tell me who spoke.", True), ("How many came", True), ("Did the delegation visit Brussels?", True),
])
def test_a_request_for_a_description_gets_no_short_answer(text, wants):
    assert wants_span(text) is wants


@pytest.mark.parametrize("question,span,answers", [
    # a yes/no question: only a span saying no answers it
    ("Did the Serbian delegation visit Brussels?", "4 to 6 June 2025", False),
    ("Can BSkyB veto the presence of channels?", "open access", False),
    ("Were the centers profitable", "Warner Sinback", False),
    ("Has anyone been charged with importing drugs?", "no known case", True),
    ("Do BOSA civil servants have their own fixed desks?", "flex-space offices without stationary personal workplaces", True),
    ("Can the President vote?", "don't have voting rights", True),
    # no yes/no question: a choice, a question word, a request put as a question, a slip for "What"
    ("Was the testing a failure or a success?", "success", True), ("Is it known who spoke?", "Gulmira Raisova", True),
    ("Can you name the speaker?", "Gulmira Raisova", True), ("Could you list the tools?", "Symphony", True),
    ("Do you know the date of the webinars?", "April 15-16", True), ("Can you find the venue?", "New York", True),
    ("Does anyone know the date?", "April 15-16", True), ("Is there a date for the workshop?", "April 15-16", True),
    # still yes/no: a contraction, "or not", a request to tell whether
    ("Didn't the delegation visit Brussels?", "4 to 6 June 2025", False), ("Isn't the Hub in Astana?", "Astana", False),
    ("Did the delegation visit Brussels or not?", "4 to 6 June 2025", False),
    ("Can you tell me if the delegation visited Brussels?", "4 to 6 June 2025", False),
    ("Did they visit Brussels?", "Room No. 5", False),  # "No." is no "no"
    ("Was is the name of the series?", "Miracle Day", True), ("Who is the director?", "Danilo Rončević", True),
    # who a named person is: not another name, the name asked about or an honorific; a title or a description
    ("Who is Edwin Lau?", "Catherine Kardava", False), ("Who is Danilo Rončević?", "Dr. Danilo Rončević", False),
    ("who is danilo roncevic", "Dr. Danilo Rončević", False), ("Who is Gulmira Raisova?", "Ms.", False),
    ("Who spoke?", "H.E.", False), ("Who spoke?", "H.E. Mr.", False), ("Who is Alikhan Baimenov?", "The Chairman", True),
    ("Who's Edwin Lau?", "Catherine Kardava", False), ("Who is Edwin Lau?", "Prime Minister", True),
    ("Who is Edwin Lau?", "OECD Director", True), ("Who is Darkhan Zhazykbay?", "Chairman", True),
    ("Who is the chairman?", "Chairman", False),
    ("Who was Philip I?", "Landgrave of Hesse", True), ("Who was Warsz?", "nobleman", True),
    ("Who was Guy's Rival?", "Conrad of Montferrat", True), ("who is chief executive", "Tim Cook", True),
    ("Who is Edwin Lau?", "Catherine Kardava, the Former Minister of Personnel Management Dr. Pan Suk Kim", False),
    ("Who was Philip I?", "Landgrave of Hesse, a nobleman", True),
    ("Who is Edwin Lau?", "Edwin Lau, Head of the Division", True),  # the name asked about, then what he is
])
def test_a_span_answers_a_yes_no_question_only_saying_no_and_who_someone_is_not_with_a_name(question, span, answers):
    assert span_answers(question, span) is answers


LAU = "It was opened by Mr. Edwin Lau, Head of the Division, and Ms. Catherine Kardava, Deputy Chief Economist."


@pytest.mark.parametrize("question, span, answers", [
    ("who is edwin lau", "Catherine Kardava", False),  # the quote writes the name with capitals
    ("who is edwin lau", "Head of the Division", True), ("who is edwin", "Catherine Kardava", False),
    ("who is the head of the division", "Edwin Lau", True),  # not a name as typed or as written
    ("who is catherine", "Edwin Lau", False), ("who is deputy chief economist", "Catherine Kardava", True),
    ("who is john smith", "Catherine Kardava", True),  # not in the quote: nothing says it is a name
])
def test_a_name_typed_in_lower_case_is_read_as_the_quote_writes_it(question, span, answers):
    assert span_answers(question, span, LAU) is answers


def test_a_word_capitalised_only_as_a_sentences_first_is_not_taken_for_a_name():
    assert span_answers("who is speaking", "Edwin Lau", "Speaking at the event was Mr. Edwin Lau.")
    assert not span_answers("who is edwin lau", "Catherine Kardava", "Edwin Lau and Ms. Catherine Kardava spoke.")


@pytest.mark.parametrize("question, person", [
    ("Which youth programme did the head of Kazakhstan's civil service agency mention?", False),
    ("What did the conference participants learn about from Georgia?", False),  # people asked about, not for
    ("Which organization did the experts represent?", False), ("In which city was he born?", False),
    ("Who heads the agency?", True), ("What is the name of the director?", True), ("whose idea was it", True),
    ("Which OECD official did he meet?", True), ("Which former ministers attended?", True),
    ("Which Kyrgyz body sent representatives?", True),  # a role within the asked words: maybe
    ("Tell me the host", True),  # neither "which" nor "what": not ruled out
    ("Which were the keynote speakers?", True), ("What is the rector called?", True),  # asked after "is"
    ("What is SEPP monitoring used for?", False), ("What did the delegates learn?", False),
])
def test_a_question_asks_for_a_person_when_it_asks_who_or_which_people(question, person):
    assert asks_for_person(question) is person


@pytest.mark.parametrize("span, before, person", [
    ("Darkhan Zhazykbay", "Republic of Kazakhstan Mr. ", True), ("Civil Service Affairs of Kazakhstan Mr. Darkhan Zhazykbay", "", True),
    ("H.E. Larbi Djacta", "", True), ("Presidential Youth Personnel Reserve", "such as the ", False),
    ("Mr.", "", False),  # an honorific alone names no one here; `span_answers` refuses it anyway
    ("the Agency", "Mr. ", False), ("Drummond Street", "", False),
    ("Jahi Jahia", "North Macedonia prof. ", True),  # in lower case with its full stop
    ("MS Teams", "", False), ("Congo", "the DR ", False),  # capitals that are no honorific
])
def test_a_span_names_a_person_when_an_honorific_leads_it(span, before, person):
    assert names_person(span, before) is person


@pytest.mark.parametrize("question, span, answers", [
    ("On which days of the week were the webinars held?", "April 15-16", False),
    ("On which days of the week were the webinars held?", "Wednesday and Thursday", True),
    ("What day of the week did Shark Tank debut on?", "Sundays", True),
    ("What day was the game played on?", "February 7, 2016", True),  # a day, not a day of the week
    ("What hours is the Hub open on weekdays?", "9:00 to 18:00", True),  # weekdays named, not asked for
    ("How many days of the week is the office open?", "five", True),
])
def test_a_question_asking_for_a_day_of_the_week_is_answered_by_a_weekday(question, span, answers):
    assert span_answers(question, span) is answers


def test_a_question_asking_for_a_thing_is_not_answered_by_a_person():
    context = "He spoke of the Agency, chaired by Mr. Darkhan Zhazykbay, and its Presidential Youth Personnel Reserve."
    before = context[:context.index("Darkhan")]
    assert not span_answers("Which youth programme did he mention?", "Darkhan Zhazykbay", context, before)
    assert span_answers("Which youth programme did he mention?", "Presidential Youth Personnel Reserve", context,
                        context[:context.index("Presidential")])
    assert span_answers("Who chairs the Agency?", "Darkhan Zhazykbay", context, before)


@pytest.mark.parametrize("text,read_as", [
    ("who is danilo roncevic", "who is danilo roncevic?"), ("In what year was it founded", "In what year was it founded?"),
    ("Is the Hub in Astana", "Is the Hub in Astana?"), ("What is BOSA.", "What is BOSA?"),
    ("how many attended  ", "how many attended?"),
    ("Who is Alikhan Baimenov?", "Who is Alikhan Baimenov?"), ('Who wrote "Fresno?"', 'Who wrote "Fresno?"'),
    ("webinar attendance", "webinar attendance"),
    ("List the tools", "List the tools"), ("Telnet was sold to", "Telnet was sold to"),
    ("Can you tell me who chairs the ICSC?", "who chairs the ICSC?"), ("please, who spoke?", "who spoke?"),
    ("I would like to know how many came", "how many came?"), ("tell me about the visit", "tell me about the visit"),
    # What is said around the asking sentences is dropped, unless they point back to it.
    ("Hi there! Who won Super Bowl 50?", "Who won Super Bowl 50?"),
    ("I'm writing a report. Can you tell me who chairs the ICSC? Thanks in advance.", "who chairs the ICSC?"),
    ("Who is Dr. Danilo Rončević? Thank you!", "Who is Dr. Danilo Rončević?"),  # "Dr." ends no sentence
    ("Who spoke? And how many attended?", "Who spoke? And how many attended?"),
    ("Some beroe have strips of adhesive cells. What does it do? Thanks", "Some beroe have strips of adhesive cells. What does it do?"),
    ("I was reading about the Hub. Thank you.", "I was reading about the Hub. Thank you."),  # nothing asks
    ("Who chairs the ICSC? Have a nice day!", "Who chairs the ICSC?"),  # the last question mark ends it
    ("hi! can you tell me who chairs the icsc", "who chairs the icsc?"), ("Hello, who spoke?", "who spoke?"),
    ("Hi-Tech Park: where is it?", "Hi-Tech Park: where is it?"),  # no greeting
    ("Thanks for that. And who chairs the ICSC?", "And who chairs the ICSC?"),  # points back to no sentence of its own
    ("Hello, world", "Hello, world"), ("Hey! Jude", "Hey! Jude"),  # a greeting before no question stays
    ("List the tools. Which one is for payroll?", "List the tools. Which one is for payroll?"),
])
def test_a_question_is_read_as_squad_asks_it(text, read_as):
    """Its asking sentences, without a courtesy before its question word, and with its question mark."""
    assert as_question(text) == read_as


@pytest.mark.parametrize("text,parts", [
    ("Who spoke? How many attended?", ["Who spoke?", "How many attended?"]),
    ("Hi! Who spoke? And how many attended? Thanks.", ["Hi! Who spoke?", "And how many attended?"]),
    ("Who spoke? I mean the main speaker. What was her role?", ["Who spoke?", "I mean the main speaker. What was her role?"]),
    ('Who said, "Here I stand. I can do no other"?', ['Who said, "Here I stand. I can do no other"?']),
    ("Who spoke?", ["Who spoke?"]), ("Who? What? When? Where?", ["Who? What? When? Where?"]),  # more than 3: one
    # Each part must ask on its own; a web address's "?" asks nothing.
    ("Really?! Who won the cup? And when?", ["Really?! Who won the cup? And when?"]),
    ("Webinars? Who spoke?", ["Webinars? Who spoke?"]),
    ("Name the speaker? How many came?", ["Name the speaker?", "How many came?"]),
    # After the first, a part may name only what to ask the one before about.
    ("Who chairs the ICSC? And the ACSH?", ["Who chairs the ICSC?", "And the ACSH?"]),
    ("And the ACSH? Who chairs the ICSC?", ["And the ACSH? Who chairs the ICSC?"]),
    ("Who chairs the ICSC? And you?", ["Who chairs the ICSC? And you?"]),  # "you" names nothing to ask about
    ("Is https://astanahub.com/?lang=en down? Who runs it?", ["Is https://astanahub.com/?lang=en down? Who runs it?"]),
    ("See https://a.org/?q=1 who spoke? How many came?", ["See https://a.org/?q=1 who spoke? How many came?"]),
])
def test_a_text_asking_several_questions_is_split_into_them(text, parts):
    assert questions_in(text) == parts


def test_an_acronym_question_is_answered_only_by_a_span_that_can_abbreviate_to_it():
    assert not span_answers("What does OECD stand for?", "strategic partners and founders of the Astana Civil Service Hub")
    assert not span_answers("What does UN stand for?", "The International Civil Service Commission")
    assert span_answers("What does TGIF stand for?", "Thank Goodness It's Funny")
    assert span_answers("what does bosa stand for", "Belgian Federal Public Service Policy and Support")
