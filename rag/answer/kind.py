"""The kind of answer a question asks for, when its words leave no doubt (a year, a date, a count,
a size or distance, a span of time, a sum of money, a share, an e-mail address, a phone number, a web address),
and whether a quoted text can hold one. A sentence without a number cannot say how many; quoting
it anyway answers something else, so the answer layer holds such questions to sentences of the
asked-for kind. Stricter than `rag.answer.features.expected_type`, a broad guess ("when" for a date, "who"
for a name) that the ranker weighs as one feature among many, where this one can withhold an answer."""
from __future__ import annotations

import re

import pysbd

from rag.answer.acronym import asked_acronym, long_form
from rag.answer.conversation import has_pronoun
from rag.answer.ellipsis import topic_of
from rag.answer.words import (ASKING, AUXILIARIES, HONORIFIC_END, HONORIFIC_NAME, HONORIFICS, REQUESTS, TITLE_WORDS,
                              WH_WORDS)
from rag.indexing.lexical import fold

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "hundreds?|thousands?|millions?|billions?|trillions?|dozens?|single|twice|thrice|both|once|"
    "couple|pair|several|few|many|no|none|half|quarter|third"
)
# Digits around a year may be letters ("c1750"), not other digits.
_YEAR = r"(?<!\d)(1\d|2[01])\d\d(?!\d)|\b\d0s\b|'\d0s\b|\b(AD|BC|BCE|CE)\b|\bcentur(y|ies)\b|\bdecades?\b"

# (kind, question pattern) in the order they are tried: the first that matches decides.
_QUESTION_KINDS = [
    ("email", re.compile(r"\be-?mail (address|addresses)\b", re.I)),
    # "website" names the answer only when asked for ("What is the Hub's website?"), not as a place to look.
    ("web", re.compile(r"\b(web ?address|url)\b|\bwhat (website|web site|homepage)\b|"
                       r"\b(website|web site|homepage)\s*\??\s*$", re.I)),
    ("phone", re.compile(r"\b(phone|telephone|fax) (number|numbers)\b", re.I)),
    ("money", re.compile(r"\bhow much\b.{0,120}?\b(cost|costs|costed|pay|paid|spend|spent|earn|earns|earned|"
                         r"charge|charged|budget|fund|funding|worth|price|salary|fee|money)\b|"
                         r"\bwhat (is|was|were|are) the (total |annual |overall )?(budget|cost|price|salary|fee)s?\b|"
                         r"\bwhat (salary|budget|price|fee)\b|\b(monetary|cash|dollar) (value|worth)\b", re.I)),
    ("share", re.compile(r"\bwhat (percent|percentage|proportion|fraction)\b|\bhow many percent\b", re.I)),
    # Not "what day-to-day …", "what age group": the kind word must stand alone.
    ("year", re.compile(r"\b(what|which) (year|decade|century)\b(?!-)", re.I)),
    ("date", re.compile(r"\b(what|which) (date|day|month)\b(?!-)", re.I)),
    ("count", re.compile(r"\bhow many\b|\bhow old\b|\b(what|which) age\b(?!-|\s+(group|range|bracket|categor))", re.I)),
    ("measure", re.compile(r"\bhow (far|tall|high|wide|deep|heavy)\b", re.I)),
    ("duration", re.compile(r"\bhow long\b", re.I)),
]
_HOLDS = {
    "email": re.compile(r"\S@\S"),
    "web": re.compile(r"https?://|\bwww\.|\b[\w-]+\.(com|org|net|gov|int|edu|eu|kz|uk|info)\b", re.I),
    "phone": re.compile(r"\d[\d ()./-]{5,}\d"),
    "money": re.compile(r"[$€£¥₸]|\b(dollars?|euros?|pounds?|tenge|yen|yuan|rubles?|roubles?|francs?|marks?|"
                        r"pesos?|rupees?|USD|EUR|GBP|KZT|cents?|free|charge|thousand|million|billion)\b", re.I),
    "share": re.compile(r"%|\bper ?cent\b|\d|\b(" + _NUMBER_WORDS + r")\b|\bmajority\b|\bmost\b|\ball\b", re.I),
    "year": re.compile(_YEAR, re.I),
    # A date has a capitalised month or weekday ("they may come" has none), a year, a day of the month
    # ("the 15th"), a holiday or a written form ("15/04/2024", "2024-04-15"); "200 experts" has none.
    "date": re.compile(rf"(?-i:\b({MONTHS}|{WEEKDAYS})s?\b)|\b(today|yesterday|tomorrow)\b|{_YEAR}|"
                       r"\b\d{1,2}(st|nd|rd|th)\b|\b\d{1,2}/\d{1,2}(/\d{2,4})?\b|\b\d{1,2}\.\d{1,2}\.\d{2,4}\b|"
                       r"\b\d{4}-\d{2}-\d{2}\b|\b(Christmas|Easter|Thanksgiving|Halloween|Passover|Hanukkah|Ramadan|"
                       r"Eid|Diwali|Nowruz)\b|(?-i:\b[A-Z][\w'’]+ (Day|Eve)\b)", re.I),
    "count": re.compile(r"\d|\b(" + _NUMBER_WORDS + r")\b", re.I),
    "measure": re.compile(r"\d|\b(" + _NUMBER_WORDS + r")\b|\b(long|short|far|near|close|tall|high|wide|narrow|deep|"
                          r"shallow|heavy|light)\b", re.I),
    # A span of time is often told by its ends ("inhabited since the Paleolithic", "From November 27 to
    # 30"), so a date's days count here, and so do words of time: every right answer to a SQuAD dev
    # "how long" question holds one, while "… met … at the seventh World Government Summit" does not.
    "duration": re.compile(r"\d|\b(" + _NUMBER_WORDS + r")\b|\b(years?|months?|weeks?|days?|nights?|hours?|minutes?|"
                           r"seconds?|decades?|centur(y|ies)|millenni(um|a)|eras?|ages|lifetimes?|since|until|till|"
                           r"throughout|always|never|forever|long|short|brief(ly)?|permanent(ly)?|temporar(y|ily)|"
                           r"overnight|moments?|while|time)\b", re.I),
}
KINDS = tuple(k for k, _ in _QUESTION_KINDS)
# A day of the month is not a quantity: "From November 27 to 30, the Hub organised a workshop" cannot
# say how many attended. Month names are matched capitalised only ("they may 2…" is no date).
_DAY = r"\d{1,2}(st|nd|rd|th)?"
_DAYS_OF_MONTH = re.compile(rf"\b({MONTHS})\s+{_DAY}(\s*(to|–|-|and)\s*{_DAY})?\b|"
                            rf"\b{_DAY}(\s*(to|–|-|and)\s*{_DAY})?\s+(of\s+)?({MONTHS})\b")
