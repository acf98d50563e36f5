"""`qa repair`: rebuild what can be rebuilt from the two copies, and say what could not.

Chroma (vectors, records) and the catalog (texts, chunks) hold the same articles. Repair takes the
store's folder for itself (no other process may have it open), then:
1. a Chroma database that cannot be opened at all is moved aside (`damaged-<time>/`) and a new
   one is built; a catalog that cannot be opened likewise;
2. the catalog is filled from Chroma where it lacks articles (Chroma's version wins: it is what
   readers saw);
3. the chunk collection is rebuilt when any vector is unreadable or its index has lost entries:
   readable vectors are kept, the rest re-embedded from the stored texts; a records collection
   that cannot be read is rebuilt from the catalog;
4. articles the catalog has and Chroma lost are put back (re-embedded); articles with missing
   chunks or spans that do not match their text are re-chunked and re-embedded;
5. leftovers of interrupted writes are swept; a lexical index out of step with the catalog's
   chunks is rebuilt from them; a full check says how the store stands.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.catalog import Catalog, catalog_path
from index.chunk import Chunker
from index.connect import (
    CloudLogin,
    WaitFn,
    cloud_client,
    cloud_place,
    http_client,
    persistent_client,
    wait_for_folder,
)
from index.embed import Embedder
from index.errors import StoreDamagedError, StoreError
from index.health import (
    Health,
    full_check,
    not_found_by_own_vector,
    sync_catalog,
    unreadable_vectors,
)
from index.store import ChunkStore, StoredArticle
from index.types import Article, Chunk

log = logging.getLogger(__name__)

_UUID_DIR = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CHROMA_FILES = ("chroma.sqlite3", "chroma.sqlite3-wal", "chroma.sqlite3-shm",
                 "chroma.sqlite3-journal")
BATCH = 256

Say = Callable[[str], None]


@dataclass(frozen=True)
class RepairReport:
    actions: tuple[str, ...]  # what was done
    lost: tuple[str, ...]  # what could not be rebuilt, and why
    health: Health  # the full check afterwards

    @property
    def ok(self) -> bool:
        return self.health.ok and not self.lost


def repair(store_path: str, collection: str, embedder: Embedder, chunker: Chunker, *,
           chroma_url: str = "", wait: float = 600.0, on_wait: WaitFn | None = None,
           say: Say | None = None, cloud: CloudLogin | None = None) -> RepairReport:
    """Repair the store (see the module docstring); `say` hears each step as it starts."""
    actions: list[str] = []
    lost: list[str] = []

    def did(msg: str) -> None:
        actions.append(msg)
        log.info("repair: %s", msg)
        if say is not None:
            say(msg)

    lock = None
    folder = Path(store_path).expanduser().resolve()
    if chroma_url:
        client = cloud_client(chroma_url, cloud) if cloud else http_client(chroma_url)
        label = chroma_url
    else:
        got = wait_for_folder(folder, wait=wait, on_wait=on_wait, exclusive=True)
        assert not isinstance(got, str)
        lock = got
        label = str(folder)
        client = _open_or_move_aside(folder, did)
    try:
        catalog = _open_catalog(catalog_path(store_path, chroma_url, collection,
                                             cloud_place(cloud)), did)
        try:
            store = ChunkStore(client, collection, embedder.name, embedder.dim, label=label,
                               catalog=catalog)
            _repair_store(store, embedder, chunker, did, lost)
            health = full_check(store)
        finally:
            catalog.close()
    finally:
        if lock is not None:
            try:
                client.close()
            finally:
                lock.release()
    return RepairReport(tuple(actions), tuple(lost), health)


def _open_or_move_aside(folder: Path, did: Say) -> Any:
    try:
        return persistent_client(folder)
    except Exception as e:  # noqa: BLE001 - whatever Chroma says, its files cannot be used
        aside = folder / time.strftime("damaged-%Y%m%d-%H%M%S")
        aside.mkdir()
        for p in folder.iterdir():
            if p.name in _CHROMA_FILES or (p.is_dir() and _UUID_DIR.match(p.name)):
                shutil.move(str(p), aside / p.name)
        did(f"moved the Chroma database that cannot be opened ({' '.join(str(e).split())[:120]})"
            f" to {aside}")
        return persistent_client(folder)


def _open_catalog(path: Path, did: Say) -> Catalog:
    try:
        return Catalog(path)
    except StoreDamagedError:
        aside = path.with_name(path.name + time.strftime(".damaged-%Y%m%d-%H%M%S"))
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(path) + suffix)
            if p.exists():
                p.rename(Path(str(aside) + suffix))
        did(f"moved the catalog that cannot be opened to {aside}")
        return Catalog(path)


def _readable(fn: Callable[[], Any]) -> bool:
    try:
        fn()
        return True
    except Exception:  # noqa: BLE001 - unreadable is the answer
        return False


def _repair_store(store: ChunkStore, embedder: Embedder, chunker: Chunker, did: Say,
                  lost: list[str]) -> None:
    cat = store.catalog
    assert cat is not None
    records_ok = _readable(lambda: store.records.get(limit=1, include=["metadatas"]))
    chunks_ok = _readable(lambda: store.chunks.get(limit=1, include=["embeddings"]))
    if records_ok and chunks_ok:
        markers = cat.interrupted_writes()
        if markers:
            store.recover()
            did(f"finished {len(markers)} interrupted write(s)")
        n = sync_catalog(store)
        if n:
            did(f"built the catalog from the vector store ({n} articles)")
        _catalog_takes_chroma(store, did)
    if not records_ok:
        _rebuild_records(store, did)
    if not chunks_ok or _vectors_damaged(store):
        _rebuild_chunks(store, embedder, did)
    _restore_missing(store, embedder, did)
    _rechunk_broken(store, embedder, chunker, did, lost)
    n = store.sweep_orphans()
    if n:
        did(f"removed {n} passages of no current article text")
    if cat.lexical_index().out_of_step():
        did(f"rebuilt the lexical index ({cat.reindex()} passages)")


def _catalog_takes_chroma(store: ChunkStore, did: Say) -> None:
    cat = store.catalog
    assert cat is not None
    ours = {a: s.content_hash for a, s in store.stored_articles().items()}
    theirs = cat.hashes()
    behind = [a for a, h in ours.items() if theirs.get(a) != h]
    if behind:
        store.reconcile(behind)
        did(f"updated {len(behind)} articles of the catalog from the vector store")


def _vectors_damaged(store: ChunkStore) -> bool:
    ids = [i for ids, _, _ in store._pages(store.chunks, include=[]) for i in ids]
    for s in range(0, len(ids), 500):
        if unreadable_vectors(store, ids[s : s + 500]):
            return True
    if not ids:
        return False
    step = max(1, len(ids) // 20)
    return bool(not_found_by_own_vector(store, ids[::step][:20]))


def _rebuild_records(store: ChunkStore, did: Say) -> None:
    cat = store.catalog
    assert cat is not None
    name = store.records.name
    store.client.delete_collection(name)
    store.records = store.client.get_or_create_collection(
        name, metadata={"generation": "new"}, embedding_function=None)
    n = 0
    for batch in _batches(cat.articles(), BATCH):
        items = []
        for ca in batch:
            got = cat.article(ca.meta.article_id)
            if got is not None:
                items.append((Article(ca.meta, got[1], ca.content_hash), ca.n_chunks))
        store.put_records(items)
        n += len(items)
    did(f"rebuilt the article records from the catalog ({n} articles)")


def _rebuild_chunks(store: ChunkStore, embedder: Embedder, did: Say) -> None:
    """A new chunk collection from the catalog's chunks (readable vectors kept), swapped in."""
    cat = store.catalog
    assert cat is not None
    fresh = store.new_chunk_collection()
    kept = embedded = 0
    for batch in _batches(cat.articles(), 64):
        chunks: list[Chunk] = [c for ca in batch for c in cat.chunks_of(ca.meta.article_id)]
        if not chunks:
            continue
        vectors = _old_vectors(store, [c.chunk_id for c in chunks])
        todo = [i for i, c in enumerate(chunks) if c.chunk_id not in vectors]
        if todo:
            new = embedder.embed([chunks[i].text for i in todo])
            for i, v in zip(todo, new):
                vectors[chunks[i].chunk_id] = v
        kept += len(chunks) - len(todo)
        embedded += len(todo)
        metas = {ca.meta.article_id: ca for ca in batch}
        fresh.add(ids=[c.chunk_id for c in chunks],
                  embeddings=np.stack([vectors[c.chunk_id] for c in chunks]).astype(np.float32),
                  documents=[c.text for c in chunks],
                  metadatas=[store.chunk_metadata(c, metas[c.article_id].meta) for c in chunks])
    store.swap_in_chunk_collection(fresh)
    did(f"rebuilt the vector index: {kept} vectors kept, {embedded} re-embedded from the "
        "stored texts")


