"""The catalog: a second, independent copy of what the store holds, in one SQLite file.

Chroma holds the vectors and is what answering reads. The catalog holds every article (metadata
and stored text) and every chunk (span and text) again, outside Chroma's files, so that:
- damage to Chroma is seen: a vector index that lost chunks, a database that was emptied or
  replaced, is told apart from "nothing was ever ingested";
- damage is repaired: Chroma can be rebuilt from the catalog (re-embedding what was lost), and
  the catalog from Chroma;
- an interrupted write is known: every write leaves a marker row until it is complete, so the
  next writer reconciles the two copies instead of trusting them.

It lives beside an embedded store (`<store>/catalog-<collection>.sqlite3`), or for a Chroma server
in the user's cache folder. SQLite (WAL mode) lets several processes read and write it at once.

    >>> cat = Catalog(Path("/tmp/store/catalog-articles.sqlite3"))   # doctest: +SKIP
    >>> cat.count_articles(), cat.count_chunks()                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index import lexical
from index.errors import StoreDamagedError
from index.types import Article, ArticleMeta, Chunk, pages_from_str, pages_to_str

SCHEMA = 1
_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
  article_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
  date TEXT NOT NULL, path TEXT NOT NULL, content_hash TEXT NOT NULL, n_chunks INTEGER NOT NULL,
  text TEXT NOT NULL, updated REAL NOT NULL, author TEXT NOT NULL DEFAULT '',
  pages TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS chunks (
  chunk_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, idx INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, n_tokens INTEGER NOT NULL,
  content_hash TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks (article_id);
CREATE TABLE IF NOT EXISTS writes (
  token TEXT PRIMARY KEY, pid INTEGER NOT NULL, pstart TEXT NOT NULL, host TEXT NOT NULL,
  started REAL NOT NULL, article_ids TEXT NOT NULL
);
"""


_META_COLUMNS = ("article_id, title, source, url, date, path, author, pages, content_hash, "
                 "n_chunks")


def _catalog_article(row: Sequence[object]) -> CatalogArticle:
    aid, title, source, url, date, path, author, pages, h, n = row[:10]
    meta = ArticleMeta(article_id=str(aid), title=str(title), source=str(source), url=str(url),
                       date=str(date), path=str(path), author=str(author),
                       pages=pages_from_str(pages))
    return CatalogArticle(meta, str(h), int(str(n)))


def catalog_path(store_path: str, chroma_url: str, collection: str, tenant_database: str = ""
                 ) -> Path:
    """Where the catalog of this store lives (`tenant_database`: on Chroma Cloud)."""
    if chroma_url:
        place = f"{chroma_url}|{tenant_database}" if tenant_database else chroma_url
        key = hashlib.sha1(f"{place}|{collection}".encode()).hexdigest()[:16]
        return Path.home() / ".cache" / "article-qa" / "catalog" / f"{key}.sqlite3"
    return Path(store_path).expanduser() / f"catalog-{collection}.sqlite3"


@dataclass(frozen=True)
class CatalogArticle:
    meta: ArticleMeta
    content_hash: str
    n_chunks: int