# Nor is a century: "21st-century HR management" cannot say how many officials attended.
_CENTURIES = re.compile(r"\b\d{1,2}(st|nd|rd|th)[\s-]+centur(y|ies)\b", re.I)
_QUANTITIES = ("count", "share", "measure")


# A question mark, a question word, a blank to fill ("___ helps the biosphere"), a request ("List the
# tools"), a verb to complete ("Telnet was sold to") or more than a few words: otherwise the text names a
# topic to find ("webinar attendance", "Gulmira Raisova"), and no span answers it.
_WH = "|".join(WH_WORDS)
_AUX = "|".join(AUXILIARIES)
_REQUEST = "|".join(REQUESTS)
_ASKS = re.compile(rf"\?|_{{2,}}|\b({_WH}|name)\b|^\W*({_REQUEST})\b|"
                   rf"\b({_AUX}|be|been|may|might|must)\b", re.I)
_TOPIC_WORDS = 4


def asks_question(text: str) -> bool:
    """Whether `text` asks something a short answer could name, rather than naming a topic to find."""
    return len(text.split()) > _TOPIC_WORDS or bool(_ASKS.search(text))


# A request to describe or explain ("Tell me about the workshop", "Could you describe the visit?") is
# answered by sentences; no span says it.
_DESCRIBE = re.compile(
    r"^\W*((hi|hello|hey)\W+)?((please|kindly)\W+)?((can|could|would|will)\s+(you|u)\s+(please\s+)?)?"
    r"(describe|explain|summari[sz]e|outline|give\s+(me\s+|us\s+)?(an?\s+)?(overview|summary|description)|"
    r"tell\s+(me|us)\s+((a\s+(bit|little)|more|something)\s+)*about)\b", re.I)
