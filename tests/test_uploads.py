"""The checks a new file passes before anything is written (rag/ingest/library.py, shared by the page's
uploads and `rag add`), the settings that turn uploads off, and the server's upload route limits.
Real files made by the libraries that write them (tests/test_documents.py's helpers); no model."""
import asyncio
import json
import zipfile
from pathlib import Path

import pytest
from test_documents import DOCX_PARAGRAPHS, PDF_PAGES, make_docx, make_pdf, make_zip_bomb

from rag.ingest.corpus import read_article
from rag.ingest.intake import Limits, check_content, clean_name, content_kind
from rag.ingest.library import Listed, add_named, place
from rag.serve.guard import RequestLimit
from rag.serve.page import articles_html, human_size
from rag.serve.panel import editing_for
from rag.settings import from_env
from tests.conftest import XSS


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry of `folder` (hidden ones too) with size and mtime: what "nothing changed" compares."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def files(tmp_path):
    """Real documents, and a corpus folder holding one article, `report.txt`."""
    src = tmp_path / "src"
    src.mkdir()
    make_pdf(src / "water.pdf", PDF_PAGES)
    make_docx(src / "library.docx", DOCX_PARAGRAPHS)
    make_zip_bomb(src / "bomb.docx")
    with zipfile.ZipFile(src / "archive.zip", "w") as z:
        z.writestr("notes.txt", "a zip, not a Word document")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.txt").write_text("Harbour report\n\nThe harbour was dredged in April 2024 by a Dutch firm.\n")
    return src, corpus


def test_content_decides_the_type_not_the_extension(files):
    src, _ = files
    pdf, docx, archive = [(src / n).read_bytes() for n in ("water.pdf", "library.docx", "archive.zip")]
    assert [content_kind(b) for b in (pdf, docx, archive)] == ["pdf", "docx", "zip"]
    assert content_kind(b"MZ\x90\x00" + b"\x00" * 100) == "exe" and content_kind(b"\x7fELF\x02\x01") == "elf"
    assert content_kind("Title\n\nBody with ünïcode.".encode()) == "text" and content_kind(b"\x00\x01\x02" * 50) == "binary"
    check_content(pdf, ".pdf")
    check_content(docx, ".docx")
    check_content(b"<html><body><p>Hi</p></body></html>", ".html")
    for raw, suffix, said in [(archive, ".pdf", "a zip archive, not a PDF"), (archive, ".docx", "a zip archive, not a Word"),
                              (pdf, ".docx", "a PDF, not a Word document"), (docx, ".txt", "a Word document, not text"),
                              (b"\x7fELF" + b"\x00" * 64, ".pdf", "a Linux program, not a PDF"),
                              (b"plain words", ".pdf", "text, not a PDF"), (pdf, ".html", "a PDF, not text")]:
        with pytest.raises(ValueError, match=said):
            check_content(raw, suffix)


def test_names_are_bare_visible_and_never_overwrite(tmp_path):
    assert clean_name(".hidden.pdf") == "hidden.pdf" and clean_name("  report\t.pdf ") == "report.pdf"
    assert len(clean_name("x" * 300 + ".pdf")) == 200 and clean_name("x" * 300 + ".pdf").endswith(".pdf")
    for bad in ["../../etc/passwd.txt", "..", "a/b.pdf", "..\\evil.pdf", "/abs.txt", "..."]:
        with pytest.raises(ValueError, match="path parts|empty"):
            clean_name(bad)
    (tmp_path / "source.txt").write_text("Body\n\nText.")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("taken")
    first = place(tmp_path / "source.txt", tmp_path / "c", "a.txt")
    second = place(tmp_path / "source.txt", tmp_path / "c", "a.md")  # `a` is an id already taken
    assert [first.name, second.name] == ["a-2.txt", "a-3.md"]
    assert (tmp_path / "c" / "a.txt").read_text() == "taken"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["a-2.txt", "a-3.md", "a.txt"]  # no temporary left


def test_refused_files_write_nothing_and_say_why(files):
    src, corpus = files
    (src / "setup.pdf").write_bytes(b"MZ\x90\x00" + b"\x00" * 2000)
    (src / "fake.docx").write_bytes((src / "archive.zip").read_bytes())
    (src / "copy.txt").write_bytes((corpus / "report.txt").read_bytes())
    before = snapshot(corpus)
    added = add_named([(src / "bomb.docx", "bomb.docx"), (src / "setup.pdf", "setup.pdf"),
                       (src / "fake.docx", "fake.docx"), (src / "water.pdf", "../../water.pdf"),
                       (src / "water.pdf", "water.exe"), (src / "copy.txt", "copy.txt")], corpus, Limits())
    big = add_named([(src / "water.pdf", "big.pdf")], corpus, Limits(file_bytes=1000))
    reasons = [reason for _, reason in added.refused + big.refused]
    assert added.copied == big.copied == [] and snapshot(corpus) == before
    assert "zip bomb" in reasons[0]
    assert "a Windows program, not a PDF" in reasons[1]
    assert "a zip archive, not a Word document" in reasons[2]
    assert "path parts" in reasons[3]
    assert "unsupported extension: .exe" in reasons[4]
    assert reasons[5] == "already in the collection as report.txt"
    assert reasons[6].startswith("too large (") and "the limit is 1,000, setting max_upload_bytes" in reasons[6]