def _old_vectors(store: ChunkStore, ids: Sequence[str]) -> dict[str, np.ndarray]:
    try:
        r = store.chunks.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, np.float32) for i, v in zip(r["ids"], r["embeddings"])}
    except Exception as e:  # noqa: BLE001 - one by one: keep every vector that can still be read
        log.debug("reading %d vectors failed (%s); one by one", len(ids), e)
    out: dict[str, np.ndarray] = {}
    for i in ids:
        try:
            r = store.chunks.get(ids=[i], include=["embeddings"])
            if r["ids"]:
                out[i] = np.asarray(r["embeddings"][0], np.float32)
        except Exception:  # noqa: BLE001, S112 - this one is lost: it is re-embedded
            continue
    return out


def _restore_missing(store: ChunkStore, embedder: Embedder, did: Say) -> None:
    """Articles the catalog has and Chroma does not: put back, re-embedded."""
    cat = store.catalog
    assert cat is not None
    have = set(store.stored_articles())
    missing = [ca for ca in cat.articles() if ca.meta.article_id not in have]
    if not missing:
        return
    n_chunks = 0
    for batch in _batches(missing, 32):
        items = []
        for ca in batch:
            got = cat.article(ca.meta.article_id)
            chunks = cat.chunks_of(ca.meta.article_id)
            if got is None:
                continue
            items.append((Article(ca.meta, got[1], ca.content_hash), chunks))
        texts = [c.text for _, cs in items for c in cs]
        vectors = embedder.embed(texts) if texts else np.zeros((0, store.dim), np.float32)
        at = 0
        puts = []
        for article, chunks in items:
            puts.append((article, chunks, vectors[at : at + len(chunks)]))
            at += len(chunks)
        store.put_articles(puts)
        n_chunks += len(texts)
    did(f"put back {len(missing)} articles the vector store had lost ({n_chunks} passages "
        "re-embedded from the catalog)")


def _rechunk_broken(store: ChunkStore, embedder: Embedder, chunker: Chunker, did: Say,
                    lost: list[str]) -> None:
    """Articles whose chunks are missing or do not match their text: chunked and embedded anew."""
    health = full_check(store)
    broken = [a for a in health.affected]
    if not broken:
        return
    records = store.records_by_id(broken)
    fixed = 0
    for aid in broken:
        rec: StoredArticle | None = records.get(aid)
        text = store.article_text(aid)
        if rec is None or text is None:
            lost.append(f"{aid}: its record is gone and no copy holds its text")
            continue
        article = Article(rec.meta, text, rec.content_hash)
        chunks = chunker.chunk(article)
        store.put_articles([(article, chunks, embedder.embed([c.text for c in chunks]))])
        fixed += 1
    if fixed:
        did(f"chunked and embedded {fixed} articles anew (their passages were missing or did not "
            "match their text)")


def _batches(items: Sequence[Any], n: int) -> list[Sequence[Any]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


__all__ = ["RepairReport", "StoreError", "repair"]