# A yes/no question: an auxiliary first ("Did the delegation visit Brussels?", "Didn't it …?"), offering
# no choice ("Is it high or low?"; "… or not?" offers none), asking nothing with a question word ("Is it
# known who spoke?") and not asking for a thing ("Is there a date for it?", "Can you name …", "Does
# anyone know the date …"; "… if the delegation came?" asks yes or no). "Was is the name …" is a slip.
_ASKERS = r"(you|u|i|we|anyone|anybody|someone|somebody)"
_YES_NO = re.compile(
    rf"^\W*(({_AUX}|be|may|might|must|shall)(n['’]t)?|(ca|wo|sha)n['’]t|cannot)\b"
    rf"(?!\s+({_AUX})\b)(?!\s+there\b)(?!.*\b({_WH})\b)(?!.*\bor\b(?!\s+(not|no)\b))"
    rf"(?!\s+{_ASKERS}\s+(please\s+)?({_REQUEST}|name|show|know|remember|recall|have|get|find)\b(?!.*\b(if|whether)\b))",
    re.I)
_SAYS_NO = re.compile(r"\b(no(?!\.?\s*\d)|not|never|none|nothing|nobody|neither|nor|without|cannot)\b|n['’]t\b", re.I)
# "Who is Edwin Lau?" asks what a named person is ("Head of the Division …", "nobleman"), which a name
# does not say: in news text a title runs into a name, and the reader, which learnt to answer "who" with
# a name, named the next person ("Catherine Kardava"), the person asked about, or an honorific ("Ms.").
_WHO_IS = re.compile(r"^\W*who(\s+(is|was|are|were)|['’]s)\s+(?P<name>[^?]+?)\W*$", re.I)
_HONORIFIC = re.compile(rf"^({'|'.join(re.escape(h) for h in HONORIFICS)})\.?$", re.I)


def wants_span(question: str) -> bool:
    """Whether a short span could answer `question` (as the models read it): it asks something
    (`asks_question`) and does not ask for a description ("Tell me about the workshop")."""
    return asks_question(question) and not _DESCRIBE.search(question)


def span_answers(question: str, span: str, context: str = "", before: str = "") -> bool:
    """Whether the short answer `span` answers `question`. A yes/no question is answered only by a
    span that says no ("never", "not have voting rights"); any other span names a thing ("4 to 6
    June 2025" for "Did the delegation visit Brussels?"), not a yes. "Who is <someone>?" is not
    answered by the words asked about again, nor "Who is <a capitalised name>?" by another name
    (the name as `context`, the quoted text, writes it: "who is edwin lau"); no question by
    honorifics alone ("Ms."); a question asking for no one by a person (`names_person`, with
    `before` the quoted text up to the span); one asking for a day of the week by no weekday; and one
    asking what an acronym stands for by a span that cannot abbreviate to it (`long_form`:
    "strategic partners and founders of …" for OECD)."""
    if _YES_NO.search(question):
        return bool(_SAYS_NO.search(span))
    words = [w.strip(",.;:") for w in span.split()]
    named = [w for w in words if not _HONORIFIC.match(w)]
    if not named:
        return not words  # honorifics alone name no one
    if names_person(span, before) and not asks_for_person(question):
        return False  # "Which youth programme …?" is not answered by "Darkhan Zhazykbay" (after "Mr.")
    if _WEEKDAY_ASKED.search(question) and not _WEEKDAY.search(span):
        return False  # "On which days of the week …?" is not answered by "April 15-16"
    acronym = asked_acronym(question)
    if acronym is not None and long_form(span, acronym) is None:
        return False  # no sentence spells it out: a span that cannot abbreviate to it does not answer
    who = _WHO_IS.match(question)
    if not who:
        return True
    asked = _as_written(who["name"], context).split()
    said = {fold(w) for w in asked}
    echoes = {fold(w) for w in named} <= said  # "who is danilo roncevic": "Dr. Danilo Rončević"
    head = [w for w in span.split(",")[0].split() if not _HONORIFIC.match(w)]  # a name run on: "Catherine Kardava, the …"
    other = _capitalised(named, 2) or (_capitalised(head, 2) and not {fold(w) for w in head} <= said)
    return not (echoes or (_capitalised(asked, 1) and other))  # "Who is Edwin Lau?": not "Catherine Kardava"


# A question asking for a day of the week is answered by one (every such SQuAD dev question is).
_WEEKDAY_ASKED = re.compile(r"\b(which|what)\s+(days?\s+of\s+the\s+week|weekdays?)\b", re.I)
_WEEKDAY = re.compile(rf"\b({WEEKDAYS})s?\b", re.I)
# Words that let a question be answered by a person: "who", "name", a person or people, a title
# ("Which OECD director …?"), a role ("Which official …?", "… the speakers").
_PERSON_WORDS = ("who|whom|whose|name|names|named|person|persons|people|man|men|woman|women|someone|somebody|"
                 "anyone|anybody|individuals?|officials?|guests?|participants?|delegates?|delegations?|hosts?|"
                 "employees?|staff|moderators?|presenters?|panell?ists?|winners?|recipients?|rectors?|scholars?|"
                 "academics?|practitioners?|specialists?|members?|colleagues?|heads?|leaders?|chairs?|"
                 "organi[sz]ers?|attendees?|attended|spoke|speak|said|say|says|met|meet|thanked|"
                 + "|".join(re.escape(t) + "s?" for t in sorted(TITLE_WORDS)))
