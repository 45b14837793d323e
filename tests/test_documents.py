"""PDF, HTML and DOCX articles: real files written by the libraries that make them, indexed, asked
about and cited with exact spans (and the page, for PDFs); files that give no text are skipped."""
import zipfile
from pathlib import Path

import pytest

from rag.ingest.corpus import load_corpus
from rag.ingest.documents import extract_docx, extract_html, extract_pdf
from rag.settings import from_env

PDF_PAGES = [
    ["Annual report of the Lakeside Water Board",
     "The Lakeside Water Board met in Oslo in January 2025.",
     "The board approved a budget for new pipes in the northern district."],
    ["Staffing",
     "The board hired 37 new engineers during the spring of 2025.",
     "Most of the engineers work on leak detection in old neighbourhoods."],
]
HTML = """<!doctype html><html><head><title>Harbour festival returns | City News</title>
<script>window.tracking = "do not index me";</script></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav>
<main><article><h1>Harbour festival returns</h1>
<p>The harbour festival returned to Bergen on 14 June 2025 after a five-year pause.</p>
<p>About 12,000 visitors watched the tall ships sail into the harbour on the first evening.</p>
<p>The organisers said the festival will be held again next summer with a larger market.</p>
</article></main>
<footer><p>Copyright 2025 City News. All rights reserved. Cookie settings.</p></footer></body></html>"""
DOCX_PARAGRAPHS = [
    ("heading", "Library renovation plan"),
    ("text", "The central library in Tromsø will close for renovation in March 2026."),
    ("heading", "Costs"),
    ("text", "The renovation is expected to cost 48 million kroner and last fourteen months."),
]


def make_pdf(path: Path, pages: list[list[str]]) -> None:
    """A real PDF with a text layer, one page per list of lines (reportlab)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        y = 800
        for line in lines:
            c.drawString(72, y, line)
            y -= 40
        c.showPage()
    c.save()


def make_scanned_pdf(path: Path) -> None:
    """A PDF whose page is only a picture of text (no text layer), like a scan."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for x in range(72, 400, 12):  # strokes where letters would be
        c.rect(x, 780, 8, 14, fill=1)
    c.showPage()
    c.save()


def make_docx(path: Path, paragraphs, title: str | None = None) -> None:
    """A real Word document with headings and paragraphs (python-docx)."""
    import docx

    d = docx.Document()
    if title:
        d.core_properties.title = title
    for kind, text in paragraphs:
        if kind == "heading":
            d.add_heading(text, level=1)
        else:
            d.add_paragraph(text)
    d.save(str(path))


