"""Render a run's results.json as report.md and PNG plots; compare two runs.

Everything here reads the JSON form of a run (see eval/harness.py `results_dict`), so a report
can be redrawn and two runs compared long after they ran.

    >>> text = format_comparison(compare(load_results("a"), load_results("b")))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import TradeoffPoint, tradeoff

# A case "passes" when it meets all of these; the failures section lists the rest.
CASE_GATES = ("refusal_correct", "key_fact_full", "citation_recall", "citation_validity")
PLOT_METRICS = ("hit_at_5", "mrr", "key_fact_full", "refusal_correct", "citation_precision",
                "citation_recall")
SETTINGS_SHOWN = ("answer_mode", "llm_model", "embed_backend", "chunk_tokens", "chunk_overlap",
                  "top_k", "refusal_threshold", "max_answer_sentences")

DEFINITIONS = """\
Definitions (judge-free; every value in [0, 1], averaged over the cases it applies to, `n`):
- *hit@k / MRR*: a retrieved passage holds gold evidence when its text contains a gold quote
  (after folding quotes/dashes, whitespace and case) of a document matching its article;
  answerable cases only.
- *key facts*: share of `must_include` groups found in the answer text (any alternative,
  case-insensitive); *all found* = every group. A refusal finds none.
- *refusal accuracy*: refused exactly when unanswerable; *unanswerable refused* over unanswerable
  cases; *false refusal* over answerable cases (lower is better).
- *citation validity*: quote == article_text[start:end]. A citation is *gold* when its span
  overlaps a gold evidence quote in the same article; *precision (sentence)* = share of an
  answer's citations that are gold; *recall (sentence)* = an answerable case cites at least one
  gold span. The *(passage)* forms ask less: the passage the citation quotes from holds a gold
  quote (any of its sentences)."""


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _labels(data: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
    return {m["name"]: (m["label"], m["higher_is_better"]) for m in data.get("metrics", [])}


def failing_gates(case: Mapping[str, Any]) -> list[str]:
    """The case gates a case fails (higher-is-better metrics below 1)."""
    m = case["metrics"]
    return [g for g in CASE_GATES if m.get(g) is not None and m[g] < 1.0]


def summary_table(data: Mapping[str, Any]) -> str:
    labels = _labels(data)
    rows = ["| metric | value | n |", "|---|---:|---:|"]
    for name, s in data["summary"].items():
        label, hib = labels.get(name, (name, True))
        arrow = "" if hib else " (lower is better)"
        rows.append(f"| {label}{arrow} | {_fmt(s['mean'])} | {s['n']} |")
    return "\n".join(rows)


def latency_table(data: Mapping[str, Any]) -> str:
    rows = ["| stage | p50 s | p95 s | n |", "|---|---:|---:|---:|"]
    for stage, s in data["latency"].items():
        rows.append(f"| {stage} | {_fmt(s['p50'])} | {_fmt(s['p95'])} | {s['n']} |")
    return "\n".join(rows)


def kind_table(data: Mapping[str, Any], names: Sequence[str] = PLOT_METRICS) -> str:
    kinds = by_kind(data, names)
    rows = ["| kind | cases | " + " | ".join(names) + " |",
            "|---|---:|" + "---:|" * len(names)]
    for kind, (n, means) in kinds.items():
        rows.append(f"| {kind} | {n} | " + " | ".join(_fmt(means[m]) for m in names) + " |")
    return "\n".join(rows)


def by_kind(data: Mapping[str, Any], names: Sequence[str]) -> dict[str, tuple[int, dict[str, float | None]]]:
    """Per case kind: its number of cases and the mean of each metric over them."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for c in data["cases"].values():
        groups.setdefault(c["kind"], []).append(c)
    out: dict[str, tuple[int, dict[str, float | None]]] = {}
    for kind, cases in groups.items():
        means: dict[str, float | None] = {}
        for m in names:
            vals = [c["metrics"][m] for c in cases if c["metrics"].get(m) is not None]
            means[m] = sum(vals) / len(vals) if vals else None
        out[kind] = (len(cases), means)
    return out