_PERSON = re.compile(rf"\b({_PERSON_WORDS})\b", re.I)
_ANYONE = re.compile(r"\b(who|whom|whose|name|names|named)\b", re.I)
# What "which" or "what" asks for: the words after it up to a verb's auxiliary ("Which youth programme
# did …"), or after "is", "are", "was" or "were" when one follows at once ("What is the rector called?").
_ASKED_THING = re.compile(rf"\b(which|what)\b(\s+(is|are|was|were)\b)?(?P<thing>(\s+(?!({_AUX})\b)[\w'’-]+){{0,6}})", re.I)


def asks_for_person(question: str) -> bool:
    """Whether a person could answer `question`: it asks who or for a name, asks neither "which"
    nor "what", or asks which or what people or someone in a role ("Which OECD official …?");
    "Which youth programme did the agency's head mention?" asks for no one."""
    if _ANYONE.search(question):
        return True
    asked = _ASKED_THING.search(question)
    return asked is None or bool(_PERSON.search(asked["thing"]))


def names_person(span: str, before: str = "") -> bool:
    """Whether the short answer `span` names a person, as honorifics tell: one inside it before a
    capitalised word ("of Kazakhstan Mr. Darkhan Zhazykbay"), or one just before it in the quoted
    text `before` ("Mr. " + "Darkhan Zhazykbay")."""
    return bool(HONORIFIC_NAME.search(span) or (span[:1].isupper() and HONORIFIC_END.search(before)))


def _as_written(words: str, context: str) -> str:
    """`words` typed in lower case as `context` writes them, when it holds them (accents aside):
    people type names in lower case. Words typed with a capital stay as typed."""
    folded = fold(context)
    if not words.islower() or len(folded) != len(context):  # a letter folding to two would shift positions
        return words
    found = re.search(rf"(?<!\w){re.escape(fold(words))}(?!\w)", folded)
    if not found:
        return words
    written, before = context[found.start():found.end()], context[:found.start()]
    opens = re.search(r"(^|[.!?…:;])[\s\"'“‘(–—-]*$", before) and not _HONORIFIC.match((before.split() or [""])[-1])
    if len(written.split()) < 2 and opens:
        return words  # a sentence's first word is capitalised whatever it is ("Speaking at the event was …")
    return written


def _capitalised(words: list[str], at_least: int) -> bool:
    """Whether `words` can be a person's name, as far as capitals tell: `at_least` to five words,
    each capitalised, none a possessive or a title's word ("Landgrave of Hesse", "The Chairman",
    "Prime Minister" are titles)."""
    return at_least <= len(words) <= 5 and words[0].lower() not in ("the", "a", "an") and all(
        w[:1].isupper() and not re.search(r"['’]s?$", w) and w.lower() not in TITLE_WORDS for w in words)


# What the models read is shaped like SQuAD's questions, which they learnt from: a courtesy before the
# question word goes ("Can you tell me who chairs the ICSC?" abstained), and a question asked without
# its mark gets one ("who is danilo roncevic"; SQuAD test with every "?" removed: short-answer F1 58.4
# against 60.2).
_QUESTION_WORD = re.compile(rf"\b({_WH})\b|^\W*({_AUX})\b", re.I)
_MARKED = re.compile(r"\?\W*$")  # 'Who wrote "Walking in Fresno?"' has its mark
_COURTESY = re.compile(rf"^\W*(please\W+)?((can|could|would|will) you (please )?(tell|show) me|do you know|"
                       rf"(i'd|i would) like to know|i want to know|i wonder|tell me|please)\W+(?=({_WH})\b)", re.I)

_INNER_END = re.compile(r"[.!?]\s+\S")  # a sentence ends and something follows
_OPENS_ASKING = rf"^\W*({_AUX}|name|{_REQUEST})\b"
_ASKS_ALONE = re.compile(rf"\b({_WH})\b|{_OPENS_ASKING}", re.I)


def _sentences(text: str) -> list[str]:
    # A segmenter per call: pysbd keeps the text it splits on the instance, so one shared between threads races.
    return [s.strip() for s in pysbd.Segmenter(language="en", clean=False).segment(text) if s.strip()]