def make_zip_bomb(path: Path) -> None:
    """A .docx that is a zip of 20 MB of zeros (a few KB on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * 20_000_000)


def test_pdf_text_per_page_with_page_starts(tmp_path):
    make_pdf(tmp_path / "r.pdf", PDF_PAGES)
    doc = extract_pdf((tmp_path / "r.pdf").read_bytes())
    assert doc.format == "pdf" and len(doc.pages) == 2 and doc.pages[0] == 0
    assert doc.text[doc.pages[1]:].startswith("Staffing")
    assert doc.text[: doc.pages[1]].endswith("\n\n")
    assert "37 new engineers" in doc.text[doc.pages[1]:]


def test_html_main_text_without_navigation_scripts_or_footer():
    doc = extract_html(HTML.encode())
    assert doc.text.splitlines()[0] == "Harbour festival returns"
    assert "12,000 visitors" in doc.text
    for noise in ("Sport", "Weather", "tracking", "Cookie"):
        assert noise not in doc.text


def test_docx_paragraphs_and_headings_in_order(tmp_path):
    make_docx(tmp_path / "d.docx", DOCX_PARAGRAPHS)
    doc = extract_docx((tmp_path / "d.docx").read_bytes())
    assert doc.text.split("\n\n") == [t for _, t in DOCX_PARAGRAPHS]


def test_bad_documents_are_skipped_with_reasons(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    make_scanned_pdf(corpus / "scan.pdf")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    (corpus / "notapdf.pdf").write_bytes(b"hello, I am text pretending to be a PDF")
    make_zip_bomb(corpus / "bomb.docx")
    (corpus / "junk.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (corpus / "empty.html").write_text("<html><head><script>var a = 1;</script></head><body><div></div></body></html>")
    (corpus / "ok.txt").write_text("A title\n\nA body sentence.")
    result = load_corpus(corpus)
    assert [a.path.name for a in result.articles] == ["ok.txt"]
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert "no text layer" in reasons["scan.pdf"]
    assert "unreadable PDF" in reasons["broken.pdf"] and "unreadable PDF" in reasons["notapdf.pdf"]
    assert "zip bomb" in reasons["bomb.docx"]
    assert "unreadable DOCX" in reasons["junk.docx"]
    assert "no main text" in reasons["empty.html"]


def test_document_over_the_size_limit_is_skipped(tmp_path):
    make_pdf(tmp_path / "r.pdf", PDF_PAGES)
    result = load_corpus(tmp_path, max_bytes=500)
    assert not result.articles and "too large" in result.skipped[0].reason


@pytest.fixture(scope="module")
def document_assistant(tmp_path_factory):
    """An assistant over a small corpus of one PDF, one HTML page and one Word document."""
    from rag.assistant import Assistant

    corpus = tmp_path_factory.mktemp("docs")
    make_pdf(corpus / "water.pdf", PDF_PAGES)
    (corpus / "festival.html").write_text(HTML, encoding="utf-8")
    make_docx(corpus / "library.docx", DOCX_PARAGRAPHS)
    settings = from_env(env={}, corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("docs-index"))
    return Assistant(settings, progress=False)


@pytest.mark.parametrize("question, doc_id, quoted, page", [
    ("How many new engineers did the water board hire?", "water", "37 new engineers", 2),
    ("Where did the Lakeside Water Board meet?", "water", "Oslo", 1),
    ("How many visitors watched the tall ships?", "festival", "12,000 visitors", None),
    ("How much will the library renovation cost?", "library", "48 million kroner", None),
])
def test_each_format_is_answered_with_exact_citations(document_assistant, question, doc_id, quoted, page):
    index = document_assistant.index
    answer = document_assistant.ask(question)
    assert not answer.abstained, question
    best = [c for c in answer.citations if not c.context][0]
    assert best.doc_id == doc_id and quoted in best.text
    for c in answer.citations:
        stored = index.texts[c.doc_id]
        assert c.text == stored[c.start:c.end]
    assert best.page == page
    assert answer.to_dict()["citations"][0]["page"] == answer.citations[0].page


def test_manifest_records_format_and_pages(document_assistant):
    articles = document_assistant.index.manifest.articles
    assert {d: a.format for d, a in articles.items()} == {"water": "pdf", "festival": "html", "library": "docx"}
    assert len(articles["water"].pages) == 2 and articles["festival"].pages is None
    assert "pages" not in articles["festival"].to_json()  # plain entries keep format 2's keys


def test_manifest_entries_written_before_formats_still_read():
    from rag.indexing.manifest import ArticleEntry

    old = {"title": "T", "path": "a.txt", "sha256": "0" * 64, "date": None, "encoding": "utf-8", "chars": 10}
    entry = ArticleEntry.from_json(old)
    assert entry.format == "text" and entry.pages is None and entry.page_of(5) is None
    assert entry.to_json() == old  # read and written again: the same JSON
    pdf = ArticleEntry.from_json({**old, "format": "pdf", "pages": [0, 40, 40, 90]})
    assert [pdf.page_of(i) for i in (0, 39, 40, 89, 90, 200)] == [1, 1, 3, 3, 4, 4]
    with pytest.raises(ValueError):
        ArticleEntry.from_json({**old, "colour": "red"})
