"""`rag eval`: run a question set through the assistant per retrieval mode and score it."""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from rag import metrics as M
from rag.settings import Settings, from_env

REQUIRED = ("id", "question", "answers", "sources", "answerable")
RANK_DEPTH = 10
METRIC_COLUMNS = [
    ("hit@1", "hit1"), ("hit@3", "hit3"), ("hit@5", "hit5"), ("MRR@10", "mrr10"),
    ("answer recall", "answer_recall"), ("citation precision", "citation_precision"), ("answer words", "answer_words"),
    ("abstain P", "abstain_precision"), ("abstain R", "abstain_recall"), ("false abstain", "false_abstention"),
    ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"),
]


def load_questions(path: Path) -> list[dict]:
    """Read and check a question file (one JSON object a line); ValueError says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file not found: {path}")
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        missing = [key for key in REQUIRED if key not in q]
        if missing:
            raise ValueError(f"{path}:{n}: missing {', '.join(missing)}")
        if not isinstance(q["answers"], list) or not isinstance(q["sources"], list):
            raise ValueError(f"{path}:{n}: answers and sources must be lists")
        questions.append(q)
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def ask_one(assistant, q: dict, mode: str, k: int) -> dict:
    """One question through the same path as the chat page, plus the deeper ranking for hit@k."""
    t0 = time.perf_counter()
    answer = assistant.ask(q["question"], k=k, mode=mode)
    latency = time.perf_counter() - t0
    qvec = assistant.embed_question(answer.question)
    ranking = assistant.retriever.search(answer.question, qvec, k=max(4 * RANK_DEPTH, k), mode=mode)
    ranked = M.distinct([p.doc_id for p in ranking])
    gold = set(q["sources"])
    cited = [c.doc_id for c in answer.citations]
    return {
        "id": q["id"],
        "question": q["question"],
        "answerable": q["answerable"],
        "answer": answer.answer,
        "abstained": answer.abstained,
        "best_score": round(answer.best_score, 4),
        "cited_ids": cited,
        "ranked_ids": ranked[:RANK_DEPTH],
        "hits": {str(i): M.hit_at(ranked, gold, i) for i in range(1, RANK_DEPTH + 1)} if q["answerable"] else {},
        "rr": M.reciprocal_rank(ranked, gold, RANK_DEPTH) if q["answerable"] else None,
        "answer_hit": (not answer.abstained and M.answer_found(answer.quoted(), q["answers"])) if q["answerable"] else None,
        "citation_precision": M.citation_precision(cited, gold) if q["answerable"] else None,
        "answer_words": len(answer.quoted().split()) if not answer.abstained else None,
        "latency_ms": round(latency * 1000, 2),
    }


def summarize(records: list[dict]) -> dict:
    """Metrics of one mode from its per-question records."""
    answerable = [r for r in records if r["answerable"]]
    hit_curve = [M.mean(r["hits"][str(i)] for r in answerable) for i in range(1, RANK_DEPTH + 1)]
    latencies = [r["latency_ms"] for r in records]
    out = {
        "questions": len(records),
        "answerable": len(answerable),
        "hit1": hit_curve[0],
        "hit3": hit_curve[2],
        "hit5": hit_curve[4],
        "mrr10": M.mean(r["rr"] for r in answerable),
        "hit_curve": hit_curve,
        "answer_recall": M.mean(float(r["answer_hit"]) for r in answerable),
        "citation_precision": M.mean(r["citation_precision"] for r in answerable if not r["abstained"]),
        "answer_words": M.mean(r["answer_words"] for r in records),
        "p50_ms": M.percentile(latencies, 50),
        "p95_ms": M.percentile(latencies, 95),
    }
    out.update(M.abstention_scores([r["abstained"] for r in records], [r["answerable"] for r in records]))
    return out


def evaluate(assistant, questions: list[dict], modes: list[str], k: int, progress: bool = True) -> dict:
    """{"metrics": {mode: {...}}, "records": {mode: [...]}} for `questions`."""
    assistant.ask(questions[0]["question"], k=k)  # warm-up: latencies below are warm
    records: dict[str, list[dict]] = {m: [] for m in modes}
    bar = tqdm(total=len(questions) * len(modes), desc="evaluating", disable=not progress, file=sys.stderr)
    for mode in modes:
        for q in questions:
            records[mode].append(ask_one(assistant, q, mode, k))
            bar.update()
    bar.close()
    return {"metrics": {m: summarize(records[m]) for m in modes}, "records": records}


def _fmt(value, key: str) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms") or key == "answer_words":
        return f"{value:.1f}"
    return f"{value:.3f}"


def format_table(metric_sets: dict[str, dict]) -> str:
    """A Markdown table: one row per mode, one column per metric."""
    head = "| mode | " + " | ".join(label for label, _ in METRIC_COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(METRIC_COLUMNS)
    rows = [f"| {mode} | " + " | ".join(_fmt(m[key], key) for _, key in METRIC_COLUMNS) + " |" for mode, m in metric_sets.items()]
    return "\n".join([head, rule, *rows])


def plot_hit_curve(metric_sets: dict[str, dict], path: Path, title: str) -> None:
    """hit@k for k = 1..10, one line per mode, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = list(range(1, RANK_DEPTH + 1))
    for mode, m in metric_sets.items():
        ax.plot(ks, [v if v is not None else float("nan") for v in m["hit_curve"]], marker="o", label=mode)
    ax.set(xlabel="k (distinct articles)", ylabel="hit@k", title=title, ylim=(0, 1.02), xticks=ks)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: dict, folder: Path, title: str, settings: Settings, extra: dict) -> None:
    """report.json, report.md and hitk.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    table = format_table(result["metrics"])
    payload = {"title": title, **extra, "settings": {k: str(v) for k, v in settings.__dict__.items()}, **result}
    (folder / "report.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    (folder / "report.md").write_text(f"# {title}\n\n{table}\n", encoding="utf-8")
    plot_hit_curve(result["metrics"], folder / "hitk.png", title)


def _squad_settings(args, base: Settings) -> tuple[Settings, list[dict], str]:
    from rag.squad import read_squad, write_corpus

    paragraphs, questions = read_squad(args.squad, args.limit, args.seed)
    digest = hashlib.sha256(f"{Path(args.squad).resolve()}|{args.limit}|{args.seed}".encode()).hexdigest()[:12]
    from rag.embedding import cache_dir

    root = Path(args.index) if args.index else cache_dir() / "squad" / digest
    write_corpus(paragraphs, root / "corpus")
    articles = len({p.title for p in paragraphs})
    note = f"SQuAD {Path(args.squad).name}: {len(questions)} questions; indexed {len(paragraphs)} paragraphs from {articles} articles"
    return base.replace(corpus_dir=root / "corpus", index_dir=root / "index"), questions, note


def run_cli(args) -> int:
    """Entry point of `rag eval`."""
    from rag.assistant import Assistant
    from rag.retrieval import MODES

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODES)}")
    base = from_env(corpus_dir=args.corpus, model=args.model)
    if args.squad:
        settings, questions, note = _squad_settings(args, base)
        title = f"rag eval on {Path(args.squad).name}"
    else:
        settings = base.replace(index_dir=args.index) if args.index else base
        path = args.questions or Path(settings.corpus_dir) / "questions.jsonl"
        questions = load_questions(path)
        note = f"{path}: {len(questions)} questions ({sum(q['answerable'] for q in questions)} answerable)"
        title = f"rag eval on {Path(path).name}"
    print(note, file=sys.stderr)
    k = args.k or settings.k
    assistant = Assistant(settings, progress=True, log=lambda m: print(m, file=sys.stderr))
    result = evaluate(assistant, questions, modes, k)
    print(f"{note}; k={k}\n")
    print(format_table(result["metrics"]))
    if args.output:
        write_report(result, Path(args.output), title, settings, {"note": note, "k": k})
        print(f"\nwrote {args.output}/report.json, report.md, hitk.png")
    if args.min_hit5 is not None and "hybrid" in result["metrics"]:
        hit5 = result["metrics"]["hybrid"]["hit5"] or 0.0
        if hit5 < args.min_hit5:
            print(f"hybrid hit@5 {hit5:.3f} is below --min-hit5 {args.min_hit5}", file=sys.stderr)
            return 1
    return 0
