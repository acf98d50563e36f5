"""The lexical index, measured against the one it replaced, in one run.

    .venv/bin/python bench/lexical.py quality [--sets dev,bbc_train,sample_check,bbc_check]
                                              [--rgb ../shared/bench/rgb/en_fact.json]
    .venv/bin/python bench/lexical.py scale [--sizes 20000,100000,1000000]

- `ours` (index/lexical.py): SQLite FTS5 in the catalog file, written with each write; FTS5
  shortlists, Lucene's BM25 scores the shortlist.
- `fts5-bm25()`: the same index ranked by FTS5's own bm25() alone.
- `bm25s`: the index before it: bm25s over every chunk, rebuilt whole after every change, a
  filter applied by a Python loop over every chunk id (its code is kept here, for this table).

quality: the real harness (`qa eval`, extractive, default settings) on the gold sets with one
engine swapped for the other (the rest is ours): retrieval hit@5 and MRR, key facts, refusals;
with `--rgb`, the RGB answering setting's "a retrieved passage holds the answer" (benchmark
only: nothing is fitted on it).

scale: stores of N chunks of news-like text (sentences of the BBC corpus, read in place and
shuffled with a fixed seed; ~20 articles per "publication", 10 chunks per article). Per engine:
time to index all N, then adding one article of 10 chunks and answering the first lexical query
after it (what the first question after an upload waits for), lexical query p50/p95 with no
filter, an article filter (5 articles) and a publication filter (1 of 50), memory added by the
process (RSS) and disk.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import numpy as np

import index.catalog
from index.lexical import LexicalIndex, match_expression
from index.terms import stopwords, terms_of

BBC = (ROOT.parent / "shared" / "corpora" / "bbc-news" / "news").resolve()


# -- the engine it replaced ---------------------------------------------------------------------
class Bm25sIndex:
    """bm25s over every chunk of the catalog, rebuilt whenever the chunks changed (as
    index/bm25.py did with the store's generation); filters by a loop over every chunk id."""

    def __init__(self, rows: Any) -> None:
        self._rows = rows
        self._key: tuple[int, int] | None = None
        self.ids: list[str] = []
        self.meta: list[tuple[str, str]] = []  # (article id, source) per chunk
        self._retriever: Any = None

    def _current(self) -> None:
        key = tuple(int(x or 0) for x in self._rows(
            "SELECT COUNT(*), COALESCE(SUM(rowid), 0) FROM chunks", ())[0])
        if key == self._key:
            return
        import logging

        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        rows = self._rows("SELECT c.chunk_id, c.article_id, a.source, c.text FROM chunks c "
                          "JOIN articles a ON a.article_id = c.article_id", ())
        self.ids = [str(r[0]) for r in rows]
        self.meta = [(str(r[1]), str(r[2])) for r in rows]
        self._retriever = bm25s.BM25()
        if rows:
            tokens = bm25s.tokenize([str(r[3]) for r in rows], stopwords=stopwords(),
                                    stemmer=Stemmer.Stemmer("english"), return_ids=False,
                                    show_progress=False)
            self._retriever.index(tokens, show_progress=False)
        self._key = key  # type: ignore[assignment]

    def top(self, query: str, n: int, article_ids: Sequence[str] = (),
            sources: Sequence[str] = ()) -> list[tuple[str, float]]:
        self._current()
        q = terms_of(query)
        if not self.ids or not q:
            return []
        s = np.asarray(self._retriever.get_scores(q), dtype=np.float32)
        if article_ids or sources:
            a_ok, s_ok = set(article_ids), set(sources)
            mask = np.array([(not a_ok or a in a_ok) and (not s_ok or src in s_ok)
                             for a, src in self.meta], dtype=bool)
            s = np.where(mask, s, 0.0)
        n = min(n, s.size)
        best = np.argpartition(-s, n - 1)[:n]
        best = best[np.argsort(-s[best], kind="stable")]
        return [(self.ids[i], float(s[i])) for i in best if s[i] > 0]

    def doc_freqs(self, terms: Sequence[str]) -> dict[str, int]:
        self._current()
        vocab = self._retriever.vocab_dict
        indptr = self._retriever.scores["indptr"]
        return {t: int(indptr[vocab[t] + 1] - indptr[vocab[t]]) if t in vocab else 0
                for t in terms}

    def n_docs(self) -> int:
        self._current()
        return len(self.ids)


class Fts5Only(LexicalIndex):
    """FTS5's own bm25() ranking, without ours rescoring its shortlist (k1 1.2, and an IDF of
    0 for a term in more than half the chunks)."""

    def top(self, query: str, n: int, article_ids: Sequence[str] = (),
            sources: Sequence[str] = ()) -> list[tuple[str, float]]:
        terms = terms_of(query)
        if not terms or n <= 0:
            return []
        parts = [("SELECT c.chunk_id, -bm25(lexical) AS s FROM lexical JOIN chunks c ON "
                 "c.rowid = lexical.rowid")]
        args: list[object] = [match_expression(terms)]
        where = ["lexical MATCH ?"]
        if article_ids:
            where.append(f"c.article_id IN ({','.join('?' * len(article_ids))})")
            args += list(article_ids)
        if sources:
            parts.append("JOIN articles a ON a.article_id = c.article_id")
            where.append(f"a.source IN ({','.join('?' * len(sources))})")
            args += list(sources)
        parts.append("WHERE " + " AND ".join(where) + " ORDER BY s DESC LIMIT ?")
        args.append(n)
        return [(str(c), float(str(x))) for c, x in self._rows(" ".join(parts), args)]


@contextmanager
def engine(name: str) -> Iterator[None]:
    original = index.catalog.Catalog.lexical_index
    if name == "bm25s":
        index.catalog.Catalog.lexical_index = (  # type: ignore[method-assign]
            lambda self: Bm25sIndex(self._rows))
    elif name == "fts5-bm25()":
        index.catalog.Catalog.lexical_index = (  # type: ignore[method-assign]
            lambda self: Fts5Only(self._rows))
    try:
        yield
    finally:
        index.catalog.Catalog.lexical_index = original  # type: ignore[method-assign]


ENGINES = ("ours", "fts5-bm25()", "bm25s")


# -- quality ------------------------------------------------------------------------------------
def quality(args: argparse.Namespace) -> int:
    from bench.llama_parts import SETS, TRAIN, set_corpus
    from eval.harness import run_eval
    from index.embed import make_embedder
    from qa.settings import Settings

    metrics = ("hit_at_5", "mrr", "key_fact_full", "correct_refusal", "false_refusal")
    embedder = make_embedder("minilm-onnx")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for set_name in [x for x in args.sets.split(",") if x]:
            gold = SETS[set_name][0]
            corpus_dir = set_corpus(set_name, Path(tmp))
            if corpus_dir is None:
                continue
            for e in ENGINES:
                with engine(e):
                    run = run_eval(ROOT / gold, corpus_dir, Settings(answer_mode="extractive"),
                                   Path(tmp) / f"{set_name}-{e}", embedder=embedder,
                                   plots=False)
                ms = [a.timings.get("bm25", 0.0) * 1000 for a in
                      (r.answer for r in run.cases) if a.timings]
                m = {k: run.summary[k].mean for k in metrics}
                rows.append((f"{set_name} ({'train' if set_name in TRAIN else 'check'})", e, m,
                             statistics.median(ms) if ms else float("nan")))
                print(rows[-1], flush=True)
        if args.rgb:
            from eval.rgb import run_rgb

            for e in ENGINES:
                with engine(e):
                    res = run_rgb(args.rgb, Path(tmp) / f"rgb-{e}",
                                  Settings(answer_mode="extractive"), embedder=embedder)
                shares = res.settings[0].shares
                rows.append(("RGB answering (benchmark)", e,
                             {"retrieved_answer": shares["retrieved_answer"],
                              "correct": shares["correct"]}, float("nan")))
                print(rows[-1], flush=True)
    print()
    print("| set | engine | hit@5 | MRR | key facts all | unanswerable refused | "
          "false refusal | lexical ms p50 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for set_name, e, m, ms in rows:
        if "retrieved_answer" in m:
            print(f"| {set_name} | {e} | retrieved answer {m['retrieved_answer']:.3f} | "
                  f"answer correct {m['correct']:.3f} | | | | |")
            continue
        cells = " | ".join("–" if m[k] is None else f"{m[k]:.3f}" for k in metrics)
        print(f"| {set_name} | {e} | {cells} | {ms:.2f} |")
    return 0


# -- scale --------------------------------------------------------------------------------------
def sentences(limit: int) -> list[str]:
    """Sentences of the BBC corpus (in place), shuffled with a fixed seed, repeated to `limit`."""
    out: list[str] = []
    for p in sorted(BBC.rglob("*.txt")):
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
            out += [s.strip() + "." for s in line.split(". ") if len(s.split()) >= 5]
    random.Random(7).shuffle(out)
    if not out:
        raise SystemExit(f"no BBC corpus at {BBC}")
    return [out[i % len(out)] for i in range(limit)]


def make_catalog(path: Path, n_chunks: int, pool: list[str]) -> tuple[Any, list[str]]:
    """A catalog of n_chunks chunks of 6 sentences, 10 per article, 20 articles per source;
    written straight into SQLite (the catalog's own tables), the lexical index built last."""
    from index.catalog import Catalog

    cat = Catalog(path)
    db = sqlite3.connect(path)
    articles: list[str] = []
    db.execute("BEGIN")
    rng = random.Random(11)
    for i in range(0, n_chunks, 10):
        aid = f"a{i // 10:07d}"
        articles.append(aid)
        db.execute("INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   (aid, aid, f"source{(i // 10) // 20 % 50:02d}", "", "", "", "h", 10, "", 0.0,
                    "", ""))
        db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
                       ((f"{aid}-{k}", aid, k, 0, 0, 0, "h",
                         " ".join(pool[rng.randrange(len(pool))] for _ in range(6)))
                        for k in range(10)))
    db.execute("COMMIT")
    db.close()
    return cat, articles


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def per_query(lex: Any, queries: Sequence[str], **scope: Any) -> list[float]:
    """ms of each query (each asked twice: the first pass warms the page cache)."""
    out = []
    for rep in range(2):
        for q in queries:
            t = time.perf_counter()
            lex.top(q, 60, **scope)
            if rep:
                out.append((time.perf_counter() - t) * 1000)
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def scale(args: argparse.Namespace) -> int:
    from index.chunk import Chunker
    from index.types import Article, ArticleMeta

    sizes = [int(x) for x in args.sizes.split(",")]
    pool = sentences(200_000)
    queries = [s for s in pool[:400] if len(terms_of(s)) >= 4][:60]
    rows = []
    for n in sizes:
        for e in args.engines.split(","):  # ours or bm25s
            tmp = Path(tempfile.mkdtemp(prefix="lexscale-"))
            try:
                gc.collect()
                rss0 = rss_mb()
                t = time.perf_counter()
                cat, articles = make_catalog(tmp / "catalog.sqlite3", n, pool)
                if e == "ours":
                    cat.reindex()
                    lex: Any = cat.lexical_index()
                else:
                    lex = Bm25sIndex(cat._rows)
                    lex.top("warm", 1)
                build = time.perf_counter() - t
                plain = per_query(lex, queries)
                few = articles[:: max(1, len(articles) // 5)][:5]
                art = per_query(lex, queries, article_ids=few)
                src = per_query(lex, queries, sources=["source07"])
                # one upload of one article (10 chunks), then the first question
                text = " ".join(pool[-60:])
                art_new = Article(ArticleMeta(article_id="new", title="new", source="x"), text,
                                  "hnew")
                chunks = Chunker(192, 0).chunk(art_new)[:10]
                t = time.perf_counter()
                cat.put([(art_new, chunks)])
                lex.top(queries[0], 60)
                upload = (time.perf_counter() - t) * 1000
                rss = rss_mb() - rss0
                disk = sum(p.stat().st_size for p in tmp.iterdir()) / 2**20
                rows.append((n, e, build, upload, pct(plain, .5), pct(plain, .95),
                             pct(art, .5), pct(src, .5), rss, disk))
                print(rows[-1], flush=True)
                cat.close()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("| chunks | engine | index all s | upload + first query ms | query p50 ms | p95 ms | "
          "article filter p50 ms | publication filter p50 ms | RSS added MB | disk MB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, e, build, upload, p50, p95, a50, s50, rss, disk in rows:
        print(f"| {n:,} | {e} | {build:.1f} | {upload:.1f} | {p50:.2f} | {p95:.2f} | "
              f"{a50:.2f} | {s50:.2f} | {rss:.0f} | {disk:.0f} |")
    print(f"\nmax RSS of the run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--sets", default="dev,bbc_train,sample_check,bbc_check")
    q.add_argument("--rgb", default="", help="RGB en_fact.json (read in place)")
    s = sub.add_parser("scale")
    s.add_argument("--sizes", default="20000,100000")
    s.add_argument("--engines", default="ours,bm25s")
    args = ap.parse_args()
    return quality(args) if args.cmd == "quality" else scale(args)


if __name__ == "__main__":
    raise SystemExit(main())
