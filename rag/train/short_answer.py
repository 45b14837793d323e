"""Fine-tuning the short-answer reader (`rag.answer.short_answer`): the reader network, started from
the trained reader's weights, taught where the answer lies in the answering sentence read with
its neighbours. Only gold sentences are read, so an epoch costs one pass per question."""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass

from rag.answer.short_answer import CONTEXT, LAYERS, MAX_TOKENS, Window, window_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpanExample:
    """A question, the window around its answering sentence, and every gold span in that sentence
    (character offsets into the window's text)."""

    question: str
    window: Window
    spans: tuple[tuple[int, int], ...]
    answers: tuple[str, ...]


def span_examples(questions: list[dict], index, context: int = CONTEXT) -> list[SpanExample]:
    """One example per question whose first gold answer starts inside an indexed sentence of its
    paragraph; every annotator's span starting in that sentence is a target."""
    out = []
    for q in questions:
        doc = q["sources"][0]
        if index.article(doc) is None or not q["answer_spans"]:
            continue
        first_answer = q["answer_spans"][0][0]
        sid = index.first_sentence_of(doc)
        while sid is not None and not index.sentences[sid].start <= first_answer < index.sentences[sid].end:
            sid = index.neighbour(sid, 1)
        if sid is None:
            continue
        s = index.sentences[sid]
        window = window_of(index, sid, sid, context)
        spans = tuple((a - window.start, min(b, s.end) - window.start) for a, b in q["answer_spans"] if s.start <= a < s.end)
        out.append(SpanExample(q["question"], window, spans, tuple(q["answers"])))
    return out


def _token_sets(offsets, sequence_ids, spans) -> tuple[list[int], list[int]]:
    """Token positions where gold spans start and end (inside the text segment)."""
    from rag.train.reader import token_targets

    found = [token_targets(offsets, sequence_ids, span) for span in spans]
    found = [(a, b) for a, b in found if a]  # (0, 0): cut off by truncation
    return sorted({a for a, _ in found}), sorted({b for _, b in found})


def train_span_reader(examples: list[SpanExample], net, epochs: int = 3, batch: int = 16, lr: float = 4e-4,
                      head_lr: float = 1e-3, seed: int = 0):
    """Fine-tune `net` (a reader network: its top `LAYERS` layers and span head) on `examples`;
    the loss is minus the log of the probability given to any annotator's start, and likewise end.
    The learning rate was chosen on the calibration articles: after one epoch, span F1 59.9 at
    1e-4, 63.5 at 2e-4, 66.0 at 4e-4."""
    import torch

    from rag.answer.reader import trained_names
    from rag.train.reader import Stepper

    tokenizer = _tokenizer()
    names = set(trained_names(net, LAYERS))
    trained = [n for n in names if not n.startswith("relevance.")]
    for n, p in net.named_parameters():
        p.requires_grad = n in trained
    body = [p for n, p in net.named_parameters() if n in trained and n.startswith("bert.")]
    head = [p for n, p in net.named_parameters() if n in trained and not n.startswith("bert.")]
    usable = [e for e in examples if e.spans]
    for epoch in range(epochs):
        torch.manual_seed(seed + epoch)
        order = list(usable)
        random.Random(seed + epoch).shuffle(order)
        steps = math.ceil(len(order) / batch)
        stepper = Stepper(body, head, lr, head_lr, steps)
        net.train()
        t0 = time.perf_counter()
        for step, b in enumerate(range(0, len(order), batch), start=1):
            group = order[b : b + batch]
            enc, offsets, region = _encode(tokenizer, group)
            _, start, end = net(**enc)
            start, end = start.masked_fill(~region, -1e4), end.masked_fill(~region, -1e4)
            loss = torch.zeros(())
            for r, ex in enumerate(group):
                starts, ends = _token_sets(offsets[r], enc.sequence_ids(r), ex.spans)
                if starts:
                    loss = loss - (torch.logsumexp(start[r, starts], 0) - torch.logsumexp(start[r], 0))
                    loss = loss - (torch.logsumexp(end[r, ends], 0) - torch.logsumexp(end[r], 0))
            stepper.step(loss / len(group))
            if step % 50 == 0:
                log.info("span reader epoch %d step %d/%d loss %.3f (%.0fs)", epoch + 1, step, steps,
                         loss.item() / len(group), time.perf_counter() - t0)
    net.eval()
    return net


def _tokenizer():
    from transformers import AutoTokenizer

    from rag.embedding.model import bundled_model_dir

    return AutoTokenizer.from_pretrained(str(bundled_model_dir()))


def _encode(tokenizer, group: list[SpanExample]):
    """Model inputs for a batch, the token offsets, and which tokens lie in each window's region."""
    import torch

    enc = tokenizer([e.question for e in group], [e.window.text for e in group], truncation="only_second",
                    max_length=MAX_TOKENS, padding=True, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping").tolist()
    region = []
    for r, e in enumerate(group):
        ids = enc.sequence_ids(r)
        region.append([ids[t] == 1 and any(offsets[r][t][1] > a and offsets[r][t][0] < b for a, b in e.window.regions)
                       for t in range(len(ids))])
    return enc, offsets, torch.tensor(region)
