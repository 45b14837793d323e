"""`rag eval`: run a question set through the assistant per retrieval mode and score it."""
from __future__ import annotations

import hashlib
import random
import sys
import time
from pathlib import Path

from tqdm import tqdm

from rag.measure import metrics as M
from rag.measure.questions import QUESTIONS, load_questions, unknown_sources
from rag.measure.report import RANK_DEPTH, format_sweep, format_table, write_report
from rag.settings import Settings, from_env


def rank_articles(assistant, answer, mode: str, k: int, depth: int = RANK_DEPTH, earlier=()) -> list[str]:
    """Distinct article ids in the order the assistant presents them, up to `depth`: the articles
    `answer` quotes, then retrieval order (`searched_articles`)."""
    return quoted_first(answer, searched_articles(assistant, answer, mode, k, depth, earlier), depth)


def searched_articles(assistant, answer, mode: str, k: int, depth: int = RANK_DEPTH, earlier=()) -> list[str]:
    """`retrieved_articles` searched as `answer`'s search read its question (after `earlier`)."""
    reading = assistant.read(answer.question, earlier)
    return retrieved_articles(assistant, reading.searched, mode, k, depth, assistant.search_vector(reading))


def quoted_first(answer, retrieved: list[str], depth: int = RANK_DEPTH) -> list[str]:
    """The articles `answer` quotes, then `retrieved`, distinct, up to `depth`."""
    return M.distinct([c.doc_id for c in answer.citations] + retrieved)[:depth]


def retrieved_articles(assistant, question: str, mode: str, k: int, depth: int = RANK_DEPTH, qvec=None) -> list[str]:
    """Distinct article ids in retrieval order, up to `depth` of them.

    The first search asks for no more passages than the candidate lists hold, so its order starts
    exactly like the k passages the answer read; a deeper search only extends the tail when that
    search found fewer than `depth` articles. `qvec`: the search's vector (default: `question`'s own).
    """
    s = assistant.settings
    qvec = assistant.embed_question(question) if qvec is None else qvec
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
    answer = assistant.ask(q["question"], k=k, mode=mode, earlier=q.get("earlier", []))
    latency = time.perf_counter() - t0
    retrieved = searched_articles(assistant, answer, mode, k, earlier=q.get("earlier", []))
    ranked = quoted_first(answer, retrieved)
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
        "retrieval_hit1": M.hit_at(retrieved, gold, 1) if answerable else None,
        "rr": M.reciprocal_rank(ranked, gold, RANK_DEPTH) if answerable else None,
        "answer_hit": (not answer.abstained and M.answer_found(answer.quoted(), q["answers"])) if answerable else None,
        "first_hit": (not answer.abstained and M.answer_found(first_answer(answer), q["answers"])) if answerable else None,
        "short_answer": answer.short_answer.text if answer.short_answer else None,
        "short_em": M.exact_match(answer.short_answer and answer.short_answer.text, q["answers"]) if answerable else None,
        "short_f1": M.f1(answer.short_answer and answer.short_answer.text, q["answers"]) if answerable else None,
        "citation_precision": M.citation_precision(cited, gold) if answerable else None,
        "answer_words": len(answer.quoted().split()) if not answer.abstained else None,
        "reader_read": "read" in answer.timings,  # False when stage 1 was sure (or nothing was found)
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
        "retrieval_hit1": M.mean(float(r["retrieval_hit1"]) for r in answerable if r.get("retrieval_hit1") is not None),
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
        "reader_read": M.mean(float(r["reader_read"]) for r in records if "reader_read" in r),
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
    """The assistant's abstention threshold (`rag.answer.selector.abstain_threshold`)."""
    from rag.answer.selector import abstain_threshold

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
        # An answer withheld at any threshold (the question asks for a kind the quote lacks) stays withheld.
        abstained = [a.abstained or a.best_score < t for _, a in results]
        hits = [not ab and M.answer_found(a.quoted(), q["answers"]) for (q, a), ab in zip(results, abstained) if q["answerable"]]
        rows.append({"threshold": t, "answer_recall": M.mean(map(float, hits)), **M.abstention_scores(abstained, answerable)})
    return rows


