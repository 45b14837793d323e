"""Questions asking what an acronym stands for, and the sentence that spells it out.

"What does BOSA stand for?" is answered where an article writes the long form beside the short one:
"… the Belgian Federal Public Service Policy and Support (BOSA) …". The readers, which score a
sentence by how well it matches the question, preferred "The BOSA uses a new format …"; a sentence
that spells the acronym out answers it by construction, so the answer layer quotes that one. The
long form is found as Schwartz and Hearst's abbreviation algorithm finds it (2003: each letter of
the short form, last to first, matched in order inside the words before the parenthesis, the
first at the start of a word). An article may also name the long form in one sentence and use the
short one in another ("… representing the American Society for Public Administration." and "…
the executive director of the ASPA"): then a name whose capitalised words' initials are exactly the
acronym's letters, in an article that writes the acronym, spells it out too (`initials_of`).
"""
from __future__ import annotations

import re

# The short form: two to ten letters, digits, "&" or "-", with at least two capitals ("BOSA", "vBNS", "SDGs").
_SHORT = r"[\"“']?(?P<short>[A-Za-z0-9&-]{2,10})(?![\w&-])[\"”']?"
_END = r"\s*[?.!]*\s*$"  # the question ends there: "What does NATO stand for on Ukraine?" asks something else
_NAMED = r"(?:acronym|abbreviation|initials)"
_ASKED = [
    # Words may follow only when the question says it asks about an acronym ("What did the LMP acronym
    # stand for regarding …?").
    re.compile(rf"\bwhat\s+(?:does|did|do)\s+(?:the\s+)?{_NAMED}\s+{_SHORT}\s+(?:stands?|stood)\s+for\b", re.I),
    re.compile(rf"\bwhat\s+(?:does|did|do)\s+(?:the\s+)?{_SHORT}\s+{_NAMED}\s+(?:stands?|stood)\s+for\b", re.I),
    re.compile(rf"\bwhat\s+(?:does|did|do)\s+(?:the\s+)?{_SHORT}\s+(?:stands?|stood)\s+for{_END}", re.I),
    re.compile(rf"\bwhat\s+(?:is|was|are)\s+(?:the\s+|an?\s+)?{_SHORT}\s+(?:short|an?\s+{_NAMED})\s+for{_END}", re.I),
    re.compile(rf"\bwhat\s+(?:is|was)\s+the\s+full\s+(?:name|form)\s+of\s+(?:the\s+)?{_SHORT}{_END}", re.I),
    re.compile(rf"\bwhat\s+(?:does|did)\s+the\s+{_NAMED}\s+{_SHORT}\s+mean\b", re.I),
    re.compile(rf"\bwhat\s+(?:does|did)\s+{_SHORT}\s+(?:mean|expand\s+to){_END}", re.I),
]
# Small words inside a capitalised name ("Policy and Support", "Ministry of Finance").
_JOINING = {"of", "and", "for", "the", "on", "in", "&", "de", "du", "des", "la", "le", "et", "und", "für"}


# Words a question typed in lower case may put where an acronym goes without meaning one.
_NOT_ACRONYMS = {"it", "this", "that", "he", "she", "they", "we", "you", "us", "i", "one", "these", "those", "its"}


def asked_acronym(question: str) -> str | None:
    """The acronym `question` asks to have spelled out ("What does BOSA stand for?" → "BOSA"), if any:
    a word of two to ten characters with at least two capitals, in a question not written in capitals;
    in a question typed all in lower case ("what does bosa stand for"), the word as typed, which
    `spelled_out` then finds written with capitals."""
    if not any(ch.islower() for ch in question):  # "WHAT DOES THE TEAM STAND FOR?": every word has capitals
        return None
    typed_lower = not any(ch.isupper() for ch in question)
    for pattern in _ASKED:
        found = pattern.search(question)
        if not found:
            continue
        short = found.group("short")
        if sum(ch.isupper() for ch in short) >= 2 or (typed_lower and short.isalpha() and short not in _NOT_ACRONYMS):
            return short
    return None


def long_form(words: str, short: str, named: bool = True) -> str | None:
    """The shortest ending of `words` that `short` abbreviates (Schwartz and Hearst); failing that,
    with `named`, the run of capitalised words it ends with when that run starts with the short
    form's first letter and has a capitalised word for all its letters but one (a name translated
    from the language its acronym comes from: "Belgian Federal Public Service Policy and Support"
    for BOSA); else None."""
    letters = [ch.lower() for ch in short if ch.isalnum()]
    initials = _by_initials(words, letters)
    if initials:  # "Apollo Applications Program (AAP)", not "Applications Program" with a letter inside a word
        return initials
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
    if not named:
        return None
    run: list[str] = []
    for word in reversed(words.split()):
        if word[:1].isupper() or (run and word.lower() in _JOINING):
            run.insert(0, word)
        else:
            break
    while run and run[0].lower() in _JOINING:
        run.pop(0)
    capitals = sum(w[:1].isupper() for w in run)
    if (run and run[0][0].lower() == letters[0] and capitals >= max(2, len(letters) - 1)
            and not any(w.endswith((".", ",", ";", ":")) for w in run[:-1])):
        return " ".join(run)
    return None


