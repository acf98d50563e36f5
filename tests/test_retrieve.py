"""Hybrid retrieval on a small synthetic corpus: fusion and scopes (the lexical index itself:
tests/test_lexical.py).

The corpus is one .jsonl feed of one-sentence articles with sources and urls, plus two targets:
- COUNCIL holds a rare token (QX7734ZB) in text about something else: only BM25 can find it
  for a football question that names the token;
- RECALL says "automobile manufacturer recalled vehicles ... brakes", which a question about a
  "carmaker calling back autos over faulty stopping systems" shares no stemmed word with: only
  the dense retriever can find it.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from qa.retrieve import Scope
from tests.conftest import make_bot

FILLER = [
    ("The football club signed a young striker from Brazil for the new season.", "Sports Daily"),
    ("The club's new forward arrived from Sao Paulo ahead of the coming season.", "Sports Daily"),
    ("A midfielder joined the team on a three-year contract after a medical.", "Sports Daily"),
    ("Heavy snowfall closed mountain roads and schools across the northern region.", "Weather Wire"),
    ("The central bank raised interest rates by half a percentage point on Wednesday.", "Money Times"),
    ("A new bakery on Mill Street sells sourdough loaves and cinnamon buns.", "City Gazette"),
    ("Astronomers observed a comet passing close to Jupiter last month.", "Science Now"),
    ("The orchestra performed Beethoven's ninth symphony to a full concert hall.", "Arts Review"),
    ("Farmers warned that the drought could halve this year's wheat harvest.", "Rural Post"),
    ("The museum reopened its dinosaur gallery after two years of renovation.", "City Gazette"),
    ("Voters elected a new mayor who promised cheaper public transport.", "Politics Today"),
    ("A software company released an update that fixes security flaws in its browser.", "Tech Brief"),
    ("The marathon attracted twelve thousand runners despite the rain.", "Sports Daily"),
    ("Hospital staff went on strike over pay and long working hours.", "Health Weekly"),
    ("A rare orchid bloomed in the botanical garden for the first time in decades.", "Science Now"),
    ("The airline cancelled dozens of flights because of a pilots' dispute.", "Travel Notes"),
    ("Police arrested two suspects after a jewellery shop robbery downtown.", "City Gazette"),
    ("The chess champion defended her title in a tense final game.", "Sports Daily"),
    ("Engineers began repairs on the old stone bridge over the river.", "Rural Post"),
    ("A film about a lighthouse keeper won the top prize at the festival.", "Arts Review"),
    ("The school board approved a plan to serve free breakfast to pupils.", "Politics Today"),
    ("Scientists tested a vaccine against a common childhood virus.", "Health Weekly"),
]
COUNCIL_URL = "https://example.test/council"
RECALL_URL = "https://example.test/recall"
COUNCIL = ("The city council met on Thursday to discuss parking fees, bin collections, library "
           "opening hours and the budget for street lighting, and the minutes were filed under "
           "reference QX7734ZB.")
RECALL = ("The automobile manufacturer recalled thousands of vehicles because the brakes could "
          "fail.")
LEXICAL_Q = "Which football signing was filed under QX7734ZB?"
PARAPHRASE_Q = "Which carmaker called back its autos over faulty stopping systems?"
TOP_K = 3


def write_corpus(folder: Path) -> Path:
    records = []
    for i, (text, source) in enumerate(FILLER):
        records.append({"title": f"Filler {i}", "text": text, "source": source,
                        "url": f"https://example.test/filler/{i}"})
        variant = text.replace("the", "a", 1) + " Officials said more details would follow soon."
        records.append({"title": f"Filler {i}b", "text": variant, "source": source,
                        "url": f"https://example.test/filler/{i}b"})
    records.append({"title": "Council minutes", "text": COUNCIL, "source": "City Gazette",
                    "url": COUNCIL_URL})
    records.append({"title": "Brake recall", "text": RECALL, "source": "Motor World",
                    "url": RECALL_URL})
    folder.mkdir(parents=True, exist_ok=True)
    feed = folder / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return feed


@pytest.fixture(scope="module")
def corpus_bot(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    """An Assistant over the synthetic corpus (read-only use)."""
    tmp = tmp_path_factory.mktemp("retrieve")
    write_corpus(tmp / "in")
    bot = make_bot(tmp, embedder)
    report = bot.ingest([tmp / "in"])
    assert report.ok and report.count("added") == 2 * len(FILLER) + 2
    return bot


def dense_rank(bot: Any, query: str, article_id: str) -> int:
    """Where the dense retriever alone ranks the article's chunk (1-based)."""
    qv = bot.embedder.embed([query])[0]
    ranked = bot.store.query(qv, bot.store.count_chunks())
    return 1 + [c.article_id for c, _ in ranked].index(article_id)


def bm25_rank(bot: Any, query: str, article_id: str) -> int | None:
    top = bot.retriever.lexical.top(query, bot.store.count_chunks())
    chunks = bot.store.chunks_by_id([cid for cid, _ in top])
    ids = [chunks[cid].article_id for cid, _ in top]
    return 1 + ids.index(article_id) if article_id in ids else None


def test_lexical_only_match_is_retrieved(corpus_bot: Any) -> None:
    # the premise: dense retrieval alone would miss it, BM25 ranks it in the top k
    assert dense_rank(corpus_bot, LEXICAL_Q, COUNCIL_URL) > TOP_K
    assert (bm25_rank(corpus_bot, LEXICAL_Q, COUNCIL_URL) or 99) <= TOP_K
    passages, _, _ = corpus_bot.retrieve(LEXICAL_Q, top_k=TOP_K)
    found = [p for p in passages if p.article.article_id == COUNCIL_URL]
    assert len(found) == 1, [p.article.article_id for p in passages]
    assert found[0].bm25_score is not None and found[0].bm25_score > 0
    assert [p.rank for p in passages] == list(range(1, len(passages) + 1))
    assert all(a.score >= b.score for a, b in itertools.pairwise(passages))


