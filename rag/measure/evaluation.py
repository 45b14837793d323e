"""`rag eval`: run a question set through the assistant per retrieval mode and score it."""
from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path

from tqdm import tqdm

from rag.measure import metrics as M
from rag.settings import ROOT, Settings, from_env

# The seed question set: evaluation data, kept outside the corpus so it is never indexed.
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
REQUIRED = ("id", "question", "answers", "sources", "answerable")
RANK_DEPTH = 10
METRIC_COLUMNS = [
    ("hit@1", "hit1"), ("hit@3", "hit3"), ("hit@5", "hit5"), ("MRR@10", "mrr10"),
    ("answer recall", "answer_recall"), ("first sentence", "first_sentence"), ("short EM", "short_em"),
    ("short F1", "short_f1"), ("citation precision", "citation_precision"), ("answer words", "answer_words"),
    ("abstain P", "abstain_precision"), ("abstain R", "abstain_recall"), ("false abstain", "false_abstention"),
    ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"),
]


def _check_question(q: object, where: str) -> dict:
    """`q` if it is a well-formed question record, else ValueError naming the problem."""
    if not isinstance(q, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(q).__name__}")
    missing = [key for key in REQUIRED if key not in q]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(q["question"], str) or not q["question"].strip():
        raise ValueError(f"{where}: question must be non-empty text")
    if not isinstance(q["answerable"], bool):
        raise ValueError(f"{where}: answerable must be true or false")
    for key in ("answers", "sources"):
        if not isinstance(q[key], list) or not all(isinstance(x, str) for x in q[key]):
            raise ValueError(f"{where}: {key} must be a list of strings")
    if q["answerable"] and not (q["answers"] and q["sources"]):
        raise ValueError(f"{where}: an answerable question needs at least one answer and one source")
    return q


def load_questions(path: Path) -> list[dict]:
    """Read and check a question file (one JSON object a line); ValueError says what is wrong and where."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    questions: list[dict] = []
    line_of: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
        _check_question(q, f"{path}:{n}")
        qid = str(q["id"])
        if qid in line_of:
            raise ValueError(f"{path}:{n}: id {qid!r} already used on line {line_of[qid]}")
        line_of[qid] = n
        questions.append(q)
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def unknown_sources(questions: list[dict], doc_ids) -> list[str]:
    """Source ids the questions name that are not in the index (typos score as misses)."""
    known = set(doc_ids)
    return sorted({s for q in questions for s in q["sources"] if s not in known})


def rank_articles(assistant, question: str, mode: str, k: int, depth: int = RANK_DEPTH) -> list[str]:
    """Distinct article ids in retrieval order, up to `depth` of them.

    The first search asks for no more passages than the candidate lists hold, so its order starts
    exactly like the k passages the answer read; a deeper search only extends the tail when that
    search found fewer than `depth` articles.
    """
    s = assistant.settings
    qvec = assistant.embed_question(question)
    passages = max(k, s.dense_k, s.lexical_k)
    ranked = M.distinct([p.doc_id for p in assistant.retriever.search(question, qvec, k=passages, mode=mode)])
    if len(ranked) < depth:
        deeper = assistant.retriever.search(question, qvec, k=passages * 4, mode=mode)
        ranked = M.distinct(ranked + [p.doc_id for p in deeper])
    return ranked[:depth]


def first_answer(answer) -> str:
    """The first quoted answer sentence (a sentence quoted only as context for it is skipped)."""
    return next((c.text for c in answer.citations if not c.context), "")


def ask_one(assistant, q: dict, mode: str, k: int) -> dict:
    """One question through the same path as the chat page, plus the deeper ranking for hit@k."""
    t0 = time.perf_counter()
    answer = assistant.ask(q["question"], k=k, mode=mode)
    latency = time.perf_counter() - t0
    ranked = rank_articles(assistant, answer.question, mode, k)
    gold = set(q["sources"])
    cited = [c.doc_id for c in answer.citations]
    answerable = q["answerable"]
    return {
        "id": q["id"],
        "question": q["question"],
        "answerable": answerable,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "best_score": round(answer.best_score, 4),
        "cited_ids": cited,
        "ranked_ids": ranked,
        "hits": {str(i): M.hit_at(ranked, gold, i) for i in range(1, RANK_DEPTH + 1)} if answerable else {},
        "rr": M.reciprocal_rank(ranked, gold, RANK_DEPTH) if answerable else None,
        "answer_hit": (not answer.abstained and M.answer_found(answer.quoted(), q["answers"])) if answerable else None,
        "first_hit": (not answer.abstained and M.answer_found(first_answer(answer), q["answers"])) if answerable else None,
        "short_answer": answer.short_answer.text if answer.short_answer else None,
        "short_em": M.exact_match(answer.short_answer and answer.short_answer.text, q["answers"]) if answerable else None,
        "short_f1": M.f1(answer.short_answer and answer.short_answer.text, q["answers"]) if answerable else None,
        "citation_precision": M.citation_precision(cited, gold) if answerable else None,
        "answer_words": len(answer.quoted().split()) if not answer.abstained else None,
        "latency_ms": round(latency * 1000, 2),
    }


def summarize(records: list[dict]) -> dict:
    """Metrics of one mode from its per-question records.

    Retrieval, answer recall and citation precision are over answerable questions (citation
    precision only where the assistant answered); answer words over every answered question;
    a metric with nothing to average over is None (shown as "–").
    """
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
        "first_sentence": M.mean(float(r["first_hit"]) for r in answerable if "first_hit" in r),
        "short_em": M.mean(100 * r["short_em"] for r in answerable if "short_em" in r),
        "short_f1": M.mean(100 * r["short_f1"] for r in answerable if "short_f1" in r),
        "short_given": M.mean(float(r.get("short_answer") is not None) for r in answerable),
        "abstained": M.mean(float(r["abstained"]) for r in records),
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
    # Modes take turns per question, so a busy spell on the machine slows every mode alike.
    for q in questions:
        for mode in modes:
            records[mode].append(ask_one(assistant, q, mode, k))
            bar.update()
    bar.close()
    return {"metrics": {m: summarize(records[m]) for m in modes}, "records": records}


def threshold_in_force(assistant) -> float:
    """The assistant's abstention threshold (`rag.selector.abstain_threshold`)."""
    from rag.selector import abstain_threshold

    return abstain_threshold(assistant.settings, assistant.selector.config)


