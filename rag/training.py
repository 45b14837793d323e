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

from rag.answer import select_answer
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


def _article(doc_id: str) -> str:
    return doc_id.rsplit("_", 1)[0]  # SQuAD paragraph ids are <article>_<n>


def make_examples(assistant, questions: list[dict], k: int, without_article: bool = False) -> list[Example]:
    """Retrieve for each question as the assistant would and label its candidate sentences:
    a candidate is positive when it is in the gold paragraph and a gold answer starts inside it.

    With `without_article`, the question's own article is left out of retrieval: the question
    becomes one the collection cannot answer (every label 0), which is what abstention learns from.
    """
    index = assistant.index
    vectors = assistant.embedder.encode([q["question"] for q in questions])
    out = []
    for q, qvec in zip(questions, vectors):
        if without_article:
            own = {_article(s) for s in q["sources"]}
            found = assistant.retriever.search(q["question"], qvec, k=6 * k)
            passages = [p for p in found if _article(p.doc_id) not in own][:k]
        else:
            passages = assistant.retriever.search(q["question"], qvec, k=k)
        cands = gather(q["question"], qvec, passages, index, assistant.settings.answer_dense_weight)
        labels = np.zeros(len(cands), dtype=np.int8)
        spans: dict[int, tuple[int, int]] = {}
        for pos, sid in enumerate(cands.ids):
            s = index.sentences[sid]
            if without_article or s.doc_id not in q["sources"]:
                continue
            inside = [(a, b) for a, b in q["answer_spans"] if s.start <= a < s.end]
            if inside:
                labels[pos] = 1
                a, b = inside[0]
                spans[pos] = (a - s.start, min(b, s.end) - s.start)
        out.append(Example(q["id"], q["question"], q["answers"], cands.ids, cands.features, labels, spans))
    return out


def question_set_examples(assistant, questions: list[dict], k: int) -> list[Example]:
    """Examples from a question set in `rag eval`'s format (answerable questions only): a candidate
    is positive when it is in a source article and holds a gold answer."""
    from rag.metrics import answer_found

    index = assistant.index
    asked = [q for q in questions if q["answerable"]]
    vectors = assistant.embedder.encode([q["question"] for q in asked])
    out = []
    for q, qvec in zip(asked, vectors):
        passages = assistant.retriever.search(q["question"], qvec, k=k)
        cands = gather(q["question"], qvec, passages, index, assistant.settings.answer_dense_weight)
        labels = np.array([index.sentences[s].doc_id in q["sources"] and answer_found(index.sentences[s].text, q["answers"])
                           for s in cands.ids], dtype=np.int8)
        out.append(Example(str(q["id"]), q["question"], q["answers"], cands.ids, cands.features, labels, {}))
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


def train_reader(examples: list[Example], index, epochs: int = 1, top: int = 6, batch_questions: int = 4,
                 lr: float = 5e-5, head_lr: float = 1e-3, seed: int = 0, net=None, first_epoch: int = 0):
    """Fine-tune the reader's top layers and heads; returns the network.

    Each epoch is its own cycle (fresh optimiser, warm-up then linear decay, seeded by its number),
    so training `net` further from epoch `first_epoch` gives what a longer run would have.
    """
    import torch
    from transformers import AutoTokenizer

    from rag.embedding import bundled_model_dir
    from rag.reader import build_net, trained_names

    torch.manual_seed(seed)
    model_dir = bundled_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    net = net if net is not None else build_net(model_dir)
    names = set(trained_names(net))
    for n, p in net.named_parameters():
        p.requires_grad = n in names
    usable = [e for e in examples if e.spans]
    for epoch in range(first_epoch, epochs):
        if epoch:
            torch.manual_seed(seed + epoch)
        _train_epoch(net, tokenizer, usable, index, names, random.Random(seed + epoch), epoch, top, batch_questions, lr, head_lr)
    net.eval()
    return net


def _train_epoch(net, tokenizer, usable: list[Example], index, names: set[str], rng: random.Random, epoch: int,
                 top: int, batch_questions: int, lr: float, head_lr: float) -> None:
    """One pass over `usable`: listwise relevance loss per question plus the answer-span loss."""
    import torch
    from torch import nn

    from rag.reader import MAX_TOKENS

    body = [p for n, p in net.named_parameters() if n in names and n.startswith("bert.")]
    heads = [p for n, p in net.named_parameters() if n in names and not n.startswith("bert.")]
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": heads, "lr": head_lr}], weight_decay=0.01)
    steps = math.ceil(len(usable) / batch_questions)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, 1 - s / steps))
    ce = nn.CrossEntropyLoss(reduction="sum")
    net.train()
    order = list(usable)
    rng.shuffle(order)
    t0 = time.perf_counter()
    for step, b in enumerate(range(0, len(order), batch_questions), start=1):
        batch = order[b : b + batch_questions]
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
        if step % 50 == 0:
            log.info("epoch %d step %d/%d loss %.3f (%.0fs)", epoch + 1, step, steps, float(loss), time.perf_counter() - t0)


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


