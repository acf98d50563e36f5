"""What running the lexical search beside the dense one saves, in one process on one store.

    .venv/bin/python bench/overlap.py STORE [CHROMA_URL]

STORE is a folder `bench/scale.py --keep DIR` built (e.g. DIR/store-1000000); with CHROMA_URL,
its `chroma run` server. After 100 warm-up questions, the same 100 questions are retrieved
(top 12, fused) in three rounds, each round first with the lexical search beside the query's
embedding and dense search (as `qa.retrieve` does) and then after them (the same code, the
lexical search run inline): fused p50 / p95 and the median of each stage, per round. Same
questions and vectors as bench/scale.py (its cheap seeded embedder); the first round warms.
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lexical import sentences
from bench.scale import HashEmbedder, open_store
from qa import retrieve


class Inline:
    """An executor that runs the lexical search in the caller's thread, when it is submitted
    (before the dense search): the one-after-the-other baseline."""

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        f.set_result(fn(*args))
        return f


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    t = time.perf_counter()
    store = open_store(argv[0], argv[1] if len(argv) > 1 else "")
    ret = retrieve.HybridRetriever(store, HashEmbedder())
    print(f"opened in {time.perf_counter() - t:.1f} s", flush=True)
    pool = sentences(300_000)
    warm = [s.rstrip(".") + "?" for s in pool[-200:-100]]
    questions = [s.rstrip(".") + "?" for s in pool[-100:]]
    for q in warm:
        ret.retrieve(q, 12)
    beside = retrieve._LEXICAL_SEARCH
    print("| round | lexical search | fused p50 / p95 ms | dense | lexical | waited for lexical |")
    print("|---:|---|---:|---:|---:|---:|")
    try:
        for rnd in range(3):
            for name, executor in (("beside", beside), ("after", Inline())):
                retrieve._LEXICAL_SEARCH = executor  # type: ignore[assignment]
                total: list[float] = []
                stages: dict[str, list[float]] = {}
                for q in questions:
                    t = time.perf_counter()
                    r = ret.retrieve(q, 12)
                    total.append((time.perf_counter() - t) * 1000)
                    for k, v in r.timings.items():
                        stages.setdefault(k, []).append(v * 1000)
                total.sort()
                med = {k: statistics.median(v) for k, v in stages.items()}
                print(f"| {rnd} | {name} | {statistics.median(total):.1f} / {total[94]:.1f} | "
                      f"{med['dense']:.1f} | {med['bm25']:.1f} | {med['bm25_wait']:.1f} |",
                      flush=True)
    finally:
        retrieve._LEXICAL_SEARCH = beside
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