def threshold_sweep(assistant, questions: list[dict], k: int, thresholds=None) -> list[dict]:
    """Answer recall and abstention at each abstention threshold (hybrid retrieval).

    Answers are computed once with abstention off; a threshold then only decides which of them
    are withheld, so every row is exactly what that setting would have produced.
    """
    from rag.assistant import Assistant

    if thresholds is None:
        thresholds = sorted({0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, threshold_in_force(assistant)})
    probe = Assistant(assistant.settings.replace(abstain_threshold=-1.0), index=assistant.index)
    results = [(q, probe.ask(q["question"], k=k)) for q in questions]
    answerable = [q["answerable"] for q, _ in results]
    rows = []
    for t in thresholds:
        abstained = [a.best_score < t for _, a in results]
        hits = [not ab and M.answer_found(a.quoted(), q["answers"]) for (q, a), ab in zip(results, abstained) if q["answerable"]]
        rows.append({"threshold": t, "answer_recall": M.mean(map(float, hits)), **M.abstention_scores(abstained, answerable)})
    return rows


def format_sweep(rows: list[dict], current: float) -> str:
    """The threshold trade-off as a Markdown table; the current setting is marked."""
    lines = ["| abstain threshold | answer recall | abstain P | abstain R | false abstain |", "|---:|---:|---:|---:|---:|"]
    for r in rows:
        mark = " ←" if abs(r["threshold"] - current) < 1e-9 else ""
        lines.append(f"| {r['threshold']:.2f}{mark} | " + " | ".join(_fmt(r[k], k) for k in
                     ("answer_recall", "abstain_precision", "abstain_recall", "false_abstention")) + " |")
    return "\n".join(lines)


