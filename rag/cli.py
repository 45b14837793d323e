"""Command line: `rag index`, `rag ask`, `rag add`, `rag remove`, `rag list`, `rag eval`, `rag bench`."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rag.corpus_files import safe_name
from rag.errors import RagError
from rag.logs import show_messages
from rag.settings import from_env


def _settings(args):
    return from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        model=getattr(args, "model", None),
    )


def cmd_index(args) -> int:
    from rag.indexing import build

    settings = _settings(args)
    show_messages()  # progress and skipped files on stderr
    report = build(settings, progress=not args.quiet, force=args.force)
    print(
        f"{report.articles} article(s) indexed, {len(report.skipped)} skipped; "
        f"{report.chunks} chunks, {report.sentences} sentences; "
        f"re-embedded {len(report.embedded_articles)}, reused {len(report.reused_articles)}; "
        f"{report.seconds:.1f}s -> {report.folder}"
    )
    for s in report.skipped:
        print(f"  skipped {s.name}: {s.reason}")
    return 0


def _update_index(settings, quiet: bool) -> str:
    """Bring the index up to date after the corpus changed (only changed articles are embedded); a summary line."""
    from rag.indexing import build

    report = build(settings, progress=not quiet)
    return (f"index: {report.articles} article(s), {report.chunks} chunks; embedded {len(report.embedded_articles)}, "
            f"reused {len(report.reused_articles)}; {report.seconds:.1f}s")


def _indexed(settings):
    """The index of `settings` (built or refreshed first when missing or stale, as `rag ask` does)."""
    from rag.store import ensure_index

    return ensure_index(settings, progress=False)


def cmd_add(args) -> int:
    from rag.intake import Limits
    from rag.library import add_files

    settings = _settings(args)
    show_messages()
    added = add_files(args.paths, settings.corpus_dir, Limits.of(settings), link=args.link)
    for src, dest in added.copied:
        print(f"added {safe_name(src)} -> {safe_name(dest)}")
    for src, dest in added.linked:
        print(f"linked {safe_name(src)} -> {safe_name(dest)} (indexed in place)")
    for src, reason in added.refused:
        print(f"refused {safe_name(src)}: {reason}")
    done = len(added.copied) + len(added.linked)
    if done:
        print(_update_index(settings, args.quiet))
    print(f"{done} added, {len(added.refused)} refused")
    return 0 if done or not added.refused else 1


def cmd_remove(args) -> int:
    from rag.library import remove_articles

    settings = _settings(args)
    show_messages()
    removed = remove_articles(_indexed(settings), settings.corpus_dir, args.ids)
    for path in removed:
        print(f"removed {safe_name(path)}")
    print(_update_index(settings, args.quiet))
    print(f"{len(removed)} removed")
    return 0


def cmd_list(args) -> int:
    from rag.library import format_table, list_articles

    settings = _settings(args)
    show_messages()
    rows = list_articles(_indexed(settings), settings.corpus_dir)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False))
    else:
        print(format_table(rows))
        print(f"{len(rows)} article(s)")
    return 0


def format_answer(answer) -> str:
    """Readable text for a terminal: the answer, then numbered sources."""
    lines = []
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.abstained:
        lines.append(answer.answer)
        if answer.passages:
            lines.append("\nClosest passages:")
            for p in answer.closest():
                lines.append(f"  - {p.title} [{p.doc_id}, chars {p.start}-{p.end}]: {p.text[:160]}…")
        return "\n".join(lines)
    if answer.short_answer:
        bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
        lines.append(f"Answer: {bold}{answer.short_answer.text}{plain}\n")
    lines.append(answer.answer)
    lines.append("\nSources:")
    for c in answer.citations:
        page = f"p. {c.page}, " if c.page is not None else ""
        lines.append(f"  [{c.n}] {c.title} ({c.doc_id}, {page}chars {c.start}-{c.end})")
    return "\n".join(lines)


def _number(raw: str):
    """--k as given: a number, or the raw text, so the assistant's check gives its one message."""
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _answer_one(assistant, question: str, args) -> bool:
    """Print one answer (or its error) the way `rag ask` does; False when the question was refused."""
    from rag.answer import QuestionError

    try:
        answer = assistant.ask(question, k=args.k, mode=args.mode)
    except QuestionError as exc:
        if args.json:
            print(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), flush=True)
        else:
            print(f"error: {exc}", file=sys.stderr, flush=True)
        return False
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
    else:
        print(format_answer(answer), flush=True)
    return True


