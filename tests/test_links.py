"""`rag add --link`: files indexed in place through recorded links, and only those followed out of
the corpus folder. Real files and symlinks in temporary folders; index builds use the stand-in
HashEmbedder (the model is not the point here), so these are fast tests."""
import json
import os

import pytest
from test_documents import PDF_PAGES, make_pdf

import rag.indexing.build
from rag.cli import main
from rag.indexing.build import build
from rag.indexing.live import corpus_signature
from rag.indexing.store import load_index
from rag.ingest.corpus import load_corpus
from rag.ingest.intake import Limits
from rag.ingest.library import add_files, remove_articles
from rag.ingest.links import REGISTRY, read_links
from rag.settings import from_env
from tests.conftest import HashEmbedder

NOTES = "Harbour notes\n\nThe lighthouse was repainted red in May 2023.\n"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """(corpus folder, user's folder outside it) with one copied article; the CLI builds with HashEmbedder."""
    corpus, mine = tmp_path / "corpus", tmp_path / "mine"
    corpus.mkdir()
    mine.mkdir()
    (corpus / "report.txt").write_text("Harbour report\n\nThe harbour was dredged in April 2024 by a Dutch firm.\n")
    (mine / "notes.txt").write_text(NOTES)
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(rag.indexing.build, "get_embedder", lambda *a, **k: HashEmbedder())
    monkeypatch.setattr(rag.indexing.build, "resolve_model", lambda model: (None, HashEmbedder.model_id))  # build and ensure_index
    return corpus, mine


def run(capsys, *args):
    code = main(list(args))
    return code, capsys.readouterr().out


def test_link_indexes_in_place_lists_it_and_remove_keeps_the_file(env, capsys):
    corpus, mine = env
    make_pdf(mine / "water.pdf", PDF_PAGES)
    before = {p.name: p.read_bytes() for p in mine.iterdir()}

    code, out = run(capsys, "add", "--link", "--quiet", str(mine))
    assert code == 0, out
    assert f"linked {mine / 'notes.txt'} -> {corpus / 'notes.txt'} (indexed in place)" in out
    assert "2 added, 0 refused" in out and "embedded 3" in out
    assert (corpus / "water.pdf").is_symlink() and os.readlink(corpus / "water.pdf") == str((mine / "water.pdf").resolve())
    assert read_links(corpus) == {n: str((mine / n).resolve()) for n in ("notes.txt", "water.pdf")}

    code, out = run(capsys, "list", "--json")
    rows = {r["doc_id"]: r for r in json.loads(out)}
    assert rows["water"]["linked"] == str((mine / "water.pdf").resolve()) and rows["report"]["linked"] is None
    assert rows["water"]["format"] == "pdf" and rows["water"]["pages"] == 2 and rows["water"]["added"]
    code, out = run(capsys, "list")
    assert out.splitlines()[0].split() == ["id", "title", "format", "pages", "chunks", "added", "linked", "to"]
    assert str((mine / "notes.txt").resolve()) in out

    # The same file again, linked or copied, is a duplicate: refused, nothing written.
    code, out = run(capsys, "add", "--link", "--quiet", str(mine / "notes.txt"))
    assert code == 1 and "already in the collection as notes.txt" in out
    code, out = run(capsys, "remove", "--quiet", "notes", "water")
    assert code == 0 and "2 removed" in out
    assert sorted(p.name for p in corpus.iterdir()) == ["report.txt"]  # links and registry gone
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before  # the user's files untouched


def test_linked_files_pass_the_checks_copies_pass(env):
    corpus, mine = env
    (mine / "fake.pdf").write_bytes(b"PK\x03\x04 not a pdf")
    (mine / "big.txt").write_text("Big\n\n" + "word " * 400)
    (mine / ".hidden notes.md").write_text("Hidden notes\n\nThe ferry leaves at noon.\n")
    added = add_files([mine / "fake.pdf", mine / "big.txt", mine / ".hidden notes.md"], corpus,
                      Limits(article_bytes=1000), link=True)
    reasons = {p.name: r for p, r in added.refused}
    assert reasons["fake.pdf"].startswith("its content is a zip archive, not a PDF")
    assert reasons["big.txt"].startswith("too large")
    assert [d.name for _, d in added.linked] == ["hidden notes.md"]  # name cleaned: never a hidden file
    assert read_links(corpus) == {"hidden notes.md": str((mine / ".hidden notes.md").resolve())}


def test_a_link_that_cannot_be_made_is_refused_and_leaves_no_record(env, monkeypatch):
    corpus, mine = env

    def no_symlinks(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    added = add_files([mine / "notes.txt"], corpus, link=True)
    assert not added.linked and "add the file without --link to copy it" in added.refused[0][1]
    assert sorted(p.name for p in corpus.iterdir()) == ["report.txt"]


def test_only_links_rag_add_made_are_followed_out_of_the_corpus(env, tmp_path):
    corpus, mine = env
    (mine / "secret.txt").write_text("Secret\n\nNot for the index.\n")
    add_files([mine / "notes.txt"], corpus, link=True)
    os.symlink(mine / "secret.txt", corpus / "planted.txt")  # nobody recorded this one
    assert {a.doc_id for a in load_corpus(corpus).articles} == {"report", "notes"}

    # Retargeted behind the registry's back: the recorded name no longer makes it readable.
    (corpus / "notes.txt").unlink()
    os.symlink(mine / "secret.txt", corpus / "notes.txt")
    reasons = {s.path.name: s.reason for s in load_corpus(corpus).skipped}
    assert reasons["planted.txt"].startswith("symlink outside the corpus folder")
    assert reasons["notes.txt"].startswith("linked file changed place")

    # A registry entry for a link in a subfolder, or a damaged registry, grants nothing.
    (corpus / "sub").mkdir()
    os.symlink(mine / "secret.txt", corpus / "sub" / "s.txt")
    (corpus / REGISTRY).write_text(json.dumps({"links": {"s.txt": str(mine / "secret.txt")}}))
    assert {a.doc_id for a in load_corpus(corpus).articles} == {"report"}
    (corpus / REGISTRY).write_text("{not json")
    assert {a.doc_id for a in load_corpus(corpus).articles} == {"report"}


def test_a_linked_file_edited_or_deleted_where_it_lives_is_noticed(env):
    corpus, mine = env
    settings = from_env(env={}, corpus_dir=corpus, index_dir=corpus.parent / "index")
    add_files([mine / "notes.txt"], corpus, link=True)
    build(settings, progress=False, embedder=HashEmbedder())
    seen = corpus_signature(corpus)

    (mine / "notes.txt").write_text(NOTES.replace("red", "bright blue"))
    assert corpus_signature(corpus) != seen  # what rag/indexing/live.py polls
    build(settings, progress=False, embedder=HashEmbedder())
    assert "bright blue" in load_index(settings.index_dir).texts["notes"]

    seen = corpus_signature(corpus)
    (mine / "notes.txt").unlink()
    assert corpus_signature(corpus) != seen
    reasons = {s.path.name: s.reason for s in load_corpus(corpus).skipped}
    assert reasons["notes.txt"].startswith(f"linked file is gone: {(mine / 'notes.txt').resolve()}")
    build(settings, progress=False, embedder=HashEmbedder())
    index = load_index(settings.index_dir)
    assert index.article("notes") is None
    # No longer indexed, but its link is still removable by its id.
    assert remove_articles(index, corpus, ["notes"]) == [corpus.resolve() / "notes.txt"]
    assert sorted(p.name for p in corpus.iterdir()) == ["report.txt"]