def _fmt(value, key: str) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms") or key in ("answer_words", "short_em", "short_f1"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def format_table(metric_sets: dict[str, dict]) -> str:
    """A Markdown table: one row per mode, one column per metric."""
    head = "| mode | " + " | ".join(label for label, _ in METRIC_COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(METRIC_COLUMNS)
    rows = [f"| {mode} | " + " | ".join(_fmt(m.get(key), key) for _, key in METRIC_COLUMNS) + " |" for mode, m in metric_sets.items()]
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
    if result.get("threshold_sweep"):
        table += "\n\nAbstention threshold (hybrid):\n\n" + format_sweep(result["threshold_sweep"], result["abstain_threshold"])
    payload = {"title": title, **extra, "settings": settings.public(), **result}
    (folder / "report.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    (folder / "report.md").write_text(f"# {title}\n\n{table}\n", encoding="utf-8")
    plot_hit_curve(result["metrics"], folder / "hitk.png", title)


def squad_index_settings(path: Path, base: Settings, paragraphs=None, index: Path | None = None) -> Settings:
    """Settings over a corpus of every paragraph of a SQuAD file (written and cached once, under
    the rag cache folder unless `index` names a folder); train and test splits share it."""
    from rag.embedding import cache_dir
    from rag.measure.squad import read_squad, write_corpus

    path = Path(path)
    if paragraphs is None:
        paragraphs, _ = read_squad(path)
    digest = hashlib.sha256(path.read_bytes() + b"|all").hexdigest()[:16]
    root = Path(index) if index else cache_dir() / "squad" / digest
    write_corpus(paragraphs, root / "corpus")
    return base.replace(corpus_dir=root / "corpus", index_dir=root / "index")


def _squad_settings(args, base: Settings) -> tuple[Settings, list[dict], str]:
    """Settings over a corpus of the SQuAD file's paragraphs, its questions, and a note on what was indexed."""
    from rag.embedding import cache_dir
    from rag.measure.squad import read_squad, split_of, write_corpus

    path = Path(args.squad)
    split = getattr(args, "split", None)
    if split:
        # Every article is indexed, so retrieval is as hard as it is; only the split's questions are asked.
        paragraphs, questions = read_squad(path)
        roles = split_of([p.article for p in paragraphs])
        questions = [q for q in questions if roles[q["article"]] == split]
        if args.limit is not None and args.limit < len(questions):
            questions = random.Random(args.seed).sample(questions, args.limit)
        digest = None
    else:
        paragraphs, questions = read_squad(path, args.limit, args.seed)
        # Keyed by content (not path) and sample, so a changed file or another sample gets its own index.
        digest = hashlib.sha256(path.read_bytes() + f"|{args.limit}|{args.seed}".encode()).hexdigest()[:16]
    if digest is None:
        settings = squad_index_settings(path, base, paragraphs, args.index)
        root = Path(settings.corpus_dir).parent
    else:
        root = Path(args.index) if args.index else cache_dir() / "squad" / digest
        write_corpus(paragraphs, root / "corpus")
    articles = len({p.article for p in paragraphs})
    sample = f"{len(questions)} questions (sampled with seed {args.seed})" if args.limit else f"{len(questions)} questions"
    if split:
        sample += f" of the {split} articles"
    note = f"SQuAD {path.name}: {sample}; indexed {len(paragraphs)} paragraphs from {articles} articles"
    return base.replace(corpus_dir=root / "corpus", index_dir=root / "index"), questions, note


def _modes(text: str) -> list[str]:
    from rag.retrieval import MODES

    modes = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODES)}")
    return modes


def run_cli(args) -> int:
    """Entry point of `rag eval`: 0 when it ran (whatever the scores), 1 below --min-hit5."""
    from rag.assistant import Assistant

    if getattr(args, "beir", None):
        from rag import beir

        return beir.run_cli(args)
    modes = _modes(args.modes)
    if args.min_hit5 is not None and "hybrid" not in modes:
        raise ValueError("--min-hit5 checks the hybrid mode: add hybrid to --modes")
    if args.k is not None and args.k < 1:
        raise ValueError("--k must be at least 1")
    if args.squad and args.questions:
        raise ValueError("use --questions or --squad, not both")
    if args.limit is not None and (args.limit < 1 or not args.squad):
        raise ValueError("--limit takes a positive number and goes with --squad")
    base = from_env(corpus_dir=args.corpus, model=args.model)
    if args.squad:
        settings, questions, note = _squad_settings(args, base)
        source = str(args.squad)
    else:
        settings = base.replace(index_dir=args.index) if args.index else base
        path = Path(args.questions or QUESTIONS)
        questions = load_questions(path)
        answerable = sum(q["answerable"] for q in questions)
        note = f"{path}: {len(questions)} questions ({answerable} answerable, {len(questions) - answerable} not)"
        source = str(path)
    title = f"rag eval on {Path(source).name}"
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731  stdout carries only the results
    log(note)
    k = args.k or settings.k
    assistant = Assistant(settings, progress=True)
    missing = unknown_sources(questions, assistant.index.titles)
    if missing:
        log(f"warning: {len(missing)} source id(s) are not in the index and can never be hit: {', '.join(missing[:5])}")
    result = evaluate(assistant, questions, modes, k)
    if "hybrid" in modes and not all(q["answerable"] for q in questions):
        result["threshold_sweep"] = threshold_sweep(assistant, questions, k)
    result["abstain_threshold"] = threshold_in_force(assistant)
    print(f"{note}; k={k}\n")
    print(format_table(result["metrics"]))
    if result.get("threshold_sweep"):
        print("\nAbstention threshold (hybrid):\n")
        print(format_sweep(result["threshold_sweep"], result["abstain_threshold"]))
    if args.output:
        extra = {"note": note, "source": source, "modes": modes, "k": k, "rank_depth": RANK_DEPTH}
        write_report(result, Path(args.output), title, settings, extra)
        print(f"\nwrote {args.output}/report.json, report.md, hitk.png")
    if args.min_hit5 is not None:
        hit5 = result["metrics"]["hybrid"]["hit5"] or 0.0
        if hit5 < args.min_hit5:
            log(f"hybrid hit@5 {hit5:.3f} is below --min-hit5 {args.min_hit5}")
            return 1
    return 0
