"""Fine-tuning the reader (`rag.answer.reader`): its top layers and heads, listwise over each question's
candidates plus the answer-span loss."""
from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.answer.reader_base import MINILM
from rag.train.data import Example

log = logging.getLogger(__name__)


def _group(ex: Example, top: int, rng: random.Random) -> list[int]:
    """Candidate positions a training step reads: the top by hand-set relevance plus every positive."""
    order = list(np.argsort(-ex.features[:, 0], kind="stable"))
    chosen = order[:top]
    chosen += [p for p in ex.spans if p not in chosen]
    rng.shuffle(chosen)
    return chosen


def answer_cut(text: str, span: tuple[int, int]) -> str:
    """`text` with the answer `span` cut out: the sentence still shares the question's words, but no
    longer answers it (a negative teaching the reader that the answer, not the overlap, counts)."""
    a, b = span
    return re.sub(r"\s{2,}", " ", text[:a] + " " + text[b:]).strip()


def token_targets(offsets, sequence_ids, span: tuple[int, int]) -> tuple[int, int]:
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


def _readings(ex: Example, group: list[int], index, cut_answers: bool) -> list[tuple[int, str, tuple[int, int] | None]]:
    """What a step reads for one question: (candidate position, text, answer span or None) for each
    candidate of `group`, then, with `cut_answers`, each positive with its answer cut out (no span)."""
    out = [(p, index.sentences[ex.ids[p]].text, ex.spans.get(p)) for p in group]
    if cut_answers:
        cuts = [(p, answer_cut(text, span)) for p, text, span in out if span is not None]
        out += [(p, cut, None) for p, cut in cuts if len(cut.split()) >= 3]  # not an answer-only sentence's remains
    return out


class Stepper:
    """AdamW over a network's trained body and heads (each its own learning rate), warmed up over
    the first 6% of `steps` then decayed linearly to zero, gradients clipped at norm 1."""

    def __init__(self, body: list, heads: list, lr: float, head_lr: float, steps: int):
        import torch

        self.params = body + heads
        self.opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": heads, "lr": head_lr}], weight_decay=0.01)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, 1 - s / steps))

    def step(self, loss) -> None:
        """One update from `loss`."""
        import torch

        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.sched.step()


def train_reader(examples: list[Example], index, epochs: int = 1, top: int = 6, batch_questions: int = 4,
                 lr: float | Sequence[float] = 5e-5, head_lr: float = 1e-3, seed: int = 0, net=None,
                 first_epoch: int = 0, layers: int | None = None, context_chars: int = 0, cut_answers: bool = False,
                 base: str = MINILM):
    """Fine-tune the reader's top `layers` layers (default: the reader's) and heads; returns the network,
    `net` or else a new one started from `base` (`rag.answer.reader_base`).

    Each epoch is its own cycle (fresh optimiser, warm-up then linear decay, seeded by its number),
    so training `net` further from epoch `first_epoch` gives what a longer run would have. `lr` is
    the body's peak learning rate, one for every epoch or one per epoch. With `context_chars`, each
    sentence is read after the end of the one before it (`rag.answer.reader.reading_context`). With
    `cut_answers`, each positive is also read with its answer cut out (`answer_cut`), as a negative.
    """
    lrs = epoch_rates(lr, epochs)
    import torch
    from transformers import AutoTokenizer

    from rag.answer.reader import TRAINED_LAYERS, build_net, trained_names
    from rag.embedding.model import bundled_model_dir

    torch.manual_seed(seed)
    model_dir = bundled_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    net = net if net is not None else build_net(model_dir, base)
    names = set(trained_names(net, layers or TRAINED_LAYERS))
    for n, p in net.named_parameters():
        p.requires_grad = n in names
    usable = [e for e in examples if e.spans]
    for epoch in range(first_epoch, epochs):
        if epoch:
            torch.manual_seed(seed + epoch)
        _train_epoch(net, tokenizer, usable, index, names, random.Random(seed + epoch), epoch, top, batch_questions,
                     lrs[epoch], head_lr, context_chars, cut_answers)
    net.eval()
    return net


