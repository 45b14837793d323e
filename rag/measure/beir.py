"""BEIR-format benchmarks: index, run, score (`rag.measure.beir_data` reads the data set).

Each corpus document becomes an article file (title line, blank line, text) in a cached folder and
is indexed by `rag.indexing.build.build` like any corpus, so the benchmark measures the product's own
chunking, embedding and retrieval. A document's rank is the rank of its best passage.
"""
from __future__ import annotations

import json
from pathlib import Path

from rag.measure.beir_data import BeirSet, read_beir, write_corpus

# ---------------------------------------------------------------- scoring

# trec_eval measure names (pytrec_eval) and the report's keys for them.
MEASURES = {"ndcg_cut_10": "ndcg10", "recall_100": "recall100"}
MRR_DEPTH = 10
RUN_DEPTH = 100  # documents kept per query: enough for recall@100
HIT_DEPTH = 10


def as_run(ranked: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Ranked document ids per query as a trec run with strictly decreasing scores.

    trec_eval orders a run by score and breaks ties by document id, so distinct scores are what
    makes it score exactly the order given.
    """
    return {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in ranked.items()}


def score_rankings(qrels: dict[str, dict[str, int]], ranked: dict[str, list[str]]) -> dict:
    """Mean nDCG@10, recall@100, MRR@10 and hit@1..10 of `ranked` (query id -> doc ids, best
    first) against `qrels`, computed with trec_eval (pytrec_eval); per-query values too.

    Every judged query counts; a query with no ranking scores 0 (trec_eval alone would skip it).
    """
    import pytrec_eval

    queries = sorted(qrels)
    full = {q: list(dict.fromkeys(ranked.get(q, [])))[:RUN_DEPTH] for q in queries}
    # A placeholder id no judgment names keeps an empty ranking in the average as a zero.
    run = as_run({q: docs or ["\x00none"] for q, docs in full.items()})
    per = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    cut = as_run({q: docs[:MRR_DEPTH] or ["\x00none"] for q, docs in full.items()})
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    per_query = {}
    for q in queries:
        gold = {d for d, s in qrels[q].items() if s > 0}
        row = {key: per[q][name] for name, key in MEASURES.items()}
        row["mrr10"] = rr[q]["recip_rank"]
        row["hits"] = [any(d in gold for d in full[q][:k]) for k in range(1, HIT_DEPTH + 1)]
        per_query[q] = row
    n = len(queries) or 1
    means = {key: sum(per_query[q][key] for q in queries) / n for key in (*MEASURES.values(), "mrr10")}
    means["hit_curve"] = [sum(per_query[q]["hits"][k] for q in queries) / n for k in range(HIT_DEPTH)]
    means["hit1"] = means["hit_curve"][0]
    means["queries"] = len(queries)
    return {"metrics": means, "per_query": per_query}


# ---------------------------------------------------------------- running

PASSAGES = 1000  # passages retrieved per query and mode: ~4 per document, so 100+ distinct documents
TABLE_COLUMNS = [("nDCG@10", "ndcg10"), ("recall@100", "recall100"), ("MRR@10", "mrr10"), ("hit@1", "hit1"),
                 ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms")]


def rank_documents(assistant, question: str, mode: str, passages: int = PASSAGES) -> list[str]:
    """Article ids in order of their best passage among the top `passages` in `mode`, for
    `question` read as the assistant reads it (misspelt words, the form of a question)."""
    question = assistant.read_as(question)[0]
    qvec = assistant.embed_question(question) if mode != "bm25" else None
    hits = assistant.retriever.search(question, qvec, k=passages, mode=mode)
    return list(dict.fromkeys(p.doc_id for p in hits))


def run_queries(assistant, bset: BeirSet, modes: list[str], passages: int = PASSAGES, progress: bool = True) -> dict:
    """{mode: {"ranked": {qid: [beir ids]}, "latency_ms": [...]}} for every judged query.

    Latency is per query and mode, warm: question embedding (dense, hybrid) plus retrieval.
    Modes take turns per query so a busy spell on the machine slows every mode alike.
    """
    import sys
    import time

    from tqdm import tqdm

    beir_id = {d.stem: d.beir_id for d in bset.docs}
    out = {m: {"ranked": {}, "latency_ms": []} for m in modes}
    first = next(iter(bset.queries.values()), "")
    for mode in modes:
        rank_documents(assistant, first, mode, passages)  # warm-up
    bar = tqdm(total=len(bset.queries) * len(modes), desc="queries", disable=not progress, file=sys.stderr)
    for qid, text in bset.queries.items():
        for mode in modes:
            t0 = time.perf_counter()
            stems = rank_documents(assistant, text, mode, passages)
            out[mode]["latency_ms"].append((time.perf_counter() - t0) * 1000)
            out[mode]["ranked"][qid] = [beir_id[s] for s in stems if s in beir_id]
            bar.update()
    bar.close()
    return out


def evaluate_beir(assistant, bset: BeirSet, modes: list[str], passages: int = PASSAGES, progress: bool = True) -> dict:
    """{"metrics": {mode: {...}}, "records": {mode: {qid: {...}}}} for `bset` under each mode."""
    from rag.measure import metrics as M

    runs = run_queries(assistant, bset, modes, passages, progress)
    metrics, records = {}, {}
    for mode in modes:
        scored = score_rankings(bset.qrels, runs[mode]["ranked"])
        lat = runs[mode]["latency_ms"]
        metrics[mode] = {**scored["metrics"], "p50_ms": M.percentile(lat, 50), "p95_ms": M.percentile(lat, 95)}
        records[mode] = {
            q: {**scored["per_query"][q], "top10": runs[mode]["ranked"].get(q, [])[:10],
                "latency_ms": round(lat[i], 2)}
            for i, q in enumerate(bset.queries)
        }
    return {"metrics": metrics, "records": records}


def format_table(metric_sets: dict[str, dict]) -> str:
    """A Markdown table: one row per mode; document-level metrics and query latency."""
    head = "| mode | " + " | ".join(label for label, _ in TABLE_COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(TABLE_COLUMNS)
    fmt = lambda v, k: "–" if v is None else (f"{v:.1f}" if k.endswith("_ms") else f"{v:.3f}")  # noqa: E731
    rows = [f"| {mode} | " + " | ".join(fmt(m.get(key), key) for _, key in TABLE_COLUMNS) + " |" for mode, m in metric_sets.items()]
    return "\n".join([head, rule, *rows])


def format_build(build: dict) -> str:
    """One line on how the index was built (texts = chunks + sentences embedded)."""
    if build.get("seconds") is None:
        return f"index: {build.get('chunks')} chunks, {build.get('sentences')} sentences (build time not recorded)"
    return (f"index: {build['articles']} documents -> {build['chunks']} chunks, {build['sentences']} sentences; "
            f"built in {build['seconds']:.0f} s ({build['seconds'] / 60:.1f} min, {build['texts_per_s']:.0f} texts/s)")


def beir_index_settings(bset: BeirSet, base, index: Path | None = None):
    """`base` settings over `bset`'s corpus, written as article files and indexed under the rag
    cache folder (keyed by the corpus file's digest) unless `index` names a folder; every split
    and `rag train` share it."""
    from rag.embedding.model import cache_dir
    from rag.measure.evaluation import cached_index

    root = Path(index) if index else cache_dir() / "beir" / bset.digest
    write_corpus(bset.docs, root / "corpus")
    return base.replace(corpus_dir=root / "corpus", index_dir=cached_index(root, base))


def _build(settings, root: Path) -> dict:
    """Build (or find up to date) the index under `root`; the build time of the last real build is
    kept in root/build.json, since a cached index is not rebuilt."""
    from rag.indexing.build import build

    record_path = root / "build.json"
    report = build(settings, progress=True)
    if report.embedded_articles:
        texts = report.chunks + report.sentences
        record = {"articles": report.articles, "chunks": report.chunks, "sentences": report.sentences,
                  # milliseconds kept: a tiny corpus on a warm model builds in well under 0.05 s
                  "seconds": round(report.seconds, 3), "texts_per_s": round(texts / report.seconds, 1),
                  "reused_articles": len(report.reused_articles), "folder": report.folder.name}
        record_path.write_text(json.dumps(record, indent=1), encoding="utf-8")
        return record
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("folder") == report.folder.name:
            return record
    except (OSError, ValueError):
        pass
    return {"articles": report.articles, "chunks": report.chunks, "sentences": report.sentences, "seconds": None}


def run_cli(args) -> int:
    """`rag eval --beir DIR [--split train|test]`: index the corpus (cached), run the judged
    queries in each mode, print the table; with --output write report.json, report.md, hitk.png."""
    import sys

    from rag.assistant import Assistant
    from rag.indexing.store import load_index
    from rag.measure.evaluation import _modes
    from rag.measure.report import plot_hit_curve
    from rag.settings import from_env

    if args.squad or args.questions:
        raise ValueError("use one of --questions, --squad and --beir")
    if args.limit is not None or args.min_hit5 is not None:
        raise ValueError("--limit and --min-hit5 do not apply to --beir")
    modes = _modes(args.modes)
    split = args.split or "test"
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731  stdout carries only the results
    bset = read_beir(Path(args.beir), split)
    settings = beir_index_settings(bset, from_env(model=args.model), args.index)
    build = _build(settings, settings.corpus_dir.parent)
    judged = sum(len(v) for v in bset.qrels.values())
    note = (f"BEIR {Path(args.beir).name} ({split}): {len(bset.queries)} judged queries, {judged} judgments; "
            f"{len(bset.docs)} documents; document rank = best passage rank among the top {PASSAGES} per mode")
    log(note)
    assistant = Assistant(settings, index=load_index(settings.index_dir), progress=True)
    result = evaluate_beir(assistant, bset, modes, PASSAGES)
    print(f"{note}\n{format_build(build)}\n")
    print(format_table(result["metrics"]))
    if args.output:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        title = f"rag eval --beir {Path(args.beir).name} ({split})"
        payload = {"title": title, "note": note, "source": str(args.beir), "split": split, "modes": modes,
                   "passages": PASSAGES, "build": build,
                   "settings": settings.public(), **result}
        (folder / "report.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
        (folder / "report.md").write_text(f"# {title}\n\n{note}\n\n{format_build(build)}\n\n{format_table(result['metrics'])}\n",
                                          encoding="utf-8")
        plot_hit_curve(result["metrics"], folder / "hitk.png", title)
        print(f"\nwrote {folder}/report.json, report.md, hitk.png")
    return 0
