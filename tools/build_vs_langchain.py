"""Index build time on SQuAD's paragraphs: ours (the defaults, and variants) against LangChain
FAISS with the same bundled MiniLM, interleaved in one run (issue 12, item 5).

LangChain lives in a venv of its own, never in this package's dependencies:

    python3 -m venv /tmp/lcvenv
    /tmp/lcvenv/bin/pip install torch==2.13.0          # first, so pip keeps the CPU build
    /tmp/lcvenv/bin/pip install langchain-community langchain-huggingface langchain-text-splitters \\
        faiss-cpu sentence-transformers

then, from the repository root (our side runs with this interpreter, LangChain's with the other):

    HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE nice -n 15 .venv/bin/python tools/build_vs_langchain.py \\
        --squad ../shared/data/squad/dev-v1.1.json --langchain-python /tmp/lcvenv/bin/python \\
        --rounds 2 --output out/build-vs-langchain.json

Kinds (`--kinds`, default "default torch langchain"): `default` is our build as shipped (ONNX
encoder, batches of 16); `torch` embeds with sentence-transformers (RAG_BUILD_RUNTIME=torch);
`torch-b64` also with the earlier batches of 64; `pooled` is late chunking (RAG_SENTENCE_VECTORS=pooled).

Every build is a fresh process, timed from before the model loads to the finished index (ours:
`rag.indexing.build.build` into an empty folder; LangChain: HuggingFaceEmbeddings, then
RecursiveCharacterTextSplitter(chunk_size=1000) over each paragraph file's text, then
FAISS.from_documents). The order within a round is fixed (ours separate, ours pooled, LangChain)
and rounds repeat, so a machine whose speed drifts affects all three alike.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Our kinds: the settings each changes from the defaults.
OURS = {
    "default": {},
    "torch": {"build_runtime": "torch"},
    "torch-b64": {"build_runtime": "torch", "batch_size": 64},
    "pooled": {"sentence_vectors": "pooled"},
}
KINDS = (*OURS, "langchain")


def build_ours(corpus: str, kind: str) -> dict:
    """Build our index of `corpus` into a temporary folder; seconds include loading the model."""
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    from rag.indexing.build import build
    from rag.settings import from_env

    with tempfile.TemporaryDirectory(prefix="build-vs-lc-") as tmp:
        settings = from_env(corpus_dir=Path(corpus), index_dir=Path(tmp) / "index", **OURS[kind])
        report = build(settings, progress=False, force=True)
        seconds = time.perf_counter() - t0
    texts = report.chunks + (report.sentences if settings.sentence_vectors == "separate" else 0)
    return {"seconds": seconds, "chunks": report.chunks, "sentences": report.sentences, "texts_encoded": texts}


def build_langchain(corpus: str, model: str) -> dict:
    """LangChain FAISS over the same paragraph files and model (run in LangChain's venv)."""
    t0 = time.perf_counter()
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(model_name=model, model_kwargs={"device": "cpu"})
    docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
            for p in sorted(Path(corpus).glob("*.txt"))]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000).split_documents(docs)
    store = FAISS.from_documents(chunks, embeddings)
    return {"seconds": time.perf_counter() - t0, "documents": len(docs), "chunks": len(chunks),
            "texts_encoded": store.index.ntotal}


def run_one(kind: str, corpus: Path, model: Path, lc_python: str) -> dict:
    """One build in a fresh process; its JSON result plus the process's wall time."""
    if kind == "langchain":
        cmd = [lc_python, __file__, "--role", "langchain", "--corpus", str(corpus), "--model", str(model)]
    else:
        cmd = [sys.executable, __file__, "--role", "ours", "--corpus", str(corpus), "--kind", kind]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_WAIT_POLICY="PASSIVE", TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} build failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t0
    return result


def orchestrate(args) -> int:
    """Rounds of the chosen kinds (LangChain always among them); print the table and write JSON."""
    from rag.embedding.model import bundled_model_dir
    from rag.measure.evaluation import squad_index_settings
    from rag.settings import from_env

    corpus = Path(squad_index_settings(Path(args.squad), from_env()).corpus_dir)
    model = bundled_model_dir()
    kinds = list(dict.fromkeys([*args.kinds, "langchain"]))
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for n in range(args.rounds):
        for kind in kinds:
            result = run_one(kind, corpus, model, args.langchain_python)
            runs[kind].append(result)
            print(f"round {n + 1} {kind:10s} {result['seconds']:7.1f} s  ({result['texts_encoded']} texts, "
                  f"{result['chunks']} chunks; process {result['process_seconds']:.1f} s)", flush=True)
    median = {k: statistics.median(r["seconds"] for r in runs[k]) for k in kinds}
    summary = {k: {"median_seconds": round(median[k], 1), "ratio_to_langchain": round(median[k] / median["langchain"], 2),
                   "runs": runs[k]} for k in kinds}
    for k in kinds:
        print(f"{k:9s} median {median[k]:7.1f} s   {median[k] / median['langchain']:.2f}x LangChain FAISS")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps({"corpus": str(corpus), "model": str(model), **summary}, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", default=str(ROOT.parent / "shared/data/squad/dev-v1.1.json"))
    parser.add_argument("--langchain-python", default="/tmp/lcvenv/bin/python")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=["default", "torch", "langchain"])
    parser.add_argument("--output")
    # Internal: one build, run in a fresh process by the orchestrator.
    parser.add_argument("--role", choices=("ours", "langchain"), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="default", choices=tuple(OURS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "ours":
        print(json.dumps(build_ours(args.corpus, args.kind)))
    elif args.role == "langchain":
        print(json.dumps(build_langchain(args.corpus, args.model)))
    else:
        sys.path.insert(0, str(ROOT))
        return orchestrate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
