"""The store at archive scale: 100,000 and 1,000,000 passages, embedded and through `chroma run`.

    .venv/bin/python bench/scale.py [--sizes 100000,1000000] [--keep DIR]

Passages are news-like text: six sentences of the BBC corpus (read in place, shuffled with a
fixed seed) each, ten per article, fifty publications. Their vectors are cheap deterministic
ones (384 dimensions, normal, seeded; said so in the table): the store's side is measured, not
the model (its cost per passage is in bench/ingest.py). Up to 100,000 passages everything is written
through our own write path (`ChunkStore.put_articles`: Chroma, the catalog, the lexical index)
in batches of 100 articles, which the write figure measures; a larger store is written in bulk
(the same collections and catalog; Chroma takes ~2 ms a passage here, so a million through the
write path would take an hour) and has no write figure.

Per size and backend, each figure beside a same-run baseline:
- write: passages per second through our write path | raw `collection.upsert` of the same
  batches into a bare collection (first 100,000 passages only);
- dense / lexical / fused retrieval p50 and p95, with no filter, an article filter (5 articles)
  and a publication filter (1 of 50) | a raw Chroma query and a raw FTS5 MATCH (no filter);
  for the article filter, dense both ways: Chroma's filtered search (`dense_art`) and the exact
  search over the scope's own vectors that retrieval uses for small scopes (`dense_art_exact`);
- first question after ingesting 100 articles (retrieval + the extractive answer) | the
  question after it;
- before any of it, 100 other questions go through retrieval: a store in use has its files in
  the operating system's cache (without this warm-up, fused retrieval at a million passages,
  embedded, measured 149 ms p50 right after the 100,000-passage runs, and 46-56 ms in new
  processes on the same files minutes later);
- cold open (a new process: connect, open the catalog, the quick health check, one question);
- process RSS (the app; for the server also the server's), disk size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import numpy as np

from bench.lexical import sentences
from index.catalog import Catalog
from index.chunk import chunk_id
from index.connect import http_client, persistent_client
from index.lexical import match_expression
from index.store import ChunkStore
from index.terms import terms_of
from index.types import Article, ArticleMeta, Chunk

DIM = 384
PER_ARTICLE = 10
BATCH = 100  # articles per write
SOURCES = 50


class HashEmbedder:
    """A question's vector from a hash of its text: deterministic, free (the store is measured)."""

    name = "bench-hash-384"
    dim = DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(DIM)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def make_articles(first: int, count: int, pool: list[str], rng: random.Random
                  ) -> list[tuple[Article, list[Chunk], np.ndarray]]:
    out = []
    vrng = np.random.default_rng(first)
    for a in range(first, first + count):
        aid = f"https://archive.example/{a:07d}"
        parts = [" ".join(pool[rng.randrange(len(pool))] for _ in range(6))
                 for _ in range(PER_ARTICLE)]
        text = "\n".join(parts)
        h = hashlib.sha256(text.encode()).hexdigest()
        meta = ArticleMeta(article_id=aid, title=parts[0][:60], source=f"Source {a % SOURCES:02d}",
                           url=aid, date=f"2005-{1 + a % 12:02d}-{1 + a % 28:02d}")
        chunks, start = [], 0
        for k, p in enumerate(parts):
            chunks.append(Chunk(chunk_id(aid, h, k), aid, k, start, start + len(p), p,
                                len(p.split()), h))
            start += len(p) + 1
        v = vrng.standard_normal((PER_ARTICLE, DIM)).astype(np.float32)
        out.append((Article(meta, text, h), chunks, v / np.linalg.norm(v, axis=1, keepdims=True)))
    return out