def _failure_block(cid: str, c: Mapping[str, Any]) -> str:
    lines = [f"### {cid} ({c['kind']}): fails {', '.join(failing_gates(c))}"]
    for h in c["history"]:
        lines.append(f"- earlier turn: {h}")
    lines.append(f"- question: {c['question']}")
    if c["answerable"]:
        lines.append(f"- expected: {c['expected']}")
        groups = "; ".join(
            ("✓ " if found else "✗ ") + " / ".join(g)
            for g, found in zip(c["must_include"], c["key_facts_found"])
        )
        lines.append(f"- key facts: {groups}")
    else:
        lines.append("- expected: a refusal (the articles don't say)")
    got = "(refused) " if c["refused"] else ""
    lines.append(f"- got: {got}{c['answer']}" + (f" — error: {c['error']}" if c["error"] else ""))
    for x in c["citations"]:
        flags = ("gold" if x["gold"] else "not gold") + ("" if x["valid"] else ", INVALID span")
        lines.append(f"  - [{x['number']}] {x['title'][:60]} {x['start']}-{x['end']} ({flags})")
    if c["answerable"]:
        lines.append(f"- first passage holding gold evidence: rank {_fmt(c['first_gold_rank'])}"
                     f" of {len(c['passages'])}; support {c['support']}")
    return "\n".join(lines)


def render_report(data: Mapping[str, Any], plots: Sequence[str | Path] = ()) -> str:
    """The markdown report of one run."""
    s = data["settings"]
    cases = data["cases"]
    failures = {cid: c for cid, c in cases.items() if failing_gates(c)}
    prompts = ", ".join(f"{p['name']} ({p['hash'][:12]})" for p in data["prompts"]) or "none"
    parts = [
        "# Evaluation report",
        "",
        f"- gold: `{data['gold']}` ({len(cases)} cases)",
        (f"- corpus: `{data['corpus']}` ({data['ingest']['n_articles']} articles; "
        f"ingest: {data['ingest']['summary']})"),
        f"- store: `{data['store']}`",
        f"- answer modes: {', '.join(data['modes']) or '–'}; prompts: {prompts}",
        "- settings: " + ", ".join(f"{k}={s.get(k)}" for k in SETTINGS_SHOWN if k in s),
        (f"- time: index {data['timing']['index_seconds']:.1f}s, questions "
        f"{data['timing']['ask_seconds']:.1f}s; created {data['created']}"),
        f"- errors while asking: {data['errors']}",
        "",
    ]
    if data.get("gold_warnings"):
        parts += ["## Gold-set warnings", "",
                  ("Evidence the stored articles do not hold (retrieval and citation metrics "
                  "cannot credit it):"), ""]
        parts += [f"- {w}" for w in data["gold_warnings"]] + [""]
    parts += [
        "## Summary (judge-free)",
        "",
        summary_table(data),
        "",
        "## Latency",
        "",
        latency_table(data),
        "",
    ]
    u = data["usage"]
    if u["n_llm_answers"]:
        cost = "unknown" if u["cost_usd"] is None else f"${u['cost_usd']:.4f}"
        parts += ["## LLM usage", "",
                  (f"{u['n_llm_answers']} LLM answers: {u['prompt_tokens']} prompt tokens, "
                  f"{u['completion_tokens']} completion tokens, cost {cost}."), ""]
    if data.get("judged"):
        j = data["judged"]
        parts += ["## LLM-judged correctness (separate; not a judge-free metric)", "",
                  (f"mean {_fmt(j['mean'])} over {j['n']} answerable cases, judged by "
                  f"{j.get('judge') or 'an LLM'} (CORRECT 1, PARTIAL 0.5, INCORRECT 0)."), ""]
    parts += ["## By case kind", "", kind_table(data), ""]
    curve = tradeoff_points(data)
    if curve:
        parts += ["## Answering against refusing", "",
                  ("As the refusal threshold varies (an answer is given when its best sentence's "
                   "probability reaches it; refused answerable cases were asked again with the "
                   "threshold at 0 to know what they would have said):"), "",
                  tradeoff_table(curve, data.get("refusal_threshold_used")), ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots] + [""]
    parts += [f"## Failures ({len(failures)} of {len(cases)} cases)", "",
              f"A case passes when it meets all of: {', '.join(CASE_GATES)}.", ""]
    parts += [_failure_block(cid, c) + "\n" for cid, c in failures.items()] or ["None.", ""]
    parts += ["## Definitions", "", DEFINITIONS, ""]
    return "\n".join(parts)


