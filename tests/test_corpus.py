import os

import pytest

from rag.ingest.corpus import decode, load_corpus, read_article
from tests.conftest import SEEDS


def test_seeds_load_with_titles_and_no_boilerplate():
    corpus = load_corpus(SEEDS)
    ids = [a.doc_id for a in corpus.articles]
    assert ids == sorted(p.stem for p in SEEDS.glob("*.txt"))
    for a in corpus.articles:
        assert a.title == a.text.splitlines()[0].strip()
        assert a.text[a.title_start : a.title_end] == a.title
        for junk in ("Main areas of activities", "Leave a Reply", "Required fields are marked", "Last updated"):
            assert junk not in a.body
    by_id = {a.doc_id: a for a in corpus.articles}
    assert by_id["002_c697df2783ecb75a"].date == "June 26, 2025, 16:39"
    assert by_id["000_46a559f0544261a8"].body.endswith("available\xa0here.")


def test_decoding_utf16_latin1_and_binary():
    assert decode("Título\n\nCafé".encode("utf-16")) == ("Título\n\nCafé", "utf-16")
    assert decode("Café crème".encode("latin-1"))[0] == "Café crème"
    assert decode(b"\xef\xbb\xbfHi")[0] == "Hi"
    with pytest.raises(ValueError, match="binary"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_bad_files_are_skipped_with_reasons(tmp_path):
    corpus_dir = tmp_path / "c"
    corpus_dir.mkdir()
    (corpus_dir / "good.txt").write_text("Title\n\nA body sentence here.", encoding="utf-8")
    (corpus_dir / "copy of good.txt").write_text("Title\n\nA body sentence here.", encoding="utf-8")
    (corpus_dir / "empty.txt").write_text("", encoding="utf-8")
    (corpus_dir / "title_only.txt").write_text("Just a title\n\n", encoding="utf-8")
    (corpus_dir / "image.txt").write_bytes(b"\x89PNG\x00\x00\x00binary")
    (corpus_dir / "notes.odt").write_bytes(b"PK\x03\x04")
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\nDo not index me.", encoding="utf-8")
    os.symlink(outside, corpus_dir / "link.txt")
    (corpus_dir / "ünïcode name.md").write_text("Título\n\nCuerpo del artículo.", encoding="utf-8")
    corpus = load_corpus(corpus_dir)
    # Files are read in name order, so the copy is kept and the second name is the duplicate.
    assert sorted(a.doc_id for a in corpus.articles) == ["copy of good", "ünïcode name"]
    reasons = {s.path.name: s.reason for s in corpus.skipped}
    assert reasons["good.txt"] == "duplicate: same content as copy of good"
    assert reasons["empty.txt"] == "empty file"
    assert reasons["title_only.txt"].startswith("title only")
    assert reasons["image.txt"].startswith("binary")
    assert reasons["notes.odt"].startswith("unsupported extension")
    assert reasons["link.txt"].startswith("symlink outside")
    assert "2 article(s) indexed, 6 skipped" in corpus.summary()


def test_missing_corpus_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")


def test_offsets_survive_latin1(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("Títle\n\nCafé is good. It is.".encode("latin-1"))
    a = read_article(path, "a")
    assert a.encoding == "cp1252" and a.title == "Títle" and a.body == "Café is good. It is."