def _by_initials(words: str, letters: list[str]) -> str | None:
    """The ending of `words` whose words' first letters are `letters`, small joining words inside it
    skipped when their letter is not the one wanted ("Ministry of Finance" for MF), else None."""
    split = words.split()
    n = len(letters) - 1
    for i in range(len(split) - 1, -1, -1):
        word = split[i].lstrip("\"“‘'(")
        if word[:1].lower() == letters[n]:
            n -= 1
            if n < 0:
                found = " ".join([word, *split[i + 1:]]).rstrip("\"”’'")
                return found if len(split) - i > 1 else None
        elif not (n < len(letters) - 1 and split[i].lower() in _JOINING):
            return None
    return None


def _ending(text: str, words: str) -> tuple[int, int] | None:
    """Where `words` (single-spaced) end `text`, whatever spaces the text has between them and
    whatever closing quote marks after them (‘the “Data Protection Service” (DPS)’)."""
    found = re.search("(" + r"\s+".join(map(re.escape, words.split())) + r")[”\"’']*\s*$", text)
    return found.span(1) if found else None


# Words a bracket may put before the short form: "quantum electrodynamics (or QED)".
_ALSO = r"(?:(?:or|also|aka|a\.k\.a\.|i\.e\.,?|hereafter|henceforth|abbreviated(?:\s+as)?|(?:also\s+)?known\s+as|called)\s+)?"


def spelled_out(sentence: str, short: str) -> tuple[int, int] | None:
    """Character span of `short`'s long form in `sentence` when the sentence spells it out as
    "long form (SHORT)", "long form (or SHORT)" or "SHORT (long form)" (a plural "s" allowed after
    the short form), else None."""
    if sum(ch.isupper() for ch in short) < 2:  # typed in lower case: as the sentence writes it, in capitals
        typed = re.escape(short)
        found = re.search(rf"\(\s*{_ALSO}({typed})\s*[),;]|(?<![\w-])({typed})\s*\(", sentence, re.I)
        written = found.group(1) or found.group(2) if found else ""
        if sum(ch.isupper() for ch in written) < 2:
            return None
        short = written
    if len(short) > 2 and short.endswith("s") and short[-2].isupper():  # "SDGs" as asked: the singular too
        short = short[:-1]
    plural = rf"{re.escape(short)}s?"
    for found in re.finditer(rf"\(\s*{_ALSO}{plural}\s*[),;]", sentence):
        before = sentence[: found.start()].rstrip()
        # Not past an earlier bracket or clause mark; Schwartz and Hearst look back min(|A| + 5, 2|A|) words.
        cut = max(before.rfind(mark) for mark in "();:") + 1
        words = before[cut:].split()
        long = long_form(" ".join(words[-min(len(short) + 5, 2 * len(short)):]), short)
        if long:
            span = _ending(before, long)
            if span:
                return span
    for found in re.finditer(rf"(?<![\w-]){plural}\s*\((?P<long>[^()]{{3,120}})\)", sentence):
        inside = found.group("long").strip()
        if long_form(inside, short, named=False) == inside:
            start = found.start("long") + found.group("long").index(inside)
            return start, start + len(inside)
    return None


_WORDS = re.compile(r"[^\W\d_][\w’'-]*")


def initials_of(sentence: str, short: str) -> tuple[int, int] | None:
    """Character span of a name in `sentence` whose capitalised words' first letters are exactly
    `short`'s, small joining words between them allowed ("American Society for Public
    Administration" for ASPA), else None. Only for a short form of three or more capitals, typed as
    such or as the article writes it; the name must end there (no capitalised word follows)."""
    if not (short.isalpha() and short.isupper() and len(short) >= 3):
        return None
    words = list(_WORDS.finditer(sentence))
    for i, first in enumerate(words):
        if first.group()[0] != short[0] or first.group().lower() in _JOINING:  # not "In Public Affairs" for IPA
            continue
        n, j, last = 0, i, None
        while j < len(words) and n < len(short):
            word = words[j].group()
            if word[0] == short[n]:
                n, last = n + 1, words[j]
            elif not (n and word.lower() in _JOINING):
                break
            j += 1
        follows = words[j].group() if j < len(words) else ""
        gap = sentence[last.end():words[j].start()] if last is not None and j < len(words) else ""
        if n == len(short) and not (follows[:1].isupper() and gap.strip() == ""):
            return first.start(), last.end()
    return None


def written_as(text: str, short: str) -> str | None:
    """`short` as `text` writes it as a word in capitals ("bosa" typed, "BOSA" written), else None."""
    found = re.search(rf"(?<![\w-]){re.escape(short)}(?![\w-])", text, re.I)
    return found.group() if found and found.group().isupper() else None
