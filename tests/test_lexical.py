"""The lexical index (index/lexical.py): SQLite FTS5 in the catalog file, written with the
catalog's chunks. What it must do: index exactly the terms the answer scorer reads; follow every
write at the cost of that write (the rows of untouched articles stay as they are); be seen by
every handle on the store at once; index a catalog written before it existed; never read a
question as FTS5 syntax; be checked and rebuilt by `qa check` / `qa repair`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.catalog import Catalog
from index.chunk import Chunker
from index.lexical import READY
from index.terms import terms_of
from index.types import Article, ArticleMeta
from qa.api import repair
from qa.retrieve import Scope
from tests.conftest import make_bot

TRICKY = ("Café owners in São Paulo — 2,000 of them — protested on 12/04/2005! The £1.3bn "
          "deal's U.S. backers didn't say; snake_case_names and ÆSIR stay whole. \"Quoted\" "
          "OR AND NEAR(x) -minus col:umn *star ^caret.")


def _article(aid: str, text: str, source: str = "Test Wire") -> Article:
    import hashlib

    return Article(ArticleMeta(article_id=aid, title=aid, source=source),
                   text, hashlib.sha256(text.encode()).hexdigest())


def _catalog_with(tmp_path: Path, *articles: Article) -> Catalog:
    cat = Catalog(tmp_path / "catalog.sqlite3")
    chunker = Chunker(40, 8)
    cat.put([(a, chunker.chunk(a)) for a in articles])
    return cat


def _rowids(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {str(c): int(r) for c, r in db.execute(
            "SELECT c.chunk_id, l.rowid FROM lexical l JOIN chunks c ON c.rowid = l.rowid")}


def test_the_index_holds_exactly_the_scorers_terms(tmp_path: Path) -> None:
    """The IDF table looks terms up as terms_of writes them: FTS5 must split the stored terms
    back into exactly those (accents, digits and underscores included)."""
    cat = _catalog_with(tmp_path, _article("a", TRICKY))
    with sqlite3.connect(cat.path) as db:
        vocab = {str(t) for (t,) in db.execute("SELECT term FROM lexical_vocab")}
    assert vocab == set(terms_of(TRICKY))
    assert {"café", "são", "snake_case_nam", "3bn", "2005"} <= vocab, vocab
    lex = cat.lexical_index()
    n = lex.n_docs()
    assert n == cat.count_chunks() >= 1
    freqs = lex.doc_freqs(["café", "nosuchterm"])
    assert freqs["nosuchterm"] == 0 and 1 <= freqs["café"] <= n


def test_a_question_is_never_read_as_search_syntax(tmp_path: Path) -> None:
    cat = _catalog_with(tmp_path, _article("a", TRICKY), _article("b", "Nothing here at all."))
    lex = cat.lexical_index()
    for q in ['"Quoted" OR AND', "NEAR(x) -minus", "col:umn *star ^caret", 'say "', "(((",
              "", "?!", "the of and"]:
        top = lex.top(q, 5)  # no sqlite3.OperationalError
        assert all(cid.startswith(("a", "b")) or cid for cid, _ in top)
    assert [cid for cid, _ in lex.top("snake_case_names and ÆSIR", 5)]
    assert lex.top("the of and", 5) == []  # stop words only: nothing to match


def test_filters_are_applied_by_the_engine(tmp_path: Path) -> None:
    cat = _catalog_with(tmp_path, _article("a", "The harbour ferry was late again.", "Port News"),
                        _article("b", "The ferry strike ended on Monday.", "Daily Wire"),
                        _article("c", "A ferry timetable was published.", "Port News"))
    lex = cat.lexical_index()
    by_chunk = {c.chunk_id: c.article_id for a in "abc" for c in cat.chunks_of(a)}
    assert {by_chunk[c] for c, _ in lex.top("ferry", 10)} == {"a", "b", "c"}
    assert {by_chunk[c] for c, _ in lex.top("ferry", 10, sources=["Port News"])} == {"a", "c"}
    assert {by_chunk[c] for c, _ in lex.top("ferry", 10, article_ids=["b", "c"])} == {"b", "c"}
    assert {by_chunk[c] for c, _ in lex.top("ferry", 10, article_ids=["b"],
                                            sources=["Port News"])} == set()


def test_writes_cost_their_own_chunks_and_every_handle_sees_them(embedder: Any,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        (folder / f"filler{i}.txt").write_text(
            f"Filler story {i}\nThe town council met on day {i} to discuss the budget.\n")
    bot = make_bot(tmp_path, embedder)
    bot.ingest([folder])
    path = bot.store.catalog.path
    before = _rowids(path)
    assert len(before) == bot.store.count_chunks()

    extra = tmp_path / "more" / "quarry.txt"
    extra.parent.mkdir()
    extra.write_text("Quarry find\nMiners found plovrixite, a green mineral, in the quarry.\n")
    bot.ingest([extra])
    after = _rowids(path)
    assert {c: after[c] for c in before} == before  # nothing else was re-indexed
    other = make_bot(tmp_path, embedder)  # a second handle on the store reads the same index
    for b in (bot, other):
        ps, _, _ = b.retrieve("plovrixite", top_k=3)
        assert ps[0].article.article_id == str(extra.resolve()) and ps[0].bm25_score

    # replaced: the old text's words are gone, the new text's found, the rest untouched
    extra.write_text("Quarry find\nMiners found zarquonite instead, a blue mineral.\n")
    other.ingest([extra])
    ps, _, _ = bot.retrieve("plovrixite", top_k=3)
    assert all(p.bm25_score is None for p in ps)
    ps, _, _ = bot.retrieve("zarquonite", top_k=3)
    assert ps[0].article.article_id == str(extra.resolve()) and ps[0].bm25_score
    assert {c: r for c, r in _rowids(path).items() if c in before} == before

    assert other.delete_article(str(extra.resolve()))
    ps, _, _ = bot.retrieve("zarquonite", top_k=3)
    assert all(p.article.article_id != str(extra.resolve()) for p in ps)
    assert _rowids(path) == before
    assert bot.store.catalog.lexical_index().out_of_step() == 0


def test_a_catalog_from_before_the_index_is_indexed_on_open(embedder: Any,
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "council.txt").write_text("Council minutes\nThe council fined the QX7734ZB club.\n")
    (folder / "snow.txt").write_text("Snow\nHeavy snow closed the mountain roads.\n")
    bot = make_bot(tmp_path, embedder)
    bot.ingest([folder])
    path = bot.store.catalog.path
    bot.close()
    with sqlite3.connect(path) as db:  # as a catalog written by the version before
        for table in ("lexical_vocab", "lexical", "lexical_stats", "lexical_df"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DELETE FROM meta WHERE key = ?", (READY,))
        db.execute("CREATE VIRTUAL TABLE lexical USING fts5(terms)")  # an earlier schema
    bot = make_bot(tmp_path, embedder)
    ps, _, _ = bot.retrieve("QX7734ZB", top_k=2, scope=Scope())
    assert ps[0].article.title == "Council minutes" and ps[0].bm25_score
    assert bot.store.catalog.lexical_index().out_of_step() == 0


def test_check_sees_an_index_out_of_step_and_repair_rebuilds_it(embedder: Any,
                                                                tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "council.txt").write_text("Council minutes\nThe council fined the QX7734ZB club.\n")
    bot = make_bot(tmp_path, embedder)
    bot.ingest([folder])
    path = bot.store.catalog.path
    with sqlite3.connect(path) as db:  # damage no write of ours makes: a row lost
        db.execute("DELETE FROM lexical WHERE rowid = (SELECT MIN(rowid) FROM lexical)")
    health = bot.check()
    assert any("lexical index is out of step" in d for d in health.damage), health.damage
    settings = bot.settings
    bot.close()
    report = repair(settings, embedder=embedder)
    assert report.health.ok, report.health.damage
    assert any("rebuilt the lexical index" in a for a in report.actions), report.actions
    fresh = make_bot(tmp_path, embedder)
    assert fresh.store.catalog.lexical_index().out_of_step() == 0
    ps, _, _ = fresh.retrieve("QX7734ZB", top_k=1)
    assert ps[0].bm25_score


def _two_machines(embedder: Any, tmp_path: Path, n: int) -> tuple[Any, Any, Any, Path]:
    """A store holding `n` one-line articles (through `first`, its own catalog), and two more
    catalogs on it that follow it, as `Assistant.open` makes them for a Chroma server: (first,
    here, there, the articles' folder)."""
    from index.store import ChunkStore
    from qa.api import Assistant

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        (folder / f"f{i}.txt").write_text(f"Filler {i}\nThe council met on day {i}.\n")
    first = make_bot(tmp_path, embedder)
    first.ingest([folder])
    s = first.store

    def machine(name: str) -> Assistant:
        return Assistant(first.settings, embedder, ChunkStore(
            s.client, s.name, s.embed_model, s.dim, label=name, follows=True,
            catalog=Catalog(tmp_path / f"{name}.sqlite3")))

    return first, machine("here"), machine("there"), folder


def test_a_catalog_follows_what_another_catalog_wrote(embedder: Any, tmp_path: Path) -> None:
    """Two machines (or two users) on one Chroma server each keep their own catalog: what one
    writes, the other's lexical index finds, replaced and deleted articles included; only the
    articles that changed are copied. (Chroma here is an embedded client shared in-process;
    tests/test_deployment.py runs it with real processes on a `chroma run` server.)"""
    first, here, there, _ = _two_machines(embedder, tmp_path, 4)
    s = first.store
    here.retrieve("council", top_k=1)  # follows: copies the four articles
    assert here.store.catalog.count_articles() == 4

    extra = tmp_path / "more" / "quarry.txt"
    extra.parent.mkdir()
    extra.write_text("Quarry find\nMiners found plovrixite, a green mineral, in the quarry.\n")
    there.ingest([extra])
    before = _rowids(here.store.catalog.path)
    ps, _, _ = here.retrieve("plovrixite", top_k=3)
    assert ps[0].article.article_id == str(extra.resolve()) and ps[0].bm25_score
    after = _rowids(here.store.catalog.path)
    assert {c: after[c] for c in before} == before  # only the new article was copied
    # and `there` followed the four articles it had never seen
    ps, _, _ = there.retrieve("council day 2", top_k=1)
    assert ps[0].bm25_score and ps[0].article.title == "Filler 2"

    extra.write_text("Quarry find\nMiners found zarquonite instead, a blue mineral.\n")
    there.ingest([extra])
    ps, _, _ = here.retrieve("zarquonite plovrixite", top_k=3)
    assert ps[0].article.article_id == str(extra.resolve())
    assert "zarquonite" in ps[0].chunk.text and ps[0].bm25_score
    assert here.retriever.lexical.top("plovrixite", 5) == []

    assert there.delete_article(str(extra.resolve()))
    here.retrieve("zarquonite", top_k=3)
    assert here.retriever.lexical.top("zarquonite", 5) == []
    assert here.store.catalog.count_articles() == 4
    assert here.store.catalog.lexical_index().out_of_step() == 0

    # most of the store gone at once is damage, not a change to copy: the catalog keeps it
    lost = list(here.store.catalog.hashes())[:3]
    s.records.delete(ids=lost)
    s._bump()
    here.retrieve("council", top_k=1)
    assert here.store.catalog.count_articles() == 4


def test_following_reads_only_what_was_written_since_it_last_looked(
        embedder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After its first look, a following catalog reads only the records written since the
    newest it copied (a cost in proportion to the change, not to the store); a deletion,
    which leaves no record to find by time, is found by the counts and a full comparison."""
    import index.store as store_mod

    monkeypatch.setattr(store_mod, "FOLLOW_MARGIN", 0.0)  # one clock here: no margin needed
    _, here, there, folder = _two_machines(embedder, tmp_path, 6)
    reads: list[tuple[float | None, int]] = []
    real = here.store._records_since

    def spy(cut: float | None) -> Any:
        out = real(cut)
        reads.append((cut, len(out[0])))
        return out

    monkeypatch.setattr(here.store, "_records_since", spy)
    here.retrieve("council", top_k=1)
    assert reads == [(None, 6)]  # a new catalog compares every record
    extra = tmp_path / "more" / "quarry.txt"
    extra.parent.mkdir()
    extra.write_text("Quarry find\nMiners found plovrixite, a green mineral, in the quarry.\n")
    there.ingest([extra])
    ps, _, _ = here.retrieve("plovrixite", top_k=3)
    assert ps[0].article.article_id == str(extra.resolve()) and ps[0].bm25_score
    # read: the new record, and the newest it had copied (written at the cut itself)
    assert reads[1][0] is not None and reads[1][1] == 2
    here.retrieve("plovrixite", top_k=3)
    assert len(reads) == 2  # nothing changed: one read of the generation

    gone = str((folder / "f2.txt").resolve())
    assert here.store.catalog.article(gone) is not None
    assert there.delete_article(gone)
    here.retrieve("council day 2", top_k=3)
    assert [r[0] is None for r in reads[2:]] == [False, True]  # by time, then every record
    assert here.store.catalog.article(gone) is None
    assert here.store.catalog.count_articles() == 6  # five fillers and the quarry
    assert here.store.catalog.lexical_index().out_of_step() == 0


def test_scores_are_lucene_bm25_as_bm25s_gives_them(tmp_path: Path) -> None:
    """The index it replaced (bm25s, the same terms) scores every chunk exactly as ours does:
    the ranking, and the answer scorer's BM25 feature, are unchanged. Many chunks share the
    story's names (FTS5's own IDF would give those 0)."""
    import bm25s

    texts = [f"Lively and Baldoni met on day {i}. The judge {'ruled' if i % 3 else 'said'} "
             f"{'the claims were dropped' if i % 4 == 0 else 'nothing new'} in court {i % 5}."
             for i in range(40)]
    texts += ["Baldoni's lawyers asked for medical records.",
              "Lively withdrew the emotional distress claim in good faith."]
    cat = _catalog_with(tmp_path, *[_article(f"a{i:02d}", t) for i, t in enumerate(texts)])
    lex = cat.lexical_index()
    chunks = {c.chunk_id: c.text for i in range(len(texts)) for c in cat.chunks_of(f"a{i:02d}")}
    ids = list(chunks)
    ref = bm25s.BM25()
    ref.index([terms_of(chunks[c]) for c in ids], show_progress=False)
    queries = ["Why did Lively drop the distress claim?", "Baldoni medical records",
               "what did the judge rule in court 3", "Lively Baldoni"]
    for q in queries:
        want = ref.get_scores(terms_of(q))
        got = dict(lex.top(q, len(ids)))
        for k, cid in enumerate(ids):
            assert abs(got.get(cid, 0.0) - float(want[k])) < 1e-4, (q, cid)

    # a large store searches with the rarer terms only: the candidates it finds keep their
    # exact scores, and the best passage is still found
    import index.lexical

    with pytest.MonkeyPatch.context() as m:
        m.setattr(index.lexical, "MATCH_BUDGET", 5)
        for q in queries[:3]:
            want = ref.get_scores(terms_of(q))
            got = lex.top(q, 5)
            assert got and got[0][0] == ids[int(np.argmax(want))], q
            for cid, score in got:
                assert abs(score - float(want[ids.index(cid)])) < 1e-4, (q, cid)


def test_the_old_bm25s_cache_is_removed_by_the_stores_owner(embedder: Any,
                                                           tmp_path: Path) -> None:
    bot = make_bot(tmp_path, embedder)
    bot.close()
    old = tmp_path / "store" / "bm25" / "articles"
    old.mkdir(parents=True)
    (old / "ids.json").write_text('{"generation": "x", "ids": []}')
    make_bot(tmp_path, embedder).close()
    assert not (tmp_path / "store" / "bm25").exists()
    assert (tmp_path / "store" / "chroma.sqlite3").exists()


def test_the_first_question_after_an_upload_is_as_fast_as_the_next(embedder: Any,
                                                                   tmp_path: Path) -> None:
    """Issue 12: with the bm25s index, the first question after an upload rebuilt the lexical
    index from every chunk (1,344 ms against 106 ms for the next question at 10,000+ chunks).
    Now an upload indexes its own chunks: the question right after it may take at most twice
    as long as the question after it (medians of three uploads; each question is about a
    story not asked before, so neither finds its sentences' vectors cached)."""
    import statistics
    import time

    from tests.corpus import write_stories

    stories = write_stories(tmp_path / "in", range(2500))
    bot = make_bot(tmp_path, embedder, chunk_tokens=32, chunk_overlap=0)
    bot.ingest([tmp_path / "in"])
    assert bot.store.count_chunks() >= 10_000, bot.store.count_chunks()
    old = iter(list(stories.values())[::97])
    bot.ask(next(old).question)  # the process's first question loads what it loads once
    firsts, nexts = [], []
    for k in range(3):
        new = write_stories(tmp_path / f"new{k}", [5000 + k])
        bot.ingest([tmp_path / f"new{k}"])
        for out, story in ((firsts, next(iter(new.values()))), (nexts, next(old))):
            t = time.perf_counter()
            ans = bot.ask(story.question)
            out.append(time.perf_counter() - t)
            assert not ans.refused, story.question  # (towns repeat in this corpus: any of
            # that town's councils answers)
    assert statistics.median(firsts) <= 2 * statistics.median(nexts), (firsts, nexts)
