"""The Chroma store: one collection of chunk vectors, one of article records.

- The client comes from `index.connect` (an embedded folder owned by one process at a time, or a
  Chroma server). Chroma never embeds anything itself: every write passes our own vectors (its
  default embedding function would download a model).
- Replacing an article is atomic for readers: its new chunks go in under new ids (a chunk id
  holds the text's hash), then its record switches to the new text, then the old chunks go. A
  chunk is only served while its `content_hash` equals its article record's (`records_by_id`),
  so whatever moment a reader looks, or a `kill -9` lands, every served chunk's span points into
  the text its record holds. Chunks without a current record are swept by the next write.
- The chunk collection remembers which embedding model built it; opening it with another model
  raises StoreMismatchError instead of returning silent garbage.
- Every change bumps a `generation` stamp; a catalog that did not make the change follows it
  (`follow`), so the lexical index in the catalog finds what another machine added.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.catalog import Catalog
from index.errors import QAError, StoreDamagedError, StoreError, StoreMismatchError
from index.iolock import IoLock, NoLock
from index.types import Article, ArticleInfo, ArticleMeta, Chunk, pages_from_str, pages_to_str

log = logging.getLogger(__name__)

SCHEMA = 1
SEEN = "generation_seen"  # catalog meta: the store generation whose changes it holds
FOLLOWED = "written_followed"  # catalog meta: the newest record write time it has copied
# `follow` re-reads the records written since the newest it copied, less this margin (seconds):
# writes still under way when it looked, and writers whose clocks run behind, land in it.
FOLLOW_MARGIN = 3600.0
_PAGE = 2000
_PLACEHOLDER = [1.0]  # article records are looked up by id, never by vector
TEXT_INLINE = 200_000  # characters of an article text kept in its record; longer: in parts


@dataclass(frozen=True)
class StoredArticle:
    meta: ArticleMeta
    content_hash: str
    n_chunks: int


def _meta_to_record(a: Article, n_chunks: int) -> dict[str, Any]:
    m = a.meta
    return {
        "title": m.title, "source": m.source, "url": m.url, "date": m.date, "path": m.path,
        "author": m.author, "pages": pages_to_str(m.pages),
        "content_hash": a.content_hash, "n_chunks": n_chunks,
    }


def stored_from_record(article_id: str, md: dict[str, Any]) -> StoredArticle:
    meta = ArticleMeta(
        article_id=article_id, title=str(md.get("title", "")), source=str(md.get("source", "")),
        url=str(md.get("url", "")), date=str(md.get("date", "")), path=str(md.get("path", "")),
        author=str(md.get("author", "")), pages=pages_from_str(md.get("pages", "")),
    )
    return StoredArticle(meta, str(md.get("content_hash", "")), int(md.get("n_chunks", 0)))


class ChunkStore:
    """Chunks with their vectors, and the articles they came from, in two Chroma collections."""

    def __init__(self, client: Any, name: str, embed_model: str, dim: int, label: str = "",
                 catalog: Catalog | None = None, io: IoLock | NoLock | None = None,
                 follows: bool = False) -> None:
        self.client = client
        self.io = io or NoLock()  # one Chroma call at a time on this store (index/iolock.py)
        self.catalog = catalog  # the second copy (index/catalog.py); writes keep both in step
        self.follows = follows  # on a Chroma server: the catalog follows others' writes
        self.name = name
        self.label = label or name
        self.embed_model = embed_model
        self.dim = dim
        with self._guard("opening its collections"):
            names = self._collection_names()
            if f"{name}_chunks" not in names and f"{name}_chunks_rebuild" in names:
                # a repair was cut short after the old collection went: finish it
                client.get_collection(f"{name}_chunks_rebuild").modify(name=f"{name}_chunks")
            self.chunks = self._create_chunks(f"{name}_chunks")
            self.records = client.get_or_create_collection(
                f"{name}_articles", metadata={"generation": "new"}, embedding_function=None
            )
            # the texts of long articles, in parts (a record holds a short article's text)
            self.texts = client.get_or_create_collection(f"{name}_texts",
                                                         embedding_function=None)
        md = self.chunks.metadata or {}
        if md.get("embed_model") != embed_model or int(md.get("dim", dim)) != dim:
            raise StoreMismatchError(
                f"The store {self.label} was built with the embedding model "
                f"{md.get('embed_model')!r} ({md.get('dim')} dims), but {embed_model!r} "
                f"({dim} dims) is configured. Configure the model it was built with "
                "(QA_EMBED_BACKEND / QA_EMBED_MODEL), or use another store (QA_STORE_PATH, "
                "QA_COLLECTION) and ingest there."
            )

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """One Chroma call at a time (index/iolock.py); Chroma's own exceptions become our
        errors, saying what failed and what to do."""
        try:
            with self.io.held():
                yield
        except QAError:
            raise
        except Exception as e:
            raise store_failure(self.label, doing, e) from e

    # -- articles ---------------------------------------------------------------------------
    def generation(self) -> str:
        # Read afresh: another process (or another ChunkStore) may have changed the store, and a
        # collection object caches the metadata it was fetched with.
        with self._guard("reading its generation"):
            col = self.client.get_collection(f"{self.name}_articles")
        return str((col.metadata or {}).get("generation", "new"))

    def _bump(self) -> None:
        # A catalog that follows (see `follow`) holds this change; when it also held every
        # earlier one, it has seen the new generation too.
        seen = (self.follows and self.catalog is not None
                and self.catalog.get_meta(SEEN) == self.generation())
        gen = uuid.uuid4().hex
        with self._guard("recording a change"):
            self.records.modify(metadata={"generation": gen})
        if seen and self.catalog is not None:
            self.catalog.set_meta(SEEN, gen)

    def follow(self) -> str:
        """Bring the catalog (and so the lexical index) up to what Chroma holds, when Chroma
        changed through another catalog. Only a store on a Chroma server follows (`follows`):
        processes on other machines, or of other users, write to it through their own catalog.
        (An embedded store has one catalog, beside it, that every writer keeps.)

        Returns the store's generation. A write through this catalog records the generation it
        leaves as seen, so on one machine this costs one read of the generation; otherwise the
        records written since the newest one it copied (less FOLLOW_MARGIN: writes under way,
        clocks behind) are compared by hash, and only the articles whose text changed are copied
        (their chunks, from Chroma): a cost in proportion to what changed, not to the store.
        A deletion leaves no record to find that way: when the record and catalog counts then
        differ, every record is compared (as for a new catalog, or records written before write
        times were kept). An article whose chunks are not all written yet (a write under way
        elsewhere) is left for the next call. Articles gone from Chroma leave the
        catalog, unless half of it or more would go: a mass disappearance is damage for
        `qa check` to name, never mirrored into the copy that repairs it. (Chroma has no
        compare-and-swap: a write elsewhere that lands between this catalog's last look and its
        own write is found at the next change from elsewhere, or by `qa repair`.)"""
        gen = self.generation()
        cat = self.catalog
        if not self.follows or cat is None or cat.get_meta(SEEN) == gen:
            return gen
        since = cat.get_meta(FOLLOWED)
        if since:  # only the records written since the last look (and the margin)
            ours, newest = self._records_since(float(since) - FOLLOW_MARGIN)
            theirs = cat.hashes_of(list(ours))
            gone: list[str] = []
        else:  # a new catalog: every record
            ours, newest = self._records_since(None)
            theirs = cat.hashes()
            gone = [a for a in theirs if a not in ours]
        changed = [a for a, s in ours.items() if theirs.get(a) != s.content_hash]
        complete = True
        for k in range(0, len(changed), 100):
            part = changed[k : k + 100]
            texts = self.article_texts(part)
            items = []
            for aid in part:
                st = ours[aid]
                chunks = self.chunks_of(aid, st.content_hash)
                if len(chunks) != st.n_chunks or aid not in texts:
                    complete = False
                    continue
                items.append((Article(st.meta, texts[aid], st.content_hash), chunks))
            cat.put(items)
        if gone and len(gone) * 2 <= len(theirs):
            cat.delete(gone)
        elif gone:
            complete = False
            log.warning("the store %s lacks %d of the catalog's %d articles: not mirrored "
                        "(`qa check` says whether it is damaged)", self.label, len(gone),
                        len(theirs))
        if changed or gone:
            log.info("catalog of %s followed the store: %d articles changed, %d gone",
                     self.label, len(changed), len(gone))
        if since and complete and self.count_records() != cat.count_articles():
            # a deletion leaves no record to find by its time: compare every record
            cat.set_meta(FOLLOWED, "")
            return self.follow()
        if complete:
            cat.set_meta(FOLLOWED, repr(max(newest, float(since or 0.0))))
            cat.set_meta(SEEN, gen)
        return gen

    def _records_since(self, cut: float | None) -> tuple[dict[str, StoredArticle], float]:
        """The records written at or after `cut` (all of them for None), and the newest write
        time among them (0 when none says; records from before write times were kept)."""
        out: dict[str, StoredArticle] = {}
        newest = 0.0
        where = None if cut is None else {"written": {"$gte": cut}}
        for ids, mds, _ in self._pages(self.records, include=["metadatas"], where=where):
            for i, md in zip(ids, mds):
                out[i] = stored_from_record(i, md or {})
                newest = max(newest, float((md or {}).get("written", 0.0)))
        return out, newest

    def count_records(self) -> int:
        with self._guard("counting the articles"):
            return int(self.records.count())

    def stored_articles(self) -> dict[str, StoredArticle]:
        return self._records_since(None)[0]

    def article(self, article_id: str) -> StoredArticle | None:
        with self._guard("reading an article record"):
            r = self.records.get(ids=[article_id], include=["metadatas"])
        if not r["ids"]:
            return None
        return stored_from_record(r["ids"][0], r["metadatas"][0] or {})

    def records_by_id(self, article_ids: Sequence[str]) -> dict[str, StoredArticle]:
        """The current records of these articles (absent ones are left out)."""
        if not article_ids:
            return {}
        with self._guard("reading article records"):
            r = self.records.get(ids=list(dict.fromkeys(article_ids)), include=["metadatas"])
        return {i: stored_from_record(i, md or {}) for i, md in zip(r["ids"], r["metadatas"])}

    def article_text(self, article_id: str) -> str | None:
        return self.article_texts([article_id]).get(article_id)

    def article_texts(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The stored texts of these articles (absent ones are left out)."""
        if not article_ids:
            return {}
        with self._guard("reading article texts"):
            r = self.records.get(ids=list(dict.fromkeys(article_ids)),
                                 include=["documents", "metadatas"])
        out: dict[str, str] = {}
        for aid, doc, md in zip(r["ids"], r["documents"], r["metadatas"]):
            md = md or {}
            n = int(md.get("text_parts", 0) or 0)
            out[aid] = self._joined_parts(aid, str(md.get("content_hash", "")), n) if n else (
                doc or "")
        return out

    def _joined_parts(self, article_id: str, content_hash: str, n: int) -> str:
        with self._guard("reading an article's text"):
            r = self.texts.get(where={"$and": [{"article_id": article_id},
                                               {"content_hash": content_hash}]},
                               include=["documents", "metadatas"])
        parts = sorted(zip(r["metadatas"], r["documents"]), key=lambda x: int(x[0]["part"]))
        if len(parts) != n:
            raise StoreDamagedError(
                f"The store {self.label} is damaged: the text of {article_id} has {len(parts)} "
                f"of its {n} parts. `qa repair` rebuilds it from the catalog."
            )
        return "".join(doc or "" for _, doc in parts)

    def article_infos(self) -> list[ArticleInfo]:
        arts = self.stored_articles().values()
        infos = [ArticleInfo(a.meta, a.n_chunks, a.content_hash) for a in arts]
        return sorted(infos, key=lambda i: (i.meta.source, i.meta.title, i.meta.article_id))

    def count_articles(self) -> int:
        with self._guard("counting articles"):
            return int(self.records.count())

    def count_chunks(self) -> int:
        with self._guard("counting passages"):
            return int(self.chunks.count())

    # -- writes -----------------------------------------------------------------------------
    def put_article(self, article: Article, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace whatever is stored for this article with these chunks (record last)."""
        self.put_articles([(article, chunks, vectors)])

    def put_articles(self, items: Sequence[tuple[Article, Sequence[Chunk], np.ndarray]]) -> None:
        """Add or replace several articles, atomically for readers (see the module docstring).

        One write per kind for the whole batch (Chroma's per-call overhead dominates small
        articles): new chunks (upserted: a re-run after a crash finds some already there), then
        the records, then the catalog, then the chunks of the articles' earlier texts. A marker
        in the catalog names the articles until all of it is done (see `recover`)."""
        if not items:
            return
        token = self.begin_write([a.article_id for a, _, _ in items])
        self.write_chunks(items)
        self.finish_articles([(a, c) for a, c, _ in items])
        self.end_write(token)

    def begin_write(self, article_ids: Sequence[str]) -> str:
        """Mark a write of these articles as under way (`end_write` when it is done)."""
        return self.catalog.begin_write(article_ids) if self.catalog is not None else ""

    def end_write(self, token: str) -> None:
        if token and self.catalog is not None:
            self.catalog.end_write(token)

    def write_chunks(self, items: Sequence[tuple[Article, Sequence[Chunk], np.ndarray]]) -> None:
        """Upsert chunks with their vectors. Readers do not serve them until `finish_articles`
        switches their article's record to the text they belong to."""
        ids: list[str] = []
        docs: list[str] = []
        mds: list[dict[str, Any]] = []
        vecs: list[np.ndarray] = []
        for article, chunks, vectors in items:
            if len(chunks) != len(vectors):
                raise ValueError(f"one vector per chunk ({article.article_id})")
            ids += [c.chunk_id for c in chunks]
            docs += [c.text for c in chunks]
            mds += [self.chunk_metadata(c, article.meta, article.content_hash) for c in chunks]
            if len(chunks):
                vecs.append(np.asarray(vectors, dtype=np.float32))
        all_vecs = np.concatenate(vecs) if vecs else np.zeros((0, self.dim), np.float32)
        with self._guard("writing chunks"):
            for s in range(0, len(ids), _PAGE):
                self.chunks.upsert(
                    ids=ids[s : s + _PAGE], embeddings=all_vecs[s : s + _PAGE],
                    documents=docs[s : s + _PAGE], metadatas=mds[s : s + _PAGE],
                )

    def finish_articles(self, items: Sequence[tuple[Article, Sequence[Chunk]]]) -> None:
        """Switch these articles to their new text (its chunks are written): the records, then
        the catalog, then away with the chunks of their earlier texts."""
        with self._guard("writing article records"):
            self.put_records([(a, len(c)) for a, c in items])
            if self.catalog is not None:
                self.catalog.put(items)
            stale = [{"$and": [{"article_id": a.article_id},
                               {"content_hash": {"$ne": a.content_hash}}]} for a, _ in items]
            for s in range(0, len(stale), 100):
                part = stale[s : s + 100]
                where = part[0] if len(part) == 1 else {"$or": part}
                self.chunks.delete(where=where)
                self.texts.delete(where=where)
            self._bump()

    def put_records(self, items: Sequence[tuple[Article, int]]) -> None:
        """Upsert article records: (article, its number of chunks). A text over TEXT_INLINE
        characters goes in parts, one write each, before its record: one huge document in one
        write costs Chroma about 18 bytes of memory per character (264 MB for a 15 MB text)."""
        docs: list[str] = []
        mds: list[dict[str, Any]] = []
        with self._guard("writing article texts"):
            for a, n in items:
                parts = ([a.text[i : i + TEXT_INLINE] for i in range(0, len(a.text), TEXT_INLINE)]
                         if len(a.text) > TEXT_INLINE else [])
                key = hashlib.sha1(a.article_id.encode("utf-8")).hexdigest()[:16]
                for k, part in enumerate(parts):
                    self.texts.upsert(
                        ids=[f"{key}-{a.content_hash[:10]}-t{k:04d}"], embeddings=[_PLACEHOLDER],
                        documents=[part], metadatas=[{"article_id": a.article_id, "part": k,
                                                      "content_hash": a.content_hash}])
                docs.append("" if parts else a.text)
                mds.append({**_meta_to_record(a, n), "text_parts": len(parts),
                            "written": time.time()})
        with self._guard("writing article records"):
            self.records.upsert(ids=[a.article_id for a, _ in items],
                                embeddings=[_PLACEHOLDER] * len(items), documents=docs,
                                metadatas=mds)

    @staticmethod
    def chunk_metadata(c: Chunk, meta: ArticleMeta, content_hash: str = "") -> dict[str, Any]:
        """What Chroma stores beside a chunk's vector (filters read `source`, `article_id`)."""
        return {
            "article_id": c.article_id, "index": c.index, "start": c.start, "end": c.end,
            "n_tokens": c.n_tokens, "title": meta.title, "source": meta.source,
            "content_hash": content_hash or c.content_hash,
        }

    def new_chunk_collection(self) -> Any:
        """An empty collection to rebuild the chunks into (`swap_in_chunk_collection` after)."""
        name = f"{self.name}_chunks_rebuild"
        with self._guard("creating a collection"):
            if name in self._collection_names():
                self.client.delete_collection(name)
            return self._create_chunks(name)

    def swap_in_chunk_collection(self, fresh: Any) -> None:
        """Replace the chunk collection by `fresh` (the old one is deleted, `fresh` renamed). A
        crash in between is finished when the store is next opened."""
        with self._guard("swapping in the rebuilt vector index"):
            if f"{self.name}_chunks" in self._collection_names():
                self.client.delete_collection(f"{self.name}_chunks")
            fresh.modify(name=f"{self.name}_chunks")
            self.chunks = self.client.get_collection(f"{self.name}_chunks")
        self._bump()

    def _create_chunks(self, name: str) -> Any:
        return self.client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}},
            metadata={"embed_model": self.embed_model, "dim": self.dim, "schema": SCHEMA},
            embedding_function=None,
        )

    def _collection_names(self) -> set[str]:
        return {getattr(c, "name", c) for c in self.client.list_collections()}

    def delete_article(self, article_id: str) -> bool:
        """Remove an article and its chunks; False when it was not stored."""
        token = self.catalog.begin_write([article_id]) if self.catalog else ""
        with self._guard("deleting an article"):
            existed = bool(self.records.get(ids=[article_id], include=[])["ids"])
            self.records.delete(ids=[article_id])  # record first: chunks alone are never served
            if self.catalog is not None:
                self.catalog.delete([article_id])
            self.chunks.delete(where={"article_id": article_id})
            self.texts.delete(where={"article_id": article_id})
            self._bump()
        if token and self.catalog is not None:
            self.catalog.end_write(token)
        return existed

    def recover(self) -> int:
        """Finish what interrupted writes (a kill, a crash) left half done; the number of
        articles looked at. Chroma's record is the truth readers saw: the catalog takes its
        version of each article the writes touched, and chunks no record vouches for go."""
        if self.catalog is None:
            return self.sweep_orphans()
        markers = self.catalog.interrupted_writes()
        ids = sorted({a for touched in markers.values() for a in touched})
        if ids:
            log.info("finishing %d interrupted write(s) of %d article(s)", len(markers), len(ids))
            self.reconcile(ids)
            self._bump()
        self.catalog.forget_writes(list(markers))
        return len(ids)

    def reconcile(self, article_ids: Sequence[str]) -> None:
        """Make the catalog and the chunks of these articles agree with their Chroma records."""
        for s in range(0, len(article_ids), 100):
            part = list(article_ids[s : s + 100])
            with self._guard("reading article records"):
                r = self.records.get(ids=part, include=["metadatas"])
            texts = self.article_texts(r["ids"])
            found = {i: (md or {}, texts.get(i, "")) for i, md in zip(r["ids"], r["metadatas"])}
            gone = [a for a in part if a not in found]
            with self._guard("removing leftovers of an interrupted write"):
                for col in (self.chunks, self.texts):
                    if gone:
                        col.delete(where={"article_id": {"$in": gone}})
                    for aid, (md, _) in found.items():
                        col.delete(where={"$and": [{"article_id": aid}, {
                            "content_hash": {"$ne": md.get("content_hash", "")}}]})
            if self.catalog is None:
                continue
            self.catalog.delete(gone)
            items = []
            for aid, (md, text) in found.items():
                stored = stored_from_record(aid, md)
                article = Article(stored.meta, text or "", stored.content_hash)
                items.append((article, self.chunks_of(aid, stored.content_hash)))
            self.catalog.put(items)

    def chunks_of(self, article_id: str, content_hash: str) -> list[Chunk]:
        """The chunks of one article's text, in order."""
        with self._guard("reading passages"):
            r = self.chunks.get(where={"$and": [{"article_id": article_id},
                                                {"content_hash": content_hash}]},
                                include=["metadatas", "documents"])
        chunks = [chunk_from_row(i, d, md) for i, d, md in zip(r["ids"], r["documents"], r["metadatas"])]
        return sorted(chunks, key=lambda c: c.index)

    def sweep_orphans(self) -> int:
        """Delete chunks that no record vouches for: chunks of an article without a record, or of
        an earlier (or never finished) text of it. Interrupted writes leave them."""
        known = {aid: a.content_hash for aid, a in self.stored_articles().items()}
        orphans: list[str] = []
        for ids, mds, _ in self._pages(self.chunks, include=["metadatas"]):
            for i, md in zip(ids, mds):
                md = md or {}
                if known.get(str(md.get("article_id"))) != md.get("content_hash"):
                    orphans.append(i)
        with self._guard("removing leftovers of an interrupted write"):
            for s in range(0, len(orphans), _PAGE):
                self.chunks.delete(ids=orphans[s : s + _PAGE])
            if orphans:
                log.info("removed %d chunks left by an interrupted write", len(orphans))
                self._bump()
        return len(orphans)

    # -- reads ------------------------------------------------------------------------------
    def all_chunks(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(chunk id, text, metadata) of every chunk, in pages."""
        for ids, mds, docs in self._pages(self.chunks, include=["metadatas", "documents"]):
            yield from zip(ids, docs, mds)

    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """These chunks: from the catalog where it holds them (a local SQLite read: the id fixes
        the text), the rest from Chroma."""
        ids = list(dict.fromkeys(ids))
        out = self.catalog.chunks_by_id(ids) if self.catalog is not None and ids else {}
        rest = [i for i in ids if i not in out]
        if rest:
            with self._guard("reading passages"):
                r = self.chunks.get(ids=rest, include=["metadatas", "documents"])
            out.update({i: chunk_from_row(i, d, md)
                        for i, d, md in zip(r["ids"], r["documents"], r["metadatas"])})
        return out

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
              ) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity (1 - cosine distance). (Chroma returns fewer
        than n, or none, from a smaller collection: no count first, which costs a scan.)"""
        with self._guard("searching the vectors"):
            r = self.chunks.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=max(1, n),
                where=where or None, include=["metadatas", "documents", "distances"],
            )
        return [
            (chunk_from_row(i, d, md), 1.0 - float(dist))
            for i, d, md, dist in zip(
                r["ids"][0], r["documents"][0], r["metadatas"][0], r["distances"][0]
            )
        ]

    def query_among(self, vector: np.ndarray, n: int, ids: Sequence[str]
                    ) -> list[tuple[Chunk, float]]:
        """The nearest of these chunks by cosine similarity, computed exactly over their vectors
        (fetched by id): for a scope of a few articles, where the vector index's filtered search
        walks far through the graph to find them (seconds at a million passages)."""
        if not ids:
            return []
        with self._guard("searching the vectors"):
            r = self.chunks.get(ids=list(dict.fromkeys(ids)),
                                include=["embeddings", "metadatas", "documents"])
        if not len(r["ids"]):
            return []
        m = np.asarray(r["embeddings"], dtype=np.float32)
        v = np.asarray(vector, dtype=np.float32)
        sims = (m @ v) / np.clip(np.linalg.norm(m, axis=1) * np.linalg.norm(v), 1e-12, None)
        top = np.argsort(-sims, kind="stable")[: max(1, n)]
        return [(chunk_from_row(r["ids"][i], r["documents"][i], r["metadatas"][i]),
                 float(sims[i])) for i in top]

    def _pages(self, col: Any, include: list[str], where: dict[str, Any] | None = None
               ) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        offset = 0
        while True:
            with self._guard("reading the store"):
                r = col.get(include=include, limit=_PAGE, offset=offset, where=where)
            if not r["ids"]:
                return
            n = len(r["ids"])
            yield r["ids"], r.get("metadatas") or [None] * n, r.get("documents") or [None] * n
            if n < _PAGE:
                return
            offset += n


