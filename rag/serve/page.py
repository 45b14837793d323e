"""HTML/Markdown for the chat page: answers, sources with the quoted sentence highlighted.

Every piece of article or user text goes through `escape` first, so nothing a user types or an
article contains is ever rendered as HTML or Markdown.
"""
from __future__ import annotations

from rag.answer.records import Answer, Citation
from rag.retrieval.retriever import Passage

# HTML and Markdown syntax characters, replaced by entities so they show as themselves.
_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#!|~$"}


def escape(text: str) -> str:
    """Text safe to drop into Markdown+HTML: shown exactly as typed, never interpreted."""
    return "".join(_ENTITIES.get(c, c) for c in text)


def highlight(passage: Passage, spans: list[tuple[int, int]]) -> str:
    """The passage text, escaped, with each (start, end) article span wrapped in <mark>."""
    text, base = passage.text, passage.start
    pieces, pos = [], 0
    for start, end in sorted(spans):
        s, e = max(start - base, pos), min(end - base, len(text))
        if s >= e:
            continue
        pieces.append(escape(text[pos:s]))
        pieces.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    pieces.append(escape(text[pos:]))
    return "".join(pieces)


def _passage_for(citation: Citation, passages: list[Passage]) -> Passage | None:
    for p in passages:
        if p.doc_id == citation.doc_id and p.start <= citation.start and citation.end <= p.end:
            return p
    return None


def answer_markdown(answer: Answer, show_scores: bool = False) -> str:
    """The answer bubble: quoted sentences with their [n] markers, or the abstention."""
    notice = f"_{escape(answer.notice)}_\n\n" if answer.notice else ""
    if answer.abstained:
        return notice + f"**{escape(answer.answer)}**"
    parts = []
    if answer.short_answer:
        parts.append(f"**{escape(answer.short_answer.text)}**")
    for c in answer.citations:
        score = f" <small>({c.score:.2f})</small>" if show_scores else ""
        parts.append(f"“{escape(c.text)}” <sup>[{c.n}]</sup>{score}")
    return notice + "\n\n".join(parts)


def _source_block(label: str, doc_id: str, start: int, end: int, score: float | None, body: str,
                  page: int | None = None) -> str:
    score_text = f" · score {score:.3f}" if score is not None else ""
    page_text = f" · p. {page}" if page is not None else ""
    return (
        f"<div class='rag-source'><b>{label}</b><br>"
        f"<code>{escape(doc_id)}</code>{page_text} · chars {start}–{end}{score_text}"
        f"<blockquote>{body}</blockquote></div>"
    )


def sources_html(answer: Answer, show_scores: bool = False) -> str:
    """One block per citation (or per closest passage when abstaining), quoted sentence marked."""
    if answer.abstained:
        return "\n".join(
            _source_block(escape(p.title), p.doc_id, p.start, p.end, p.score if show_scores else None, highlight(p, []))
            for p in answer.closest()
        )
    blocks = []
    for c in answer.citations:
        passage = c.passage or _passage_for(c, answer.passages)
        body = highlight(passage, [(c.start, c.end)]) if passage else f"<mark>{escape(c.text)}</mark>"
        label = f"[{c.n}] {escape(c.title)}"
        blocks.append(_source_block(label, c.doc_id, c.start, c.end, c.score if show_scores else None, body, c.page))
    return "\n".join(blocks)


def answer_messages(answer: Answer, show_scores: bool = False) -> list[dict]:
    """Chat messages for one answer: the answer, then a collapsible sources section."""
    messages = [{"role": "assistant", "content": answer_markdown(answer, show_scores)}]
    if answer.abstained and answer.passages:
        title = f"Closest passages ({len(answer.closest())})"
    elif answer.citations:
        title = f"Sources ({len(answer.citations)})"
    else:
        return messages
    messages.append(
        {"role": "assistant", "content": sources_html(answer, show_scores), "metadata": {"title": title, "status": "done"}}
    )
    return messages


def collection_markdown(titles: dict[str, str]) -> str:
    """A short description of what the articles cover."""
    lines = [f"**{len(titles)} articles** are searched. Answers are sentences quoted from them, with sources."]
    lines += [f"- {escape(t)}" for t in sorted(titles.values())]
    return "\n".join(lines)


def human_size(n: int | None) -> str:
    """A file size for people: 812 B, 14.2 KB, 3.1 MB; "-" when unknown."""
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "-"  # not reached


def articles_html(rows: list) -> str:
    """The Articles panel's table (rag.ingest.library.Listed rows): title, id, format, size, date added; escaped."""
    if not rows:
        return "<p class='rag-articles-empty'>No articles are indexed yet.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("Title", "Id", "Format", "Size", "Added"))
    body = []
    for r in rows:
        fmt = r.format.upper() + (f", {r.pages} page{'s' if r.pages != 1 else ''}" if r.pages else "")
        cells = (escape(r.title), f"<code>{escape(r.doc_id)}</code>", escape(fmt), human_size(r.size), escape(r.added or "-"))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<p>{len(rows)} article{'s' if len(rows) != 1 else ''}</p><table class='rag-articles'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