def _asking_span(sentences: list[str]) -> tuple[int, int] | None:
    """(first, last) positions of the asking sentences, the last question mark ending them when there
    is one ("… ? Have a nice day!" opens with a verb too); None when fewer than two sentences or none asks."""
    asking = [i for i, s in enumerate(sentences) if ASKING.search(s)]
    if len(sentences) < 2 or not asking:
        return None
    marked = [i for i in asking if _MARKED.search(sentences[i])]
    return asking[0], marked[-1] if marked else asking[-1]


def asking_part(text: str) -> tuple[str, str]:
    """(the sentences of `text` that ask, the sentences said before them): "Hi! I read about the
    webinars. Who spoke? Thanks." is ("Who spoke?", "Hi! I read about the webinars."). A text of
    one sentence, or with none that asks, is all question."""
    if not _INNER_END.search(text):
        return text, ""
    sentences = _sentences(text)
    span = _asking_span(sentences)
    if span is None or span == (0, len(sentences) - 1):
        return text, ""  # all of it asks: as typed (pysbd also splits at a web address's "?")
    first, last = span
    return " ".join(sentences[first: last + 1]), " ".join(sentences[:first])


MAX_QUESTIONS = 3  # questions of one text answered in turn; more are asked as one
_WEB = re.compile(r"\b(https?://|www\.)\S+", re.I)  # a web address's "?" asks nothing


def questions_in(text: str) -> list[str]:
    """The questions `text` asks in turn, when it asks several, each up to its question mark ("Who
    spoke? How many attended?" is two, and so is "Who chairs the ICSC? And the ACSH?"; "Who said
    'Here I stand.'?" is one); [text] otherwise."""
    if _WEB.sub("", text).count("?") < 2:
        return [text]
    sentences = _sentences(text)
    span = _asking_span(sentences)
    first, last = span if span is not None else (0, len(sentences) - 1)
    said = " ".join(sentences[:first])
    parts, current = [], []
    for sentence in sentences[first: last + 1]:
        current.append(sentence)
        if _MARKED.search(sentence):
            parts.append(" ".join(current))
            current = []
    if current:
        parts[-1:] = [" ".join([*parts[-1:], *current])]
    # Each part must ask on its own ("Really?! Who won?" or "Is https://x/?a=b down?" is one question),
    # or, after the first, name a topic to ask the one before about ("Who chairs the ICSC? And the ACSH?").
    if not 2 <= len(parts) <= MAX_QUESTIONS or not all(_ASKS_ALONE.search(_WEB.sub("", p)) or (i and topic_of(p))
                                                       for i, p in enumerate(parts)):
        return [text]
    if said:
        parts[0] = f"{said} {parts[0]}"  # what was said before belongs to the first (as_question decides)
    return parts


# A greeting run into the question ("hi! who chairs …": pysbd starts no sentence at a small letter).
_GREETING = re.compile(r"^\W*(hi|hello|hey|good (morning|afternoon|evening))( there| all| everyone)?\s*[!,.:;]+\s*"
                       rf"(?=.*\b({_WH}|{_AUX})\b)", re.I)


def as_question(text: str) -> str:
    """`text` as the models read it: its asking sentences without what is said around them ("Hi! …",
    "… Thanks.": `asking_part`), unless they point back to it ("… on the stomach wall. What does it
    do?"); a courtesy before its question word dropped ("Can you tell me who …" reads "who …"); and a
    closing question mark added when it asks with a question word or opens with an auxiliary verb
    and has none ("who is X" reads "who is X?")."""
    asking, said = asking_part(text)
    if said and has_pronoun(asking):
        asking = f"{said} {asking}"
    stripped = _COURTESY.sub("", _GREETING.sub("", asking.rstrip()))
    if _MARKED.search(stripped) or not _QUESTION_WORD.search(stripped):
        return stripped
    return stripped.rstrip(".!").rstrip() + "?"


def asked_kind(question: str) -> str | None:
    """The kind of answer `question` asks for when its words say so plainly, else None."""
    for kind, pattern in _QUESTION_KINDS:
        if pattern.search(question):
            return kind
    return None


def holds_kind(text: str, kind: str | None) -> bool:
    """Whether `text` can hold an answer of `kind` (always, when no kind is asked for); for a
    quantity, the days of dates and the numbers of centuries do not count as numbers."""
    if kind in _QUANTITIES:
        text = _CENTURIES.sub(" ", _DAYS_OF_MONTH.sub(" ", text))
    return kind is None or bool(_HOLDS[kind].search(text))
