"""What the collection is about: "What are these articles about?" is answered with their titles.

No sentence of an article says what the collection holds, so the question used to be withheld
("The articles don't answer this.") or answered by whichever sentence spoke of "topics". Each
article's title line is its own summary, quoted and cited like any answer sentence.
"""
from __future__ import annotations

import re

from rag.answer.records import Citation
from rag.answer.select import citation
from rag.retrieval.retriever import Passage

# Titles quoted at most; the Articles panel and `rag articles` list every one.
MAX_TITLES = 10

# The whole collection, never one item of it: "What is this article about?" asks about the one cited.
_THINGS = r"(articles|documents|texts|files|stories|news|sources|collection|corpus|library)"
_THE = r"((the|these|those|this|your|all( of)?( the)?|all these)\s+)?"
_ASKS = re.compile(
    rf"^(what|which)\s+(are|is)\s+{_THE}{_THINGS}\s+(all\s+)?about"
    rf"|^what\s+(topics|subjects|themes)\s+(do|does|are|is)\s+({_THE}{_THINGS}|in\s+{_THE}{_THINGS})"
    rf"(\s+(cover|discuss|about|covered|discussed))?"
    rf"|^((can|could)\s+you\s+)?(please\s+)?(summari[sz]e|give\s+me\s+an\s+overview(\s+of)?|overview\s+of)(\s+{_THE}{_THINGS})?"
    rf"|^((can|could)\s+you\s+)?(please\s+)?(list|show(\s+me)?)\s+{_THE}{_THINGS}"
    rf"|^what\s+{_THINGS}\s+(are\s+there|do\s+you\s+have|are\s+in\s+{_THE}{_THINGS})"
    rf"|^how\s+many\s+{_THINGS}\s+(are\s+there|do\s+you\s+have)"
    rf"|^what\s+can\s+you\s+tell\s+me\s+about\s+{_THE}{_THINGS}"
    rf"|^what('s|\s+is)\s+(this|{_THE}{_THINGS})\s+about"
    rf"|^what('s|\s+is)\s+in\s+{_THE}{_THINGS}"
    rf"|^what\s+can\s+i\s+ask(\s+you)?(\s+about)?",
    re.I,
)


def asks_overview(text: str) -> bool:
    """Whether `text` asks what the collection holds ("What are these articles about?", "List the
    articles", "what can I ask"), and nothing more."""
    plain = " ".join(text.strip().rstrip("?!. ").split())
    found = _ASKS.match(plain)
    return bool(found) and found.end() == len(plain)


def overview(index) -> tuple[list[Citation], list[Passage], str]:
    """The title of each article (at most MAX_TITLES, in the index's order) as citations, the first
    passage of each, and a notice saying how many articles there are."""
    docs = list(index.titles)
    wanted, firsts = set(docs[:MAX_TITLES]), {}
    for row, chunk in enumerate(index.chunks):
        if chunk.chunk_no == 0 and chunk.doc_id in wanted:
            firsts.setdefault(chunk.doc_id, (row, chunk))
            if len(firsts) == len(wanted):  # a large collection need not be read to its end
                break
    citations, passages = [], []
    for n, doc_id in enumerate(docs[:MAX_TITLES], start=1):
        row, chunk = firsts[doc_id]
        passage = Passage(row, doc_id, chunk.title, 0, chunk.start, chunk.end, chunk.text, 1.0)
        citations.append(citation(index, index.first_sentence_of(doc_id), passage, n, 1.0))
        passages.append(passage)
    shown = f"the first {len(citations)}" if len(docs) > len(citations) else "their"
    noun = "article" if len(docs) == 1 else "articles"
    return citations, passages, f"The collection holds {len(docs)} {noun}; {shown} titles:"