def test_accepted_files_are_renamed_on_collision_and_hidden_names_shown(files):
    src, corpus = files
    make_pdf(src / "report.pdf", PDF_PAGES)  # the id `report` is taken by report.txt
    added = add_named([(src / "report.pdf", "report.pdf"), (src / "library.docx", ".library.docx")], corpus, Limits())
    assert [dest.name for _, dest in added.copied] == ["report-2.pdf", "library.docx"] and added.refused == []
    assert (corpus / "report-2.pdf").read_bytes() == (src / "report.pdf").read_bytes()
    again = add_named([(src / "report.pdf", "other.pdf")], corpus, Limits())
    assert again.refused[0][1] == "already in the collection as report-2.pdf"


def test_documents_may_be_larger_files_than_their_text(files):
    src, _ = files
    size = (src / "water.pdf").stat().st_size
    article = read_article(src / "water.pdf", "water", max_bytes=size - 1, max_file_bytes=size)
    assert article.format == "pdf" and len(article.pages) == 2
    with pytest.raises(ValueError, match="setting max_upload_bytes"):
        read_article(src / "water.pdf", "water", max_bytes=10**6, max_file_bytes=size - 1)
    with pytest.raises(ValueError, match="its text is over 100 bytes"):
        read_article(src / "water.pdf", "water", max_bytes=100, max_file_bytes=size)


def test_settings_turn_uploads_off_and_set_the_limit():
    assert from_env(env={}).uploads is True and from_env(env={}).max_upload_bytes == 50_000_000
    s = from_env(env={"RAG_UPLOADS": "off", "RAG_MAX_UPLOAD_BYTES": "1000"})
    assert s.uploads is False and s.max_upload_bytes == 1000
    assert from_env(env={"RAG_UPLOADS": "On"}).uploads is True
    with pytest.raises(ValueError, match="RAG_UPLOADS='maybe' is not on or off"):
        from_env(env={"RAG_UPLOADS": "maybe"})
    with pytest.raises(ValueError, match="max_upload_bytes"):
        from_env(env={"RAG_MAX_UPLOAD_BYTES": "0"})


def test_uploads_need_a_login_off_loopback():
    on = from_env(env={})
    assert editing_for(on, "127.0.0.1", False).allowed and editing_for(on, "::1", False).allowed
    assert editing_for(on, "0.0.0.0", True).allowed
    off = editing_for(on, "0.0.0.0", False)
    assert not off.allowed and "0.0.0.0 without a login" in off.reason and "--auth" in off.reason
    read_only = editing_for(on.replace(uploads=False), "127.0.0.1", True)
    assert not read_only.allowed and "RAG_UPLOADS=off" in read_only.reason


def call(limit: RequestLimit, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict | None]:
    """One request through the middleware: (status, JSON detail or None when it was passed on)."""
    sent: list[dict] = []
    reached: list[bool] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    async def downstream(scope, receive, send):
        reached.append(True)

    limit.app = downstream
    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(limit(scope, receive, send))
    if reached:
        return 200, None
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_upload_route_is_refused_or_bounded():
    off, on = RequestLimit(None), RequestLimit(None, upload_bytes=10_000)
    assert call(off, "/gradio_api/upload", {"content-length": "10"}) == (404, {"detail": "This server accepts no uploads."})
    assert call(on, "/gradio_api/upload", {"content-length": "9000"}) == (200, None)
    status, detail = call(on, "/gradio_api/upload", {"content-length": "10001"})
    assert status == 413 and "at most 10,000 bytes" in detail["detail"]
    assert call(on, "/gradio_api/upload", {"transfer-encoding": "chunked"})[0] == 411
    assert call(on, "/gradio_api/upload", {"content-length": "x"})[0] == 400
    # Other routes keep the small body limit when uploads are on.
    assert call(on, "/gradio_api/queue/join", {"content-length": str(300 * 1024)})[0] == 413


def test_articles_table_escapes_titles():
    rows = [Listed("a/<b>", XSS, "pdf", 2, 3, "2026-01-02", 14_200), Listed("t", "Plain", "txt", None, 1, None, None)]
    html = articles_html(rows)
    assert "<img" not in html and "&#60;img src=x onerror=alert&#40;1&#41;&#62;" in html
    assert "PDF, 2 pages" in html and "14.2 KB" in html and "<td>-</td>" in html and html.startswith("<p>2 articles")
    assert articles_html([]).startswith("<p class='rag-articles-empty'>")
    assert [human_size(n) for n in (0, 999, 1000, 2_500_000, 50_000_000_000)] == ["0 B", "999 B", "1.0 KB", "2.5 MB",
                                                                                 "50000.0 MB"]
