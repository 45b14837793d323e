"""Offline sweep of retrieval variants on stored vectors: how the fusion and dense-scoring
defaults were chosen (README, "Retrieval on public benchmarks").

Every variant is computed from score matrices (question x passage: chunk cosine, best-sentence
cosine, BM25) built once from an existing index, so each variant takes seconds, not a rebuild.
Variants reproduce the product's scoring exactly (checked against `rag eval` on the seeds).

    python tools/retrieval_sweep.py --beir ../shared/data/beir/scifact      # index from `rag eval --beir`
        [--seeds] [--squad ../shared/data/squad/dev-v1.1.json --squad-index ~/.cache/rag/squad/<digest>/index]

SciFact figures are nDCG@10 / recall@100 (trec_eval) on train and test claims; seeds and SQuAD
figures are hit@1 / MRR@10 over distinct articles (paragraphs for SQuAD).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import bm25s
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.embedding.model import cache_dir, get_embedder  # noqa: E402
from rag.indexing.lexical import terms  # noqa: E402
from rag.indexing.store import load_index  # noqa: E402
from rag.measure.beir import score_rankings  # noqa: E402
from rag.measure.beir_data import read_beir  # noqa: E402
from rag.settings import ROOT  # noqa: E402

DEPTH = 1000  # candidates per side, as `rag eval --beir` retrieves


def lexical_texts(index) -> list[str]:
    """The texts the product's BM25 index is built from (title prefixed to every chunk after the first)."""
    return [f"{c.title}\n{c.text}" if c.chunk_no else c.text for c in index.chunks]


