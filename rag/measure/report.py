"""The evaluation report: Markdown tables, the hit@k plot, report.json/md and hitk.png."""
from __future__ import annotations

import json
from pathlib import Path

from rag.settings import Settings

RANK_DEPTH = 10  # hit@k is plotted for k = 1..RANK_DEPTH
METRIC_COLUMNS = [
    ("hit@1", "hit1"), ("retrieval hit@1", "retrieval_hit1"), ("hit@3", "hit3"), ("hit@5", "hit5"), ("MRR@10", "mrr10"),
    ("answer recall", "answer_recall"), ("first sentence", "first_sentence"), ("short EM", "short_em"),
    ("short F1", "short_f1"), ("citation precision", "citation_precision"), ("answer words", "answer_words"),
    ("abstain P", "abstain_precision"), ("abstain R", "abstain_recall"), ("false abstain", "false_abstention"),
    ("reader read", "reader_read"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"),
]


def format_sweep(rows: list[dict], current: float) -> str:
    """The threshold trade-off as a Markdown table; the current setting is marked."""
    lines = ["| abstain threshold | answer recall | abstain P | abstain R | false abstain |", "|---:|---:|---:|---:|---:|"]
    for r in rows:
        mark = " ←" if abs(r["threshold"] - current) < 1e-9 else ""
        lines.append(f"| {r['threshold']:.2f}{mark} | " + " | ".join(_fmt(r[k], k) for k in
                     ("answer_recall", "abstain_precision", "abstain_recall", "false_abstention")) + " |")
    return "\n".join(lines)


def _fmt(value, key: str) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms") or key in ("answer_words", "short_em", "short_f1"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def format_table(metric_sets: dict[str, dict]) -> str:
    """A Markdown table: one row per mode, one column per metric."""
    head = "| mode | " + " | ".join(label for label, _ in METRIC_COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(METRIC_COLUMNS)
    rows = [f"| {mode} | " + " | ".join(_fmt(m.get(key), key) for _, key in METRIC_COLUMNS) + " |" for mode, m in metric_sets.items()]
    return "\n".join([head, rule, *rows])


def plot_hit_curve(metric_sets: dict[str, dict], path: Path, title: str) -> None:
    """hit@k for k = 1..10, one line per mode, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = list(range(1, RANK_DEPTH + 1))
    for mode, m in metric_sets.items():
        ax.plot(ks, [v if v is not None else float("nan") for v in m["hit_curve"]], marker="o", label=mode)
    ax.set(xlabel="k (distinct articles)", ylabel="hit@k", title=title, ylim=(0, 1.02), xticks=ks)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: dict, folder: Path, title: str, settings: Settings, extra: dict) -> None:
    """report.json, report.md and hitk.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    table = format_table(result["metrics"])
    if result.get("threshold_sweep"):
        table += "\n\nAbstention threshold (hybrid):\n\n" + format_sweep(result["threshold_sweep"], result["abstain_threshold"])
    payload = {"title": title, **extra, "settings": settings.public(), **result}
    (folder / "report.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    (folder / "report.md").write_text(f"# {title}\n\n{table}\n", encoding="utf-8")
    plot_hit_curve(result["metrics"], folder / "hitk.png", title)
