"""Hybrid retrieval: dense (Chroma, cosine) and BM25 (index/lexical.py) candidates fused by
reciprocal rank."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from index.embed import Embedder
from index.store import ChunkStore
from qa.types import Chunk, Passage

RRF_K = 60  # the constant of Cormack et al.; damps the weight of the very top ranks
# A scope of at most this many passages (a few articles) is searched exactly, their vectors
# fetched by id (~0.07 ms each), not through the vector index's filtered search, which walks far
# through the graph to find them: at a million passages 1.3 s against 5 ms for 5 articles
# (bench/scale.py). Past this size (a publication) the index's search is the faster one.
EXACT_SCOPE = 1000
# The lexical search runs beside the query's embedding and the dense search: it needs neither,
# and SQLite (like onnxruntime and Chroma) works outside Python's lock, so on two cores a question
# waits for the slower half rather than both (bench/overlap.py: 3-6 ms less fused p50 at a
# million passages; a publication filter, two slow halves, gains most). Threads start
# on demand, one per question searching at once (the chat answers 8 at a time).
_LEXICAL_SEARCH = ThreadPoolExecutor(max_workers=8, thread_name_prefix="qa-lexical")


@dataclass(frozen=True)
class Scope:
    """Which articles a question may be answered from (empty: all)."""

    article_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def where(self) -> dict[str, Any] | None:
        conds: list[dict[str, Any]] = []
        if self.article_ids:
            conds.append({"article_id": {"$in": list(self.article_ids)}})
        if self.sources:
            conds.append({"source": {"$in": list(self.sources)}})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}


class Lexical(Protocol):
    """What retrieval needs of a lexical index (index/lexical.py's LexicalIndex)."""

    def top(self, query: str, n: int, article_ids: Sequence[str] = (),
            sources: Sequence[str] = ()) -> list[tuple[str, float]]: ...

    def doc_freqs(self, terms: Sequence[str]) -> dict[str, int]: ...

    def n_docs(self) -> int: ...


@dataclass
class Retrieval:
    passages: list[Passage]
    query_vector: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    generation: str = ""  # the store's, when it was searched


class HybridRetriever:
    """`retrieve(query, top_k) -> passages`, best first, each with dense/BM25/fused scores."""

    def __init__(self, store: ChunkStore, embedder: Embedder, candidates: int = 30,
                 fusion: str = "rrf", lexical: Lexical | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.fusion = fusion
        if lexical is None:
            if store.catalog is None:
                raise ValueError("hybrid retrieval needs the store's catalog (its lexical index)")
            lexical = store.catalog.lexical_index()
        self.lexical = lexical

    def retrieve(self, query: str, top_k: int = 5, scope: Scope | None = None,
                 dense_query: str | None = None) -> Retrieval:
        """Fuse the dense and BM25 rankings of `query` (dense may use another phrasing)."""
        scope = scope or Scope()
        timings: dict[str, float] = {}
        n = max(self.candidates, top_k * 4)
        t = time.perf_counter()
        generation = self.store.follow()  # what another machine wrote is searchable too
        timings["follow"] = time.perf_counter() - t

        lexical_search = _LEXICAL_SEARCH.submit(self._lexical, query, n, scope, timings)
        try:
            t = time.perf_counter()
            qv = self.embedder.embed([dense_query or query])[0]
            timings["embed_query"] = time.perf_counter() - t

            t = time.perf_counter()
            among = (self.store.catalog.chunk_ids_in(scope.article_ids, scope.sources,
                                                     EXACT_SCOPE)
                     if scope.where() and self.store.catalog is not None else None)
            dense = (self.store.query_among(qv, n, among) if among is not None
                     else self.store.query(qv, n, where=scope.where()))
            timings["dense"] = time.perf_counter() - t
        finally:  # never leave a search running on the catalog, whatever happened here
            t = time.perf_counter()
            wait([lexical_search])
            timings["bm25_wait"] = time.perf_counter() - t
        lexical = lexical_search.result()  # its error, if any, is the question's

        dense_score = {c.chunk_id: sim for c, sim in dense}
        bm25_score = dict(lexical)
        chunks: dict[str, Chunk] = {c.chunk_id: c for c, _ in dense}
        fused = fuse(dense_score, bm25_score, self.fusion)
        missing = [cid for cid in fused if cid not in chunks]
        chunks.update(self.store.chunks_by_id(missing))
        # Only chunks of their article's current text: a write under way (or cut short by a
        # crash) leaves chunks of the old or the unfinished text, whose spans would not point
        # into the text the record holds.
        records = self.store.records_by_id([c.article_id for c in chunks.values()])
        current = [cid for cid, c in chunks.items()
                   if (r := records.get(c.article_id)) is not None
                   and r.content_hash == c.content_hash]
        order = keep_leaders(sorted(current, key=lambda c: -fused[c]), top_k,
                             [_best(dense_score, current), _best(bm25_score, current)])
        passages = [
            Passage(
                chunk=chunks[cid], article=records[chunks[cid].article_id].meta,
                score=fused[cid], dense_score=dense_score.get(cid), bm25_score=bm25_score.get(cid),
                rank=i,
            )
            for i, cid in enumerate(order, 1)
        ]
        return Retrieval(passages, qv, timings, generation)

    def _lexical(self, query: str, n: int, scope: Scope,
                 timings: dict[str, float]) -> list[tuple[str, float]]:
        t = time.perf_counter()
        try:
            return self.lexical.top(query, n, scope.article_ids, scope.sources)
        finally:
            timings["bm25"] = time.perf_counter() - t


def fuse(dense: dict[str, float], lexical: dict[str, float], how: str = "relative"
         ) -> dict[str, float]:
    """One score per candidate from the dense and lexical scores (each best first).

    "relative": each list's scores min-max scaled to 0..1 over its candidates, then averaged (a
    candidate one list lacks gets 0 there). A passage that is alone in naming a rare name the
    question asks about tops the lexical list by a wide margin, and keeps that margin.
    "rrf": reciprocal rank fusion (Cormack et al.), which sees only ranks: such a passage, first
    lexically but not among the dense candidates, loses to passages both lists hold lower down.
    """
    out: dict[str, float] = {}
    if how == "rrf":
        for scores in (dense, lexical):
            for rank, cid in enumerate(sorted(scores, key=lambda c: -scores[c]), 1):
                out[cid] = out.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        return out
    for scores in (dense, lexical):
        if not scores:
            continue
        lo, hi = min(scores.values()), max(scores.values())
        span = hi - lo
        for cid, v in scores.items():
            out[cid] = out.get(cid, 0.0) + 0.5 * ((v - lo) / span if span > 0 else 1.0)
    return out


def _best(scores: dict[str, float], allowed: list[str]) -> str | None:
    ok = set(allowed)
    ranked = [cid for cid in sorted(scores, key=lambda c: -scores[c]) if cid in ok]
    return ranked[0] if ranked else None


def keep_leaders(order: list[str], top_k: int, leaders: Sequence[str | None]) -> list[str]:
    """The first `top_k` of `order`, with each retriever's own first choice kept in: a passage
    alone in naming a rare name the question asks about is first lexically, and fusion must not
    drop it for passages both retrievers hold further down (they give way from the bottom)."""
    keep = list(dict.fromkeys(x for x in leaders if x is not None))[:top_k]
    rest = [cid for cid in order if cid not in keep][: top_k - len(keep)]
    return sorted([*keep, *rest], key=order.index)


def merge_queries(parts: Sequence[str]) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())