def fit_ranker(examples: list[Example], path: Path, seed: int = 0, extra: list[Example] = (), extra_weight: float = 1.0) -> str:
    """Stage 1: gradient-boosted trees over the cheap features; written as LightGBM text. Returns sha256.

    `extra` examples (another domain's questions, far fewer) count `extra_weight` times each."""
    import lightgbm

    from rag.embedding import sha256_file

    main = [(e, 1.0) for e in examples if len(e.ids)]
    both = main + [(e, extra_weight) for e in extra if len(e.ids)]
    X = np.vstack([e.features for e, _ in both])
    y = np.concatenate([e.labels for e, _ in both])
    weight = np.concatenate([np.full(len(e.ids), w) for e, w in both])
    model = lightgbm.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, random_state=seed,
                                    n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1)
    model.fit(X, y, sample_weight=weight)
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
    stage1: np.ndarray  # over every candidate, not only the shortlist


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
        out.append(Scored(ex, top, z, ex.labels[top], readings, texts, s1))
    return out


def fit_combiner(scored: list[Scored]) -> tuple[list[float], float]:
    """Stage 2: logistic regression of "holds the answer" on the stage-2 inputs."""
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([s.z for s in scored])
    y = np.concatenate([s.labels for s in scored])
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
    return [round(float(c), 6) for c in lr.coef_[0]], round(float(lr.intercept_[0]), 6)


def fit_answerable(answerable: list[Scored], unanswerable: list[Scored], coef, intercept) -> tuple[list[float], float, np.ndarray]:
    """The abstention model: logistic regression of "the candidates hold the answer" on the
    question-level features; returns its weights and the probabilities of the answerable questions."""
    from sklearn.linear_model import LogisticRegression

    from rag.selector import answerable_features, probability

    def rows(scored):
        return [answerable_features(probability(s.z, coef, intercept), s.stage1, s.example.features) for s in scored]

    pos, neg = rows(answerable), rows(unanswerable)
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(np.vstack(pos + neg), [1] * len(pos) + [0] * len(neg))
    weights = [round(float(c), 6) for c in lr.coef_[0]]
    bias = round(float(lr.intercept_[0]), 6)
    return weights, bias, probability(np.vstack(pos), weights, bias)


def question_set_answerable(assistant, questions: list[dict], selector, reader) -> np.ndarray:
    """P(answerable) that `selector` gives each answerable question of a question set."""
    probe = assistant.settings.replace(abstain_threshold=-1.0)
    asked = [q for q in questions if q["answerable"]]
    out = []
    for q, qvec in zip(asked, assistant.embedder.encode([q["question"] for q in asked])):
        passages = assistant.retriever.search(q["question"], qvec)
        out.append(select_answer(q["question"], qvec, passages, assistant.index, probe, selector, reader).best_score)
    return np.array(out, dtype=np.float32)


def abstain_below(best_probs: np.ndarray, false_abstention: float) -> float:
    """The threshold that withholds the answer of `false_abstention` of answerable questions."""
    return round(float(np.quantile(best_probs, false_abstention)), 4) if len(best_probs) else 0.0


def _answer_outcome(s: Scored, index, coef, intercept, within: float) -> tuple[bool, int]:
    """(gold answer quoted, words quoted) for one calibration question under these settings."""
    from rag.answer import choose, context_before
    from rag.features import FEATURES
    from rag.metrics import answer_found
    from rag.selector import probability

    probs = probability(s.z, coef, intercept)
    ids = [s.example.ids[i] for i in s.shortlist]
    is_title = s.example.features[s.shortlist, FEATURES.index("is_title")] > 0
    picked = choose(probs, is_title, index.sentence_vectors[ids], 0.0, within, 2)
    quoted = [index.sentences[c].text for p in picked for c in context_before(index, ids[p]) + [ids[p]]]
    text = " ".join(quoted)
    return bool(picked) and answer_found(text, s.example.answers), len(text.split())


def second_within(scored: list[Scored], index, coef, intercept, max_words: float) -> float:
    """The loosest "second answer within this share of the best" whose answers average at most
    `max_words` words, on the calibration questions (1.0 would never add a second answer)."""
    best = 1.0
    for within in (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3):
        words = np.mean([_answer_outcome(s, index, coef, intercept, within)[1] for s in scored])
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


