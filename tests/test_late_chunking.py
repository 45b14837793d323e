"""Late chunking (RAG_SENTENCE_VECTORS=pooled): sentence vectors pooled from the chunk pass.

Uses the real bundled model (small: a seeds index builds in about two seconds), since what is
checked is how its token embeddings are pooled."""
import numpy as np
import pytest

from rag.embedding.model import get_embedder, pool_spans
from rag.indexing.build import Reuse, build, chunk_corpus, late_chunk_vectors
from rag.indexing.manifest import stale_reason
from rag.indexing.store import load_index
from rag.ingest.corpus import load_corpus
from rag.settings import from_env
from tests.conftest import SEEDS, HashEmbedder


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture(scope="module")
def pooled(tmp_path_factory, embedder):
    """(settings, index) of the seeds built with pooled sentence vectors."""
    settings = from_env(env={}, corpus_dir=SEEDS, index_dir=tmp_path_factory.mktemp("pooled"), sentence_vectors="pooled")
    build(settings, progress=False, embedder=embedder)
    return settings, load_index(settings.index_dir)


def test_every_sentence_gets_a_unit_vector_and_chunks_keep_theirs(pooled, embedder):
    _, index = pooled
    assert len(index.sentence_vectors) == len(index.sentences) > 0
    assert np.allclose(np.linalg.norm(index.sentence_vectors, axis=1), 1.0, atol=1e-5)
    # The chunk pass is the usual encoding: chunk vectors are what `encode` gives for what the
    # model reads of a chunk (a later one after its article's title).
    separate = embedder.encode([c.passage for c in index.chunks])
    assert np.min(np.sum(separate * index.chunk_vectors, axis=1)) > 0.9999
    # Pooled vectors describe the same sentence as its own encoding, though not equal to it.
    own = embedder.encode([s.text for s in index.sentences])
    cos = np.sum(own * index.sentence_vectors, axis=1)
    assert cos.mean() > 0.7 and cos.min() > 0.3


def test_pooled_matches_a_hand_computed_mean_of_token_embeddings(embedder):
    text = "The webinar took place in Astana. About 120 people attended it online."
    second = (text.index("About"), len(text))
    _, pooled_spans = embedder.encode_spans([text], [[(0, second[0] - 1), second]])
    # By hand: the model's token embeddings, and the tokens whose characters lie in the span.
    tokens = embedder.model.encode(text, output_value="token_embeddings", convert_to_numpy=True)
    offsets = embedder.model.tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    picked = [i for i, (a, b) in enumerate(offsets) if b > a and second[0] <= a < second[1]]
    assert text[offsets[picked[0]][0]:offsets[picked[0]][1]] == "About" and len(picked) == 7  # about 120 people attended it online .
    mean = np.asarray(tokens)[picked].mean(axis=0)
    assert np.allclose(pooled_spans[0][1], mean / np.linalg.norm(mean), atol=1e-5)
    assert abs(np.linalg.norm(pooled_spans[0][0]) - 1.0) < 1e-5


def test_a_span_cut_by_the_window_or_holding_no_token_gets_none():
    tokens = np.eye(4, dtype=np.float32)
    offsets = np.array([[0, 0], [0, 3], [4, 8], [0, 0]])  # [CLS] two words [SEP]
    got = pool_spans(tokens, offsets, [(0, 3), (4, 8), (9, 12)], cut=True)
    assert np.allclose(got[0], tokens[1]) and np.allclose(got[1], tokens[2]) and got[2] is None
    assert pool_spans(tokens, offsets, [(3, 4)])[0] is None  # only whitespace: no token


def test_sentences_no_chunk_covers_are_encoded_alone():
    class Blind(HashEmbedder):
        """Chunk vectors as usual, but no span pooled (as if every chunk were cut)."""

        def encode_spans(self, texts, spans, progress=False):
            return self.encode(texts), [[None] * len(s) for s in spans]

    settings = from_env(env={}, corpus_dir=SEEDS)
    blind = Blind()
    rows = chunk_corpus(load_corpus(SEEDS), Reuse(), settings, blind)
    vectors = late_chunk_vectors(rows, blind, progress=False)
    for s, (_, j) in enumerate(rows.sent_src):
        assert np.allclose(vectors[j], blind.encode([rows.sentences[s].text])[0])


def test_pooled_spans_point_at_each_sentence_in_what_the_model_reads():
    """A later chunk is read after its article's title, so its sentences' spans are shifted past it."""
    class Recorder(HashEmbedder):
        def encode_spans(self, texts, spans, progress=False):
            self.read = list(zip(texts, spans))
            return self.encode(texts), [[None] * len(s) for s in spans]

    settings = from_env(env={}, corpus_dir=SEEDS)
    recorder = Recorder()
    rows = chunk_corpus(load_corpus(SEEDS), Reuse(), settings, recorder)
    late_chunk_vectors(rows, recorder, progress=False)
    assert len(recorder.read) == len(rows.chunks)
    for chunk, ids, (text, spans) in zip(rows.chunks, rows.chunk_sentences, recorder.read):
        assert text == chunk.passage
        assert [text[a:b] for a, b in spans] == [rows.sentences[s].text for s in ids]
    assert any(c.chunk_no for c in rows.chunks)


def test_overlap_rule_and_index_identity(pooled, embedder, tmp_path):
    settings, index = pooled
    first = settings.replace(index_dir=tmp_path / "first", sentence_vectors="pooled-first")
    build(first, progress=False, embedder=embedder)
    other = load_index(first.index_dir)
    shared = [s for s in range(len(index.sentences)) if sum(s in ids for ids in index.chunk_sentences) > 1]
    alone = [s for s in range(len(index.sentences)) if s not in shared]
    assert shared and alone  # with one sentence of overlap, some sentences sit in two chunks
    # A sentence in one chunk is pooled the same way by both rules; one in two differs.
    assert np.allclose(index.sentence_vectors[alone], other.sentence_vectors[alone], atol=1e-5)
    assert not np.allclose(index.sentence_vectors[shared], other.sentence_vectors[shared], atol=1e-3)
    # The rule is part of the index's configuration: an index built one way is stale for another.
    corpus = load_corpus(SEEDS)
    assert stale_reason(index.manifest, corpus, settings, index.manifest.model_id) is None
    for mode in ("separate", "pooled-first"):
        assert stale_reason(index.manifest, corpus, settings.replace(sentence_vectors=mode),
                            index.manifest.model_id) == "chunking settings changed"