def pct(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def timed(fn: Callable[[str], Any], queries: Sequence[str]) -> list[float]:
    for q in queries[:5]:  # warm
        fn(q)
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def build(folder: Path, n_chunks: int, pool: list[str]) -> dict[str, float]:
    """Write n_chunks passages through our write path; a bare collection gets the first
    100,000 the raw way, for the baseline."""
    client = persistent_client(folder)
    store = ChunkStore(client, "articles", HashEmbedder.name, DIM,
                       catalog=Catalog(folder / "catalog-articles.sqlite3"))
    rng = random.Random(3)
    ours = raw = 0.0
    raw_n = 0
    bare = client.get_or_create_collection("bare", metadata={"hnsw:space": "cosine"},
                                           embedding_function=None)
    for first in range(0, n_chunks // PER_ARTICLE, BATCH):
        items = make_articles(first, BATCH, pool, rng)
        t = time.perf_counter()
        store.put_articles(items)
        ours += time.perf_counter() - t
        if raw_n < 100_000:
            ids = [c.chunk_id for _, cs, _ in items for c in cs]
            t = time.perf_counter()
            bare.upsert(ids=ids, embeddings=np.concatenate([v for _, _, v in items]),
                        documents=[c.text for _, cs, _ in items for c in cs],
                        metadatas=[ChunkStore.chunk_metadata(c, a.meta, a.content_hash)
                                   for a, cs, _ in items for c in cs])
            raw += time.perf_counter() - t
            raw_n += len(ids)
        if first % 10_000 == 0:
            print(f"  {first * PER_ARTICLE:,} passages written", flush=True)
    client.delete_collection("bare")
    assert store.catalog is not None
    store.catalog.close()
    return {"write_ours": n_chunks / ours, "write_raw": raw_n / raw}


def build_bulk(folder: Path, n_chunks: int, pool: list[str]) -> dict[str, float]:
    """The same store as `build`, written in bulk (large Chroma batches, the catalog by SQL and
    its lexical index built once at the end): for the largest size, whose write throughput is
    not what is measured (the 100,000 build measures it)."""
    import sqlite3 as sq

    client = persistent_client(folder)
    cat = Catalog(folder / "catalog-articles.sqlite3")
    store = ChunkStore(client, "articles", HashEmbedder.name, DIM, catalog=None)
    rng = random.Random(3)
    db = sq.connect(folder / "catalog-articles.sqlite3")
    t = time.perf_counter()
    for first in range(0, n_chunks // PER_ARTICLE, 500):
        items = make_articles(first, 500, pool, rng)
        ids = [c.chunk_id for _, cs, _ in items for c in cs]
        store.chunks.upsert(ids=ids, embeddings=np.concatenate([v for _, _, v in items]),
                            documents=[c.text for _, cs, _ in items for c in cs],
                            metadatas=[ChunkStore.chunk_metadata(c, a.meta, a.content_hash)
                                       for a, cs, _ in items for c in cs])
        store.put_records([(a, len(cs)) for a, cs, _ in items])
        with db:
            db.executemany("INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (
                (a.article_id, a.meta.title, a.meta.source, a.meta.url, a.meta.date, "",
                 a.content_hash, len(cs), a.text, 0.0, "", "") for a, cs, _ in items))
            db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)", (
                (c.chunk_id, c.article_id, c.index, c.start, c.end, c.n_tokens, a.content_hash,
                 c.text) for a, cs, _ in items for c in cs))
        if first % 10_000 == 0:
            print(f"  {first * PER_ARTICLE:,} passages written (bulk)", flush=True)
    db.close()
    cat.reindex()
    store._bump()
    cat.close()
    return {"write_ours": float("nan"), "write_raw": float("nan"),
            "bulk_s": time.perf_counter() - t}


COLD = r"""
import sys, time, json
t = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from bench.scale import HashEmbedder, open_store
from index.health import quick_check
from qa.retrieve import HybridRetriever
store = open_store(sys.argv[2], sys.argv[3])
health = quick_check(store)
HybridRetriever(store, HashEmbedder()).retrieve("Why did the council raise the tax?", 12)
print(json.dumps({"seconds": time.perf_counter() - t, "ok": health.ok}))
"""


def open_store(folder: str, url: str) -> ChunkStore:
    client = http_client(url) if url else persistent_client(Path(folder))
    return ChunkStore(client, "articles", HashEmbedder.name, DIM,
                      catalog=Catalog(Path(folder) / "catalog-articles.sqlite3"))


