import json

from rag.cli import main


def test_bench_runs_on_a_tiny_size(tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(["bench", "--sizes", "300", "--queries", "5", "--copies", "1", "--pool", "150", "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "warm ask p50" in printed and "HNSW recall@10" in printed and "`app.py` ready" in printed
    data = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    start = data["start"]  # fresh processes: the CLI answering, the page serving
    assert len(start["ask_cold_all"]) == len(start["app_ready_all"]) == 3
    assert 0 < start["ask_cold_s"] < 300 and 0 < start["app_ready_s"] < 300 and start["stages_ms"]["embed"][0] > 0
    pipe, (row,) = data["pipeline"], data["scale"]
    assert pipe["raw_encode_per_s"] > 0 and pipe["pipeline_per_s"] > 0 and pipe["rebuild_one_embedded"] == 1
    # The reader is skipped when stage 1 is sure, so its median may be 0.
    assert pipe["cold_start_s"] > 0 and all(p50 > 0 for k, (p50, _) in pipe["stages_ms"].items() if k != "read")
    assert pipe["corpus_chunks"] > 0 and pipe["corpus_ask_ms"][0] > 0 and pipe["corpus_stages_ms"].keys() == pipe["stages_ms"].keys()
    assert row["size"] == 300 and 0 <= row["hnsw_recall10"] <= 1 and row["flat_p50_ms"] > 0 and row["peak_rss_mb"] > 0
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_rejects_bad_sizes(capsys):
    assert main(["bench", "--sizes", "ten"]) == 1
    assert "comma-separated integers" in capsys.readouterr().err


def test_bench_http_load_run_is_bounded_and_beside_the_compute_limit(seed_settings, assistant, tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(["bench", "--sections", "http", "--users", "3", "--per-user", "2", "--index", str(seed_settings.index_dir),
                 "--corpus", str(seed_settings.corpus_dir), "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "HTTP / compute limit" in printed and "HNSW" not in printed
    http = json.loads((out / "bench.json").read_text(encoding="utf-8"))["http"]
    assert (http["answers"], http["errors"]) == (6, 0) and 0 < http["p50_ms"] <= http["p95_ms"]
    assert http["answers_per_s"] > 0 and http["compute"]["answers_per_s"] > 0 and http["compute"]["threads"] == 2
    assert http["compute"]["answers_per_s"] == sum(http["compute"]["runs_answers_per_s"]) / 2
    assert http["ratio"] == http["answers_per_s"] / http["compute"]["answers_per_s"]
    assert not (out / "bench.png").exists()


def test_bench_rejects_unknown_sections(capsys):
    assert main(["bench", "--sections", "pipeline,nope"]) == 1
    assert "--sections" in capsys.readouterr().err