def write_report(data: Mapping[str, Any], path: str | Path, plots: Sequence[str | Path] = ()) -> Path:
    p = Path(path)
    p.write_text(render_report(data, plots), encoding="utf-8")
    return p


def write_plots(data: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """metrics_by_kind.png and latency.png (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    paths: list[Path] = []

    kinds = by_kind(data, PLOT_METRICS)
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    width = 0.8 / max(1, len(kinds))
    for i, (kind, (n, means)) in enumerate(kinds.items()):
        pts = [(j + i * width, v) for j, m in enumerate(PLOT_METRICS)
               if (v := means[m]) is not None]
        ax.bar([x for x, _ in pts], [y for _, y in pts], width=width, label=f"{kind} (n={n})")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(PLOT_METRICS))])
    ax.set_xticklabels(PLOT_METRICS, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean over cases")
    ax.set_title("Metrics per case kind (no bar: the metric does not apply to that kind)",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    paths.append(out / "metrics_by_kind.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    curve = tradeoff_points(data)
    if curve:
        paths.append(plot_tradeoff(curve, data.get("refusal_threshold_used"),
                                   out / "tradeoff.png", "answering vs refusing"))

    stages = list(data["latency"])
    series = [[c["timings"][st] for c in data["cases"].values() if st in c["timings"]]
              for st in stages]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if any(series):
        ax.boxplot([s or [0.0] for s in series], showfliers=False)
        for i, s in enumerate(series, start=1):
            ax.scatter([i] * len(s), s, s=10, alpha=0.6)
        ax.set_xticks(range(1, len(stages) + 1))
        ax.set_xticklabels(stages)
    ax.set_ylabel("seconds per question")
    ax.set_title("Latency per stage")
    fig.tight_layout()
    paths.append(out / "latency.png")
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths


THRESHOLDS = tuple(round(0.02 * i, 2) for i in range(51))


def tradeoff_points(data: Mapping[str, Any]) -> list[TradeoffPoint]:
    """The trade-off curve of an extractive run (empty when its cases carry no supports)."""
    rows = [(float(c["support"] or 0.0), bool(c["answerable"]), bool(c.get("correct_if_answered")))
            for c in data["cases"].values()
            if c.get("mode") == "extractive" and (not c["answerable"]
                                                  or c.get("correct_if_answered") is not None)]
    if not rows:
        return []
    used = data.get("refusal_threshold_used")
    grid = sorted(set(THRESHOLDS) | ({float(used)} if used is not None else set()))
    return tradeoff(rows, grid)


def tradeoff_table(curve: Sequence[TradeoffPoint], used: float | None) -> str:
    """Every fifth threshold of the curve and the one used, as markdown."""
    lines = ["| refusal threshold | answerable answered correctly | unanswerable refused |",
             "|---:|---:|---:|"]
    for i, p in enumerate(curve):
        mark = used is not None and abs(p.threshold - used) < 1e-9
        if mark or i % 5 == 0:
            t = f"**{p.threshold:.2f} (used)**" if mark else f"{p.threshold:.2f}"
            lines.append(f"| {t} | {p.answered_right:.1%} | {p.refused_right:.1%} |")
    return "\n".join(lines)


def plot_tradeoff(curve: Sequence[TradeoffPoint], used: float | None, path: Path,
                  title: str) -> Path:
    """Answered correctly (x) against refused correctly (y) as the threshold varies, the
    threshold used marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    ax.plot([p.answered_right for p in curve], [p.refused_right for p in curve], "-o", ms=3)
    for p in curve[::10]:
        ax.annotate(f"{p.threshold:.1f}", (p.answered_right, p.refused_right), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    if used is not None:
        at = min(curve, key=lambda p: abs(p.threshold - used))
        ax.plot([at.answered_right], [at.refused_right], "r*", ms=14,
                label=f"threshold used ({used:.2f})")
        ax.legend(loc="lower left", fontsize=8)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("answerable questions answered with every key fact")
    ax.set_ylabel("unanswerable questions refused")
    ax.set_title(f"Trade-off as the refusal threshold varies ({title})", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# -- comparing two runs -----------------------------------------------------------------------
@dataclass(frozen=True)
class MetricDelta:
    name: str
    label: str
    a: float | None
    b: float | None
    higher_is_better: bool

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass(frozen=True)
class Flip:
    """A case whose pass/fail on a metric differs between run A and run B."""

    metric: str
    case_id: str
    a_passed: bool
    b_passed: bool


@dataclass(frozen=True)
class Comparison:
    a_label: str
    b_label: str
    deltas: tuple[MetricDelta, ...]
    flips: tuple[Flip, ...]
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()


def _passed(value: float | None, higher_is_better: bool) -> bool | None:
    if value is None:
        return None
    return value >= 1.0 if higher_is_better else value <= 0.0


def compare(a: Mapping[str, Any], b: Mapping[str, Any], a_label: str = "A",
            b_label: str = "B") -> Comparison:
    """Metric deltas (B - A) and the cases that flipped pass/fail per metric.

    A case passes a metric at its best value (1, or 0 for lower-is-better rates); cases where
    the metric does not apply in either run are not flips.
    """
    labels = {**_labels(a), **_labels(b)}
    names = list(dict.fromkeys([*a["summary"], *b["summary"]]))
    deltas = tuple(
        MetricDelta(n, labels.get(n, (n, True))[0], a["summary"].get(n, {}).get("mean"),
                    b["summary"].get(n, {}).get("mean"), labels.get(n, (n, True))[1])
        for n in names
    )
    flips: list[Flip] = []
    common = [cid for cid in a["cases"] if cid in b["cases"]]
    for n in names:
        hib = labels.get(n, (n, True))[1]
        for cid in common:
            pa = _passed(a["cases"][cid]["metrics"].get(n), hib)
            pb = _passed(b["cases"][cid]["metrics"].get(n), hib)
            if pa is not None and pb is not None and pa != pb:
                flips.append(Flip(n, cid, pa, pb))
    return Comparison(
        a_label, b_label, deltas, tuple(flips),
        only_in_a=tuple(c for c in a["cases"] if c not in b["cases"]),
        only_in_b=tuple(c for c in b["cases"] if c not in a["cases"]),
    )


def format_comparison(cmp: Comparison) -> str:
    lines = [f"# Comparison: A = {cmp.a_label}, B = {cmp.b_label}", "",
             "| metric | A | B | B - A |", "|---|---:|---:|---:|"]
    for d in cmp.deltas:
        delta = "–" if d.delta is None else f"{d.delta:+.3f}"
        arrow = "" if d.higher_is_better else " (lower is better)"
        lines.append(f"| {d.label}{arrow} | {_fmt(d.a)} | {_fmt(d.b)} | {delta} |")
    lines += ["", f"## Flipped cases ({len(cmp.flips)})", ""]
    if not cmp.flips:
        lines.append("No case changed pass/fail on any metric.")
    by_metric: dict[str, list[Flip]] = {}
    for f in cmp.flips:
        by_metric.setdefault(f.metric, []).append(f)
    for metric, fl in by_metric.items():
        worse = [f.case_id for f in fl if f.a_passed and not f.b_passed]
        better = [f.case_id for f in fl if f.b_passed and not f.a_passed]
        if worse:
            lines.append(f"- {metric}: pass -> fail: {', '.join(worse)}")
        if better:
            lines.append(f"- {metric}: fail -> pass: {', '.join(better)}")
    if cmp.only_in_a or cmp.only_in_b:
        lines += ["", (f"Cases only in A: {', '.join(cmp.only_in_a) or '–'}; "
                      f"only in B: {', '.join(cmp.only_in_b) or '–'}")]
    return "\n".join(lines) + "\n"