class Catalog:
    """The catalog file; safe to share between threads (one connection, serialised)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_DDL)
            have = {str(r[1]) for r in self._db.execute("PRAGMA table_info(articles)")}
            for column in ("author", "pages"):  # a catalog made before PDFs had neither
                if column not in have:
                    self._db.execute(f"ALTER TABLE articles ADD COLUMN {column} TEXT NOT NULL "
                                     "DEFAULT ''")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
            if not self.get_meta(lexical.READY):  # written before this lexical index existed
                with self._tx() as db:
                    if not db.execute("SELECT 1 FROM meta WHERE key = ?",
                                      (lexical.READY,)).fetchall():  # not done by another
                        lexical.create(db, fresh=True)
                        lexical.rebuild(db)
                        db.execute("INSERT INTO meta VALUES (?, '1')", (lexical.READY,))
        except sqlite3.DatabaseError as e:
            raise StoreDamagedError(
                f"The catalog {path} is damaged ({e}). `qa repair` rebuilds it from the vector "
                "store (or move the file away: it is rebuilt on the next open)."
            ) from e

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._db.execute(sql, tuple(args)).fetchall())

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else ""

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- writes -----------------------------------------------------------------------------
    def put(self, items: Sequence[tuple[Article, Sequence[Chunk]]]) -> None:
        """Add or replace these articles and their chunks, in one transaction."""
        now = time.time()
        with self._tx() as db:
            for article, chunks in items:
                m = article.meta
                lexical.unindex_article(db, m.article_id)
                db.execute("DELETE FROM chunks WHERE article_id = ?", (m.article_id,))
                # a chunk id still on a row of another article: that row is replaced below
                lexical.unindex_chunks(db, (c.chunk_id for c in chunks))
                db.execute(
                    "INSERT OR REPLACE INTO articles (article_id, title, source, url, date, path, "
                    "content_hash, n_chunks, text, updated, author, pages) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (m.article_id, m.title, m.source, m.url, m.date, m.path,
                     article.content_hash, len(chunks), article.text, now, m.author,
                     pages_to_str(m.pages)),
                )
                db.executemany(  # rows as they go: a long article has tens of thousands
                    "INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?)",
                    ((c.chunk_id, c.article_id, c.index, c.start, c.end, c.n_tokens,
                      article.content_hash, c.text) for c in chunks),
                )
                lexical.index_chunks(db, ((c.chunk_id, c.text) for c in chunks))

    def delete(self, article_ids: Sequence[str]) -> None:
        with self._tx() as db:
            for aid in article_ids:
                lexical.unindex_article(db, aid)
                db.execute("DELETE FROM chunks WHERE article_id = ?", (aid,))
                db.execute("DELETE FROM articles WHERE article_id = ?", (aid,))

    def reindex(self) -> int:
        """Rebuild the lexical index from the chunks; the number of chunks indexed."""
        with self._tx() as db:
            return lexical.rebuild(db)

    def clear(self) -> None:
        with self._tx() as db:
            lexical.clear(db)
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM articles")

    # -- write markers ----------------------------------------------------------------------
    def begin_write(self, article_ids: Sequence[str]) -> str:
        """Mark a write of these articles as under way; `end_write(token)` once both copies
        hold it. A marker left behind names the articles to reconcile."""
        token = uuid.uuid4().hex
        with self._tx() as db:
            db.execute("INSERT INTO writes VALUES (?, ?, ?, ?, ?, ?)",
                       (token, os.getpid(), _process_start(os.getpid()), socket.gethostname(),
                        time.time(), json.dumps(list(article_ids))))
        return token

    def end_write(self, token: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM writes WHERE token = ?", (token,))

    def writes_under_way(self) -> int:
        """Writes whose process still runs (on this machine, or anywhere else)."""
        return len(self._markers()) - len(self.interrupted_writes())

    def interrupted_writes(self) -> dict[str, list[str]]:
        """token -> article ids, of writes whose process is gone (killed, crashed)."""
        host = socket.gethostname()
        return {token: ids for token, pid, pstart, whost, ids in self._markers()
                if whost == host and _process_start(pid) != pstart}

    def _markers(self) -> list[tuple[str, int, str, str, list[str]]]:
        rows = self._rows("SELECT token, pid, pstart, host, article_ids FROM writes")
        return [(str(t), int(str(p)), str(ps), str(h), [str(a) for a in json.loads(str(ids))])
                for t, p, ps, h, ids in rows]

    def forget_writes(self, tokens: Sequence[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM writes WHERE token = ?", [(t,) for t in tokens])

    # -- reads ------------------------------------------------------------------------------
    def lexical_index(self) -> lexical.LexicalIndex:
        """BM25 over the chunks (index/lexical.py), always in step with them."""
        return lexical.LexicalIndex(self._rows)

    def count_articles(self) -> int:
        return int(str(self._rows("SELECT COUNT(*) FROM articles")[0][0]))

    def count_chunks(self) -> int:
        return int(str(self._rows("SELECT COUNT(*) FROM chunks")[0][0]))

    def hashes(self) -> dict[str, str]:
        """article id -> content hash, of every article."""
        return {str(a): str(h) for a, h in self._rows("SELECT article_id, content_hash FROM articles")}

    def hashes_of(self, article_ids: Sequence[str]) -> dict[str, str]:
        """article id -> content hash, of these articles (those the catalog holds)."""
        out: dict[str, str] = {}
        for k in range(0, len(article_ids), 500):
            part = list(article_ids[k : k + 500])
            out.update({str(a): str(h) for a, h in self._rows(
                "SELECT article_id, content_hash FROM articles WHERE article_id IN "
                f"({','.join('?' * len(part))})", part)})
        return out

    def article(self, article_id: str) -> tuple[CatalogArticle, str] | None:
        """(record, stored text) of one article."""
        rows = self._rows(f"SELECT {_META_COLUMNS}, text FROM articles WHERE article_id = ?",
                          (article_id,))
        if not rows:
            return None
        return _catalog_article(rows[0]), str(rows[0][-1])

    def articles(self) -> list[CatalogArticle]:
        rows = self._rows(f"SELECT {_META_COLUMNS} FROM articles ORDER BY article_id")
        return [_catalog_article(r) for r in rows]

    def chunk_ids_in(self, article_ids: Sequence[str], sources: Sequence[str],
                     limit: int) -> list[str] | None:
        """The chunk ids of the current texts of these articles and/or publications (by the
        catalog's indexes), or None when there are more than `limit`."""
        conds, args = ["c.content_hash = a.content_hash"], []
        if article_ids:
            conds.append(f"a.article_id IN ({','.join('?' * len(article_ids))})")
            args += list(article_ids)
        if sources:
            conds.append(f"a.source IN ({','.join('?' * len(sources))})")
            args += list(sources)
        rows = self._rows("SELECT c.chunk_id FROM articles a JOIN chunks c ON "
                          f"c.article_id = a.article_id WHERE {' AND '.join(conds)} LIMIT ?",
                          (*args, limit + 1))
        return None if len(rows) > limit else [str(r[0]) for r in rows]

    def chunks_of(self, article_id: str) -> list[Chunk]:
        return self._chunks("article_id = ?", [article_id])

    def chunks_by_id(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """These chunks (those the catalog holds). A chunk id names its article's text (its
        hash) and its place in it, so the catalog's copy is the one Chroma holds."""
        out: dict[str, Chunk] = {}
        for k in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[k : k + 500])
            out.update({c.chunk_id: c for c in self._chunks(
                f"chunk_id IN ({','.join('?' * len(part))})", part)})
        return out

    def _chunks(self, where: str, args: Sequence[object]) -> list[Chunk]:
        rows = self._rows("SELECT chunk_id, article_id, idx, start, end, n_tokens, content_hash, "
                          f"text FROM chunks WHERE {where} ORDER BY article_id, idx", args)
        return [Chunk(chunk_id=str(c), article_id=str(a), index=int(str(i)), start=int(str(s)),
                      end=int(str(e)), text=str(t), n_tokens=int(str(n)), content_hash=str(h))
                for c, a, i, s, e, n, h, t in rows]


def _process_start(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, from /proc), "" when it is gone: a
    PID reused by a later process is not mistaken for the writer that died."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return "?"  # alive, start time unknown (no /proc)
    return stat.rsplit(")", 1)[1].split()[19]
