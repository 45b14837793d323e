"""Follow-up questions made from SQuAD's, for `rag eval --squad FILE --follow-ups KIND`.

SQuAD asks each question on its own, naming what it is about ("Where did Super Bowl 50 take
place?"). In a chat the subject is often said once and then pointed to ("Where did it take
place?"). These sets rewrite SQuAD's questions that way, by rule, so follow-ups can be measured on
public questions nobody here wrote:

- `pronoun`: a question naming its article's subject (the title, or the part before a comma:
  "Fresno" of "Fresno, California"), the subject turned into it / its / they / them / their,
  asked after the article's previous question naming it (its `earlier`);
- `alone`: the same rewritten questions without `earlier` (what a follow-up gets when it is read
  on its own);
- `new-topic`: every question as written, asked after a question from another article (a change
  of subject must not be read as a follow-up);
- `answer-pronoun`: a question naming the name that answers a "who" question asked just before
  about the same paragraph, the name made he / him / his ("How many fumbles did he force?" after
  "Who was the Super Bowl 50 MVP?", whose answer is Von Miller; a "who" answer may name a band or
  a company too);
- `ellipsis`: a question naming its article's subject, asked as "And <subject>?" or "What about
  <subject>?" after the same question about another article's subject ("Where did Warsaw take
  place?", then "And Super Bowl 50?").
"""
from __future__ import annotations

import random
import re
from collections import Counter

from rag.answer.words import AUXILIARIES

KINDS = ("pronoun", "alone", "new-topic", "ellipsis", "answer-pronoun")
# After these the subject is a subject ("did they"); after other words (a verb, a preposition) an object.
_SUBJECT_AFTER = {*AUXILIARIES, "may", "might", "must", "and", "or", "but", "when", "where", "why", "how"}
# After these a name is an object ("attributed to him"), as after a past-tense verb; elsewhere in the
# `answer-pronoun` set, a subject.
_OBJECT_AFTER = {"to", "by", "with", "for", "from", "about", "of", "against", "than", "like", "on", "at", "in", "into"}
# After these the name qualifies a noun ("which Norman leader", "how many Huguenots"): no pronoun fits.
_QUALIFIED_AFTER = {"a", "an", "which", "what", "whose", "many", "much", "few", "several", "some", "all", "most", "other", "both"}