def epoch_rates(lr: float | Sequence[float], epochs: int) -> list[float]:
    """One learning rate per epoch: `lr` repeated, or `lr` itself when it lists one per epoch."""
    if isinstance(lr, (int, float)):
        return [float(lr)] * epochs
    rates = [float(r) for r in lr]
    if len(rates) != epochs:
        raise ValueError(f"{len(rates)} learning rates for {epochs} epochs: give one, or one per epoch")
    return rates


def _train_epoch(net, tokenizer, usable: list[Example], index, names: set[str], rng: random.Random, epoch: int,
                 top: int, batch_questions: int, lr: float, head_lr: float, context_chars: int = 0,
                 cut_answers: bool = False) -> None:
    """One pass over `usable`: listwise relevance loss per question plus the answer-span loss."""
    import torch
    from torch import nn

    from rag.answer.reader import MAX_TOKENS, first_segment, reading_context

    body = [p for n, p in net.named_parameters() if n in names and n.startswith("bert.")]
    heads = [p for n, p in net.named_parameters() if n in names and not n.startswith("bert.")]
    steps = math.ceil(len(usable) / batch_questions)
    stepper = Stepper(body, heads, lr, head_lr, steps)
    ce = nn.CrossEntropyLoss(reduction="sum")
    net.train()
    order = list(usable)
    rng.shuffle(order)
    t0 = time.perf_counter()
    for step, b in enumerate(range(0, len(order), batch_questions), start=1):
        batch = order[b : b + batch_questions]
        groups = [(ex, _readings(ex, _group(ex, top, rng), index, cut_answers)) for ex in batch]
        enc = tokenizer([first_segment(ex.question, reading_context(index, ex.ids[p], context_chars)) for ex, g in groups for p, _, _ in g],
                        [text for ex, g in groups for _, text, _ in g],
                        truncation="only_second", max_length=MAX_TOKENS, padding=True,
                        return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").tolist()
        logit, start, end = net(**enc)
        loss = torch.zeros(())
        row = 0
        for ex, group in groups:
            rows = slice(row, row + len(group))
            target = torch.tensor([span is not None for _, _, span in group])
            # Listwise: minus the log of the positives' share of the softmax over this question's candidates.
            loss = loss - (torch.logsumexp(logit[rows].masked_fill(~target, -1e4), 0) - torch.logsumexp(logit[rows], 0))
            for r, (_, _, span) in enumerate(group, start=row):
                if span is not None:
                    s_t, e_t = token_targets(offsets[r], enc.sequence_ids(r), span)
                    if s_t:
                        loss = loss + 0.5 * (ce(start[r : r + 1], torch.tensor([s_t])) + ce(end[r : r + 1], torch.tensor([e_t])))
            row += len(group)
        stepper.step(loss / len(batch))
        if step % 50 == 0:
            log.info("epoch %d step %d/%d loss %.3f (%.0fs)", epoch + 1, step, steps, loss.item() / len(batch),
                     time.perf_counter() - t0)


def save_reader(net, path: Path, trained_layers: int | None = None) -> str:
    """Write the trained tensors of the top `trained_layers` (default: the reader's) and the heads,
    as int8 weight rows with their scales (`rag.answer.reader.quantize`); returns their sha256."""
    from safetensors.torch import save

    from rag.answer.reader import TRAINED_LAYERS, trained_names
    from rag.answer.reader_files import quantize
    from rag.embedding.model import sha256_file
    from rag.models import write_model_bytes

    state = net.state_dict()
    names = trained_names(net, trained_layers or TRAINED_LAYERS)
    metadata = {"format": "rag-reader-2", "base": getattr(net, "base", MINILM)}
    write_model_bytes(path, save(quantize({n: state[n] for n in sorted(names)}), metadata=metadata))
    return sha256_file(path)
