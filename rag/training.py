"""`rag train`: fit the reader and the answer selector on SQuAD's *train* articles only.

    rag train --squad ../shared/data/squad/dev-v1.1.json

Steps: index all 48 articles (as `rag eval --squad` does, cached), retrieve for every train-split
question, gather candidate sentences and features (`rag.features`), fine-tune the reader's top
layers on the "fit" articles (listwise loss over each question's candidates plus the answer-span
loss), then fit the selector on the held-apart "calibrate" articles, whose questions the reader
never saw. Test articles are never read. Seeded and single-threaded, so a re-run gives the same
weights.
"""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.features import gather

log = logging.getLogger(__name__)

# Of the train articles (sorted by title), every 6th calibrates the selector instead of training the reader.
CALIBRATE_EVERY = 6


@dataclass
class Example:
    """One question with its candidates: features, labels, and answer spans inside positives."""

    qid: str
    question: str
    answers: list[str]
    ids: list[int]
    features: np.ndarray
    labels: np.ndarray
    spans: dict[int, tuple[int, int]]  # candidate position -> answer span in that sentence's text


def train_roles(train_titles: list[str]) -> dict[str, str]:
    """Which train articles fit the reader ("fit") and which calibrate the selector ("calibrate")."""
    ordered = sorted(set(train_titles))
    return {t: "calibrate" if i % CALIBRATE_EVERY == CALIBRATE_EVERY - 1 else "fit" for i, t in enumerate(ordered)}


def training_questions(squad: Path) -> tuple[list[dict], list[dict]]:
    """(fit, calibrate) questions of a SQuAD file: train-split articles only, by `split_of`."""
    from rag.squad import read_squad, split_of

    paragraphs, questions = read_squad(squad)
    split = split_of([p.article for p in paragraphs])
    train_q = [q for q in questions if split[q["article"]] == "train"]
    roles = train_roles([q["article"] for q in train_q])
    return ([q for q in train_q if roles[q["article"]] == "fit"],
            [q for q in train_q if roles[q["article"]] == "calibrate"])


def make_examples(assistant, questions: list[dict], k: int) -> list[Example]:
    """Retrieve for each question as the assistant would and label its candidate sentences:
    a candidate is positive when it is in the gold paragraph and a gold answer starts inside it."""
    index = assistant.index
    vectors = assistant.embedder.encode([q["question"] for q in questions])
    out = []
    for q, qvec in zip(questions, vectors):
        passages = assistant.retriever.search(q["question"], qvec, k=k)
        cands = gather(q["question"], qvec, passages, index, assistant.settings.answer_dense_weight)
        labels = np.zeros(len(cands), dtype=np.int8)
        spans: dict[int, tuple[int, int]] = {}
        for pos, sid in enumerate(cands.ids):
            s = index.sentences[sid]
            if s.doc_id not in q["sources"]:
                continue
            inside = [(a, b) for a, b in q["answer_spans"] if s.start <= a < s.end]
            if inside:
                labels[pos] = 1
                a, b = inside[0]
                spans[pos] = (a - s.start, min(b, s.end) - s.start)
        out.append(Example(q["id"], q["question"], q["answers"], cands.ids, cands.features, labels, spans))
    return out


def _group(ex: Example, top: int, rng: random.Random) -> list[int]:
    """Candidate positions a training step reads: the top by hand-set relevance plus every positive."""
    order = list(np.argsort(-ex.features[:, 0], kind="stable"))
    chosen = order[:top]
    chosen += [p for p in ex.spans if p not in chosen]
    rng.shuffle(chosen)
    return chosen


def _token_targets(offsets, sequence_ids, span: tuple[int, int]) -> tuple[int, int]:
    """Token positions of a character span inside the sentence segment (0, 0 when cut off)."""
    a, b = span
    start = end = None
    for t, (sid, (o0, o1)) in enumerate(zip(sequence_ids, offsets)):
        if sid != 1:
            continue
        if start is None and o1 > a:
            start = t
        if o0 < b:
            end = t
    if start is None or end is None or end < start:
        return 0, 0
    return start, end


