import pytest

from rag.embedding.model import get_embedder
from rag.indexing.chunking import chunk_article, pack
from rag.indexing.sentences import Sentence, split_sentences
from rag.indexing.tokens import count_tokens
from rag.ingest.corpus import load_corpus, read_article
from tests.conftest import SEEDS

ARTICLES = load_corpus(SEEDS).articles


@pytest.mark.parametrize("budget", [32, 64, 128, 256])
def test_chunks_are_bounded_whole_sentences_with_exact_offsets(budget):
    for a in ARTICLES:
        sentences = {(s.start, s.end) for s in split_sentences(a.text, a.body_start, a.body_end)}
        chunks = chunk_article(a, count_tokens, budget, overlap=1)
        assert chunks and [c.chunk_no for c in chunks] == list(range(len(chunks)))
        covered = set()
        for c in chunks:
            assert c.text == a.text[c.start : c.end]
            assert count_tokens(c.text) <= budget
            assert c.sentences[0].start == c.start and c.sentences[-1].end == c.end
            for sentence in c.sentences:
                # One record from splitting on: its article, span and exact text.
                assert sentence.doc_id == a.doc_id and sentence.text == a.text[sentence.start : sentence.end]
                s, e = sentence.start, sentence.end
                if (s, e) in sentences or (s, e) == (a.title_start, a.title_end):
                    covered.add((s, e))
                    continue
                # Otherwise a piece of one sentence that alone is over budget.
                whole = next((x, y) for x, y in sentences if x <= s and e <= y)
                assert count_tokens(a.text[whole[0] : whole[1]]) > budget
                covered.add(whole)
        # Every body sentence is in some chunk.
        assert sentences <= covered


def test_overlap_repeats_one_sentence():
    a = ARTICLES[1]
    chunks = chunk_article(a, count_tokens, 128, overlap=1)
    overlapping = 0
    for prev, nxt in zip(chunks, chunks[1:]):
        if nxt.sentences[0] in prev.sentences:
            assert nxt.sentences[0] == prev.sentences[-1]
            overlapping += 1
        else:  # the previous last sentence did not fit beside the next one
            assert count_tokens(a.text[prev.sentences[-1].start : nxt.sentences[0].end]) > 128 or len(prev.sentences) == 1
    assert overlapping >= len(chunks) // 2


def test_abbreviations_do_not_split_sentences():
    text = "Opening it, Chairman of the ICSC H.E. Mr. Larbi Djacta spoke. Ms. Raisova and Dr. Lee met prof. Kim in the U.S. last week. It ended."
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "Opening it, Chairman of the ICSC H.E. Mr. Larbi Djacta spoke.",
        "Ms. Raisova and Dr. Lee met prof. Kim in the U.S. last week.",
        "It ended.",
    ]


def test_seed_sentence_with_honorifics_is_whole():
    a = next(x for x in ARTICLES if x.doc_id.startswith("003"))
    texts = [a.text[s.start : s.end] for s in split_sentences(a.text, a.body_start, a.body_end)]
    assert any(t.startswith("Opening the workshop, Chairman of the ICSC H.E. Mr. Larbi Djacta") for t in texts)
    assert not any(t in ("H.E.", "Mr.", "H.E. Mr.") for t in texts)


def test_over_long_sentence_is_cut_at_whitespace(tmp_path):
    path = tmp_path / "long.txt"
    words = " ".join(f"word{i}" for i in range(600))
    path.write_text(f"Long one\n\n{words}. Short end.", encoding="utf-8")
    a = read_article(path, "long")
    chunks = chunk_article(a, count_tokens, 64, overlap=1)
    assert all(count_tokens(c.text) <= 64 for c in chunks)
    joined = " ".join(s.text for c in chunks for s in c.sentences)
    for i in (0, 299, 599):
        assert f"word{i}" in joined


def test_pack_is_pure_and_makes_progress():
    text = "aa. bb. cc. dd."
    spans = [Sentence("d", s, s + 3, text[s : s + 3]) for s in (0, 4, 8, 12)]
    groups = pack(text, spans, lambda t: len(t.split()), max_tokens=2, overlap=1)
    assert [[(s.start, s.end) for s in g] for g in groups] == [[(0, 3), (4, 7)], [(4, 7), (8, 11)], [(8, 11), (12, 15)]]
    assert pack(text, spans, lambda t: len(t.split()), max_tokens=1, overlap=1) == [[s] for s in spans]


@pytest.mark.slow  # the real model
def test_seed_chunks_fit_the_model_window():
    embedder = get_embedder()
    for a in ARTICLES:
        for c in chunk_article(a, count_tokens, 128, overlap=1):
            assert embedder.count_tokens(c.text) <= 256
