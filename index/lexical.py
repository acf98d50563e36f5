"""The lexical half of hybrid retrieval: BM25 over every chunk, kept in SQLite FTS5.

The index is a table of the catalog file (index/catalog.py), written in the same transaction
as the catalog's chunks: adding or replacing an article costs its own chunks, never the store,
the first question after an upload is as fast as any other, and every process on the machine
reads the same file (WAL: readers never wait for a writer). It holds each chunk's terms
(index/terms.py), so the ranking sees what the answer scorer sees. FTS5 finds and shortlists
the matching chunks, Lucene's BM25 (k1 1.5, b 0.75, as bm25s) scores the shortlist (see `top`).
An article or publication filter is a join inside SQLite.

Chosen by measurement against the bm25s index it replaces (rebuilt whole after every change;
bench/lexical.py and README "Lexical index").

    >>> lex = LexicalIndex(catalog)                                   # doctest: +SKIP
    >>> lex.top("why did the council fine the club", 30)             # doctest: +SKIP
    [('<chunk id>', 11.2), ...]
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from index.terms import terms_of

# The terms are written already stemmed, separated by spaces: FTS5's tokenizer only splits them
# (an underscore is part of a word, as in terms_of). `n` is the chunk's number of terms;
# lexical_stats holds the totals BM25 needs and lexical_df each term's number of chunks (FTS5
# would count a term's whole posting list for it), both kept by every write, so that no query
# scans for them.
DDL = (
    """CREATE VIRTUAL TABLE lexical USING fts5(
         terms, n UNINDEXED, tokenize = "unicode61 remove_diacritics 0 tokenchars '_'")""",
    "CREATE VIRTUAL TABLE lexical_vocab USING fts5vocab(lexical, 'row')",
    """CREATE TABLE lexical_stats (one INTEGER PRIMARY KEY CHECK (one = 1),
         docs INTEGER NOT NULL, terms INTEGER NOT NULL)""",
    "INSERT INTO lexical_stats VALUES (1, 0, 0)",
    "CREATE TABLE lexical_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID",
)
TABLES = ("lexical_vocab", "lexical", "lexical_stats", "lexical_df")
READY = "lexical_v2"  # catalog meta key: every chunk of the catalog is in the index
K1, B = 1.5, 0.75  # Lucene's BM25 (no (k1 + 1) factor), as bm25s (the index before this one)
POOL = 200  # FTS5's own ranking shortlists this many chunks; they are scored exactly
MATCH_BUDGET = 5_000  # postings FTS5 may rank to find them (see _candidate_terms)

Rows = Callable[[str, Sequence[object]], list[tuple[object, ...]]]


def idf(n_docs: int, df: int) -> float:
    """Lucene's IDF, which stays positive for a term in most chunks (bm25s's, too)."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def _count(db: sqlite3.Connection, sign: int, rows: Sequence[tuple[str, int]]) -> None:
    """Add (sign 1) or remove (-1) these chunks' (terms, n) to or from the totals."""
    if not rows:
        return
    df = Counter(t for terms, _ in rows for t in set(terms.split()))
    if sign > 0:
        db.executemany("INSERT INTO lexical_df VALUES (?, ?) ON CONFLICT (term) DO UPDATE SET "
                       "df = df + excluded.df", df.items())
    else:
        db.executemany("UPDATE lexical_df SET df = df - ? WHERE term = ?",
                       ((d, t) for t, d in df.items()))
        db.executemany("DELETE FROM lexical_df WHERE term = ? AND df <= 0", ((t,) for t in df))
    db.execute("UPDATE lexical_stats SET docs = docs + ?, terms = terms + ?",
               (sign * len(rows), sign * sum(n for _, n in rows)))


def index_chunks(db: sqlite3.Connection, chunks: Iterable[tuple[str, str]]) -> None:
    """Index these (chunk id, text) pairs, already in the catalog's `chunks` table (inside the
    caller's transaction)."""
    rows = [(" ".join(t), len(t), cid) for cid, text in chunks for t in [terms_of(text)]]
    db.executemany("INSERT INTO lexical (rowid, terms, n) SELECT rowid, ?, ? FROM chunks "
                   "WHERE chunk_id = ?", rows)
    _count(db, 1, [(terms, n) for terms, n, _ in rows])


