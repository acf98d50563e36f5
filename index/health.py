"""Is the store whole? A quick check each time a store is opened; a full one for `qa check`.

Damage is named plainly, with what to run: a vector index that lost entries (two processes once
wrote one folder, a deleted HNSW file), a database emptied or replaced behind our back, chunks
whose spans no longer point into their article's text. The catalog (index/catalog.py) is the
second copy that makes "the store lost 300 articles" tell apart from "nothing was ingested".

    >>> health = quick_check(store)          # doctest: +SKIP
    >>> health.ok, health.message()          # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from index.errors import StoreError
from index.store import ChunkStore, chunk_from_row, stored_from_record
from index.types import Article

log = logging.getLogger(__name__)

QUICK_SAMPLE = 32  # vectors read when a store is opened
SELF_QUERIES = 3  # of which this many must find themselves


@dataclass(frozen=True)
class Health:
    """What a check found. `damage` makes answers wrong or incomplete; `notes` do not."""

    damage: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    # articles whose chunks or vectors must be rebuilt (full check only)
    affected: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.damage

    def message(self, label: str) -> str:
        lines = [f"The store {label} is damaged:"] + [f"- {d}" for d in self.damage]
        lines.append(f"Run `qa repair --store {label}` to rebuild it (it re-embeds what was lost "
                     "from the stored article texts); `qa check` lists the details.")
        return "\n".join(lines)


def sync_catalog(store: ChunkStore) -> int:
    """Fill an empty catalog from Chroma (a store made before the catalog existed, or whose
    catalog file was removed); the number of articles copied."""
    cat = store.catalog
    if cat is None or cat.count_articles() or not store.count_articles():
        return 0
    log.info("building the catalog of %s from its vector store (once)", store.label)
    by_article: dict[str, list[tuple[str, str, dict[str, object]]]] = {}
    for cid, text, md in store.all_chunks():
        by_article.setdefault(str(md.get("article_id")), []).append((cid, text, md))
    n = 0
    for ids, _, _ in store._pages(store.records, include=[]):
        with store.io.held():
            r = store.records.get(ids=ids, include=["metadatas"])
        texts = store.article_texts(r["ids"])
        items = []
        for aid, md in zip(r["ids"], r["metadatas"]):
            text = texts.get(aid, "")
            stored = stored_from_record(aid, md or {})
            rows = [x for x in by_article.get(aid, []) if x[2].get("content_hash") ==
                    stored.content_hash]
            chunks = sorted((chunk_from_row(cid, t, md2) for cid, t, md2 in rows),
                            key=lambda c: c.index)
            items.append((Article(stored.meta, text or "", stored.content_hash), chunks))
        cat.put(items)
        n += len(items)
    return n


def quick_check(store: ChunkStore, sample: int = QUICK_SAMPLE) -> Health:
    """The cheap checks, run when a store is opened (a few Chroma calls)."""
    damage: list[str] = []
    notes: list[str] = []
    try:
        n_articles = store.count_articles()
        n_chunks = store.count_chunks()
    except StoreError as e:
        return Health(damage=(f"its vector index cannot be read ({_short(e.__cause__ or e)})",))
    counts = {"articles": n_articles, "chunks": n_chunks}
    cat = store.catalog
    if cat is not None:
        if not cat.count_articles() and n_articles:
            sync_catalog(store)
        c_articles, c_chunks = cat.count_articles(), cat.count_chunks()
        counts.update(catalog_articles=c_articles, catalog_chunks=c_chunks)
        settled = not cat.writes_under_way() and not cat.interrupted_writes()
        if c_articles and not n_articles:
            damage.append(f"its vector store holds no articles, but its catalog lists "
                          f"{c_articles} ({c_chunks} passages): the Chroma database was emptied "
                          "or replaced")
        elif settled and (c_articles, c_chunks) != (n_articles, n_chunks):
            damage.append(f"its vector store holds {n_articles} articles and {n_chunks} "
                          f"passages, but its catalog lists {c_articles} and {c_chunks}")
        elif not settled:
            notes.append("a write is under way or was interrupted: it is finished by the next "
                         "write")
    if n_chunks:
        damage += _sample_vectors(store, n_chunks, sample)
    return Health(damage=tuple(damage), notes=tuple(notes), counts=counts)


def _sample_vectors(store: ChunkStore, n_chunks: int, sample: int) -> list[str]:
    """Read `sample` vectors spread over the collection; ask the index for a few of them."""
    k = min(sample, n_chunks)
    offsets = sorted({int(i * n_chunks / k) for i in range(k)})
    try:
        ids: list[str] = []
        with store.io.held():
            for off in offsets:
                ids += store.chunks.get(limit=1, offset=off, include=[])["ids"]
    except Exception as e:  # noqa: BLE001 - any failure here is damage to report
        return [f"its passages cannot be listed ({_short(e)})"]
    unreadable = unreadable_vectors(store, ids)
    if unreadable:
        return [(f"{len(unreadable)} of {len(ids)} sampled passages have no readable vector (the "
                "vector index lost them, e.g. when two processes wrote the store at once)")]
    lost = not_found_by_own_vector(store, ids[:: max(1, len(ids) // SELF_QUERIES)][:SELF_QUERIES])
    if lost:
        return [(f"the vector index cannot find {len(lost)} sampled passages by their own vector "
                "(its index files lost entries)")]
    return []


def unreadable_vectors(store: ChunkStore, ids: Sequence[str]) -> list[str]:
    """The ids among `ids` whose vector Chroma cannot return."""
    with store.io.held():
        return _unreadable(store, ids)


def _unreadable(store: ChunkStore, ids: Sequence[str]) -> list[str]:
    try:
        r = store.chunks.get(ids=list(ids), include=["embeddings"])
        if len(r["ids"]) == len(set(ids)):
            return []
    except Exception as e:  # noqa: BLE001 - look at them one by one
        log.debug("reading %d vectors failed (%s); reading them one by one", len(ids), e)
    bad = []
    for i in ids:
        try:
            if not store.chunks.get(ids=[i], include=["embeddings"])["ids"]:
                bad.append(i)
        except Exception:  # noqa: BLE001
            bad.append(i)
    return bad


def not_found_by_own_vector(store: ChunkStore, ids: Sequence[str]) -> list[str]:
    """The ids among `ids` that the vector index cannot find by their own vector. Found: the id
    itself, or a passage with the very same vector (articles share identical sentences), among
    the nearest; a miss is asked again with a wider search before it counts (HNSW is
    approximate)."""
    if not ids:
        return []
    with store.io.held():
        return _self_search(store, ids)


def _self_search(store: ChunkStore, ids: Sequence[str]) -> list[str]:
    try:
        r = store.chunks.get(ids=list(ids), include=["embeddings"])
        vectors = dict(zip(r["ids"], np.asarray(r["embeddings"], np.float32)))
        missing = list(ids)
        total = store.count_chunks()
        for n in (5, 50):
            if not missing:
                break
            found = store.chunks.query(query_embeddings=np.stack([vectors[i] for i in missing]),
                                       n_results=min(n, total), include=["distances"])
            missing = [i for i, hits, dist in zip(missing, found["ids"], found["distances"])
                       if i not in hits and not (dist and dist[0] < 1e-4)]
    except Exception:  # noqa: BLE001
        return list(ids)
    return missing


def full_check(store: ChunkStore) -> Health:
    """Every chunk's vector, every record's chunks, every span, and the catalog against Chroma."""
    quick = quick_check(store, sample=64)
    damage = list(quick.damage)
    notes = list(quick.notes)
    affected: set[str] = set()
    try:
        records: dict[str, tuple[str, str, int]] = {}  # id -> (hash, text, n_chunks)
        for ids, mds, _ in store._pages(store.records, include=["metadatas"]):
            texts = store.article_texts(ids)
            for i, md in zip(ids, mds):
                md = md or {}
                records[i] = (str(md.get("content_hash", "")), texts.get(i, ""),
                              int(md.get("n_chunks", 0)))
        chunk_ids: list[str] = []
        per_article: Counter[str] = Counter()
        bad_spans: set[str] = set()
        orphans = 0
        for cid, text, md in store.all_chunks():
            chunk_ids.append(cid)
            aid = str(md.get("article_id"))
            rec = records.get(aid)
            if rec is None or rec[0] != md.get("content_hash"):
                orphans += 1
                continue
            per_article[aid] += 1
            if rec[1][int(md["start"]) : int(md["end"])] != text:
                bad_spans.add(aid)
    except StoreError as e:
        return Health(damage=(*damage, f"it cannot be read through ({_short(e)})"),
                      notes=tuple(notes), counts=quick.counts)
    missing = {a for a, (_, _, n) in records.items() if per_article[a] != n}
    if missing:
        damage.append(f"{len(missing)} articles lack some of their passages")
    if bad_spans:
        damage.append(f"{len(bad_spans)} articles have passages that are not their text at "
                      "their span (citations would quote the wrong words)")
    unreadable: list[str] = []
    for s in range(0, len(chunk_ids), 500):
        unreadable += unreadable_vectors(store, chunk_ids[s : s + 500])
    if unreadable:
        damage.append(f"{len(unreadable)} of {len(chunk_ids)} passages have no readable vector")
        hit = store.chunks_by_id(unreadable)
        affected |= {c.article_id for c in hit.values()}
    if orphans:
        notes.append(f"{orphans} passages belong to no current article text (left by an "
                     "interrupted write; removed by the next write or `qa repair`)")
    cat = store.catalog
    if cat is not None:
        theirs = cat.hashes()
        ours = {a: h for a, (h, _, _) in records.items()}
        only_catalog = set(theirs) - set(ours)
        only_chroma = set(ours) - set(theirs)
        differ = {a for a in set(ours) & set(theirs) if ours[a] != theirs[a]}
        if only_catalog:
            damage.append(f"{len(only_catalog)} articles of the catalog are missing from the "
                          "vector store")
        if only_chroma or differ:
            notes.append(f"the catalog lacks {len(only_chroma)} articles and has another "
                         f"version of {len(differ)} (it is brought up to date by `qa repair`)")
        stray = cat.lexical_index().out_of_step()
        if stray:
            damage.append(f"the lexical index is out of step with the catalog ({stray} passages)")
    counts = {**quick.counts, "unreadable_vectors": len(unreadable), "orphan_chunks": orphans}
    affected |= missing | bad_spans
    return Health(damage=tuple(dict.fromkeys(damage)), notes=tuple(notes), counts=counts,
                  affected=tuple(sorted(affected)))


def _short(e: BaseException, limit: int = 160) -> str:
    s = " ".join(str(e).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