def train_reader(examples: list[Example], index, epochs: int = 2, top: int = 6, batch_questions: int = 4,
                 lr: float = 5e-5, head_lr: float = 1e-3, seed: int = 0):
    """Fine-tune the reader's top layers and heads; returns the network."""
    import torch
    from torch import nn
    from transformers import AutoTokenizer

    from rag.embedding import bundled_model_dir
    from rag.reader import MAX_TOKENS, build_net, trained_names

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model_dir = bundled_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    net = build_net(model_dir)
    names = set(trained_names(net))
    for n, p in net.named_parameters():
        p.requires_grad = n in names
    body = [p for n, p in net.named_parameters() if n in names and n.startswith("bert.")]
    heads = [p for n, p in net.named_parameters() if n in names and not n.startswith("bert.")]
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": heads, "lr": head_lr}], weight_decay=0.01)
    usable = [e for e in examples if e.spans]
    steps = epochs * math.ceil(len(usable) / batch_questions)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, 1 - s / steps))
    ce = nn.CrossEntropyLoss(reduction="sum")
    net.train()
    step, t0 = 0, time.perf_counter()
    for epoch in range(epochs):
        rng.shuffle(usable)
        for b in range(0, len(usable), batch_questions):
            batch = usable[b : b + batch_questions]
            groups = [(ex, _group(ex, top, rng)) for ex in batch]
            enc = tokenizer([ex.question for ex, g in groups for _ in g],
                            [index.sentences[ex.ids[p]].text for ex, g in groups for p in g],
                            truncation="only_second", max_length=MAX_TOKENS, padding=True,
                            return_offsets_mapping=True, return_tensors="pt")
            offsets = enc.pop("offset_mapping").tolist()
            logit, start, end = net(**enc)
            loss = torch.zeros(())
            row = 0
            for ex, group in groups:
                rows = slice(row, row + len(group))
                target = torch.tensor([p in ex.spans for p in group])
                # Listwise: minus the log of the positives' share of the softmax over this question's candidates.
                loss = loss - (torch.logsumexp(logit[rows].masked_fill(~target, -1e4), 0) - torch.logsumexp(logit[rows], 0))
                for r, p in enumerate(group, start=row):
                    if p in ex.spans:
                        s_t, e_t = _token_targets(offsets[r], enc.sequence_ids(r), ex.spans[p])
                        if s_t:
                            loss = loss + 0.5 * (ce(start[r : r + 1], torch.tensor([s_t])) + ce(end[r : r + 1], torch.tensor([e_t])))
                row += len(group)
            loss = loss / len(batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + heads, 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0:
                log.info("epoch %d step %d/%d loss %.3f (%.0fs)", epoch + 1, step, steps, float(loss), time.perf_counter() - t0)
    net.eval()
    return net


def save_reader(net, path: Path) -> str:
    """Write the trained tensors as fp16 safetensors; returns their sha256."""
    from safetensors.torch import save_file

    from rag.embedding import sha256_file
    from rag.reader import trained_names

    state = net.state_dict()
    keep = {n: state[n].detach().to("cpu").half().contiguous() for n in sorted(trained_names(net))}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(keep, str(path), metadata={"format": "rag-reader-1"})
    return sha256_file(path)


def fit_ranker(examples: list[Example], path: Path, seed: int = 0) -> str:
    """Stage 1: gradient-boosted trees over the cheap features; written as LightGBM text. Returns sha256."""
    import lightgbm

    from rag.embedding import sha256_file

    X = np.vstack([e.features for e in examples if len(e.ids)])
    y = np.concatenate([e.labels for e in examples if len(e.ids)])
    model = lightgbm.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, random_state=seed,
                                    n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1)
    model.fit(X, y)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.booster_.save_model(str(path))
    return sha256_file(path)


@dataclass
class Scored:
    """A calibration question after stage 1 and the reader: stage-2 inputs and labels per shortlisted sentence."""

    example: Example
    shortlist: list[int]
    z: np.ndarray
    labels: np.ndarray
    readings: list
    texts: list[str]


def score_shortlists(examples: list[Example], index, selector, reader, shortlist: int) -> list[Scored]:
    """Run stage 1 and the reader over each example's candidates, as `select_answer` does."""
    from rag.selector import combined_features

    out = []
    for ex in examples:
        if not len(ex.ids):
            continue
        s1 = selector.stage1(ex.features)
        top = [int(i) for i in np.argsort(-s1, kind="stable")[:shortlist]]
        texts = [index.sentences[ex.ids[i]].text for i in top]
        readings = reader.read(ex.question, texts)
        z = combined_features(s1[top], readings, ex.features[top])
        out.append(Scored(ex, top, z, ex.labels[top], readings, texts))
    return out


def fit_combiner(scored: list[Scored]) -> tuple[list[float], float]:
    """Stage 2: logistic regression of "holds the answer" on the stage-2 inputs."""
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([s.z for s in scored])
    y = np.concatenate([s.labels for s in scored])
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
    return [round(float(c), 6) for c in lr.coef_[0]], round(float(lr.intercept_[0]), 6)


def abstain_below(best_probs: np.ndarray, false_abstention: float) -> float:
    """The threshold that withholds the answer of `false_abstention` of answerable questions."""
    return round(float(np.quantile(best_probs, false_abstention)), 4) if len(best_probs) else 0.0