def _unindex(db: sqlite3.Connection, rowids_sql: str, args: Sequence[object]) -> None:
    rows = db.execute(f"SELECT terms, n FROM lexical WHERE rowid IN ({rowids_sql})",
                      args).fetchall()
    if rows:
        db.execute(f"DELETE FROM lexical WHERE rowid IN ({rowids_sql})", args)
        _count(db, -1, [(str(t), int(n)) for t, n in rows])


def unindex_chunks(db: sqlite3.Connection, chunk_ids: Iterable[str]) -> None:
    ids = list(chunk_ids)
    for s in range(0, len(ids), 500):
        part = ids[s : s + 500]
        _unindex(db, f"SELECT rowid FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})",
                 part)


def unindex_article(db: sqlite3.Connection, article_id: str) -> None:
    _unindex(db, "SELECT rowid FROM chunks WHERE article_id = ?", (article_id,))


def create(db: sqlite3.Connection, fresh: bool = False) -> None:
    """Create the index's tables (inside the caller's transaction); `fresh`: drop whatever an
    earlier version left under their names first."""
    if fresh:
        for table in TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in DDL:
        db.execute(statement)


def clear(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM lexical")
    db.execute("DELETE FROM lexical_df")
    db.execute("UPDATE lexical_stats SET docs = 0, terms = 0")


def rebuild(db: sqlite3.Connection) -> int:
    """Index every chunk of the catalog afresh (a catalog written before the index existed);
    the number of chunks indexed."""
    clear(db)
    n = 0
    cur = db.execute("SELECT chunk_id, text FROM chunks")
    while batch := cur.fetchmany(2000):
        index_chunks(db, ((str(c), str(t)) for c, t in batch))
        n += len(batch)
    return n


def _candidate_terms(df: dict[str, int]) -> list[str]:
    """The terms FTS5 looks up to find candidates: the rarest first, as long as their chunks
    number at most MATCH_BUDGET in all (always at least the rarest). Every term of the question
    still scores the candidates; a chunk that holds only the commonest terms of a question
    scores low anyway, and FTS5 ranks every chunk a term matches (a question of common words
    would rank most of a large store). A small store is searched with every term."""
    out: list[str] = []
    total = 0
    for t in sorted((t for t in df if df[t] > 0), key=lambda t: (df[t], t)):
        if out and total + df[t] > MATCH_BUDGET:
            break
        out.append(t)
        total += df[t]
    return out


def match_expression(terms: Sequence[str]) -> str:
    """Any of the terms (each a quoted string: no term is read as FTS5 syntax)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


class LexicalIndex:
    """BM25 queries and term statistics over the catalog's chunks."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows  # Catalog._rows: one statement, serialised with the catalog's writes

    def top(self, query: str, n: int, article_ids: Sequence[str] = (),
            sources: Sequence[str] = ()) -> list[tuple[str, float]]:
        """The n best (chunk id, BM25 score), best first, only chunks that share a term with
        the query; optionally only of these articles and/or publications.

        FTS5 finds the chunks and shortlists POOL of them by its own bm25(), whose IDF is 0 for
        a term in more than half the chunks (in a store of a few articles about one story, the
        story's names); the shortlist is then scored by Lucene's BM25, whose IDF stays positive.
        Where no more than POOL chunks match, that is exactly Lucene's ranking. In a large
        store FTS5 searches with the rarer terms only (`_candidate_terms`); an article filter
        scores those articles' chunks without a search."""
        terms = terms_of(query)
        if not terms or n <= 0:
            return []
        df = self.doc_freqs(terms)
        if not any(df.values()):
            return []
        if article_ids:  # a few articles: every chunk of theirs is a candidate, no search
            sql = ("SELECT c.chunk_id, l.terms FROM chunks c JOIN lexical l ON l.rowid = c.rowid"
                   f" WHERE c.article_id IN ({','.join('?' * len(article_ids))})")
            args: list[object] = list(article_ids)
            if sources:
                sql += (" AND c.article_id IN (SELECT article_id FROM articles WHERE source IN "
                        f"({','.join('?' * len(sources))}))")
                args += list(sources)
        elif sources:  # a publication: the search, joined with it, with every term
            sql = ("SELECT c.chunk_id, lexical.terms FROM lexical JOIN chunks c ON c.rowid = "
                   "lexical.rowid JOIN articles a ON a.article_id = c.article_id WHERE "
                   f"lexical MATCH ? AND a.source IN ({','.join('?' * len(sources))}) "
                   "ORDER BY bm25(lexical) LIMIT ?")
            args = [match_expression([t for t in df if df[t] > 0]), *sources, max(n, POOL)]
        else:  # FTS5 ranks and cuts alone (with the rarer terms), then the ids
            match = match_expression(_candidate_terms(df))
            sql = ("SELECT c.chunk_id, m.terms FROM (SELECT rowid, terms FROM lexical WHERE "
                   "lexical MATCH ? ORDER BY rank LIMIT ?) m JOIN chunks c ON c.rowid = m.rowid")
            args = [match, max(n, POOL)]
        found = self._rows(sql, args)
        if not found:
            return []
        n_docs, avgdl = self.stats()
        weight = {t: idf(n_docs, d) for t, d in df.items()}
        scored = []
        for cid, text in found:
            words = str(text).split()
            norm = K1 * (1.0 - B + B * len(words) / avgdl)
            score = 0.0
            for t in terms:  # a term the question repeats counts each time, as in bm25s
                tf = words.count(t)
                if tf:
                    score += weight[t] * tf / (tf + norm)
            scored.append((str(cid), score))
        scored.sort(key=lambda x: -x[1])
        return [x for x in scored[:n] if x[1] > 0]

    def stats(self) -> tuple[int, float]:
        """(chunks, average terms per chunk)."""
        docs, total = self._rows("SELECT docs, terms FROM lexical_stats", ())[0]
        d = max(1, int(str(docs)))
        return d, max(1.0, int(str(total)) / d)

    def doc_freqs(self, terms: Iterable[str]) -> dict[str, int]:
        """How many chunks hold each term (absent terms: 0)."""
        want = list(dict.fromkeys(terms))
        out = dict.fromkeys(want, 0)
        for s in range(0, len(want), 500):
            part = want[s : s + 500]
            rows = self._rows(f"SELECT term, df FROM lexical_df WHERE term IN "
                              f"({','.join('?' * len(part))})", part)
            out.update({str(t): int(str(d)) for t, d in rows})
        return out

    def out_of_step(self) -> int:
        """Passages of the catalog the index lacks, index rows of no passage, terms whose count
        is wrong, and 1 if the totals are: 0 when all is in step, as every write keeps it
        (`qa check` looks; it reads the whole index)."""
        missing, stray, docs, terms, n_docs, n_terms = self._rows(
            "SELECT (SELECT COUNT(*) FROM chunks WHERE rowid NOT IN (SELECT rowid FROM lexical)),"
            " (SELECT COUNT(*) FROM lexical WHERE rowid NOT IN (SELECT rowid FROM chunks)),"
            " (SELECT COUNT(*) FROM lexical), (SELECT COALESCE(SUM(n), 0) FROM lexical),"
            " docs, terms FROM lexical_stats", ())[0]
        wrong_totals = (docs, terms) != (n_docs, n_terms)  # the totals BM25 reads
        wrong_df = self._rows(  # each term's count against FTS5's own
            "SELECT (SELECT COUNT(*) FROM lexical_vocab v LEFT JOIN lexical_df d ON "
            "d.term = v.term WHERE d.df IS NOT v.doc) + (SELECT COUNT(*) FROM lexical_df d "
            "WHERE d.term NOT IN (SELECT term FROM lexical_vocab))", ())[0][0]
        return int(str(missing)) + int(str(stray)) + int(wrong_totals) + int(str(wrong_df))

    def n_docs(self) -> int:
        return self.stats()[0]