def measure(folder: Path, url: str, n: int, pool: list[str], queries: list[str],
            server_pid: int | None, warm: Sequence[str] = ()) -> dict[str, Any]:
    from qa.api import Assistant
    from qa.retrieve import EXACT_SCOPE, HybridRetriever, Scope
    from qa.settings import Settings

    r: dict[str, Any] = {}
    cold = subprocess.run([sys.executable, "-c", COLD, str(ROOT), str(folder), url],
                          capture_output=True, text=True, check=True)
    r["cold_open_s"] = json.loads(cold.stdout.strip().splitlines()[-1])["seconds"]
    store = open_store(str(folder), url)
    emb = HashEmbedder()
    ret = HybridRetriever(store, emb)
    lex = ret.lexical
    assert store.catalog is not None
    arts = [f"https://archive.example/{a:07d}" for a in range(0, n // PER_ARTICLE, n // 50)][:5]
    art_scope = Scope(article_ids=tuple(arts))
    src_scope = Scope(sources=("Source 07",))
    qv = {q: emb.embed([q])[0] for q in queries}
    for q in warm:  # other questions first: a store in use has its files in the OS cache
        ret.retrieve(q, 12)
    raw_col = store.chunks
    r["dense_raw"] = timed(lambda q: raw_col.query(query_embeddings=[qv[q]], n_results=48,
                                                   include=["metadatas", "documents",
                                                            "distances"]), queries)
    r["dense"] = timed(lambda q: store.query(qv[q], 48), queries)
    r["dense_art"] = timed(lambda q: store.query(qv[q], 48, where=art_scope.where()), queries)
    art_ids = store.catalog.chunk_ids_in(art_scope.article_ids, (), EXACT_SCOPE) or []
    r["dense_art_exact"] = timed(lambda q: store.query_among(qv[q], 48, art_ids), queries)
    r["dense_src"] = timed(lambda q: store.query(qv[q], 48, where=src_scope.where()), queries)
    r["lexical_raw"] = timed(lambda q: store.catalog._rows(  # type: ignore[union-attr]
        "SELECT rowid FROM lexical WHERE lexical MATCH ? ORDER BY rank LIMIT 48",
        (match_expression(terms_of(q)),)), queries)
    r["lexical"] = timed(lambda q: lex.top(q, 48), queries)
    r["lexical_art"] = timed(lambda q: lex.top(q, 48, article_ids=arts), queries)
    r["lexical_src"] = timed(lambda q: lex.top(q, 48, sources=["Source 07"]), queries)
    r["fused"] = timed(lambda q: ret.retrieve(q, 12), queries)
    r["fused_art"] = timed(lambda q: ret.retrieve(q, 12, art_scope), queries)
    r["fused_src"] = timed(lambda q: ret.retrieve(q, 12, src_scope), queries)

    bot = Assistant(Settings(store_path=str(folder), answer_mode="extractive"), emb, store)
    first_q, next_q, ingest_s = [], [], []
    rng = random.Random(99)
    for k in range(3):  # three uploads of 100 articles, each followed by two questions
        items = make_articles(n // PER_ARTICLE + 1000 * k, 100, pool, rng)
        t = time.perf_counter()
        store.put_articles(items)
        ingest_s.append(time.perf_counter() - t)
        for out in (first_q, next_q):
            t = time.perf_counter()
            bot.ask(queries[k])
            out.append((time.perf_counter() - t) * 1000)
    r["first_after_ingest_ms"] = statistics.median(first_q)
    r["next_question_ms"] = statistics.median(next_q)
    r["ingest_100_s"] = statistics.median(ingest_s)
    r["rss_app_mb"] = rss_mb()
    r["rss_server_mb"] = rss_mb(server_pid) if server_pid else None
    store.catalog.close()
    return r


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    from index.server import chroma_cli, free_port, heartbeat

    port = free_port()
    proc = subprocess.Popen([chroma_cli(), "run", "--host", "127.0.0.1", "--port", str(port),
                             "--path", str(folder)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # a million vectors take a while to load
    while not heartbeat(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("chroma run did not start")
        time.sleep(0.5)
    return proc, url


def measure_in_child(folder: Path, url: str, n: int, n_queries: int, server_pid: int | None
                     ) -> dict[str, Any]:
    """`measure` in a process of its own: its RSS is the app's alone, and no embedded client
    of this process stays open on the folder while the server has it."""
    out = subprocess.run([sys.executable, __file__, "--measure", str(folder), "--url", url,
                          "--n", str(n), "--queries", str(n_queries),
                          "--server-pid", str(server_pid or 0)],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"measuring {folder} ({url or 'embedded'}) failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--keep", default="", help="build the stores here and keep them")
    ap.add_argument("--measure", default="", help=argparse.SUPPRESS)  # the child's part
    ap.add_argument("--url", default="", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    pool = sentences(300_000)
    queries = [s.rstrip(".") + "?" for s in pool[-args.queries:]]
    if args.measure:
        warm = [s.rstrip(".") + "?" for s in pool[-2 * args.queries : -args.queries]]
        r = measure(Path(args.measure), args.url, args.n, pool, queries, args.server_pid or None,
                    warm)
        print(json.dumps(r))
        return 0
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="scale-"))
        folder = base / f"store-{n}"
        try:
            if not (folder / "chroma.sqlite3").exists():
                t = time.perf_counter()
                w = build(folder, n, pool) if n <= 100_000 else build_bulk(folder, n, pool)
                w["build_s"] = time.perf_counter() - t
                (folder / "build.json").write_text(json.dumps(w))
            w = json.loads((folder / "build.json").read_text())
            disk = du_mb(folder)
            emb_r = measure_in_child(folder, "", n, args.queries, None)
            proc, url = start_server(folder)
            try:
                srv_r = measure_in_child(folder, url, n, args.queries, proc.pid)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            results.append((n, w, disk, emb_r, srv_r))
            print(json.dumps({"n": n, "write": w, "disk": disk,
                              "embedded": {k: (v if not isinstance(v, list) else pct(v, .5))
                                           for k, v in emb_r.items()},
                              "server": {k: (v if not isinstance(v, list) else pct(v, .5))
                                         for k, v in srv_r.items()}}), flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
    report(results)
    return 0


def report(results: list[tuple[int, dict[str, float], float, dict[str, Any], dict[str, Any]]]
           ) -> None:
    print("\n| passages | backend | write passages/s (raw upsert) | dense p50/p95 ms (raw) | "
          "lexical p50/p95 ms (raw FTS5) | fused p50/p95 ms | fused, article filter p50 | "
          "fused, publication filter p50 | first question after 100 articles ms (next) | "
          "cold open s | RSS MB (server) | disk MB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, w, disk, *rs in results:
        for name, r in zip(("embedded", "server"), rs):
            def pp(key: str, r: dict[str, Any] = r) -> str:
                return f"{pct(r[key], .5):.1f} / {pct(r[key], .95):.1f}"
            write = (f"{w['write_ours']:,.0f} ({w['write_raw']:,.0f})"
                     if name == "embedded" and w["write_ours"] == w["write_ours"] else
                     "bulk-built" if name == "embedded" else "–")
            rss = f"{r['rss_app_mb']:,.0f}" + (f" ({r['rss_server_mb']:,.0f})"
                                              if r["rss_server_mb"] else "")
            print(f"| {n:,} | {name} | {write} | {pp('dense')} ({pct(r['dense_raw'], .5):.1f}) | "
                  f"{pp('lexical')} ({pct(r['lexical_raw'], .5):.1f}) | {pp('fused')} | "
                  f"{pct(r['fused_art'], .5):.1f} | {pct(r['fused_src'], .5):.1f} | "
                  f"{r['first_after_ingest_ms']:.0f} ({r['next_question_ms']:.0f}) | "
                  f"{r['cold_open_s']:.1f} | {rss} | {disk:,.0f} |")


if __name__ == "__main__":
    raise SystemExit(main())
