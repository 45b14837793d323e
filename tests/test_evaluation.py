import json
import subprocess
import sys

import pytest

from rag.cli import main
from rag.evaluation import format_table, load_questions
from rag.settings import ROOT
from rag.squad import read_squad
from tests.conftest import SEEDS


def test_question_set_schema_and_verbatim_answers():
    questions = load_questions(SEEDS / "questions.jsonl")
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


@pytest.mark.parametrize("content, message", [
    ('{"id": 1}\n', "missing question, answers, sources, answerable"),
    ('{"id": 1, "question": "q", "answers": [], "sources": [], "answerable": true}\nnot json\n', ":2: not valid JSON"),
    ("\n", "holds no questions"),
])
def test_bad_question_files_are_explained(tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_questions(path)


def test_table_shows_missing_values_as_dashes():
    row = {k: None for k in ["hit1", "hit3", "hit5", "mrr10", "answer_recall", "citation_precision", "answer_words",
                             "abstain_precision", "abstain_recall", "false_abstention", "p50_ms", "p95_ms"]}
    assert "| hybrid | – |" in format_table({"hybrid": row})


def test_eval_end_to_end_writes_all_outputs(tmp_path, seed_settings, assistant, capsys):
    questions = tmp_path / "q.jsonl"
    lines = [
        {"id": "a", "question": "How many people attended the webinars on Belgian HR practices?", "answers": ["120"],
         "sources": ["000_46a559f0544261a8"], "answerable": True},
        {"id": "b", "question": "Where was the ACSH-ICSC workshop held?", "answers": ["New York"],
         "sources": ["003_4b5c9540a69ebcf9"], "answerable": True},
        {"id": "c", "question": "What is the boiling point of mercury?", "answers": [], "sources": [], "answerable": False},
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
    assert rec["ranked_ids"][0] == "000_46a559f0544261a8" and rec["answer_hit"] and rec["latency_ms"] > 0
    assert (out / "report.md").read_text(encoding="utf-8").count("|") > 20
    assert (out / "hitk.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", "--questions", str(questions), "--index", str(seed_settings.index_dir), "--modes", "hybrid",
                 "--min-hit5", "1.01"]) == 1


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
    assert questions[0] == {"id": "s1", "question": "Where was the game played?", "answers": ["Levi's Stadium"],
                            "sources": ["Super_Bowl_50_0"], "answerable": True}
    paragraphs, questions = read_squad(path, limit=1, seed=3)
    assert len(questions) == 1 and {p.doc_id.rsplit("_", 1)[0] for p in paragraphs} == {questions[0]["sources"][0].rsplit("_", 1)[0]}
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="not a SQuAD"):
        read_squad(bad)


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