def fit_selector(calibrate: list[Example], unanswerable: list[Example], index, stage1, reader, shortlist: int,
                 false_abstention: float, max_words: float, short_min_f1: float) -> dict:
    """Stage 2, the abstention model and the thresholds, fitted on the calibration questions
    (which the ranker and the reader never saw); the selector config's fields."""
    from rag.selector import probability

    scored = score_shortlists(calibrate, index, stage1, reader, shortlist)
    negatives = score_shortlists(unanswerable, index, stage1, reader, shortlist)
    coef, intercept = fit_combiner(scored)
    q_coef, q_intercept, answerable = fit_answerable(scored, negatives, coef, intercept)
    picked = [s.labels[int(np.argmax(probability(s.z, coef, intercept)))] for s in scored]
    log.info("calibration: stage 1 first %.3f, combined first %.3f", np.mean([s.labels[0] for s in scored]), np.mean(picked))
    return {
        "shortlist": shortlist, "coef": coef, "intercept": intercept,
        "answerable_coef": q_coef, "answerable_intercept": q_intercept,
        "abstain_below": abstain_below(answerable, false_abstention),
        "second_within": second_within(scored, index, coef, intercept, max_words),
        "short_answer_min": short_answer_min(scored, coef, intercept, short_min_f1),
    }


def calibrate_on_question_set(fitted: dict, files: dict, folder: Path, reader, question_settings, questions: list[dict],
                              false_abstention: float) -> float:
    """The abstention threshold that also keeps false abstentions on a question set of the
    product's own domain (news articles, not Wikipedia) at `false_abstention`; the lower of the two."""
    from rag.assistant import Assistant
    from rag.selector import RANKER, Selector, SelectorConfig

    selector = Selector(folder / RANKER.name, SelectorConfig(**fitted, files=files, notes={}))
    assistant = Assistant(question_settings, progress=False, answer_models=False)
    probs = question_set_answerable(assistant, questions, selector, reader)
    return min(fitted["abstain_below"], abstain_below(probs, false_abstention))


def run(squad: Path, output: Path, settings, epochs: int = 1, shortlist: int = 4, seed: int = 0,
        false_abstention: float = 0.03, max_words: float = 35.0, short_min_f1: float = 0.5,
        questions: list[dict] | None = None, question_settings=None, question_false_abstention: float = 0.02,
        reader_weights: Path | None = None) -> dict:
    """Everything `rag train` does; returns the summary it prints. Writes into `output`:
    ranker.txt, reader.safetensors and selector.json (which holds the other two's sha256).

    `questions` (a question set over `question_settings`' corpus, e.g. the seeds') only lowers the
    abstention threshold so its answerable questions are withheld at most `question_false_abstention`.
    `reader_weights` skips training the reader and uses those weights (for a refit after a change
    to retrieval or features)."""
    import shutil

    import torch

    from rag.assistant import Assistant
    from rag.embedding import sha256_file
    from rag.reader import Reader
    from rag.selector import ANSWERABLE, COMBINED, CONFIG, RANKER, Selector, SelectorConfig

    torch.manual_seed(seed)
    fit_q, calibrate_q = training_questions(squad)
    assistant = Assistant(settings, progress=True, answer_models=False)
    log.info("retrieving for %d + %d train questions", len(fit_q), len(calibrate_q))
    fit = make_examples(assistant, fit_q, settings.k)
    calibrate = make_examples(assistant, calibrate_q, settings.k)
    unanswerable = make_examples(assistant, calibrate_q, settings.k, without_article=True)
    output.mkdir(parents=True, exist_ok=True)
    # Stage 1 also sees the fit questions asked without their article, so its score means
    # "this answers" in absolute terms, not only "best of these candidates".
    fit_unanswerable = make_examples(assistant, fit_q, settings.k, without_article=True)
    files = {RANKER.name: fit_ranker(fit + fit_unanswerable, output / RANKER.name, seed)}
    if reader_weights is None:
        log.info("training the reader on %d questions", len(fit))
        net = train_reader(fit, assistant.index, epochs=epochs, seed=seed)
        files["reader.safetensors"] = save_reader(net, output / "reader.safetensors")
    else:  # refit only what depends on retrieval, keeping trained reader weights
        if Path(reader_weights).resolve() != (output / "reader.safetensors").resolve():
            shutil.copy(reader_weights, output / "reader.safetensors")
        files["reader.safetensors"] = sha256_file(output / "reader.safetensors")
    reader = Reader(output / "reader.safetensors", files["reader.safetensors"])
    fitted = fit_selector(calibrate, unanswerable, assistant.index, Selector(output / RANKER.name), reader, shortlist,
                          false_abstention, max_words, short_min_f1)
    if questions:
        fitted["abstain_below"] = calibrate_on_question_set(fitted, files, output, reader, question_settings, questions,
                                                            question_false_abstention)
    config = SelectorConfig(
        **fitted, files=files,
        notes={
            "data": f"{squad.name}: {len(fit)} questions fit the ranker and reader, {len(calibrate)} calibrate "
                    "(and, asked without their article, teach abstention); test articles unread",
            "false_abstention": false_abstention, "max_words": max_words, "short_min_f1": short_min_f1,
            "question_set_false_abstention": question_false_abstention if questions else None,
            "epochs": epochs, "seed": seed, "combined": list(COMBINED), "answerable": list(ANSWERABLE),
        },
    )
    (output / CONFIG.name).write_text(config.to_json() + "\n", encoding="utf-8")
    return config.__dict__
