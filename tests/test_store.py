import json
import logging

import numpy as np
import pytest

from rag.indexing.build import build, ensure_index
from rag.indexing.store import CURRENT, PARTIAL, IndexCorrupt, IndexMissing, live_folder, load_index
from rag.settings import from_env


@pytest.fixture
def settings(corpus_copy, tmp_path):
    return from_env(env={}, corpus_dir=corpus_copy, index_dir=tmp_path / "index")


def test_round_trip_and_up_to_date(settings):
    first = build(settings, progress=False)
    assert len(first.embedded_articles) == 5 and first.chunks > 5
    index = load_index(settings.index_dir)
    assert len(index.chunks) == first.chunks == index.vectors.ntotal
    assert index.manifest.counts.articles == 5
    assert np.allclose(np.linalg.norm(index.chunk_vectors, axis=1), 1.0, atol=1e-4)
    for chunk in index.chunks:
        text = (settings.corpus_dir / f"{chunk.doc_id}.txt").read_text(encoding="utf-8")
        assert text[chunk.start : chunk.end] == chunk.text
    again = build(settings, progress=False)
    assert again.embedded_articles == [] and again.folder == first.folder


def test_changing_one_article_re_embeds_only_it(settings):
    build(settings, progress=False)
    before = load_index(settings.index_dir)
    target = settings.corpus_dir / "002_c697df2783ecb75a.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nA new closing sentence about Serbia.\n", encoding="utf-8")
    (settings.corpus_dir / "004_f18814f87b6a3778.txt").unlink()
    report = build(settings, progress=False)
    assert report.embedded_articles == ["002_c697df2783ecb75a"]
    assert sorted(report.reused_articles) == ["000_46a559f0544261a8", "001_b514283cee207ec3", "003_4b5c9540a69ebcf9"]
    after = load_index(settings.index_dir)
    assert "004_f18814f87b6a3778" not in after.manifest.articles
    assert any("A new closing sentence about Serbia." in c.text for c in after.chunks)
    # Reused vectors are the very same numbers.
    old = {(c.doc_id, c.chunk_no): v for c, v in zip(before.chunks, before.chunk_vectors)}
    for c, v in zip(after.chunks, after.chunk_vectors):
        if c.doc_id == "000_46a559f0544261a8":
            assert np.array_equal(old[(c.doc_id, c.chunk_no)], v)


def test_missing_index_is_reported(tmp_path):
    with pytest.raises(IndexMissing, match="rag index"):
        load_index(tmp_path / "none")


@pytest.mark.parametrize("damage", ["truncate_vectors", "flip_chunks", "drop_manifest", "bad_pointer"])
def test_damaged_index_is_detected_then_rebuilt(settings, damage, caplog):
    build(settings, progress=False)
    folder = live_folder(settings.index_dir)
    if damage == "truncate_vectors":
        path = folder / "chunk_vectors.npy"
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "flip_chunks":
        path = folder / "chunks.json"
        rows = json.loads(path.read_text(encoding="utf-8"))
        rows[0]["text"] = "tampered"
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif damage == "drop_manifest":
        (folder / "manifest.json").unlink()
    else:
        (settings.index_dir / CURRENT).write_text("../../etc", encoding="utf-8")
    with pytest.raises(IndexCorrupt):
        load_index(settings.index_dir)
    caplog.set_level(logging.INFO, logger="rag")
    caplog.clear()
    index = ensure_index(settings, progress=False)
    assert any("damaged" in m for m in caplog.messages)
    assert index.chunks[0].text != "tampered" and len(index.manifest.articles) == 5


def test_leftover_partial_build_is_ignored_and_cleaned(settings):
    build(settings, progress=False)
    partial = settings.index_dir / f"{PARTIAL}gen-crashed"
    partial.mkdir()
    (partial / "chunks.json").write_text("[", encoding="utf-8")
    index = load_index(settings.index_dir)
    assert len(index.manifest.articles) == 5
    build(settings, progress=False, force=True)
    assert not partial.exists()


