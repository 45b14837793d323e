"""Questions asking what an acronym stands for, and the sentence that spells it out.

"What does BOSA stand for?" is answered where an article writes the long form beside the short one:
"… the Belgian Federal Public Service Policy and Support (BOSA) …". The readers, which score a
sentence by how well it matches the question, preferred "The BOSA uses a new format …"; a sentence
that spells the acronym out answers it by construction, so the answer layer quotes that one. The
long form is found as Schwartz and Hearst's abbreviation algorithm finds it (2003: each letter of
the short form, last to first, matched in order inside the words before the parenthesis, the
first at the start of a word).
"""
from __future__ import annotations

import re

# The short form: two to ten letters, digits, "&" or "-", with at least two capitals ("BOSA", "vBNS", "SDGs").
_SHORT = r"[A-Za-z0-9&-]{2,10}"
_ASKED = [
    re.compile(rf"\bwhat\s+(?:does|did|do)\s+(?:the\s+)?(?:(?:acronym|abbreviation|initials)\s+)?[\"“']?(?P<short>{_SHORT})[\"”']?"
               rf"(?:\s+(?:acronym|abbreviation))?\s+(?:stands?|stood)\s+for\b", re.I),
    re.compile(rf"\bwhat\s+(?:is|was|are)\s+(?:the\s+|an?\s+)?[\"“']?(?P<short>{_SHORT})[\"”']?\s+(?:short|an?\s+(?:acronym|abbreviation))\s+for\b", re.I),
    re.compile(rf"\bwhat\s+(?:is|was)\s+the\s+full\s+(?:name|form)\s+of\s+(?:the\s+)?[\"“']?(?P<short>{_SHORT})[\"”']?", re.I),
    re.compile(rf"\bwhat\s+(?:does|did)\s+the\s+(?:acronym|abbreviation)\s+[\"“']?(?P<short>{_SHORT})[\"”']?\s+mean\b", re.I),
    re.compile(rf"\bwhat\s+(?:does|did)\s+[\"“']?(?P<short>{_SHORT})[\"”']?\s+(?:mean|expand\s+to)\b", re.I),
]


# Small words inside a capitalised name ("Policy and Support", "Ministry of Finance").
_JOINING = {"of", "and", "for", "the", "on", "in", "&", "de", "du", "des", "la", "le", "et", "und", "für"}


def asked_acronym(question: str) -> str | None:
    """The acronym `question` asks to have spelled out ("What does BOSA stand for?" → "BOSA"), if any:
    a word of two to ten characters with at least two capitals."""
    for pattern in _ASKED:
        found = pattern.search(question)
        if found and sum(ch.isupper() for ch in found.group("short")) >= 2:
            return found.group("short")
    return None


def long_form(words: str, short: str) -> str | None:
    """The shortest ending of `words` that `short` abbreviates (Schwartz and Hearst); failing that,
    the run of capitalised words it ends with (a name translated from the language its acronym comes
    from: "Belgian Federal Public Service Policy and Support (BOSA)"), of two words or more; else None."""
    letters = [ch.lower() for ch in short if ch.isalnum()]
    at = len(words) - 1
    for n in range(len(letters) - 1, -1, -1):
        # Back to the letter; the short form's first letter must open a word of the long form.
        while at >= 0 and (words[at].lower() != letters[n] or (n == 0 and at > 0 and words[at - 1].isalnum())):
            at -= 1
        if at < 0:
            break
        at -= 1
    else:
        found = words[at + 1:].strip()
        if len(found.split()) > 1 and len(found) > len(short):
            return found
    run: list[str] = []
    for word in reversed(words.split()):
        if word[:1].isupper() or (run and word.lower() in _JOINING):
            run.insert(0, word)
        else:
            break
    while run and run[0].lower() in _JOINING:
        run.pop(0)
    capitals = sum(w[:1].isupper() for w in run)
    return " ".join(run) if capitals >= 2 and not any(w.endswith((".", ",", ";", ":")) for w in run[:-1]) else None


def spelled_out(sentence: str, short: str) -> tuple[int, int] | None:
    """Character span of `short`'s long form in `sentence` when the sentence spells it out as
    "long form (SHORT)" or "SHORT (long form)" (a plural "s" allowed after the short form), else None."""
    if len(short) > 2 and short.endswith("s") and short[-2].isupper():  # "SDGs" as asked: the singular too
        short = short[:-1]
    plural = rf"{re.escape(short)}s?"
    for found in re.finditer(rf"\(\s*{plural}\s*[),;]", sentence):
        before = sentence[: found.start()].rstrip()
        # Schwartz and Hearst look back at most min(|A| + 5, 2|A|) words.
        words = before.split()
        reach = min(len(short) + 5, 2 * len(short))
        window = " ".join(words[-reach:])
        long = long_form(window, short)
        if long:
            end = len(before)
            return end - len(long), end
    for found in re.finditer(rf"(?<![\w-]){plural}\s*\((?P<long>[^()]{{3,120}})\)", sentence):
        inside = found.group("long").strip()
        long = long_form(inside, short)
        if long and long == inside:
            start = found.start("long") + found.group("long").index(inside)
            return start, start + len(inside)
    return None
