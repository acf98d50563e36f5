"""The extractive answerer on small synthetic passages, with the real embedding model."""

import re

import pytest

from index.bm25 import Bm25Index
from qa.extractive import JOINER, REFUSAL_TEXT, ExtractiveAnswerer, IdfTable
from qa.types import ArticleMeta, Chunk, Passage

TEXT_A = (
    "The mayor opened the new bridge on Tuesday. "
    "The bridge cost $40 million to build. "
    "Critics said the money should have gone to schools."
)
TEXT_B = "The river floods every spring. Engineers raised the bridge deck by two metres."


def _passages() -> list[Passage]:
    out = []
    for rank, (aid, text) in enumerate((("a", TEXT_A), ("b", TEXT_B)), 1):
        ch = Chunk(f"{aid}-0", aid, 0, 0, len(text), text, 30)
        out.append(Passage(ch, ArticleMeta(aid, f"Article {aid}"), score=1.0 / rank, rank=rank))
    return out


@pytest.fixture()
def answerer(embedder):  # type: ignore[no-untyped-def]
    return ExtractiveAnswerer(embedder, threshold=0.3, max_sentences=3)


def _idf(passages: list[Passage]) -> IdfTable:
    bm = Bm25Index.build([p.chunk.chunk_id for p in passages], [p.chunk.text for p in passages], "g")
    return IdfTable(bm)


def test_answers_with_verbatim_cited_sentences(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ps = _passages()
    q = "How much did the bridge cost?"
    ex = answerer.answer(q, [], ps, embedder.embed([q])[0], _idf(ps))
    assert not ex.refused
    assert ex.citations[0].quote == "The bridge cost $40 million to build."
    # numbered 1..n in order of first use, each marker resolving to its citation
    assert [c.number for c in ex.citations] == list(range(1, len(ex.citations) + 1))
    assert re.findall(r"\[(\d+)\]", ex.text) == [str(c.number) for c in ex.citations]
    # no word of its own: the text is the quotes, their markers and the declared joiner
    assert ex.text == JOINER.join(f"{c.quote} [{c.number}]" for c in ex.citations)
    for c in ex.citations:
        src = TEXT_A if c.article.article_id == "a" else TEXT_B
        assert src[c.start : c.end] == c.quote


def test_refuses_when_the_passages_do_not_support_it(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ps = _passages()
    q = "What is the capital of France?"
    ex = answerer.answer(q, [], ps, embedder.embed([q])[0], _idf(ps))
    assert ex.refused
    assert ex.text == REFUSAL_TEXT
    assert ex.citations == ()
    assert ex.support < 0.3


def test_no_passages_is_a_refusal(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ex = answerer.answer("Anything?", [], [], embedder.embed(["Anything?"])[0], _idf(_passages()))
    assert ex.refused and ex.support == 0.0


def test_expected_type_prefers_the_sentence_with_an_amount(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ps = _passages()
    q = "How much money did the bridge cost?"
    cands = answerer.candidates(q, [], ps, embedder.embed([q])[0], _idf(ps))
    assert cands[0].text == "The bridge cost $40 million to build."
    assert cands[0].type_ok == 1.0
    assert all(c.type_ok == 0.0 for c in cands if "$" not in c.text and "two" not in c.text)


def _one(text: str, title: str = "Results") -> list[Passage]:
    ch = Chunk("w-0", "w", 0, 0, len(text), text, 30)
    return [Passage(ch, ArticleMeta("w", title), score=1.0, rank=1)]


def test_a_passage_missing_the_year_asked_about_is_weak_evidence(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    """RGB-style near miss: the passage is about the same event in another year."""
    q = "Who won the women's singles Wimbledon in 2019?"
    other_year = _one("Marketa Vondrousova won the women's singles Wimbledon title in 2023.")
    same_year = _one("Simona Halep won the women's singles Wimbledon title in 2019.")
    miss = answerer.candidates(q, [], other_year, embedder.embed([q])[0], _idf(other_year))[0]
    hit = answerer.candidates(q, [], same_year, embedder.embed([q])[0], _idf(same_year))[0]
    assert miss.numbers_ok == 0.0 and hit.numbers_ok == 1.0
    assert miss.score < 0.5 * hit.score
    ex = answerer.answer(q, [], other_year, embedder.embed([q])[0], _idf(other_year))
    assert ex.refused, ex.support
    # the year may come from the article's title rather than the sentence's passage
    titled = _one("Marketa Vondrousova won the women's singles title.", title="Wimbledon 2019")
    assert answerer.candidates(q, [], titled, embedder.embed([q])[0], _idf(titled))[0].numbers_ok == 1.0
    # "2,000" and "2000" are the same number
    assert answerer.candidates("Did 2,000 people attend?", [], _one("About 2000 people came."),
                               embedder.embed(["x"])[0], _idf(_one("About 2000 people came.")))[0].numbers_ok == 1.0


def test_embedding_cache_asks_the_model_only_for_new_texts_and_stays_bounded(embedder) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from index.embed import EmbeddingCache

    asked: list[list[str]] = []

    class Recording:
        name, dim = embedder.name, embedder.dim

        def embed(self, texts):  # type: ignore[no-untyped-def]
            asked.append(list(texts))
            return embedder.embed(texts)

    cache = EmbeddingCache(Recording(), size=2)
    v = cache.embed(["a cat", "a dog", "a cat"])
    assert asked == [["a cat", "a dog"]] and np.allclose(v[0], v[2])
    assert np.allclose(v, embedder.embed(["a cat", "a dog", "a cat"]), atol=1e-6)
    cache.embed(["a dog"])
    assert len(asked) == 1  # remembered
    cache.embed(["a bird"])  # evicts "a cat", the least recently used
    cache.embed(["a dog", "a cat"])
    assert asked[1:] == [["a bird"], ["a cat"]]
    assert cache.embed([]).shape == (0, embedder.dim)