def test_corpus_without_usable_articles_is_a_clear_error(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("", encoding="utf-8")
    settings = from_env(env={}, corpus_dir=corpus, index_dir=tmp_path / "i")
    with pytest.raises(ValueError, match=r"no usable articles .*\(1 empty file\)"):
        build(settings, progress=False)


def test_the_manifest_reads_and_writes_back_byte_for_byte(settings):
    """The typed Manifest changes nothing on disk: format 2's keys, in their order, with their values."""
    from rag.indexing.manifest import Manifest

    build(settings, progress=False)
    raw = (live_folder(settings.index_dir) / "manifest.json").read_bytes()
    manifest = Manifest.from_json(json.loads(raw))
    assert json.dumps(manifest.to_json(), ensure_ascii=False, indent=1).encode("utf-8") == raw
    assert list(manifest.to_json()) == ["format", "created", "model_id", "dim", "chunker", "corpus_dir", "vector_index",
                                        "counts", "articles", "skipped", "files", "lexical"]
    entry = load_index(settings.index_dir).article("002_c697df2783ecb75a")
    assert entry.path == "002_c697df2783ecb75a.txt" and entry.chars > 0 and len(entry.sha256) == 64
    with pytest.raises(ValueError):
        Manifest.from_json({**json.loads(raw), "extra": 1})


def test_an_index_built_with_other_bm25_constants_is_rebuilt_keeping_its_vectors(settings, monkeypatch):
    """An index from before the BM25 constants changed (its manifest without them: bm25s's 1.5 and
    0.75) is stale; the rebuild keeps every vector and scores passages with today's constants."""
    from rag.indexing import lexical
    from rag.indexing.manifest import EARLIER_LEXICAL, lexical_settings, stale_reason

    monkeypatch.setattr("rag.indexing.build.lexical_settings", lambda: dict(EARLIER_LEXICAL))
    build(settings, progress=False)
    old = load_index(settings.index_dir)
    raw = json.loads((live_folder(settings.index_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert "lexical" not in raw  # written as before the key existed
    assert (old.lexical.bm25.k1, old.lexical.bm25.b) == (1.5, 0.75)
    monkeypatch.undo()
    from rag.ingest.corpus import load_corpus

    assert stale_reason(old.manifest, load_corpus(settings.corpus_dir), settings, old.manifest.model_id) == "BM25 settings changed"
    summary = build(settings, progress=False)
    new = load_index(settings.index_dir)
    assert new.manifest.lexical == lexical_settings() == {"bm25_k1": lexical.K1, "bm25_b": lexical.B, "accents": "folded"}
    assert (new.lexical.bm25.k1, new.lexical.bm25.b) == (lexical.K1, lexical.B) != (1.5, 0.75)
    assert np.array_equal(new.chunk_vectors, old.chunk_vectors)
    assert summary.embedded_articles == [] and len(summary.reused_articles) == 5
    question = lexical.terms("How many people attended the webinars?")
    assert not np.allclose(new.lexical.scores(question), old.lexical.scores(question))


def test_an_index_from_before_accent_folding_is_stale(settings):
    """BM25 terms are accent-folded now; an index whose manifest records only the BM25 constants
    was built without folding, and is rebuilt."""
    from rag.indexing.manifest import stale_reason
    from rag.ingest.corpus import load_corpus

    build(settings, progress=False)
    index = load_index(settings.index_dir)
    corpus = load_corpus(settings.corpus_dir)
    assert stale_reason(index.manifest, corpus, settings, index.manifest.model_id) is None
    index.manifest.lexical = {k: v for k, v in index.manifest.lexical.items() if k != "accents"}
    assert stale_reason(index.manifest, corpus, settings, index.manifest.model_id) == "BM25 settings changed"


def test_a_later_chunk_is_embedded_after_its_title_and_older_indexes_are_rebuilt(settings):
    """A later chunk is embedded as BM25 reads it, after its article's title; an index from before
    (its chunker settings without the rule) is stale."""
    import copy

    from rag.embedding.model import get_embedder
    from rag.indexing.manifest import stale_reason
    from rag.ingest.corpus import load_corpus

    build(settings, progress=False)
    index = load_index(settings.index_dir)
    later = [i for i, c in enumerate(index.chunks) if c.chunk_no]
    first = [i for i, c in enumerate(index.chunks) if not c.chunk_no]
    assert later and first
    embedder = get_embedder()
    read = embedder.encode([f"{index.chunks[i].title}\n{index.chunks[i].text}" for i in later])
    assert np.min(np.sum(read * index.chunk_vectors[later], axis=1)) > 0.9999
    alone = embedder.encode([index.chunks[i].text for i in later])
    assert np.max(np.sum(alone * index.chunk_vectors[later], axis=1)) < 0.999
    own = embedder.encode([index.chunks[i].text for i in first])  # the first chunk opens with the title
    assert np.min(np.sum(own * index.chunk_vectors[first], axis=1)) > 0.9999
    before = copy.deepcopy(index.manifest)
    del before.chunker["passage_title"]
    assert stale_reason(before, load_corpus(settings.corpus_dir), settings, before.model_id) == "chunking settings changed"


def test_chunks_fit_the_model_window_with_the_title_they_are_read_after(corpus_copy):
    """The window check counts the title a later chunk is embedded after: with a window the chunk
    text alone would fit, the budget shrinks until title and text fit together."""
    from rag.indexing.build import Reuse, chunk_corpus
    from rag.ingest.corpus import load_corpus
    from tests.conftest import HashEmbedder

    class Window(HashEmbedder):
        max_tokens = 40

    article = corpus_copy / "002_c697df2783ecb75a.txt"
    text = article.read_text(encoding="utf-8")
    article.write_text("A long title of fifteen words that every later chunk carries before its own text\n"
                       + text.split("\n", 1)[1], encoding="utf-8")
    settings = from_env(env={}, corpus_dir=corpus_copy, chunk_tokens=40)
    embedder = Window()
    rows = chunk_corpus(load_corpus(corpus_copy), Reuse(), settings, embedder)
    later = [c for c in rows.chunks if c.chunk_no]
    assert later
    assert all(embedder.count_tokens(c.passage) <= 40 for c in rows.chunks)
