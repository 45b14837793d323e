"""Small talk: "hi", "thanks!", "ok great" ask nothing, so nothing is searched for or quoted.

Quoting "… Larbi Djacta thanked the organizers …" in reply to "thanks!" answers a question nobody
asked; saying "The articles don't answer this." to "hi" tells the user nothing either. Such a text
gets MESSAGE instead, as an abstention with no passages.
"""
from __future__ import annotations

import re

MESSAGE = "Ask a question about the articles, and the sentences that answer it will be quoted from them."

# Every word of a text that only greets, thanks or agrees; a text with any other word ("good
# governance", "thanks for the Hub's address") is read as a question or a topic.
_WORDS = frozenset("""
    hi hello hey hiya howdy greetings good morning afternoon evening day there all everyone
    thanks thank you thx ty cheers much so very a lot many
    ok okay k alright sure fine got it great cool nice perfect awesome excellent wonderful
    yes yeah yep no nope oh ah wow please bye goodbye
""".split())
_WORD = re.compile(r"[^\W\d_]+|\d+")
_MAX_WORDS = 6


def small_talk(text: str) -> bool:
    """Whether `text` only greets, thanks or agrees ("Hi!", "Thank you so much.", "ok, great")."""
    words = _WORD.findall(text.lower())
    return 0 < len(words) <= _MAX_WORDS and all(w in _WORDS for w in words)