def subject_pattern(title: str) -> re.Pattern:
    """A mention of article `title`'s subject: "the" optional, a plural ending, a possessive."""
    name = re.sub(r"\s*\(.*\)", "", title.replace("_", " ")).strip()
    names = sorted({name, name.split(",")[0].strip()}, key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(rf"\b(the )?({alternatives})(s|es)?('s|’s|')?(?![\w-])", re.I)


def as_pronoun(question: str, title: str) -> str | None:
    """`question` with its first mention of `title`'s subject made a pronoun; None without one."""
    m = subject_pattern(title).search(question)
    if not m or not _stands_alone(question, m):
        return None
    name = m.group(2).lower()
    plural = bool(m.group(3)) or (name.endswith("s") and not name.endswith("ss"))
    before = question[: m.start()].split()
    previous = before[-1].lower() if before else ""
    if m.group(4):
        pronoun = "their" if plural else "its"
    else:
        pronoun = "they" if plural else "it"
        if plural and previous and previous not in _SUBJECT_AFTER:
            pronoun = "them"
    if m.start() == 0:
        pronoun = pronoun.capitalize()
    return question[: m.start()] + pronoun + question[m.end():]


def _stands_alone(question: str, m: re.Match) -> bool:
    """Whether the mention `m` in `question` names the subject by itself: it qualifies no noun
    ("which Norman leader") and starts no longer name ("Sky UK Limited")."""
    before, after = question[: m.start()].split(), question[m.end():].split()
    return not ((before and before[-1].lower() in _QUALIFIED_AFTER) or (after and after[0][:1].isupper()))


def _mention(question: str, title: str) -> re.Match | None:
    """A plain mention of `title`'s subject in `question` (standing alone, not possessive), or None."""
    m = subject_pattern(title).search(question)
    return m if m and not m.group(4) and _stands_alone(question, m) else None


def usual_mentions(questions: list[dict]) -> dict[str, str]:
    """Each article's most usual plain mention of its subject inside its questions (not as a
    question's first word, where every word is capitalised): "the Normans", "oxygen"."""
    seen: dict[str, Counter] = {}
    for q in questions:
        m = _mention(q["question"], q["article"])
        if m and m.start() > 0:
            seen.setdefault(q["article"], Counter())[m.group(0)] += 1
    return {title: counts.most_common(1)[0][0] for title, counts in seen.items()}


def _proper(mention: str) -> bool:
    """Whether a mention is a name ("Super Bowl 50", "the Normans") rather than a common noun ("oxygen")."""
    return any(w[:1].isupper() or w[:1].isdigit() for w in mention.split() if w.lower() != "the")


def ellipses(questions: list[dict], seed: int = 0) -> list[dict]:
    """The `ellipsis` set (see the module's docstring) made from SQuAD `questions`: the other
    article's subject named as its own questions name it, a name for a name ("Warsaw" for "the
    Normans") and a common noun for a common noun ("pharmacy" for "oxygen")."""
    rng = random.Random(seed)
    usual = usual_mentions(questions)
    out = []
    for q in questions:
        m = _mention(q["question"], q["article"])
        if not m or m.start() == 0:
            continue
        mention = m.group(0)
        alike = sorted(t for t, other in usual.items() if t != q["article"] and _proper(other) == _proper(mention))
        if not alike:
            continue
        earlier = q["question"][: m.start()] + usual[rng.choice(alike)] + q["question"][m.end():]
        opener = rng.choice(["And", "What about"])
        out.append(dict(q, question=f"{opener} {mention}?", original=q["question"], earlier=[earlier]))
    return out


def answer_pronouns(questions: list[dict]) -> list[dict]:
    """The `answer-pronoun` set (see the module's docstring) made from SQuAD `questions` in file
    order: each "who" question's named answer (one to four capitalised words) found in one of the
    next three questions about the same paragraph becomes he / him / his there ("him" after a
    preposition or a past-tense verb, else "he")."""
    out = []
    for i, first in enumerate(questions):
        names = sorted({a for a in first["answers"] if 0 < len(a.split()) <= 4 and all(w[:1].isupper() for w in a.split())},
                       key=len, reverse=True)
        if not re.match(r"^\W*who\b", first["question"], re.I) or not names:
            continue
        for q in questions[i + 1: i + 4]:
            if q["sources"] != first["sources"]:
                continue
            m = next((m for m in (re.search(rf"\b{re.escape(n)}(['’]s)?(?![\w-])", q["question"]) for n in names) if m), None)
            if m is None:
                continue
            before = q["question"][: m.start()].split()
            if before and (before[-1][:1].isupper() or before[-1].lower() in _QUALIFIED_AFTER | {"the"}):
                continue  # part of a longer name ("Cam Newton") or qualified ("the Alan Turing's model")
            last = before[-1] if before else ""  # "attributed to him", "appointed him"
            objective = last.lower() in _OBJECT_AFTER or (last.isalpha() and last.islower() and last.endswith("ed"))
            pronoun = "his" if m.group(1) else ("him" if objective else "he")
            pronoun = pronoun.capitalize() if m.start() == 0 else pronoun
            out.append(dict(q, question=q["question"][: m.start()] + pronoun + q["question"][m.end():],
                            original=q["question"], earlier=[first["question"]]))
    return out


def follow_ups(questions: list[dict], kind: str, seed: int = 0) -> list[dict]:
    """The questions of set `kind` (see the module's docstring) made from SQuAD `questions` (as
    `rag.measure.squad.read_squad` reads them, in file order), each with its `earlier` list."""
    if kind not in KINDS:
        raise ValueError(f"unknown follow-up set {kind!r}; choose from {', '.join(KINDS)}")
    if kind == "ellipsis":
        return ellipses(questions, seed)
    if kind == "answer-pronoun":
        return answer_pronouns(questions)
    if kind == "new-topic":
        rng = random.Random(seed)
        out = []
        for q in questions:
            other = [x for x in rng.sample(questions, min(len(questions), 20)) if x["article"] != q["article"]]
            if other:
                out.append(dict(q, earlier=[other[0]["question"]]))
        return out
    out, previous = [], {}
    for q in questions:
        title = q["article"]
        rewritten = as_pronoun(q["question"], title)
        if rewritten is None:
            continue
        if title in previous:
            out.append(dict(q, question=rewritten, original=q["question"],
                            earlier=[previous[title]] if kind == "pronoun" else []))
        previous[title] = q["question"]
    return out
