import json
import subprocess
import sys

import pytest

from rag.cli import main
from rag.measure.evaluation import rank_articles, summarize
from rag.measure.metrics import distinct
from rag.measure.questions import load_questions
from rag.measure.report import format_table
from rag.measure.squad import read_squad, write_corpus
from rag.settings import ROOT
from tests.conftest import SEEDS

QUESTION_SET = ROOT / "tests" / "data" / "questions.jsonl"
needs_question_set = pytest.mark.skipif(not QUESTION_SET.exists(), reason="tests/data/questions.jsonl is missing")


@needs_question_set
def test_question_set_schema_and_verbatim_answers():
    questions = load_questions(QUESTION_SET)
    texts = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)) >= 60
    answerable = [q for q in questions if q["answerable"]]
    assert len(answerable) >= 45 and len(questions) - len(answerable) >= 12
    per_article = {d: sum(d in q["sources"] for q in answerable) for d in texts}
    assert min(per_article.values()) >= 7
    assert sum(len(q["sources"]) > 1 for q in answerable) >= 3
    for q in questions:
        assert set(q) == {"id", "question", "answers", "sources", "answerable"}
        if not q["answerable"]:
            assert q["answers"] == [] and q["sources"] == []
            continue
        assert q["answers"] and set(q["sources"]) <= texts.keys()
        for a in q["answers"]:
            assert any(a in texts[s] for s in q["sources"]), (q["id"], a)


@pytest.mark.parametrize("name", ["heldout.jsonl", "heldout2.jsonl", "heldout3.jsonl", "heldout4.jsonl", "heldout5.jsonl", "heldout6.jsonl", "heldout7.jsonl", "heldout8.jsonl", "heldout9.jsonl", "heldout10.jsonl"])
def test_held_out_sets_name_answers_found_verbatim_in_their_sources(name):
    questions = load_questions(ROOT / "tests" / "data" / name)
    texts = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    assert len({q["id"] for q in questions}) == len(questions) >= 30
    assert sum(q["answerable"] for q in questions) >= 20 and sum(not q["answerable"] for q in questions) >= 8
    for q in questions:
        if q["answerable"]:
            assert set(q["sources"]) <= texts.keys()
            assert all(any(a in texts[d] for d in q["sources"]) for a in q["answers"]), q["id"]
        else:
            assert q["answers"] == [] and q["sources"] == []


GOOD = '{"id": 1, "question": "q", "answers": ["a"], "sources": ["d"], "answerable": true}'