def chunk_from_row(chunk_id: str, text: str, md: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id, article_id=str(md["article_id"]), index=int(md["index"]),
        start=int(md["start"]), end=int(md["end"]), text=text, n_tokens=int(md["n_tokens"]),
        content_hash=str(md.get("content_hash", "")),
    )


_DAMAGE = ("error loading hnsw", "error getting embedding", "malformed", "hnsw segment",
           "file is not a database", "no such table", "disk image")
_UNREACHABLE = ("connect", "connection", "timed out", "broken pipe", "remote end closed")


def store_failure(label: str, doing: str, e: Exception) -> StoreError:
    """The StoreError for a Chroma exception: damage (with the command that repairs it), a lost
    server, or anything else with its message."""
    text = f"{type(e).__name__}: {e}"
    low = text.lower()
    if any(m in low for m in _DAMAGE):
        return StoreDamagedError(
            f"The store {label} is damaged: {doing} failed with {text}. `qa check` says what is "
            "damaged; `qa repair` rebuilds it from the stored article texts."
        )
    if any(m in low for m in _UNREACHABLE):
        return StoreError(
            f"Lost the connection to the store {label} while {doing} ({text}). If a `qa ui` or "
            "`qa serve` that shared the store has stopped, run the command again."
        )
    return StoreError(f"The store {label} failed while {doing}: {text}")
