"""Whether onnxruntime's worker threads should spin waiting for work, measured both ways in one
run: (1) the cross-encoder's call for 4 sentence pairs right after the embedder embedded 8
sentences (as a question does), with the cross-encoder's session spinning and not; (2) the
embedder's throughput over back-to-back batches (as ingestion does), spinning (its setting) and
not. Not a test: numbers depend on machine load.

    .venv/bin/python bench/spinning.py [FOLDER_OF_TXT]   # default: ../shared/corpora/bbc-news
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.embed import OnnxMiniLM
from qa.cross import CrossEncoder

ROOT = Path(__file__).resolve().parents[1]
Q = "Why did the council decide to close the old bridge over the river last week?"
S = ["The bridge was shut because engineers found cracks in two of its main supports.",
     "The council closed the bridge on Monday, a spokesman for the council said.",
     "Residents said the closure had caused long queues in the town centre.",
     "A report in 2003 had warned that the bridge needed urgent repairs."]


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else ROOT.parent / "shared" / "corpora" / "bbc-news"
    texts = [p.read_text(errors="ignore")[:1500] for p in sorted(folder.rglob("*.txt"))[:600]]
    emb = OnnxMiniLM()
    print("| cross-encoder session | call after an embedding, p50 ms |\n|---|---:|")
    for spin in (True, False):
        ce = CrossEncoder(spin=spin)
        ts = []
        for i in range(80):
            emb.embed([s + str(i) for s in S * 2])
            t = time.perf_counter()
            ce.logits(Q, S)
            ts.append(time.perf_counter() - t)
        print(f"| {'spinning' if spin else 'not spinning (shipped)'} | "
              f"{statistics.median(ts[10:]) * 1000:.1f} |")
    if texts:
        print(f"\n| embedder session | {len(texts)} texts, seconds (best of 2) |\n|---|---:|")
        for spin in (True, False):
            e = OnnxMiniLM(spin=spin)
            e.embed(texts[:20])
            best = min(_timed(e, texts) for _ in range(2))
            print(f"| {'spinning (shipped)' if spin else 'not spinning'} | {best:.2f} |")
    return 0


def _timed(e: OnnxMiniLM, texts: list[str]) -> float:
    t = time.perf_counter()
    e.embed(texts)
    return time.perf_counter() - t


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
