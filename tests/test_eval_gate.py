"""CI gate: the dev gold set, extractive mode, default settings, must stay above eval/floors.json.

The whole set runs through the real harness (real embedder, real Chroma in tmp), index build
included, and must finish within `max_seconds`. On failure the full metric table is printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.harness import run_eval
from eval.metrics import METRIC_BY_NAME
from eval.report import latency_table, summary_table
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ROOT / "eval" / "floors.json"


def _limits() -> dict:
    data = json.loads(FLOORS.read_text(encoding="utf-8"))
    return data


def test_floors_name_known_metrics_and_sit_at_or_under_the_measured_values() -> None:
    data = _limits()
    for name, floor in data["floors"].items():
        assert name in METRIC_BY_NAME and METRIC_BY_NAME[name].higher_is_better, name
        assert 0.0 <= floor <= data["measured"][name], name
    for name, ceiling in data["ceilings"].items():
        assert name in METRIC_BY_NAME and not METRIC_BY_NAME[name].higher_is_better, name
        assert data["measured"][name] <= ceiling <= 1.0, name


def test_dev_gold_set_meets_the_floors(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    limits = _limits()
    run = run_eval(ROOT / "eval" / "gold.jsonl", ROOT / "data" / "articles",
                   Settings(answer_mode="extractive"), tmp_path / "run", embedder=embedder,
                   plots=False)
    assert Path(run.settings.store_path).is_relative_to(tmp_path)
    means = {name: s.mean for name, s in run.summary.items()}
    problems = [f"{n} = {means[n]} is below its floor {f}" for n, f in limits["floors"].items()
                if means[n] is None or means[n] < f]
    problems += [f"{n} = {means[n]} is above its ceiling {c}"
                 for n, c in limits["ceilings"].items() if means[n] is None or means[n] > c]
    if run.seconds > limits["max_seconds"]:
        problems.append(f"the run took {run.seconds:.1f}s (index {run.index_seconds:.1f}s); "
                        f"the budget is {limits['max_seconds']}s")
    table = summary_table(run.results) + "\n\n" + latency_table(run.results)
    print(table)
    print(f"{len(run.cases)} cases in {run.seconds:.1f}s (index {run.index_seconds:.1f}s)")
    assert not problems, "\n".join(problems) + "\n\n" + table + f"\n\nreport: {run.report_path}"
    assert run.results["errors"] == 0 and run.results["gold_warnings"] == []