def cmd_ask(args) -> int:
    from rag.assistant import Assistant

    show_messages()  # on stderr: keeps stdout clean for --json
    assistant = Assistant(_settings(args), progress=not args.json)
    if args.question is not None:
        return 0 if _answer_one(assistant, args.question, args) else 2
    # No question: answer each line of standard input as it comes, the models loaded once.
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask a question per line (Ctrl-D to end).", file=sys.stderr)
    while True:
        if interactive:
            print("? ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        if line.strip():
            _answer_one(assistant, line.rstrip("\r\n"), args)
            if not args.json:
                print(flush=True)  # a blank line between answers


def cmd_eval(args) -> int:
    from rag.measure.evaluation import run_cli

    show_messages()  # index messages on stderr: stdout carries only the results
    return run_cli(args)


def cmd_train(args) -> int:
    import logging

    from rag.measure.evaluation import squad_index_settings
    from rag.measure.questions import load_questions
    from rag.training import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    settings = squad_index_settings(args.squad, from_env(model=args.model), index=args.index)
    questions = load_questions(args.questions) if args.questions else None
    summary = run(args.squad, args.output, settings, epochs=args.epochs, shortlist=args.shortlist, seed=args.seed,
                  questions=questions, question_settings=from_env(model=args.model), reader_weights=args.reader,
                  span_epochs=args.span_epochs, span_weights=args.span_reader)
    print(json.dumps(summary, indent=1))
    return 0


def cmd_bench(args) -> int:
    from rag.measure.bench import run_cli

    return run_cli(args)


def build_parser() -> argparse.ArgumentParser:
    """The `rag` command line: the collection's commands, then the measuring ones."""
    parser = argparse.ArgumentParser(prog="rag", description="Extractive, cited answers from a folder of articles.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _collection_commands(sub)
    _measure_commands(sub)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="folder of articles (default: seeds/)")
    p.add_argument("--index", type=Path, help="index folder (default: index/)")
    p.add_argument("--model", help="embedding model: 'bundled' or a local model folder")


def _collection_commands(sub) -> None:
    """index, ask, add, remove, list."""
    p = sub.add_parser("index", help="build or update the index")
    _common(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is up to date")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with quoted, cited sentences")
    _common(p)
    p.add_argument("question", nargs="?", help="the question (none: read one question per line from standard input)")
    p.add_argument("--json", action="store_true", help="print one JSON object (per question)")
    p.add_argument("--k", type=_number, help="passages to read, 1-50")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("add", help="copy documents into the corpus folder (or link them: --link) and index them")
    _common(p)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders (.txt .md .pdf .html .htm .docx)")
    p.add_argument("--link", action="store_true",
                   help="index the files where they are: the corpus folder gets a recorded link, not a copy")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="delete indexed articles' files from the corpus folder and update the index")
    _common(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="article ids, as `rag list` shows them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("list", help="the indexed articles: id, title, format, pages, chunks, date added")
    _common(p)
    p.add_argument("--json", action="store_true", help="one JSON array")
    p.set_defaults(func=cmd_list)


def _measure_commands(sub) -> None:
    """eval, train, bench."""
    p = sub.add_parser("eval", help="score the system on a question set, a SQuAD file or a BEIR data set")
    _common(p)
    p.add_argument("--questions", type=Path, help="question set (default: tests/data/questions.jsonl)")
    p.add_argument("--squad", type=Path, help="a SQuAD v1.1-format JSON file to evaluate on instead")
    p.add_argument("--beir", type=Path, metavar="DIR",
                   help="a BEIR-format data set folder (corpus.jsonl, queries.jsonl, qrels/) to score retrieval on")
    p.add_argument("--split", choices=["train", "test"],
                   help="which split of the data set to score: BEIR's qrels file (default test); SQuAD's "
                        "articles split by `rag.measure.squad.split_of` (default: every question)")
    p.add_argument("--limit", type=int, help="with --squad: sample this many questions")
    p.add_argument("--seed", type=int, default=0, help="with --limit: sampling seed")
    p.add_argument("--modes", default="hybrid,dense,bm25", help="comma-separated retrieval modes")
    p.add_argument("--k", type=int, help="passages read per question (default: the k setting)")
    p.add_argument("--output", type=Path, help="write report.json, report.md and hitk.png here")
    p.add_argument("--min-hit5", type=float, help="exit 1 if hybrid hit@5 is below this")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("train", help="fit the reader and answer selector on a SQuAD file's train articles")
    p.add_argument("--squad", type=Path, required=True, help="SQuAD v1.1 file (its test articles are never read)")
    p.add_argument("--index", type=Path, help="index folder for its paragraphs (default: cached)")
    p.add_argument("--model", help="embedding model: 'bundled' or a local model folder")
    p.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "models",
                   help="where to write the models (default: the package's rag/models)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--questions", default=str(Path(__file__).resolve().parent.parent / "tests" / "data" / "questions.jsonl"),
                   help="question set over the seeds whose false abstentions also bound the threshold ('' for none)")
    p.add_argument("--shortlist", type=int, default=4, help="sentences the reader reads per question")
    p.add_argument("--reader", type=Path, help="use these reader weights instead of training the reader")
    p.add_argument("--span-epochs", type=int, default=3, help="epochs of the short-answer reader")
    p.add_argument("--span-reader", type=Path, help="use these short-answer reader weights instead of training it")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("bench", help="measure speed and memory at several sizes")
    _common(p)
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated vector counts")
    p.add_argument("--output", type=Path, help="write bench.json and bench.png here")
    p.add_argument("--queries", type=int, default=200, help="queries per measurement")
    p.add_argument("--copies", type=int, default=10, help="versions of each seed article in the build corpus")
    p.add_argument("--pool", type=int, default=4000, help="real sentences embedded as the base of synthetic vectors")
    p.add_argument("--sections", default="start,pipeline,scale",
                   help="what to measure, comma-separated: start (cold start of rag ask and app.py, warm stages), "
                        "pipeline, scale, http (an HTTP load run on loopback "
                        "against app.py's /api/ask, beside the in-process compute limit), milvus (the Milvus Lite "
                        "backend vs local at --sizes passages: ingest and query latency)")
    p.add_argument("--users", type=int, default=50, help="http: concurrent users")
    p.add_argument("--per-user", type=int, default=10, help="http: questions each user asks, one after another")
    p.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rag` command."""
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a full disk shows here, as a message, rather than at exit
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`| head`) has gone: not an error. Point stdout at devnull so the final
        # flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (RagError, FileNotFoundError, ValueError, RuntimeError) as exc:  # messages meant for the user
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file where a folder should be, a read-only place, /dev/full
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        if not exc.filename:  # stdout itself failed: drop what is buffered so exit does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
