"""`rag add`, `rag list` and `rag remove` on a temporary corpus: copies that never overwrite, refused
files that change nothing, and an index updated incrementally after each."""
import json

import pytest
from test_documents import DOCX_PARAGRAPHS, PDF_PAGES, make_docx, make_pdf, make_scanned_pdf

from rag.cli import main
from rag.ingest.library import free_name


def test_free_name_never_overwrites_or_takes_an_id(tmp_path):
    (tmp_path / "report.txt").write_text("x")
    (tmp_path / "notes.pdf").write_text("x")
    assert free_name(tmp_path, "report.pdf").name == "report-2.pdf"  # `report` is taken as an id
    assert free_name(tmp_path, "notes.pdf").name == "notes-2.pdf"
    assert free_name(tmp_path, ".hidden.pdf").name == "hidden.pdf"
    assert free_name(tmp_path, "new.docx").name == "new.docx"


@pytest.fixture
def env(tmp_path, monkeypatch):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "report.txt").write_text("Harbour report\n\nThe harbour was dredged in April 2024 by a Dutch firm.\n")
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    return corpus


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr().out
    return code, out


def test_add_list_remove_round_trip(env, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    make_pdf(src / "report.pdf", PDF_PAGES)  # the id `report` is taken: copied as report-2.pdf
    make_docx(src / "library.docx", DOCX_PARAGRAPHS)
    make_scanned_pdf(src / "scan.pdf")
    (src / "sheet.xlsx").write_bytes(b"PK\x03\x04")

    code, out = run(capsys, "index", "--quiet")
    assert code == 0
    code, out = run(capsys, "add", "--quiet", str(src), str(src / "sheet.xlsx"))
    assert code == 0, out
    assert sorted(p.name for p in env.iterdir()) == ["library.docx", "report-2.pdf", "report.txt"]
    assert "refused" in out and "scan.pdf: no text layer" in out and "sheet.xlsx: unsupported extension" in out
    assert "embedded 2, reused 1" in out  # the article already indexed is not embedded again
    assert "2 added, 2 refused" in out

    code, out = run(capsys, "list", "--json")
    rows = {r["doc_id"]: r for r in json.loads(out)}
    assert set(rows) == {"report", "report-2", "library"}
    assert rows["report-2"]["format"] == "pdf" and rows["report-2"]["pages"] == 2
    assert rows["library"]["format"] == "docx" and rows["report"]["format"] == "txt"
    assert all(r["chunks"] >= 1 and r["added"] for r in rows.values())
    code, out = run(capsys, "list")
    assert out.splitlines()[0].split() == ["id", "title", "format", "pages", "chunks", "added"]

    code, out = run(capsys, "ask", "How many new engineers did the water board hire?")
    assert "(report-2, p. 2, chars" in out

    # An unknown id refuses the whole command: nothing is deleted.
    assert main(["remove", "report-2", "nothere"]) == 1
    assert (env / "report-2.pdf").exists()
    code, out = run(capsys, "remove", "--quiet", "report-2")
    assert code == 0 and not (env / "report-2.pdf").exists()
    assert "embedded 0, reused 2" in out and "1 removed" in out
    code, out = run(capsys, "list", "--json")
    assert {r["doc_id"] for r in json.loads(out)} == {"report", "library"}


def test_add_refuses_a_copy_of_an_article_already_there(env, capsys):
    code, out = run(capsys, "add", "--quiet", str(env / "report.txt"))
    assert code == 1 and "already in the collection as report.txt" in out
    assert [p.name for p in env.iterdir()] == ["report.txt"]