def cached_index(root: Path, settings: Settings) -> Path:
    """The index folder under a cached benchmark corpus `root`: one per way of making vectors, so
    runs with and without late chunking do not rebuild each other's index, and a model fitted on
    the default build's vectors is refitted from them (`index` is the PyTorch build's, made
    before the ONNX build; the two agree to ~2e-7, enough to move a tree's split)."""
    from rag.indexing.build import build_runtime

    if settings.sentence_vectors != "separate":
        return root / f"index-{settings.sentence_vectors}"
    return root / ("index-onnx" if build_runtime(settings) == "onnx" else "index")


def squad_index_settings(path: Path, base: Settings, paragraphs=None, index: Path | None = None) -> Settings:
    """Settings over a corpus of every paragraph of a SQuAD file (written and cached once, under
    the rag cache folder unless `index` names a folder); train and test splits share it."""
    from rag.embedding.model import cache_dir
    from rag.measure.squad import read_squad, write_corpus

    path = Path(path)
    if paragraphs is None:
        paragraphs, _ = read_squad(path)
    digest = hashlib.sha256(path.read_bytes() + b"|all").hexdigest()[:16]
    root = Path(index) if index else cache_dir() / "squad" / digest
    write_corpus(paragraphs, root / "corpus")
    return base.replace(corpus_dir=root / "corpus", index_dir=cached_index(root, base))


def _squad_settings(args, base: Settings) -> tuple[Settings, list[dict], str]:
    """Settings over a corpus of the SQuAD file's paragraphs, its questions, and a note on what was indexed."""
    from rag.embedding.model import cache_dir
    from rag.measure.squad import read_squad, split_of, write_corpus

    path = Path(args.squad)
    split = getattr(args, "split", None)
    if split:
        # Every article is indexed, so retrieval is as hard as it is; only the split's questions are asked.
        paragraphs, questions = read_squad(path)
        roles = split_of([p.article for p in paragraphs])
        questions = [q for q in questions if roles[q["article"]] == split]
        questions = _follow_ups(args, questions)
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
    if getattr(args, "follow_ups", None):
        sample += f", as follow-ups ({args.follow_ups})"
    note = f"SQuAD {path.name}: {sample}; indexed {len(paragraphs)} paragraphs from {articles} articles"
    return base.replace(corpus_dir=root / "corpus", index_dir=cached_index(root, base)), questions, note


def _follow_ups(args, questions: list[dict]) -> list[dict]:
    """`questions`, or with --follow-ups the follow-up set made from them (`rag.measure.followups`)."""
    kind = getattr(args, "follow_ups", None)
    if not kind:
        return questions
    from rag.measure.followups import follow_ups

    return follow_ups(questions, kind, args.seed)


def _modes(text: str) -> list[str]:
    from rag.retrieval.retriever import MODES

    modes = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODES)}")
    return modes


def _checked_modes(args) -> list[str]:
    """The modes `rag eval` scores, after refusing option combinations that cannot work."""
    modes = _modes(args.modes)
    if args.min_hit5 is not None and "hybrid" not in modes:
        raise ValueError("--min-hit5 checks the hybrid mode: add hybrid to --modes")
    if args.k is not None and args.k < 1:
        raise ValueError("--k must be at least 1")
    if args.squad and args.questions:
        raise ValueError("use --questions or --squad, not both")
    if getattr(args, "follow_ups", None) and not (args.squad and args.split):
        raise ValueError("--follow-ups goes with --squad and --split (a question set can give each question its \"earlier\")")
    if args.limit is not None and (args.limit < 1 or not args.squad):
        raise ValueError("--limit takes a positive number and goes with --squad")
    return modes


def _question_source(args) -> tuple[Settings, list[dict], str, str]:
    """(settings, questions, note on what is asked, source path) of a question set or a SQuAD file."""
    base = from_env(corpus_dir=args.corpus, model=args.model)
    if args.squad:
        settings, questions, note = _squad_settings(args, base)
        return settings, questions, note, str(args.squad)
    settings = base.replace(index_dir=args.index) if args.index else base
    path = Path(args.questions or QUESTIONS)
    questions = load_questions(path)
    answerable = sum(q["answerable"] for q in questions)
    note = f"{path}: {len(questions)} questions ({answerable} answerable, {len(questions) - answerable} not)"
    return settings, questions, note, str(path)


def run_cli(args) -> int:
    """Entry point of `rag eval`: 0 when it ran (whatever the scores), 1 below --min-hit5."""
    from rag.assistant import Assistant

    if getattr(args, "beir", None):
        from rag.measure import beir

        return beir.run_cli(args)
    modes = _checked_modes(args)
    settings, questions, note, source = _question_source(args)
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
