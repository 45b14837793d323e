"""English function words that tell how a question asks: one list each, shared by the modules that
read questions (`kind`, `conversation`, `ellipsis`)."""
from __future__ import annotations

import re

WH_WORDS = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
AUXILIARIES = ("is", "are", "was", "were", "has", "have", "had", "do", "does", "did", "can", "could", "will",
               "would", "should")
# Personal pronouns only: "this", "that" and "there" open too many questions that stand alone.
PERSONAL_PRONOUNS = ("it", "its", "they", "them", "their", "theirs", "he", "him", "his", "she", "her", "hers")
# Written before a name ("H.E. Mr. Larbi Djacta"), with or without a full stop.
HONORIFICS = ("Mr", "Ms", "Mrs", "Dr", "Prof", "H.E")
_TITLED = "|".join(re.escape(h) for h in HONORIFICS)
# An honorific leading a capitalised word ("Ms. Nataliia Aliushyna", "prof. Jahi Jahia"): written as
# above, or in lower case with its full stop; "MS Teams" and "DR Congo" name no one.
HONORIFIC_NAME = re.compile(rf"(?<![\w.])(({_TITLED})\.?|(?i:{_TITLED})\.)\s+[A-Z]")
# The same honorific ending a text, a name to follow ("… of Kazakhstan Mr. ").
HONORIFIC_END = re.compile(rf"(?<![\w.])(({_TITLED})\.?|(?i:{_TITLED})\.)\s*$")
# Capitalised words that make a title, not a name ("Prime Minister", "OECD Director").
TITLE_WORDS = {"minister", "director", "chairman", "chairwoman", "chairperson", "chair", "president", "secretary",
               "secretary-general", "head", "chief", "deputy", "economist", "officer", "commissioner", "ambassador",
               "professor", "governor", "mayor", "king", "queen", "prince", "princess", "emperor", "general", "manager",
               "founder", "member", "expert", "adviser", "advisor", "executive", "leader", "speaker", "premier",
               "senator", "judge", "bishop", "pope", "captain", "coach", "editor", "author", "composer", "assistant",
               "under-secretary-general", "representative", "landgrave", "duke", "count", "lord"}
# A question asked as a request ("Name the speaker.", "List the tools").
REQUESTS = ("list", "identify", "give", "state", "define", "describe", "explain", "tell")
# A text that asks: a closing question mark, or a question word, an auxiliary verb or a request
# first ("Who spoke?", "is it open", "Name the speaker."); "Thanks, that helps" does not.
ASKING = re.compile(rf"\?\W*$|^\W*({'|'.join((*WH_WORDS, *AUXILIARIES, 'name', *REQUESTS))})\b", re.I)
