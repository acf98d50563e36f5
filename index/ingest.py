"""Incremental, idempotent ingestion: files -> load/clean -> chunk -> embed -> store.

- An article's id is stable (its url, else its file path) and its content is hashed: unchanged
  articles are skipped before any embedding is computed; a changed one has its chunks replaced.
- The same text under two names is stored once (the second is reported as a duplicate).
- Bad files fail at loading, before anything is written, so nothing stored is touched.
- An interrupted run leaves a marker naming the articles it was writing; the next run finishes
  them first (`ChunkStore.recover`).
- Chunks of several articles are embedded together, in batches of similar length.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.chunk import Chunker
from index.embed import Embedder
from index.load import LoadedArticle, load_paths
from index.store import ChunkStore
from index.types import Article, Chunk, FileResult, IngestReport

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 256

ProgressFn = Callable[[int, int, str], None]  # (done, total, current path)


@dataclass
class _Pending:
    loaded: LoadedArticle
    chunks: list[Chunk]
    status: str


def prune_missing(store: ChunkStore, roots: Sequence[str | Path] | None = None) -> list[FileResult]:
    """Delete stored articles whose source file is gone (only under `roots`, when given)."""
    resolved = [Path(r).resolve() for r in roots] if roots else []
    out: list[FileResult] = []
    for aid, art in store.stored_articles().items():
        path = art.meta.path
        if not path:
            continue
        p = Path(path.split("#", 1)[0])
        if resolved and not any(p == r or r in p.parents for r in resolved):
            continue
        if not p.exists():
            store.delete_article(aid)
            out.append(FileResult(path=path, status="pruned", article_id=aid, title=art.meta.title))
    return out


def ingest(
    paths: Sequence[str | Path],
    store: ChunkStore,
    embedder: Embedder,
    chunker: Chunker,
    *,
    prune: bool = False,
    max_file_bytes: int = 20_000_000,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Bring the store in line with the articles under `paths`; see the module docstring."""
    t0 = time.perf_counter()
    store.recover()  # what an interrupted write (a kill, a crash) left half done
    results: list[FileResult] = prune_missing(store, paths) if prune else []
    loaded, failures = load_paths(paths, max_file_bytes=max_file_bytes)
    results.extend(failures)

    stored = store.stored_articles()
    by_hash = {a.content_hash: a for a in stored.values()}
    seen_hash: dict[str, str] = {}  # content hash -> path, within this run
    todo: list[_Pending] = []
    for la in loaded:
        art = la.article
        old = stored.get(art.article_id)
        if old is not None and old.content_hash == art.content_hash:
            results.append(_result(la, "unchanged", old.n_chunks))
            seen_hash[art.content_hash] = la.path
            continue
        twin = by_hash.get(art.content_hash)
        if art.content_hash in seen_hash or (twin is not None and twin.meta.article_id != art.article_id):
            first = seen_hash.get(art.content_hash) or (twin.meta.path if twin else "")
            results.append(_result(la, "duplicate", 0, reason=f"same text as {first}"))
            continue
        seen_hash[art.content_hash] = la.path
        todo.append(_Pending(la, chunker.chunk(art), "updated" if old else "added"))

    n_embedded = 0
    done = 0
    total = len(todo)
    batch: list[_Pending] = []
    if progress and total:
        progress(0, total, todo[0].loaded.path)  # the bar shows before the first batch embeds
    for i, p in enumerate(todo):
        batch.append(p)
        size = sum(len(b.chunks) for b in batch)
        if size >= EMBED_BATCH_CHUNKS or i == total - 1:
            vectors = embedder.embed([c.text for b in batch for c in b.chunks])
            n_embedded += len(vectors)
            offset = 0
            items = []
            for b in batch:
                n = len(b.chunks)
                items.append((b.loaded.article, b.chunks, vectors[offset : offset + n]))
                offset += n
            store.put_articles(items)
            for b in batch:
                results.append(_result(b.loaded, b.status, len(b.chunks)))
                done += 1
                if progress:
                    progress(done, total, b.loaded.path)
            batch = []
    return IngestReport(tuple(results), seconds=time.perf_counter() - t0, n_embedded=n_embedded)


def _result(la: LoadedArticle, status: str, n_chunks: int, reason: str = "") -> FileResult:
    a: Article = la.article
    return FileResult(
        path=la.path, status=status, article_id=a.article_id, title=a.meta.title,
        reason=reason, n_chunks=n_chunks,
    )