@pytest.mark.parametrize("content, message", [
    ('{"id": 1}\n', ":1: missing question, answers, sources, answerable"),
    (GOOD + '\nnot json\n', ":2: not valid JSON"),
    ("\n", "holds no questions"),
    ("[1, 2]\n", ":1: expected a JSON object, got list"),
    ("7\n", ":1: expected a JSON object, got int"),
    ('{"id": 1, "question": " ", "answers": [], "sources": [], "answerable": false}', "question must be non-empty"),
    ('{"id": 1, "question": "q", "answers": "a", "sources": ["d"], "answerable": true}', "answers must be a list"),
    ('{"id": 1, "question": "q", "answers": ["a"], "sources": ["d"], "answerable": "yes"}', "answerable must be true or false"),
    ('{"id": 1, "question": "q", "answers": ["a"], "sources": [], "answerable": true}', "needs at least one answer and one source"),
    (GOOD + "\n\n" + GOOD + "\n", ":3: id '1' already used on line 1"),
    ('{"id": 1, "question": "q", "answers": [], "sources": [], "answerable": false, "earlier": "p"}', "earlier must be a list"),
])
def test_bad_question_files_are_explained(tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_questions(path)


def test_cli_explains_bad_input_without_a_traceback(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert main(["eval", "--questions", str(missing)]) == 1
    assert capsys.readouterr().err.strip() == f"error: question file not found: {missing}"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(GOOD + "\n{oops\n", encoding="utf-8")
    assert main(["eval", "--questions", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"error: {bad}:2: not valid JSON" in err and "Traceback" not in err
    assert main(["eval", "--questions", str(bad), "--modes", "hybrid,fuzzy"]) == 1
    assert "unknown mode(s) fuzzy" in capsys.readouterr().err
    assert main(["eval", "--questions", str(bad), "--modes", "dense", "--min-hit5", "0.5"]) == 1
    assert "add hybrid to --modes" in capsys.readouterr().err
    assert main(["eval", "--questions", str(bad), "--follow-ups", "pronoun"]) == 1
    assert "--follow-ups goes with --squad and --split" in capsys.readouterr().err


def test_summary_with_no_unanswerable_questions_renders_dashes():
    def rec(hit_rank, abstained, answer_hit, cited_gold, words, ms):
        hits = {str(i): hit_rank is not None and hit_rank <= i for i in range(1, 11)}
        return {"answerable": True, "hits": hits, "rr": 1 / hit_rank if hit_rank else 0.0, "abstained": abstained,
                "answer_hit": answer_hit, "citation_precision": None if abstained else cited_gold,
                "answer_words": None if abstained else words, "latency_ms": ms}
    m = summarize([rec(1, False, True, 1.0, 10, 20.0), rec(3, False, False, 0.5, 30, 40.0), rec(None, True, False, None, None, 30.0)])
    assert m["hit1"] == pytest.approx(1 / 3) and m["hit3"] == pytest.approx(2 / 3) and m["hit5"] == pytest.approx(2 / 3)
    assert m["mrr10"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["answer_recall"] == pytest.approx(1 / 3) and m["citation_precision"] == 0.75 and m["answer_words"] == 20
    assert m["false_abstention"] == pytest.approx(1 / 3) and m["abstain_precision"] == 0.0 and m["abstain_recall"] is None
    assert m["p50_ms"] == 30.0 and m["p95_ms"] == pytest.approx(39.0)
    table = format_table({"hybrid": m})
    assert "| 0.000 | – | 0.333 | – | 30.0 | 39.0 |" in table  # records without "reader_read": a dash


def test_ranking_starts_with_the_articles_the_answer_quotes_then_read(assistant):
    follow_up = ("How many countries did its participants come from?",  # searched with the question before
                 ["What was the online conference on current civil service reforms?"])
    for question, earlier in [("Where was the ACSH-ICSC workshop held?", []),
                              ("How many people attended the webinars?", []), follow_up]:
        for mode in ("hybrid", "dense", "bm25"):
            answer = assistant.ask(question, k=3, mode=mode, earlier=earlier)
            read = distinct([p.doc_id for p in answer.passages])
            ranked = rank_articles(assistant, answer, mode, k=3, earlier=earlier)
            assert ranked[: len(read)] == read and len(set(ranked)) == len(ranked)
            if not answer.abstained:
                assert ranked[0] == answer.citations[0].doc_id
            if mode == "bm25":  # BM25 ranks only articles sharing a term with the question
                assert set(ranked) <= set(assistant.index.titles)
            else:  # the deeper search reaches every seed article
                assert set(ranked) == set(assistant.index.titles)


def test_table_shows_missing_values_as_dashes():
    row = {k: None for k in ["hit1", "hit3", "hit5", "mrr10", "answer_recall", "citation_precision", "answer_words",
                             "abstain_precision", "abstain_recall", "false_abstention", "p50_ms", "p95_ms"]}
    assert "| hybrid | – |" in format_table({"hybrid": row})


def test_eval_end_to_end_writes_all_outputs(tmp_path, seed_settings, assistant, capsys):
    questions = tmp_path / "q.jsonl"
    lines = [
        {"id": "a", "question": "Who received a special ACSH award at the New York workshop?", "answers": ["William Shields"],
         "sources": ["003_4b5c9540a69ebcf9"], "answerable": True},
        {"id": "b", "question": "Where was the ACSH-ICSC workshop held?", "answers": ["New York"],
         "sources": ["003_4b5c9540a69ebcf9"], "answerable": True},
        {"id": "c", "question": "What is the boiling point of mercury?", "answers": [], "sources": [], "answerable": False},
        # Withheld for its kind (no count in the quote), not by the threshold: every sweep row withholds it.
        {"id": "d", "question": "How many webinars will the Hub hold next year?", "answers": [], "sources": [],
         "answerable": False},
    ]
    questions.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["eval", "--questions", str(questions), "--index", str(seed_settings.index_dir), "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| hybrid |" in printed and "| dense |" in printed and "| bm25 |" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    hybrid = report["metrics"]["hybrid"]
    assert hybrid["hit1"] == 1.0 and hybrid["answer_recall"] == 1.0 and hybrid["abstain_recall"] == 1.0
    rec = report["records"]["hybrid"][0]
    assert rec["ranked_ids"][0] == "003_4b5c9540a69ebcf9" and rec["answer_hit"] and rec["latency_ms"] > 0
    assert (out / "report.md").read_text(encoding="utf-8").count("|") > 20
    sweep = {round(r["threshold"], 2): r for r in report["threshold_sweep"]}
    assert sweep[0.05]["answer_recall"] >= sweep[0.5]["answer_recall"]  # a higher bar withholds more
    assert sweep[0.5]["abstain_recall"] == 1.0
    in_force = next(r for r in report["threshold_sweep"] if r["threshold"] == report["abstain_threshold"])
    for key in ("answer_recall", "abstain_recall", "false_abstention"):  # the sweep's row is what was run
        assert in_force[key] == hybrid[key]
    assert any(line.endswith("←") or "← |" in line for line in printed.splitlines())  # the threshold in force
    assert (out / "hitk.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", "--questions", str(questions), "--index", str(seed_settings.index_dir), "--modes", "hybrid",
                 "--min-hit5", "1.01"]) == 1


@needs_question_set
def test_eval_on_the_seed_question_set(tmp_path, seed_settings, capsys):
    out = tmp_path / "out"
    # Default question file: tests/data/questions.jsonl.
    code = main(["eval", "--corpus", str(SEEDS), "--index", str(seed_settings.index_dir), "--modes", "hybrid",
                 "--output", str(out), "--min-hit5", "0.9"])
    assert code == 0
    assert f"{QUESTION_SET}: " in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    questions = load_questions(QUESTION_SET)
    records = report["records"]["hybrid"]
    assert [r["id"] for r in records] == [q["id"] for q in questions]
    m = report["metrics"]["hybrid"]
    assert m["questions"] == len(questions) and m["answerable"] == sum(q["answerable"] for q in questions)
    assert m["hit1"] >= 0.75 and m["mrr10"] >= 0.85 and m["answer_recall"] >= 0.6
    assert m["abstain_recall"] is not None and m["false_abstention"] is not None
    for r in records:
        assert set(r) >= {"id", "question", "answer", "abstained", "cited_ids", "ranked_ids", "hits", "answer_hit",
                          "best_score", "latency_ms"}
        assert r["abstained"] == (r["cited_ids"] == [])


def _tiny_squad(path):
    ctx1 = "Denver Broncos defeated the Carolina Panthers 24-10 to earn their third Super Bowl title. The game was played at Levi's Stadium."
    ctx2 = "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France."
    ctx3 = "Photosynthesis converts light energy into chemical energy stored in glucose by plants."
    qa = lambda i, q, a, c: {"id": i, "question": q, "answers": [{"text": a, "answer_start": c.index(a)}]}
    data = {"version": "1.1", "data": [
        {"title": "Super_Bowl_50", "paragraphs": [
            {"context": ctx1, "qas": [qa("s1", "Where was the game played?", "Levi's Stadium", ctx1),
                                      qa("s2", "Who won Super Bowl 50?", "Denver Broncos", ctx1)]}]},
        {"title": "Normans", "paragraphs": [
            {"context": ctx2, "qas": [qa("n1", "What region did the Normans give their name to?", "Normandy", ctx2)]},
            {"context": ctx3, "qas": [qa("n2", "What do plants store light energy in?", "glucose", ctx3)]}]},
    ]}
    path.write_text(json.dumps(data), encoding="utf-8")


def test_squad_reader(tmp_path):
    path = tmp_path / "tiny.json"
    _tiny_squad(path)
    paragraphs, questions = read_squad(path)
    assert [p.doc_id for p in paragraphs] == ["Super_Bowl_50_0", "Normans_0", "Normans_1"]
    assert paragraphs[0].title == "Super Bowl 50"
    at = len("Super Bowl 50\n\n") + paragraphs[0].text.index("Levi's Stadium")
    assert questions[0] == {"id": "s1", "question": "Where was the game played?", "answers": ["Levi's Stadium"],
                            "sources": ["Super_Bowl_50_0"], "answerable": True, "article": "Super_Bowl_50",
                            "answer_spans": [[at, at + len("Levi's Stadium")]]}
    paragraphs, questions = read_squad(path, limit=1, seed=3)
    assert len(questions) == 1 and {p.doc_id.rsplit("_", 1)[0] for p in paragraphs} == {questions[0]["sources"][0].rsplit("_", 1)[0]}
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="not a SQuAD v1.1 file: missing key 'data'"):
        read_squad(bad)
    bad.write_text('{"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="missing key 'context'"):
        read_squad(bad)
    with pytest.raises(FileNotFoundError):
        read_squad(tmp_path / "absent.json")


def test_squad_ids_are_safe_unique_file_names(tmp_path):
    para = lambda c: {"context": c, "qas": [{"id": c, "question": "q?", "answers": [{"text": c, "answer_start": 0}]}]}
    data = {"data": [{"title": "AC/DC: Back in Black?", "paragraphs": [para("one"), para("two")]},
                     {"title": "AC_DC_Back_in_Black", "paragraphs": [para("three")]},
                     {"title": "../etc", "paragraphs": [para("four")]}]}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    paragraphs, questions = read_squad(path)
    ids = [p.doc_id for p in paragraphs]
    assert ids == ["AC_DC_Back_in_Black_0", "AC_DC_Back_in_Black_1", "AC_DC_Back_in_Black-2_0", "etc_0"]
    assert questions[2]["sources"] == ["AC_DC_Back_in_Black-2_0"]
    write_corpus(paragraphs, tmp_path / "corpus")
    assert sorted(f.stem for f in (tmp_path / "corpus").glob("*.txt")) == sorted(ids)
    assert (tmp_path / "corpus" / "etc_0.txt").read_text(encoding="utf-8") == "../etc\n\nfour\n"
    write_corpus(paragraphs[:1], tmp_path / "corpus")  # a smaller sample prunes the rest
    assert [f.stem for f in (tmp_path / "corpus").glob("*.txt")] == ["AC_DC_Back_in_Black_0"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="not written by rag eval --squad"):
        write_corpus(paragraphs, foreign)
    assert (foreign / "notes.txt").exists()


@pytest.mark.slow  # the real model
def test_eval_squad_end_to_end(tmp_path):
    path = tmp_path / "tiny.json"
    _tiny_squad(path)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "rag", "eval", "--squad", str(path), "--index", str(tmp_path / "sq"),
                          "--output", str(out), "--modes", "hybrid,bm25"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "indexed 3 paragraphs from 2 articles" in run.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["hybrid"]["hit1"] >= 0.75 and report["metrics"]["hybrid"]["questions"] == 4
    assert {r["ranked_ids"][0] for r in report["records"]["bm25"] if r["id"] == "n2"} == {"Normans_1"}
    assert sorted(f.name for f in (tmp_path / "sq" / "corpus").glob("*.txt")) == ["Normans_0.txt", "Normans_1.txt", "Super_Bowl_50_0.txt"]
    assert (out / "hitk.png").exists() and "| bm25 |" in (out / "report.md").read_text(encoding="utf-8")
    # --limit samples questions and indexes only their articles, in-process this time.
    assert main(["eval", "--squad", str(path), "--limit", "1", "--seed", "1", "--index", str(tmp_path / "sq1"),
                 "--modes", "hybrid"]) == 0
    paragraphs, questions = read_squad(path, limit=1, seed=1)
    assert len(questions) == 1
    assert sorted(f.stem for f in (tmp_path / "sq1" / "corpus").glob("*.txt")) == sorted(p.doc_id for p in paragraphs)



def test_eval_squad_split_asks_only_that_split_over_every_article(tmp_path, capsys):
    path = tmp_path / "tiny.json"
    _tiny_squad(path)
    out = tmp_path / "out"
    # Sorted titles: Normans (train), Super_Bowl_50 (test).
    assert main(["eval", "--squad", str(path), "--split", "test", "--index", str(tmp_path / "sq"), "--output", str(out),
                 "--modes", "hybrid"]) == 0
    assert "2 questions of the test articles; indexed 3 paragraphs from 2 articles" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    records = report["records"]["hybrid"]
    assert sorted(r["id"] for r in records) == ["s1", "s2"]
    m = report["metrics"]["hybrid"]
    for key in ("first_sentence", "short_em", "short_f1", "answer_words", "abstained"):
        assert m[key] is not None
    assert 0 <= m["short_em"] <= m["short_f1"] <= 100
    assert m["first_sentence"] <= m["answer_recall"]
