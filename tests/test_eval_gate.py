"""CI gate: gold sets in extractive mode with default settings must stay within eval/floors.json.

Each set runs through the real harness (real embedder, real Chroma in tmp), index build included,
and must finish within its `max_seconds`. On failure the full metric table is printed.

- `dev`: eval/gold.jsonl over the sample articles (the set the first slice was tuned on; it is
  train data for the answer scorer now);
- `sample_check`: the check split over the sample articles (never trained or calibrated on);
- `bbc_check`: the check split over the BBC corpus, on a subset of it (eval/subset.py: every
  evidence article, the articles a near miss asks about, 300 more) so the gate stays fast; the
  whole corpus is measured by `qa eval` (README). The corpus is read from
  ../shared/corpora/bbc-news by path; where a machine does not have it, this set is skipped
  and says why;
- `bbc_check2`: 210 more check cases over the same articles (81 near misses), gated the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.harness import run_eval
from eval.metrics import METRIC_BY_NAME
from eval.report import latency_table, summary_table
from eval.subset import subset_corpus
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ROOT / "eval" / "floors.json"
BBC = (ROOT.parent / "shared" / "corpora" / "bbc-news" / "news").resolve()


def _sets() -> dict:
    return json.loads(FLOORS.read_text(encoding="utf-8"))["sets"]


def test_floors_name_known_metrics_and_sit_at_or_under_the_measured_values() -> None:
    sets = _sets()
    assert {"dev", "sample_check", "bbc_check", "bbc_check2"} <= set(sets)
    for name, limits in sets.items():
        assert (ROOT / limits["gold"]).exists(), name
        for metric, floor in limits["floors"].items():
            assert metric in METRIC_BY_NAME and METRIC_BY_NAME[metric].higher_is_better, metric
            assert 0.0 <= floor <= limits["measured"][metric], (name, metric)
        for metric, ceiling in limits["ceilings"].items():
            assert metric in METRIC_BY_NAME and not METRIC_BY_NAME[metric].higher_is_better
            assert limits["measured"][metric] <= ceiling <= 1.0, (name, metric)


@pytest.mark.parametrize("name", ["dev", "sample_check", "bbc_check", "bbc_check2"])
def test_gold_set_meets_its_floors(name: str, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    limits = _sets()[name]
    if limits["corpus"] == "bbc-subset":
        if not BBC.is_dir():
            pytest.skip(f"the BBC corpus is not at {BBC} on this machine")
        corpus = subset_corpus(ROOT / limits["gold"], BBC, tmp_path / "corpus")
    else:
        corpus = ROOT / limits["corpus"]
    run = run_eval(ROOT / limits["gold"], corpus, Settings(answer_mode="extractive"),
                   tmp_path / "run", embedder=embedder, plots=False)
    assert Path(run.settings.store_path).is_relative_to(tmp_path)
    means = {m: s.mean for m, s in run.summary.items()}
    problems = [f"{m} = {means[m]} is below its floor {f}" for m, f in limits["floors"].items()
                if means[m] is None or means[m] < f]
    problems += [f"{m} = {means[m]} is above its ceiling {c}"
                 for m, c in limits["ceilings"].items() if means[m] is None or means[m] > c]
    if run.seconds > limits["max_seconds"]:
        problems.append(f"the run took {run.seconds:.1f}s (index {run.index_seconds:.1f}s); "
                        f"the budget is {limits['max_seconds']}s")
    table = summary_table(run.results) + "\n\n" + latency_table(run.results)
    print(table)
    print(f"{name}: {len(run.cases)} cases in {run.seconds:.1f}s (index {run.index_seconds:.1f}s)")
    assert not problems, "\n".join(problems) + "\n\n" + table + f"\n\nreport: {run.report_path}"
    assert run.results["errors"] == 0 and run.results["gold_warnings"] == []
