"""Text out of PDF, HTML and DOCX files: one function per format, each a well-kept library.

Each returns an `Extracted`: the text the index stores (citations' offsets point into it, so it is
built here once and never re-derived), with the title on its first line and, for PDFs, where each
page starts in it. A file that cannot give text raises ValueError with a one-line reason, which
the corpus reader turns into a skipped file.

Libraries: pypdf (BSD-3) for a PDF's text layer, trafilatura (Apache-2.0) for an HTML page's main
text and title without navigation or boilerplate, python-docx (MIT) for a Word document's
paragraphs and headings.
"""
from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass

# Suffix -> format name; .txt and .md are read by rag.ingest.corpus as they are.
FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".docx": "docx"}
# A DOCX is a zip: refuse one that would unpack to more than this or that is compressed suspiciously well.
MAX_UNZIPPED_BYTES = 200_000_000
MAX_ZIP_RATIO = 200

# Ends of a PDF line after which the next line starts a new paragraph.
_LINE_END = re.compile(r"[.!?:;\"”')\]]\s*$")


@dataclass(frozen=True)
class Extracted:
    """A document's text as indexed; `pages[i]` is where page i+1 starts in `text` (PDFs only)."""

    text: str
    format: str
    pages: list[int] | None = None


def extract(raw: bytes, suffix: str) -> Extracted:
    """The text of a document of the format `suffix` names; ValueError with a reason when there is none."""
    kind = FORMATS.get(suffix.lower())
    if kind == "pdf":
        return extract_pdf(raw)
    if kind == "html":
        return extract_html(raw)
    if kind == "docx":
        return extract_docx(raw)
    raise ValueError(f"unsupported extension: {suffix or '(none)'}")


def _with_title(title: str | None, paragraphs: list[str]) -> str:
    """Paragraphs joined by blank lines, the title first unless the text already opens with it."""
    text = "\n\n".join(p for p in paragraphs if p)
    title = " ".join((title or "").split())
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}" if text else title
    return text


def _unwrap(page_text: str) -> str:
    """A PDF page's lines rejoined into paragraphs: pdf text layers break every printed line,
    and sentences are split per line (rag.indexing.sentences), so a line that does not end a sentence is
    joined to the next when that one continues it (lower case or a digit) or the line is long."""
    lines = [" ".join(line.split()) for line in page_text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        if out and not _LINE_END.search(out[-1]) and (line[0].islower() or line[0].isdigit() or len(out[-1]) >= 60):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(out)


def extract_pdf(raw: bytes) -> Extracted:
    """A PDF's text layer, page by page, pages separated by a blank line; no text layer: ValueError."""
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files warn per object; the skip reason says it once
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("encrypted PDF (a password is needed)")
        pages = [_unwrap(page.extract_text() or "") for page in reader.pages]
    except ValueError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files; any of them means "unreadable"
        raise ValueError(f"unreadable PDF: {type(exc).__name__}: {exc}".split("\n")[0]) from None
    text, starts = "", []
    for page in pages:
        if text and page:
            text += "\n\n"
        starts.append(len(text))  # an empty page starts where the next one does
        text += page
    if not text.strip():
        raise ValueError("no text layer (a scanned PDF?): OCR is not supported")
    return Extracted(text, "pdf", starts)


def extract_html(raw: bytes) -> Extracted:
    """An HTML page's main text (no navigation, scripts or footer) under the page's title."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    try:
        doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False, include_tables=True)
    except Exception as exc:  # lxml and trafilatura raise several kinds on malformed input
        raise ValueError(f"unreadable HTML: {type(exc).__name__}: {exc}".split("\n")[0]) from None
    body = getattr(doc, "text", None) if doc is not None else None
    if not body or not body.strip():
        raise ValueError("no main text found in the HTML page")
    paragraphs = [" ".join(line.split()) for line in body.splitlines()]
    return Extracted(_with_title(getattr(doc, "title", None), paragraphs), "html")


def _check_zip(raw: bytes) -> None:
    """Refuse a zip that would unpack far beyond its size (a zip bomb) before anything unpacks it."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            total = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"unreadable DOCX (not a zip file: {exc})") from None
    if total > MAX_UNZIPPED_BYTES or total > MAX_ZIP_RATIO * max(len(raw), 1):
        raise ValueError(f"refused DOCX: it would unpack to {total:,} bytes from {len(raw):,} (a zip bomb?)")


def extract_docx(raw: bytes) -> Extracted:
    """A Word document's paragraphs and headings, in order, each its own paragraph; title from its properties."""
    import docx

    _check_zip(raw)
    try:
        document = docx.Document(io.BytesIO(raw))
        title = document.core_properties.title
        paragraphs = [" ".join(p.text.split()) for p in document.paragraphs]
    except Exception as exc:  # python-docx raises KeyError, PackageNotFoundError, lxml errors...
        raise ValueError(f"unreadable DOCX: {type(exc).__name__}: {exc}".split("\n")[0]) from None
    text = _with_title(title, paragraphs)
    if not text.strip():
        raise ValueError("empty document")
    return Extracted(text, "docx")
