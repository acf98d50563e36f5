"""Peak memory of `qa ingest` on one very long text file, beside a process that only opens the
store (the baseline: Python, the model, Chroma), both measured in the same run.

    python bench/memory.py [--mb 15]

The file is generated (deterministic news-like sentences, paragraphs of five), written to a
temporary folder and ingested by a real `qa ingest` process; peak RSS comes from the kernel
(getrusage of the finished child). Target (issue 11): a 15 MB file under 600 MB. Not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["the", "council", "said", "harbour", "budget", "ferry", "market", "school", "river",
         "bridge", "museum", "festival", "minister", "reported", "new", "plan", "would", "cost",
         "million", "pounds", "next", "year", "according", "to", "officials", "residents",
         "opposed", "approved", "delayed", "inquiry", "court", "ruling", "witnesses", "police",
         "station"]


def write_text(path: Path, megabytes: float) -> None:
    rng = random.Random(1)
    out = ["A very long report"]
    size = 0
    while size < megabytes * 1_000_000:
        para = " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 25))).capitalize()
                        + "." for _ in range(5))
        out.append(para)
        size += len(para) + 1
    path.write_text("\n".join(out), encoding="utf-8")


def peak_of(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(peak RSS MB, seconds, last output line) of one `qa` process."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT,
                       capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    # ru_maxrss of children is the largest of all children so far: run the smaller one first
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return peak, wall, (r.stdout.strip().splitlines() or [""])[-1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=15.0)
    args = ap.parse_args()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "long-report.txt"
        write_text(big, args.mb)
        store = str(Path(tmp) / "store")
        base, base_s, _ = peak_of(["articles", "--store", store], env)
        peak, secs, last = peak_of(["ingest", str(big), "--store", store, "-q"], env)
        size = big.stat().st_size / 1e6
    print(f"# bench/memory.py, {time.strftime('%d %b %Y')}, {platform.machine()}, "
          f"{os.cpu_count()} cores")
    print("| process | peak RSS MB | seconds |")
    print("|---|---:|---:|")
    print(f"| `qa articles` on an empty store (baseline: Python, model, Chroma) | {base:.0f} | "
          f"{base_s:.1f} |")
    print(f"| `qa ingest` of one {size:.1f} MB text file | {peak:.0f} | {secs:.0f} |")
    print(f"\n{last}; above the baseline: {peak - base:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
