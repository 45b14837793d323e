"""The page's Articles panel end to end: files go through the real server's upload route, the panel
(rag/serve/panel.py, what the page's events call) checks and adds them, the live index switches, and the
JSON API answers from the new article with its page; deleting takes it out of answers and /source.
The real model and a real server on loopback; the page's own wiring is driven in tests/test_browser.py."""
import zipfile
from pathlib import Path

import pytest
import requests
from test_documents import PDF_PAGES, make_pdf, make_zip_bomb

from rag.serve.panel import ArticlesPanel, Editing, editing_for

QUESTION = "How many new engineers did the water board hire?"


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry of `folder` (hidden ones too) with its size and mtime: what "nothing changed" compares."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def upload(url: str, files: dict[str, bytes]) -> list[str]:
    """POST files to Gradio's upload route as the page does; the paths the server stored them at."""
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files.items()]
    response = requests.post(f"{url}/gradio_api/upload", files=parts, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def ask(url: str, question: str) -> dict:
    response = requests.post(f"{url}/api/ask", json={"question": question}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def panel(library_server):
    """The panel as the page builds it, over the served Service."""
    import gradio as gr

    _, service = library_server
    return ArticlesPanel(service, Editing(True), Path(gr.utils.get_upload_folder()))


def test_upload_ask_with_page_then_delete(library_server, panel, tmp_path):
    url, service = library_server
    corpus = service.settings.corpus_dir
    make_pdf(tmp_path / "water.pdf", PDF_PAGES)
    disguised = tmp_path / "disguised.zip"
    with zipfile.ZipFile(disguised, "w") as z:
        z.writestr("readme.txt", "not a PDF")
    stored = upload(url, {"water.pdf": (tmp_path / "water.pdf").read_bytes(), "report.pdf": disguised.read_bytes()})

    steps = [v.status for v in panel.upload(stored)]
    assert steps[0].startswith("⏳ Checking 2 files") and "Indexing…" in steps[-2]
    assert "Added **water.pdf**" in steps[-1] and "✅ Indexed" in steps[-1]
    assert "Refused **report.pdf**: its content is a zip archive, not a PDF" in steps[-1]
    assert sorted(p.name for p in corpus.iterdir() if p.suffix == ".pdf") == ["water.pdf"]
    assert not any(Path(p).exists() for p in stored)  # the server's copies of the upload are gone

    view = panel.view()
    assert "Annual report of the Lakeside Water Board" in view.table and "PDF, 2 pages" in view.table
    assert ("Annual report of the Lakeside Water Board (water)", "water") in view.choices

    # The next question, straight after the upload, is answered from the new article, with its page.
    answer = ask(url, QUESTION)
    best = answer["citations"][0]
    assert best["doc_id"] == "water" and best["page"] == 2 and "37 new engineers" in best["text"]
    text = requests.get(f"{url}/api/articles/water", timeout=30).json()["text"]
    assert text[best["start"]:best["end"]] == best["text"]
    rows = {a["id"]: a for a in requests.get(f"{url}/api/articles", timeout=30).json()["articles"]}
    assert (rows["water"]["format"], rows["water"]["pages"]) == ("pdf", 2)  # as `rag list` shows it

    message, pending = panel.ask_delete(["water"])
    assert pending == ["water"] and message.startswith("Delete 1 article: **Annual report")
    assert (corpus / "water.pdf").exists()  # asking is not deleting

    steps = [v.status for v in panel.delete(pending)]
    assert "Deleted <code>water.pdf</code>" in steps[-1] and "✅ Removed" in steps[-1]
    assert not (corpus / "water.pdf").exists()
    assert requests.get(f"{url}/api/articles/water", timeout=30).status_code == 404
    assert "unknown article" in service.source_json("water")["error"]
    assert all(c["doc_id"] != "water" for c in ask(url, QUESTION)["citations"])
    assert "water" not in panel.view().table


def test_refused_uploads_change_nothing(library_server, panel, tmp_path):
    url, service = library_server
    corpus, index_dir = service.settings.corpus_dir, service.settings.index_dir
    make_zip_bomb(tmp_path / "bomb.docx")
    seed = next(corpus.glob("*.txt")).read_bytes()
    before, index_before = snapshot(corpus), snapshot(index_dir)
    stored = upload(url, {"bomb.docx": (tmp_path / "bomb.docx").read_bytes(),
                          "setup.pdf": b"MZ\x90\x00" + b"\x00" * 2000,  # a Windows program named .pdf
                          "copy.txt": seed,                             # an article already there
                          "sheet.xlsx": b"PK\x03\x04"})
    status = [v.status for v in panel.upload(stored)][-1]
    assert "zip bomb" in status and "a Windows program, not a PDF" in status
    assert "already in the collection as" in status and "unsupported extension: .xlsx" in status
    assert status.endswith("Nothing was added.")
    assert snapshot(corpus) == before and snapshot(index_dir) == index_before


def test_upload_route_holds_files_to_the_size_limit(library_server):
    url, _ = library_server
    over = requests.post(f"{url}/gradio_api/upload", files=[("files", ("big.pdf", b"%PDF-" + b"0" * 300_000))],
                         timeout=60)
    assert over.status_code == 413  # Gradio's per-file limit, set to max_upload_bytes (200 KB here)
    too_many = requests.post(f"{url}/gradio_api/upload", data=b"0" * 5_000_000,
                             headers={"Content-Type": "multipart/form-data; boundary=x"}, timeout=60)
    assert too_many.status_code == 413 and "at most" in too_many.json()["detail"]


def test_read_only_page_lists_without_upload_or_delete(library_service):
    import gradio as gr

    from rag.serve.server import build_app

    for editing in (editing_for(library_service.settings.replace(uploads=False), "127.0.0.1", False),
                    editing_for(library_service.settings, "0.0.0.0", False)):
        demo = build_app(library_service, editing)
        kinds = {type(b) for b in demo.blocks.values()}
        assert gr.File not in kinds and gr.Button not in kinds and gr.HTML in kinds
    assert "--auth" in editing.reason
    panel = ArticlesPanel(library_service, editing)
    assert "⛔" in [v.status for v in panel.upload(["/etc/hostname"])][-1]
    assert panel.ask_delete(["000_46a559f0544261a8"])[1] == []
    assert "⛔" in [v.status for v in panel.delete(["000_46a559f0544261a8"])][-1]
