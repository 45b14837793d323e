"""Two questions in one message, measured on SQuAD: pairs of consecutive questions of one paragraph
(drawn with a seed from one split's articles) joined into one text and asked through `Assistant.ask`
over the index of every paragraph (the one `rag eval --squad` caches); prints how often both gold
answers, the first's and the second's are inside the quoted answer, and its words.

    python tools/squad_pairs.py ../shared/data/squad/dev-v1.1.json --split test [--pairs 200] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path


def pairs_of(questions: list[dict], n: int, seed: int) -> list[tuple[dict, dict]]:
    """`n` pairs (first, second) of consecutive questions of one paragraph, both ending in "?"."""
    by_paragraph: dict[str, list[dict]] = {}
    for q in questions:
        by_paragraph.setdefault(q["sources"][0], []).append(q)
    pairs = [(qs[i], qs[i + 1]) for qs in by_paragraph.values() for i in range(0, len(qs) - 1, 2)
             if qs[i]["question"].strip().endswith("?") and qs[i + 1]["question"].strip().endswith("?")]
    return random.Random(seed).sample(pairs, min(n, len(pairs)))


def main() -> None:
    """Run the pairs and print the four figures."""
    from rag.assistant import Assistant
    from rag.measure.evaluation import squad_index_settings
    from rag.measure.metrics import answer_found
    from rag.measure.squad import read_squad, split_of
    from rag.settings import from_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", type=Path)
    parser.add_argument("--split", choices=["train", "test"], default="test")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paragraphs, questions = read_squad(args.squad)
    roles = split_of([p.article for p in paragraphs])
    pairs = pairs_of([q for q in questions if roles[q["article"]] == args.split], args.pairs, args.seed)
    assistant = Assistant(squad_index_settings(args.squad, from_env(), paragraphs), progress=True)
    both = firsts = seconds = words = 0
    for first, second in pairs:
        answer = assistant.ask(first["question"].strip() + " " + second["question"].strip())
        quoted = "" if answer.abstained else answer.quoted()
        a, b = answer_found(quoted, first["answers"]), answer_found(quoted, second["answers"])
        both, firsts, seconds, words = both + (a and b), firsts + a, seconds + b, words + len(quoted.split())
    n = len(pairs)
    print(f"{n} pairs of {args.split} questions: both answers quoted {both / n:.3f}, the first's {firsts / n:.3f}, "
          f"the second's {seconds / n:.3f}, words {words / n:.1f}")


if __name__ == "__main__":
    main()
