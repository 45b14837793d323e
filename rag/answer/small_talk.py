"""Texts with nothing to search for: small talk ("hi", "thanks!", "ok great"), and questions that
name nothing ("who?", "When?", and "When was it?" with nothing asked before it).

Quoting "… Larbi Djacta thanked the organizers …" in reply to "thanks!", or whoever a search for
"who?" happens to find, answers a question nobody asked; saying "The articles don't answer this."
to "hi" tells the user nothing either. Such a text gets MESSAGE or VAGUE instead, as an abstention
with no passages. A bare "When?" after a question gets VAGUE too: the answer models read the
question as asked, and "When?" alone would be answered by any date.
"""
from __future__ import annotations

import re

from rag.answer.words import AUXILIARIES, PERSONAL_PRONOUNS, WH_WORDS
from rag.indexing.lexical import terms

MESSAGE = "Ask a question about the articles, and the sentences that answer it will be quoted from them."
VAGUE = "Say what you are asking about (a person, an event, a topic): the question names nothing to look for."

# Every word of a text that only greets, thanks or agrees; a text with any other word ("good
# governance", "thanks for the Hub's address") is read as a question or a topic.
_WORDS = frozenset("""
    hi hello hey hiya howdy greetings good morning afternoon evening day there all everyone
    thanks thank you u thx ty cheers much so very a lot many for your help helpful really appreciate appreciated
    ok okay k alright sure fine got it great cool nice perfect awesome excellent wonderful super well done
    that that's thats was is i see understood yes yeah yep no nope oh ah wow please bye goodbye again
""".split())
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+")
_MAX_WORDS = 8


def small_talk(text: str) -> bool:
    """Whether `text` only greets, thanks or agrees ("Hi!", "Thanks, that was helpful.", "ok, great");
    never a text with a question mark ("No?" after a question follows on from it)."""
    words = [w.replace("’", "'") for w in _WORD.findall(text.lower())]
    return "?" not in text and 0 < len(words) <= _MAX_WORDS and all(w in _WORDS for w in words)


# Index terms that name nothing to look for: question words, auxiliaries, pronouns, "happen", "say".
_NAMES_NOTHING = frozenset(terms(" ".join((*WH_WORDS, *AUXILIARIES, *PERSONAL_PRONOUNS, *"""
    about this that these those there here thing things something anything one ones happen happened happens
    say said says tell told me mean meant exactly again then now so also else
""".split()))))


# What index terms drop but can name something: a number, a capital after the first word ("What is
# IT?", "Who is Will?"), a single letter ("Who is X?").
_NAMES_ANYWAY = re.compile(r"\d|(?<=\S)\s+\W*[A-Z]|(?<![\w'’])(?![aAI]\b)[^\W\d_](?![\w'’])")


def names_nothing(text: str) -> bool:
    """Whether `text` (a question with the earlier ones it follows on from) names nothing the
    articles could be searched for: every index term of it is a question word, an auxiliary, a
    pronoun or as empty ("who?", "When was it?", "What happened?"), and it holds no number, no
    capitalised word after its first and no single letter."""
    return not _NAMES_ANYWAY.search(text) and all(t in _NAMES_NOTHING for t in terms(text))