def _answer_outcome(s: Scored, index, coef, intercept, threshold: float, within: float) -> tuple[bool, int]:
    """(gold answer quoted, words quoted) for one calibration question under these settings."""
    from rag.answer import choose, context_before
    from rag.features import FEATURES
    from rag.metrics import answer_found
    from rag.selector import probability

    probs = probability(s.z, coef, intercept)
    ids = [s.example.ids[i] for i in s.shortlist]
    is_title = s.example.features[s.shortlist, FEATURES.index("is_title")] > 0
    picked = choose(probs, is_title, index.sentence_vectors[ids], threshold, within, 2)
    quoted = [index.sentences[c].text for p in picked for c in context_before(index, ids[p]) + [ids[p]]]
    text = " ".join(quoted)
    return bool(picked) and answer_found(text, s.example.answers), len(text.split())


def second_within(scored: list[Scored], index, coef, intercept, threshold: float, max_words: float) -> float:
    """The loosest "second answer within this share of the best" whose answers average at most
    `max_words` words, on the calibration questions (1.0 would never add a second answer)."""
    best = 1.0
    for within in (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3):
        words = np.mean([_answer_outcome(s, index, coef, intercept, threshold, within)[1] for s in scored])
        if words > max_words:
            break
        best = within
    return best


def short_answer_min(scored: list[Scored], coef, intercept, min_f1: float) -> float:
    """The lowest span score at which short answers still reach `min_f1` mean F1 on the
    calibration questions (below it the sentence is quoted without a short answer)."""
    from rag.metrics import f1
    from rag.selector import probability

    pairs = []
    for s in scored:
        top = int(np.argmax(probability(s.z, coef, intercept)))
        r = s.readings[top]
        if r.span is not None:
            pairs.append((r.span_score, f1(s.texts[top][r.span[0] : r.span[1]], s.example.answers)))
    pairs.sort(reverse=True)
    cut = -np.inf
    total = 0.0
    for n, (score, value) in enumerate(pairs, start=1):
        total += value
        if total / n >= min_f1:
            cut = score
    return round(float(cut), 3) if np.isfinite(cut) else 1e9


def run(squad: Path, output: Path, settings, epochs: int = 1, shortlist: int = 4, seed: int = 0,
        false_abstention: float = 0.03, max_words: float = 35.0, short_min_f1: float = 0.5) -> dict:
    """Everything `rag train` does; returns the summary it prints. Writes into `output`:
    ranker.txt, reader.safetensors and selector.json (which holds the other two's sha256)."""
    import torch

    from rag.assistant import Assistant
    from rag.reader import Reader
    from rag.selector import CONFIG, RANKER, Selector, SelectorConfig
    torch.manual_seed(seed)
    fit_q, calibrate_q = training_questions(squad)
    assistant = Assistant(settings, progress=True, answer_models=False)
    log.info("retrieving for %d + %d train questions", len(fit_q), len(calibrate_q))
    fit = make_examples(assistant, fit_q, settings.k)
    calibrate = make_examples(assistant, calibrate_q, settings.k)
    output.mkdir(parents=True, exist_ok=True)
    files = {RANKER.name: fit_ranker(fit, output / RANKER.name, seed)}
    log.info("training the reader on %d questions", len(fit))
    net = train_reader(fit, assistant.index, epochs=epochs, seed=seed)
    files["reader.safetensors"] = save_reader(net, output / "reader.safetensors")
    reader = Reader(output / "reader.safetensors", files["reader.safetensors"])
    stage1 = Selector(output / RANKER.name)
    scored = score_shortlists(calibrate, assistant.index, stage1, reader, shortlist)
    coef, intercept = fit_combiner(scored)
    from rag.selector import probability

    best = np.array([probability(s.z, coef, intercept).max() for s in scored])
    threshold = abstain_below(best, false_abstention)
    within = second_within(scored, assistant.index, coef, intercept, threshold, max_words)
    short_min = short_answer_min(scored, coef, intercept, short_min_f1)
    config = SelectorConfig(
        shortlist=shortlist, coef=coef, intercept=intercept, abstain_below=threshold, second_within=within,
        short_answer_min=short_min, files=files,
        notes={
            "data": f"{squad.name}: {len(fit)} questions fit the ranker and reader, {len(calibrate)} calibrate; test articles unread",
            "false_abstention": false_abstention, "max_words": max_words, "short_min_f1": short_min_f1,
            "epochs": epochs, "seed": seed, "combined": ["stage1", "reader", "reader_gap", "span", "is_title", "leans_back"],
        },
    )
    (output / CONFIG.name).write_text(config.to_json() + "\n", encoding="utf-8")
    return config.__dict__
