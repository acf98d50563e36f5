"""Calibrate the extractive refusal threshold on a gold set (reproducible; no per-question rules).

    python -m eval.calibrate [--gold eval/gold.jsonl] [--corpus data/articles] [--store DIR]

Every case is answered with the threshold at 0, recording its best support score. The
threshold is then the one that maximises (answerable cases answered + unanswerable refused),
placed in the middle of the widest gap that achieves it, so it is not balanced on the edge of
one case. It prints the scores, the chosen value and the counts; put the value into
`DEFAULT_REFUSAL_THRESHOLD` in qa/settings.py (or set QA_REFUSAL_THRESHOLD).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def choose_threshold(answerable: Sequence[float], unanswerable: Sequence[float]) -> tuple[float, int]:
    """The threshold in the middle of the widest gap among those with the most correct cases."""
    points = sorted({0.0, 1.0, *answerable, *unanswerable})
    best: tuple[int, float, float] = (-1, 0.0, 0.0)  # (correct, gap width, threshold)
    for lo, hi in pairwise(points):
        t = (lo + hi) / 2
        correct = sum(s >= t for s in answerable) + sum(s < t for s in unanswerable)
        cand = (correct, hi - lo, t)
        if cand[:2] > best[:2]:
            best = cand
    return round(best[2], 3), best[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default=str(ROOT / "eval" / "gold.jsonl"))
    ap.add_argument("--corpus", default=str(ROOT / "data" / "articles"))
    ap.add_argument("--store", default="", help="store folder (default: a temporary one)")
    args = ap.parse_args(argv)

    from qa import Assistant, Settings

    store = args.store or tempfile.mkdtemp(prefix="qa-calibrate-")
    bot = Assistant.open(Settings.from_env(store_path=store, refusal_threshold=0.0,
                                           answer_mode="extractive"))
    bot.ingest([args.corpus])
    ans_scores: list[float] = []
    unans_scores: list[float] = []
    for line in Path(args.gold).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        a = bot.ask(case["question"], case.get("history") or [])
        (ans_scores if case["answerable"] else unans_scores).append(a.support)
        print(f"{case['id']:12} {'answerable' if case['answerable'] else 'unanswerable':13} "
              f"support {a.support:.3f}")
    t, correct = choose_threshold(ans_scores, unans_scores)
    n = len(ans_scores) + len(unans_scores)
    print(f"\nthreshold {t}: {correct}/{n} correct "
          f"({sum(s < t for s in ans_scores)} answerable refused, "
          f"{sum(s >= t for s in unans_scores)} unanswerable answered)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
