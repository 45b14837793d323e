"""Command line: `rag index`, `rag ask`, `rag add`, `rag remove`, `rag list`, `rag eval`, `rag bench`.

What each command does is here; its arguments are declared in `rag.cli_parser`."""
from __future__ import annotations

import json
import os
import sys

from rag.cli_parser import build_parser
from rag.errors import RagError
from rag.ingest.corpus_files import safe_name
from rag.logs import show_messages
from rag.settings import from_env


def _settings(args):
    return from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        model=getattr(args, "model", None),
    )


def cmd_index(args) -> int:
    """`rag index`: build or update the index, and say what was embedded, reused and skipped."""
    from rag.indexing.build import build

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
    from rag.indexing.build import build

    report = build(settings, progress=not quiet)
    return (f"index: {report.articles} article(s), {report.chunks} chunks; embedded {len(report.embedded_articles)}, "
            f"reused {len(report.reused_articles)}; {report.seconds:.1f}s")


def _indexed(settings):
    """The index of `settings` (built or refreshed first when missing or stale, as `rag ask` does)."""
    from rag.indexing.build import ensure_index

    return ensure_index(settings, progress=False)


def cmd_add(args) -> int:
    """`rag add`: copy (or link) checked documents into the corpus folder, then update the index."""
    from rag.ingest.intake import Limits
    from rag.ingest.library import add_files

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
    """`rag remove`: delete indexed articles' files from the corpus folder, then update the index."""
    from rag.ingest.library import remove_articles

    settings = _settings(args)
    show_messages()
    removed = remove_articles(_indexed(settings), settings.corpus_dir, args.ids)
    for path in removed:
        print(f"removed {safe_name(path)}")
    print(_update_index(settings, args.quiet))
    print(f"{len(removed)} removed")
    return 0


def cmd_list(args) -> int:
    """`rag list`: the indexed articles, as a table or JSON."""
    from rag.ingest.library import format_table, list_articles

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


def _answer_one(assistant, question: str, args, earlier: list[str] | None = None) -> bool:
    """Print one answer (or its error) the way `rag ask` does; False when the question was refused.
    `earlier`: the questions asked before it in the conversation (`--chat`)."""
    from rag.answer.records import QuestionError

    try:
        answer = assistant.ask(question, k=args.k, mode=args.mode, earlier=earlier or [])
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
    """`rag ask`: answer the question given, or each line of standard input."""
    from rag.assistant import MAX_SCANNED, Assistant

    if args.chat and args.question is not None:
        print("error: --chat reads a conversation from standard input: give no question", file=sys.stderr)
        return 2
    show_messages()  # on stderr: keeps stdout clean for --json
    assistant = Assistant(_settings(args), progress=not args.json)
    if args.question is not None:
        return 0 if _answer_one(assistant, args.question, args) else 2
    # No question: answer each line of standard input as it comes, the models loaded once.
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask a question per line (Ctrl-D to end).", file=sys.stderr)
    earlier: list[str] = []  # with --chat, the questions so far: a follow-up is read with them
    while True:
        if interactive:
            print("? ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        if line.strip():
            question = line.rstrip("\r\n")
            _answer_one(assistant, question, args, earlier)
            if args.chat:
                earlier = [*earlier, question][-MAX_SCANNED:]  # the assistant picks the turns to read
            if not args.json:
                print(flush=True)  # a blank line between answers


def cmd_eval(args) -> int:
    """`rag eval`: score the system on a question set, a SQuAD file or a BEIR data set."""
    from rag.measure.evaluation import run_cli

    show_messages()  # index messages on stderr: stdout carries only the results
    return run_cli(args)


def cmd_train(args) -> int:
    """`rag train`: fit the answer models on a SQuAD file's train articles."""
    import logging

    from rag.measure.evaluation import squad_index_settings
    from rag.measure.questions import load_questions
    from rag.train.fit import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    settings = squad_index_settings(args.squad, from_env(model=args.model), index=args.index)
    questions = load_questions(args.questions) if args.questions else None
    summary = run(args.squad, args.output, settings, epochs=args.epochs, shortlist=args.shortlist, seed=args.seed,
                  questions=questions, question_settings=from_env(model=args.model), reader_weights=args.reader,
                  span_epochs=args.span_epochs, span_weights=args.span_reader, reader_lr=args.reader_lr,
                  reader_layers=args.reader_layers, reader_context=args.reader_context, beir=args.beir,
                  beir_weight=args.beir_weight, passage_ranker=args.passage_ranker, ranker=args.ranker,
                  reader_start=args.reader_start, cut_answers=args.cut_answers,
                  reader_base=args.reader_base)
    print(json.dumps(summary, indent=1))
    return 0


def cmd_bench(args) -> int:
    """`rag bench`: measure speed and memory."""
    from rag.measure.bench import run_cli

    return run_cli(args)


# Each command `rag.cli_parser` declares, and the function that runs it.
COMMANDS = {"index": cmd_index, "ask": cmd_ask, "add": cmd_add, "remove": cmd_remove, "list": cmd_list,
            "eval": cmd_eval, "train": cmd_train, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rag` command."""
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
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
