"""Follow-ups that name only a new topic: "And the online conference?" after "How many people
attended the Belgian webinars?" asks that question again about the conference.

Such a follow-up holds no question for the answer models to read, so the last question is asked
again with the new topic in place of the phrase it stands for, by rule: a phrase sharing the topic's
words, else a name for a name, a phrase opening with the same preposition, or the last question's
last phrase. The rule knows no grammar beyond these word lists: on SQuAD's train articles
(`rag eval --follow-ups ellipsis`) it gives back the question as written for 39% of such follow-ups,
and the answers still gain where it does not (README, "A follow-up that names only a new topic").
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.words import ASKING, AUXILIARIES, PERSONAL_PRONOUNS, WH_WORDS
from rag.indexing.lexical import terms

# A question that opens by adding to the last one: "What about payroll?", "And in Georgia?", "And
# what about the OECD?", "Same for the OECD?".
ADDS_ON = re.compile(r"^\W*(((and|so|ok|okay)\W+)?(what|how) about|what of|and|same (question |thing )?for)\b", re.I)
_FILLER = re.compile(r"^(um|uh|er|erm|hmm|well|so|ok|okay)\W+", re.I)  # "And, um, the OECD?"
_AFTERWORDS = re.compile(r"\W+(then|instead|too|as well)$", re.I)  # "What about the OECD too, then?"
_TOPIC_WORDS = 12  # "the Head of the National Agency of Ukraine on Civil Service"
_ASKING = set(WH_WORDS) | set(AUXILIARIES)  # what a question of its own opens with ("And who organized it?")
# Lower-case words no topic holds: a clause says something ("What about Luther declined as his health
# failed?"), a question word or a verb asks it ("And the OECD was founded in what year?"). Case matters:
# "Doctor Who" is a name.
_CLAUSES = {"as", "because", "while", "if", "whether", "although", "though", "since", "unless", "until",
            *WH_WORDS, *AUXILIARIES}
_PREPOSITIONS = {"in", "at", "on", "for", "from", "during", "to", "by", "with", "about", "of", "into", "under",
                 "after", "before", "since", "between", "among", "within", "without", "over", "against"}
# A topic opening with one of these can stand for "there" ("And at the conference?"), but not for the
# "there" of "Why was there a delay?" or "over there".
_PLACES = {"in", "at"}
_NOT_PLACE = {*AUXILIARIES, "over", "up", "down", "out", "from", "in", "here", "get", "got", "gets", "go", "went", "goes"}
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "its", "their", "his", "her", "our", "your"}
_PRONOUNS = {"it", "they", "them", "he", "him", "she"}  # each stands for a whole phrase
_JOINS = {"of", "and", "for", "de", "&"}  # inside a name: "Bureau of Georgia", "Policy and Support"
_STOP = _PREPOSITIONS | _DETERMINERS | _PRONOUNS | {"and", "or", "&"}
# Words that name nothing to ask about: "And then?", "What about it?", "And you?", "And so on?".
_NOT_TOPICS = _STOP | set(PERSONAL_PRONOUNS) | {
    "then", "now", "so", "also", "too", "else", "next", "more", "there", "here", "yes", "no", "ok", "okay",
    "i", "me", "my", "mine", "we", "us", "ours", "you", "yours", "thanks", "thank", "please", "on", "forth"}
# Verbs that close a question's subject ("When did the visit take place?"); a past participle does too,
# and so does a word before a name or a determiner ("When did the delegation visit Belgium?").
_VERBS = {"take", "happen", "begin", "start", "end", "occur", "use", "meet", "hold", "held", "become", "go", "come",
          "say", "make", "get", "play", "win", "lead", "die", "live", "found", "build", "create", "cost", "last",
          "mean", "include", "consist", "focus", "offer", "discuss", "propose", "launch", "attend", "organize",
          "organise", "learn", "want", "need", "plan", "work", "serve", "run", "open", "close", "receive", "give"}
_WORD = re.compile(r"[^\W_]", re.U)  # a letter or a digit


def topic_of(question: str) -> str | None:
    """What an add-on that asks nothing of its own is about ("the online conference" of "And the
    online conference?"). None for any other question: one asking something of its own ("And
    who organized it?", "And the OECD was founded in what year?"), a clause, more than one sentence,
    or words that name nothing ("And then?", "What about it?")."""
    opener = ADDS_ON.match(question)
    if not opener:
        return None
    topic = _FILLER.sub("", question[opener.end():].strip(" \t,;:?!.…"))
    while _AFTERWORDS.search(topic):
        topic = _AFTERWORDS.sub("", topic)
    words = topic.split()
    if (not words or len(words) > _TOPIC_WORDS or not _WORD.match(topic) or re.search(r"[?!.]\s", topic)
            or re.split(r"['’]", words[0].lower())[0] in _ASKING or _CLAUSES & set(words)  # "what's"
            or _acts(words) or all(_bare(w) in _NOT_TOPICS for w in words)):
        return None
    return topic


def _bare(word: str) -> str:
    """A word without the punctuation around it, lower-cased."""
    return word.strip(".,;:!?\"'“”‘’()").lower()


def _acts(words: list[str]) -> bool:
    """Whether a past-tense verb follows a noun ("the treaty angered the French"); a participle after
    a determiner describes ("the revised plan")."""
    return any(w.endswith("ed") and len(w) > 4 and w.islower() and _bare(words[i - 1]) not in _DETERMINERS
               for i, w in enumerate(words) if i > 0)


def _questions(turn: str) -> list[str]:
    """The questions of an earlier turn, each up to its question mark ("Who chairs the ICSC?" and
    "Where is it based?" of "Who chairs the ICSC? Where is it based?"); [turn] when it has none."""
    questions = [q.strip() for q in re.findall(r"[^?]+\?", turn) if _WORD.search(q)]
    return questions or [turn]


def asked_again(question: str, earlier: Sequence[str]) -> str | None:
    """`question` as the last of the `earlier` questions (oldest first) that asks something itself,
    asked about `question`'s topic: "And the online conference?" after "How many people attended the
    webinars?" is "How many people attended the online conference?". None when `question` asks
    something of its own, or no part of that question can be told to stand for the topic."""
    topic = topic_of(question)
    if topic is None:
        return None
    frames = [q for turn in earlier for q in _questions(turn) if topic_of(q) is None and ASKING.search(q)]
    return reframed(frames[-1], topic) if frames else None


def speaks_of(topic: str, citations: Sequence) -> bool:
    """Whether an answer quoting `citations` says anything of `topic`: one of the topic's terms is
    in a quoted sentence, the passage it was found in or its article's title. The last question
    asked again can find the last topic's answer ("April 15-16", the webinars' dates, for "And the
    OECD meeting in Dubai?" after "When were the webinars held?")."""
    wanted = set(terms(topic))
    said = " ".join(f"{c.title} {c.text} {c.passage.text if c.passage is not None else ''}" for c in citations)
    return not wanted or bool(wanted & set(terms(said)))


def reframed(last: str, topic: str) -> str | None:
    """The question `last` asked about `topic` instead ("How many people attended the online
    conference?" from "How many people attended the Belgian webinars?" and "the online
    conference"); None when no part of `last` can be told to stand for `topic`."""
    words = last.strip().rstrip("?!. ").split()
    topic_words = topic.split()
    if len(words) < 2 or not topic_words:
        return None
    span = _span(words, topic_words)
    if span is None:
        return None
    start, end = span
    return " ".join([*words[:start], *topic_words, *words[end:]]) + "?"


def _span(words: list[str], topic: list[str]) -> tuple[int, int] | None:
    """The words of the last question (`words`, its "?" removed) that `topic` stands in for."""
    first = topic[0].lower()
    lower = [w.lower() for w in words]
    if first in _PREPOSITIONS:  # "And for payroll?": the last phrase opening with that preposition
        same = [i for i, w in enumerate(lower) if w == first and i > 0]
        if same:
            return same[-1], _phrase_end(words, same[-1])
        there = [i for i, w in enumerate(lower) if w == "there" and i > 0 and lower[i - 1] not in _NOT_PLACE]
        if there and first in _PLACES and len(topic) > 1 and not topic[1][:1].isdigit():
            return there[-1], there[-1] + 1  # "Who received an award there?" for "at the conference"
        return len(words), len(words)
    topic_lower = {t.lower() for t in topic}
    shared = [i for i, w in enumerate(lower) if i > 0 and w not in _STOP and w in topic_lower]
    if shared:  # "And the Kazakh delegation?" after "When did the Serbian delegation visit Belgium?"
        heads = [i for i in shared if lower[i] == topic[-1].lower()]
        end = heads[-1] if heads else shared[-1]
        end = _name_end(words, end) if _is_name(words[end]) else end + 1
        start = _phrase_start(words, shared[0])
        if not heads and end < len(words) and lower[end] in _PREPOSITIONS and lower[end] in topic_lower:
            end = _phrase_end(words, start)  # "the Head [of the Bureau]" for "the Head of X"
        return start, end
    names = [i for i in range(1, len(words)) if _is_name(words[i]) and not _is_name(words[i - 1])]
    if names and all(_is_name(t) or t.lower() in _STOP | _JOINS for t in topic):  # a name for the last name
        return _phrase_start(words, names[-1]), _name_end(words, names[-1])
    phrase = first in _DETERMINERS  # "the New York workshop" for the last "the …" phrase
    for i in range(len(words) - 1, 0, -1):
        w = lower[i]
        if w in _PRONOUNS:
            return i, i + 1
        if w in _DETERMINERS:
            return i, _phrase_end(words, i)
        if not phrase and w in _PREPOSITIONS and i + 1 < len(words):  # "workforce planning" for its object
            return i + 1, len(words)
    return None


def _is_name(word: str) -> bool:
    """Whether a word may be part of a name: capitalised, or a number ("Super Bowl 50")."""
    return word[:1].isupper() or word[:1].isdigit()


def _name_end(words: list[str], i: int) -> int:
    """The end (exclusive) of the name running on from word `i`: capitalised words, and "of" /
    "and" / "for" between them ("Civil Service Bureau of Georgia")."""
    j = i + 1
    while j < len(words):
        if _is_name(words[j]):
            j += 1
        elif words[j].lower() in _JOINS and j + 1 < len(words) and _is_name(words[j + 1]):
            j += 2
        else:
            break
    return j


def _phrase_start(words: list[str], i: int) -> int:
    """Where the phrase holding word `i` starts: its determiner or a possessive ("Serbia's
    ministry") up to three words before it, else the first capitalised word of its name."""
    for j in range(i, max(-1, i - 4), -1):
        w = words[j].lower()
        if w in _DETERMINERS or (j < i and w.endswith(("'s", "’s"))):
            return j
        if j < i and (w in _PREPOSITIONS or w in _ASKING):
            break
    while i > 1 and _is_name(words[i - 1]):
        i -= 1
    return i


def _phrase_end(words: list[str], start: int) -> int:
    """The end of the phrase from `start`: the question's end, or a closing verb when the phrase is
    the subject of an auxiliary ("When did [the visit to Belgium] take place?")."""
    lower = [w.lower() for w in words]
    if start > 0 and lower[start - 1] in AUXILIARIES:
        for j in range(start + 2, len(lower)):
            before_object = j + 1 < len(words) and (lower[j + 1] in _DETERMINERS or _is_name(words[j + 1]))
            if lower[j] in _VERBS or (lower[j].endswith("ed") and len(lower[j]) > 4) or (
                    before_object and lower[j] not in _STOP and not _is_name(words[j])):
                return j
    return len(lower)
