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

import itertools
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

ProgressFn = Callable[[int, int, str], None]  # (passages done, passages in all, current path)


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
    seen_id: dict[str, str] = {}  # article id -> path, within this run
    todo: list[_Pending] = []
    for la in loaded:
        art = la.article
        old = stored.get(art.article_id)
        if art.article_id in seen_id:
            results.append(_result(la, "conflict", 0, reason=_same_id(art, seen_id[art.article_id],
                                                                     "in this run")))
            continue
        seen_id[art.article_id] = la.path
        if old is not None and _other_file(old.meta.path, art.meta.path):
            results.append(_result(la, "conflict", 0, reason=_same_id(art, old.meta.path,
                                                                     "already stored")))
            continue
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
        try:
            chunks = chunker.chunk(art)
        except Exception as e:  # one text the chunker chokes on fails alone
            log.exception("chunking %s failed", la.path)
            results.append(_result(la, "failed", 0, reason=f"could not be cut into passages "
                                   f"({type(e).__name__}: {e}); please report this file"))
            continue
        todo.append(_Pending(la, chunks, "updated" if old else "added"))

    total = sum(len(p.chunks) for p in todo)
    done = 0
    if progress and todo:
        progress(0, total, todo[0].loaded.path)  # the bar shows before the first batch embeds
    for group in _groups(todo, EMBED_BATCH_CHUNKS):
        # A marker names the group's articles until their records are switched, so a kill at
        # any moment is finished by the next run. A long article is embedded and written a
        # batch at a time (its vectors are never all in memory), its record last.
        token = store.begin_write([p.loaded.article.article_id for p in group])
        pieces = [(p, c) for p in group for c in p.chunks]
        for s in range(0, len(pieces), EMBED_BATCH_CHUNKS):
            part = pieces[s : s + EMBED_BATCH_CHUNKS]
            vectors = embedder.embed([c.text for _, c in part])
            items, at = [], 0
            for _, run in itertools.groupby(part, key=lambda pc: id(pc[0])):
                rows = list(run)
                items.append((rows[0][0].loaded.article, [c for _, c in rows],
                              vectors[at : at + len(rows)]))
                at += len(rows)
            store.write_chunks(items)
            done += len(part)
            if progress:
                progress(done, total, part[-1][0].loaded.path)
        store.finish_articles([(p.loaded.article, p.chunks) for p in group])
        store.end_write(token)
        results += [_result(p.loaded, p.status, len(p.chunks)) for p in group]
    return IngestReport(tuple(results), seconds=time.perf_counter() - t0, n_embedded=total)


def _groups(todo: Sequence[_Pending], size: int) -> list[list[_Pending]]:
    """Consecutive articles of about `size` chunks together (a longer article alone)."""
    groups: list[list[_Pending]] = []
    current: list[_Pending] = []
    n = 0
    for p in todo:
        if current and n + len(p.chunks) > size:
            groups.append(current)
            current, n = [], 0
        current.append(p)
        n += len(p.chunks)
    if current:
        groups.append(current)
    return groups


def _other_file(stored_path: str, new_path: str) -> bool:
    """Whether the stored article came from another file that still exists (a conflict), rather
    than from this file or one since moved or deleted (an update)."""
    if not stored_path or not new_path:
        return False
    old = stored_path.split("#", 1)[0]
    return old != new_path.split("#", 1)[0] and Path(old).exists()


def _same_id(article: Article, other: str, where: str) -> str:
    what = f"URL {article.meta.url}" if article.meta.url else f"id {article.article_id}"
    if where == "in this run":
        return (f"the {what} is also given by {other} in this run; only that one is "
                "stored. Give each article its own URL")
    return (f"the {what} is already stored from {other}, which still exists; nothing "
            "was replaced. If this file is the newer version, delete the stored article first "
            "(`qa delete ID`) or remove the other file")


def _result(la: LoadedArticle, status: str, n_chunks: int, reason: str = "") -> FileResult:
    a: Article = la.article
    return FileResult(
        path=la.path, status=status, article_id=a.article_id, title=a.meta.title,
        reason=reason, n_chunks=n_chunks,
    )