def bm25_matrix(texts: list[str], questions: list[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """BM25 score of every text for every question (bm25s, Lucene variant, the product's analyser)."""
    model = bm25s.BM25(k1=k1, b=b)
    model.index([terms(t) or [""] for t in texts], show_progress=False)
    vocab = model.vocab_dict
    out = np.zeros((len(questions), len(texts)), dtype=np.float32)
    for i, q in enumerate(questions):
        known = [t for t in terms(q) if t in vocab]
        if known:
            out[i] = model.get_scores(known)
    return out


def matrices(index, questions: list[str]) -> dict:
    """C: chunk cosine; SM: best sentence cosine per chunk; L: BM25 (k1 1.5, b .75: bm25s's defaults, the
    product's until 2026-11-26); L09: BM25 (0.9, 0.4: the product's since)."""
    qv = get_embedder("bundled", 64).encode(questions)
    flat = np.concatenate([np.asarray(ids, dtype=np.int64) for ids in index.chunk_sentences])
    offsets = np.cumsum([0] + [len(ids) for ids in index.chunk_sentences[:-1]])
    texts = lexical_texts(index)
    return {
        "C": qv @ index.chunk_vectors.T,
        "SM": np.maximum.reduceat((qv @ index.sentence_vectors.T)[:, flat], offsets, axis=1),
        "L": bm25_matrix(texts, questions),
        "L09": bm25_matrix(texts, questions, 0.9, 0.4),
        "doc": [c.doc_id for c in index.chunks],
    }


def dense_feature(m: dict, name: str) -> np.ndarray:
    """'C', 'SM', or 'sW': (1 - W) * chunk cosine + W * best-sentence cosine."""
    if name in ("C", "SM"):
        return m[name]
    w = float(name[1:])
    return (1 - w) * m["C"] + w * m["SM"]


def top_rows(scores: np.ndarray, n: int = DEPTH, positive: bool = False) -> list[list[int]]:
    """Per question, the n best passage rows (only positive scores if `positive`), best first."""
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.take_along_axis(scores, part, 1).argsort(axis=1, kind="stable")[:, ::-1]
    idx = np.take_along_axis(part, order, 1)
    if positive:
        return [[int(r) for r in row if scores[i, r] > 0] for i, row in enumerate(idx)]
    return [[int(r) for r in row] for row in idx]


def single(m: dict, name: str) -> list[list[int]]:
    return top_rows(m[name], positive=True) if name.startswith("L") else top_rows(dense_feature(m, name))


def rrf_variant(m: dict, dense: str, lex: str, k: int = 60, w=(1.0, 1.0), depth: int = DEPTH) -> list[list[int]]:
    """Weighted RRF of the two candidate lists (the product's `rrf`)."""
    out = []
    for d_rows, l_rows in zip(top_rows(dense_feature(m, dense), depth), top_rows(m[lex], depth, True)):
        sc: dict[int, float] = {}
        for rows, weight in ((d_rows, w[0]), (l_rows, w[1])):
            for rank, r in enumerate(rows, 1):
                sc[r] = sc.get(r, 0.0) + weight / (k + rank)
        out.append(sorted(sc, key=lambda r: -sc[r]))
    return out


def convex_variant(m: dict, dense: str, lex: str, a: float, norm: str = "max", depth: int = DEPTH) -> list[list[int]]:
    """a * dense + (1 - a) * lexical over the union of top-`depth` chunk-cosine and BM25 candidates.

    norm 'max': each side divided by its best candidate score (the product's `convex`);
    'minmax': (s - min) / (max - min) over the candidates (depends on depth).
    """
    feat, lexm = dense_feature(m, dense), m[lex]
    out = []
    for i, (d_rows, l_rows) in enumerate(zip(top_rows(m["C"], depth), top_rows(lexm, depth, True))):
        cand = np.asarray(list(dict.fromkeys(d_rows + l_rows)), dtype=np.int64)
        dv, lv = np.maximum(feat[i, cand], 0), lexm[i, cand]
        if norm == "minmax":
            dv = (dv - dv.min()) / (dv.max() - dv.min() + 1e-9)
            lv = (lv - lv.min()) / (lv.max() - lv.min() + 1e-9)
        else:
            dv = dv / (dv.max() + 1e-9)
            lv = lv / (lv.max() + 1e-9)
        out.append([int(r) for r in cand[np.argsort(-(a * dv + (1 - a) * lv), kind="stable")]])
    return out


def hit_scores(rows: list[list[int]], doc: list[str], gold: list[set[str]]) -> tuple[float, float]:
    """hit@1 and MRR@10 over distinct articles."""
    h1 = rr = 0.0
    for r, g in zip(rows, gold):
        docs = list(dict.fromkeys(doc[x] for x in r))[:10]
        h1 += bool(docs) and docs[0] in g
        rr += next((1 / (i + 1) for i, d in enumerate(docs) if d in g), 0.0)
    return h1 / len(gold), rr / len(gold)


VARIANTS = {
    "bm25 (k1 1.5, b 0.75)": lambda m: single(m, "L"),
    "bm25 (k1 0.9, b 0.4; current)": lambda m: single(m, "L09"),
    "dense: chunk vector (current)": lambda m: single(m, "C"),
    "dense: best sentence": lambda m: single(m, "SM"),
    "dense: 0.5 chunk + 0.5 sentence": lambda m: single(m, "s0.5"),
    "dense: 0.3 chunk + 0.7 sentence": lambda m: single(m, "s0.7"),
    "hybrid: RRF k60 1:1 (current)": lambda m: rrf_variant(m, "C", "L"),
    "hybrid: RRF k60 1:1, candidates 20 (product depth)": lambda m: rrf_variant(m, "C", "L", depth=20),
    "hybrid: RRF k20 1:1": lambda m: rrf_variant(m, "C", "L", 20),
    "hybrid: RRF k100 1:1": lambda m: rrf_variant(m, "C", "L", 100),
    "hybrid: RRF k60 1.5:1": lambda m: rrf_variant(m, "C", "L", 60, (1.5, 1)),
    "hybrid: RRF k60 1:1.5": lambda m: rrf_variant(m, "C", "L", 60, (1, 1.5)),
    "hybrid: RRF k60 1:1, dense 0.3 chunk + 0.7 sentence": lambda m: rrf_variant(m, "s0.7", "L"),
    "hybrid: RRF k60 1.5:1, dense 0.3 chunk + 0.7 sentence": lambda m: rrf_variant(m, "s0.7", "L", 60, (1.5, 1)),
    **{f"hybrid: convex max-norm a={a}, chunk": (lambda a: lambda m: convex_variant(m, "C", "L", a))(a) for a in (0.5, 0.6, 0.7)},
    **{f"hybrid: convex min-max a={a}, chunk": (lambda a: lambda m: convex_variant(m, "C", "L", a, "minmax"))(a) for a in (0.5, 0.6)},
    **{f"hybrid: convex max-norm a={a}, 0.5 chunk + 0.5 sentence": (lambda a: lambda m: convex_variant(m, "s0.5", "L", a))(a) for a in (0.5, 0.6, 0.7)},
    **{f"hybrid: convex max-norm a={a}, 0.3 chunk + 0.7 sentence": (lambda a: lambda m: convex_variant(m, "s0.7", "L", a))(a) for a in (0.5, 0.6, 0.7, 0.8)},
    **{f"hybrid: convex max-norm a={a}, 0.3 chunk + 0.7 sentence, bm25 (0.9, 0.4)": (lambda a: lambda m: convex_variant(m, "s0.7", "L09", a))(a) for a in (0.6, 0.7)},
    "hybrid: convex max-norm a=0.7, 0.5 chunk + 0.5 sentence, bm25 (0.9, 0.4) (current)": lambda m: convex_variant(m, "s0.5", "L09", 0.7),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beir", type=Path, required=True)
    ap.add_argument("--index", type=Path, help="index of the BEIR corpus (default: the `rag eval --beir` cache)")
    ap.add_argument("--seeds", action="store_true", help="also the seed question set (index/ must be built)")
    ap.add_argument("--squad", type=Path, help="also a SQuAD file ...")
    ap.add_argument("--squad-index", type=Path, help="... with its index (from `rag eval --squad`)")
    ap.add_argument("--squad-sample", type=int, default=2000)
    ap.add_argument("--only", help="run only variants whose name contains this text")
    args = ap.parse_args()

    sets = {}
    train, test = read_beir(args.beir, "train"), read_beir(args.beir, "test")
    index = load_index(args.index or cache_dir() / "beir" / test.digest / "index", verify=False)
    for name, b in (("train", train), ("test", test)):
        sets[name] = ("beir", b, matrices(index, list(b.queries.values())))
    if args.seeds:
        qs = [json.loads(line) for line in (ROOT / "tests/data/questions.jsonl").read_text().splitlines() if line.strip()]
        qs = [q for q in qs if q["answerable"]]
        sets["seeds"] = ("hit", [set(q["sources"]) for q in qs], matrices(load_index(ROOT / "index", verify=False), [q["question"] for q in qs]))
    if args.squad:
        from rag.measure.squad import read_squad

        _, qs = read_squad(args.squad)
        qs = random.Random(0).sample(qs, min(args.squad_sample, len(qs)))
        sets["squad"] = ("hit", [set(q["sources"]) for q in qs], matrices(load_index(args.squad_index, verify=False), [q["question"] for q in qs]))
    cols = [f"SciFact {s} nDCG@10 / R@100" if s in ("train", "test") else f"{s} hit@1 / MRR@10" for s in sets]
    print("| variant | " + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols))
    for name, fn in VARIANTS.items():
        if args.only and args.only not in name:
            continue
        cells = []
        for kind, ref, m in sets.values():
            rows = fn(m)
            if kind == "beir":
                beir_id = {d.stem: d.beir_id for d in ref.docs}
                ranked = {q: list(dict.fromkeys(beir_id[m["doc"][r]] for r in rr)) for q, rr in zip(ref.queries, rows)}
                r = score_rankings(ref.qrels, ranked)["metrics"]
                cells.append(f"{r['ndcg10']:.3f} / {r['recall100']:.3f}")
            else:
                h1, mrr = hit_scores(rows, m["doc"], ref)
                cells.append(f"{h1:.3f} / {mrr:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