def test_paraphrase_only_match_is_retrieved(corpus_bot: Any) -> None:
    assert bm25_rank(corpus_bot, PARAPHRASE_Q, RECALL_URL) is None  # no shared word at all
    passages, _, _ = corpus_bot.retrieve(PARAPHRASE_Q, top_k=TOP_K)
    assert passages[0].article.article_id == RECALL_URL
    assert passages[0].bm25_score is None and passages[0].dense_score is not None
    assert passages[0].dense_score > 0.3


def test_both_lists_count_in_the_fused_score(corpus_bot: Any) -> None:
    passages, r, _ = corpus_bot.retrieve(LEXICAL_Q, top_k=TOP_K)
    both = [p for p in passages if p.dense_score is not None and p.bm25_score is not None]
    assert both, "the football chunks match both ways"
    assert passages[0] in both
    assert set(r.timings) >= {"embed_query", "dense", "bm25"}


def test_scope_by_article_id(corpus_bot: Any) -> None:
    scope = Scope(article_ids=(RECALL_URL,))
    passages, _, _ = corpus_bot.retrieve(LEXICAL_Q, top_k=TOP_K, scope=scope)
    assert [p.article.article_id for p in passages] == [RECALL_URL]
    two = Scope(article_ids=(RECALL_URL, COUNCIL_URL))
    passages, _, _ = corpus_bot.retrieve(LEXICAL_Q, top_k=TOP_K, scope=two)
    assert {p.article.article_id for p in passages} == {RECALL_URL, COUNCIL_URL}
    assert passages[0].article.article_id == COUNCIL_URL


def test_scope_by_source(corpus_bot: Any) -> None:
    passages, _, _ = corpus_bot.retrieve(LEXICAL_Q, top_k=10, scope=Scope(sources=("Sports Daily",)))
    assert len(passages) == 10
    assert {p.article.source for p in passages} == {"Sports Daily"}
    # BM25 finds the rare token only outside the scope: nothing leaks in
    passages, _, _ = corpus_bot.retrieve("QX7734ZB", top_k=5, scope=Scope(sources=("Motor World",)))
    assert [p.article.article_id for p in passages] == [RECALL_URL]
    passages, _, _ = corpus_bot.retrieve(
        "QX7734ZB", top_k=5, scope=Scope(sources=("City Gazette",), article_ids=(COUNCIL_URL,)))
    assert [p.article.article_id for p in passages] == [COUNCIL_URL]
    passages, _, _ = corpus_bot.retrieve(
        "QX7734ZB", top_k=5, scope=Scope(sources=("Motor World",), article_ids=(COUNCIL_URL,)))
    assert passages == []


def test_ask_honours_scope(corpus_bot: Any) -> None:
    ans = corpus_bot.ask(LEXICAL_Q, sources=["Motor World"])
    assert {p.article.source for p in ans.passages} == {"Motor World"}
    assert all(c.article.source == "Motor World" for c in ans.citations)
    # the subject is the filter, not the refusal: never refuse, and the citation is in scope
    ans = corpus_bot.ask("What was filed under reference QX7734ZB?", articles=[COUNCIL_URL],
                         refusal_threshold=0.0)
    assert not ans.refused and ans.citations[0].article.article_id == COUNCIL_URL


def test_scope_where_clause() -> None:
    assert Scope().where() is None
    assert Scope(article_ids=("a",)).where() == {"article_id": {"$in": ["a"]}}
    assert Scope(article_ids=("a",), sources=("S",)).where() == {
        "$and": [{"article_id": {"$in": ["a"]}}, {"source": {"$in": ["S"]}}]}
    assert Scope(sources=("S",)).where() == {"source": {"$in": ["S"]}}
    assert Scope(sources=("S", "T")).where() == {"source": {"$in": ["S", "T"]}}


def test_a_small_scope_is_searched_exactly_with_the_index_s_results(
        corpus_bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scope of a few articles is searched over its own vectors (fetched by id: the index's
    filtered search costs seconds at a million passages); it finds what the index finds, and a
    scope over EXACT_SCOPE passages goes through the index."""
    from qa import retrieve

    store = corpus_bot.store
    scope = Scope(sources=("Sports Daily",))
    ids = store.catalog.chunk_ids_in(scope.article_ids, scope.sources, retrieve.EXACT_SCOPE)
    assert ids is not None and len(ids) >= 5
    assert store.catalog.chunk_ids_in((), ("Sports Daily",), limit=len(ids) - 1) is None
    assert store.catalog.chunk_ids_in((RECALL_URL,), ("Sports Daily",), 1000) == []
    qv = corpus_bot.embedder.embed([LEXICAL_Q])[0]
    exact = store.query_among(qv, 5, ids)
    indexed = store.query(qv, 5, where=scope.where())
    assert [c.chunk_id for c, _ in exact] == [c.chunk_id for c, _ in indexed]
    assert [s for _, s in exact] == pytest.approx([s for _, s in indexed], abs=1e-4)

    calls: list[str] = []
    monkeypatch.setattr(store, "query_among", lambda *a, **k: calls.append("exact") or exact)
    corpus_bot.retrieve(LEXICAL_Q, top_k=5, scope=scope)
    assert calls == ["exact"]
    monkeypatch.setattr(retrieve, "EXACT_SCOPE", len(ids) - 1)
    passages, _, _ = corpus_bot.retrieve(LEXICAL_Q, top_k=5, scope=scope)
    assert calls == ["exact"] and {p.article.source for p in passages} == {"Sports Daily"}
