"""English function words that tell how a question asks: one list each, shared by the modules that
read questions (`kind`, `conversation`, `ellipsis`)."""
from __future__ import annotations

WH_WORDS = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
AUXILIARIES = ("is", "are", "was", "were", "has", "have", "had", "do", "does", "did", "can", "could", "will",
               "would", "should")
# Personal pronouns only: "this", "that" and "there" open too many questions that stand alone.
PERSONAL_PRONOUNS = ("it", "its", "they", "them", "their", "theirs", "he", "him", "his", "she", "her", "hers")
# A question asked as a request ("Name the speaker.", "List the tools").
REQUESTS = ("list", "identify", "give", "state", "define", "describe", "explain", "tell")
