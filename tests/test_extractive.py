"""The extractive answerer on small synthetic passages, with the real embedding model and the
shipped answer scorer (qa/models/reader.json)."""

import re

import numpy as np
import pytest

from index.terms import terms_of
from qa.cross import CrossEncoder, query_text
from qa.extractive import DIFFER_TEXT, JOINER, REFUSAL_TEXT, ExtractiveAnswerer, IdfTable, Scored
from qa.question import analyse
from qa.reader import LEXICAL, Candidate, Reader
from qa.types import ArticleMeta, Chunk, Passage

TEXT_A = (
    "The mayor opened the new bridge on Tuesday. "
    "The bridge cost $40 million to build. "
    "Critics said the money should have gone to schools."
)
TEXT_B = "The river floods every spring. Engineers raised the bridge deck by two metres."


def _passages() -> list[Passage]:
    """Two retrieved passages, with the scores retrieval gives them (the scorer reads them)."""
    out = []
    for rank, (aid, text) in enumerate((("a", TEXT_A), ("b", TEXT_B)), 1):
        ch = Chunk(f"{aid}-0", aid, 0, 0, len(text), text, 30)
        out.append(Passage(ch, ArticleMeta(aid, f"Article {aid}"), score=1.0 / rank, rank=rank,
                           dense_score=0.7 / rank, bm25_score=6.0 / rank))
    return out


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.load()


@pytest.fixture()
def answerer(embedder, reader):  # type: ignore[no-untyped-def]
    return ExtractiveAnswerer(embedder, reader, max_sentences=3)


class _Counts:
    """Document counts over the passages: the part of a lexical index the IDF table reads."""

    def __init__(self, passages: list[Passage]) -> None:
        self.docs = [set(terms_of(p.chunk.text)) for p in passages]

    def top(self, *a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("the answerer does not search")

    def doc_freqs(self, terms):  # type: ignore[no-untyped-def]
        return {t: sum(t in d for d in self.docs) for t in terms}

    def n_docs(self) -> int:
        return len(self.docs)


def _idf(passages: list[Passage]):  # type: ignore[no-untyped-def]
    return IdfTable(_Counts(passages), "g").idf


def _ask(answerer, embedder, q, ps, **kw):  # type: ignore[no-untyped-def]
    return answerer.answer(q, [], ps, embedder.embed([q])[0], _idf(ps), **kw)


def test_answers_with_verbatim_cited_sentences(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ps = _passages()
    ex = _ask(answerer, embedder, "How much did the bridge cost?", ps)
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
    # the support is the reader's probability for the cited sentence, above the threshold
    assert ex.support == pytest.approx(ex.citations[0].support, abs=1e-4)
    assert ex.support >= answerer.threshold


def test_refuses_when_the_passages_do_not_support_it(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ex = _ask(answerer, embedder, "What is the capital of France?", _passages())
    assert ex.refused
    assert ex.text == REFUSAL_TEXT and ex.pieces() == [REFUSAL_TEXT]
    assert ex.citations == ()
    assert ex.support < answerer.threshold


def test_a_near_miss_is_refused(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    """The subject is there (the bridge, the mayor), the asked fact (his age) is not."""
    ex = _ask(answerer, embedder, "How old is the mayor who opened the bridge?", _passages())
    assert ex.refused, ex.text


def test_the_threshold_can_be_overridden_per_question(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ps = _passages()
    q = "What is the capital of France?"
    forced = _ask(answerer, embedder, q, ps, threshold=0.0)
    assert not forced.refused and forced.citations  # the best it has, however weak
    strict = _ask(answerer, embedder, "How much did the bridge cost?", ps, threshold=1.0)
    assert strict.refused


def test_no_passages_is_a_refusal(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    ex = answerer.answer("Anything?", [], [], embedder.embed(["Anything?"])[0], _idf(_passages()))
    assert ex.refused and ex.support == 0.0


def test_only_the_shortlist_is_embedded_and_scored(embedder, reader) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []

    class Recording:
        name, dim = embedder.name, embedder.dim

        def embed(self, texts):  # type: ignore[no-untyped-def]
            asked.extend(texts)
            return embedder.embed(texts)

    many = " ".join(f"Item {i} of the list was sold on day {i} of the fair." for i in range(30))
    ch = Chunk("m-0", "m", 0, 0, len(many), many, 300)
    ps = [Passage(ch, ArticleMeta("m", "Fair"), score=1.0, rank=1)]
    ans = ExtractiveAnswerer(Recording(), reader)
    s = ans.score("When was item 7 sold?", [], ps, embedder.embed(["When was item 7 sold?"])[0],
                  _idf(ps))
    assert len(s.candidates) == 30
    assert len(s.shortlist) == reader.top_m == int((s.probs > 0).sum())
    # the shortlist and nothing else: the question's vector is the one retrieval made
    assert len(asked) == reader.top_m
    # a follow-up's question alone differs from what was retrieved with: it is embedded; the
    # sentences already scored are remembered
    asked.clear()
    ans.score("And item 9?", ["When was item 7 sold?"], ps, embedder.embed(["x"])[0], _idf(ps))
    assert asked[-1] == "And item 9?" and len(asked) <= reader.top_m + 1


def test_a_two_part_question_gets_a_cited_answer_to_each_part(answerer, embedder) -> None:  # type: ignore[no-untyped-def]
    """Each part is answered by its own best sentence (the second read as a follow-up of the
    first); asked whole, neither sentence answers enough of it. A part the passages do not
    answer sends the question back to being answered whole."""
    ps = _passages()
    q = "How much did the bridge cost, and how far did engineers raise the deck?"
    ex = _ask(answerer, embedder, q, ps)
    assert not ex.refused
    assert [c.quote for c in ex.citations] == ["The bridge cost $40 million to build.",
                                              "Engineers raised the bridge deck by two metres."]
    assert ex.text == JOINER.join(f"{c.quote} [{c.number}]" for c in ex.citations)
    assert ex.support == pytest.approx(min(c.support for c in ex.citations), abs=1e-4)
    assert ex.scored is not None and ex.scored.question.text == "How much did the bridge cost?"
    half_q = "How much did the bridge cost, and who is the mayor married to?"
    half = _ask(answerer, embedder, half_q, ps)
    assert half.scored is not None and half.scored.question.text == half_q  # answered whole


def test_a_part_is_read_after_the_part_before_only_when_it_leans_on_it(
        answerer, embedder, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """As a follow-up turn is (Assistant.referent): "who opened it?" after the sentence the cost
    is answered with; "how far did engineers raise the deck?" alone (read after the cost
    question, it looked like a follow-up of it and fell under the threshold)."""
    cross = CrossEncoder.shared()
    real = cross.logits
    read: list[str] = []
    monkeypatch.setattr(cross, "logits", lambda q, s: (read.append(q), real(q, s))[1])
    ps = _passages()
    _ask(answerer, embedder, "How much did the bridge cost, and who opened it?", ps)
    assert read[:2] == ["How much did the bridge cost?",
                        query_text("Who opened it?", ["The bridge cost $40 million to build."])]
    read.clear()
    _ask(answerer, embedder,
         "How much did the bridge cost, and how far did engineers raise the deck?", ps)
    assert read[:2] == ["How much did the bridge cost?", "How far did engineers raise the deck?"]
    # asked as a follow-up, the first part is read after what the caller says the turn before
    # was answered with (Assistant.referent), as a whole question would be
    read.clear()
    q = "How much did it cost, and how far did engineers raise the deck?"
    answerer.answer(q, ["Which bridge did the mayor open?"], ps, embedder.embed([q])[0], _idf(ps),
                    referent="The mayor opened the new bridge on Tuesday.")
    assert read[0] == query_text("How much did it cost?",
                                 ["The mayor opened the new bridge on Tuesday."])


def _one(text: str, title: str = "Results") -> list[Passage]:
    ch = Chunk("w-0", "w", 0, 0, len(text), text, 30)
    return [Passage(ch, ArticleMeta("w", title), score=1.0, rank=1)]


def _row(answerer, question, passages):  # type: ignore[no-untyped-def]
    cands, pos = answerer.candidates(passages)
    from qa.reader import features

    x = features(analyse(question), cands, _idf(passages), pos)
    return {name: float(x[0, i]) for i, name in enumerate(LEXICAL)}


def test_features_see_the_answer_kind_and_the_asked_numbers(answerer) -> None:  # type: ignore[no-untyped-def]
    money = _row(answerer, "How much did the bridge cost?",
                 _one("The bridge cost $40 million to build."))
    assert money["filler_money"] == 1.0 and money["kind_money"] == 1.0
    restated = _row(answerer, "How much did the bridge cost?",
                    _one("Everyone asked how much the bridge would cost."))
    assert restated["filler_money"] == 0.0
    # RGB-style near miss: the passage is about the same event in another year
    q = "Who won the women's singles Wimbledon in 2019?"
    assert _row(answerer, q, _one("Marketa Vondrousova won the singles title in 2023."))[
        "numbers_ok"] == 0.0
    assert _row(answerer, q, _one("Simona Halep won the singles title in 2019."))["numbers_ok"] == 1.0
    # "2,000" and "2000" are the same number
    assert _row(answerer, "Did 2,000 people attend?", _one("About 2000 people came to it."))[
        "numbers_ok"] == 1.0


def _scored(question: str, texts: list[tuple[str, str]], probs: list[float]) -> Scored:
    cands = []
    for i, (aid, text) in enumerate(texts):
        ch = Chunk(f"{aid}-{i}", aid, 0, 0, len(text), text, 20)
        p = Passage(ch, ArticleMeta(aid, f"Article {aid}"), score=1.0, rank=i + 1)
        cands.append(Candidate(p, 0, len(text), text))
    n = len(cands)
    return Scored(analyse(question), tuple(cands), np.zeros((n, len(LEXICAL)), np.float32),
                  np.asarray(probs, np.float32), np.zeros((n, 1), np.float32), np.arange(n),
                  np.zeros(384, np.float32))


def test_a_further_sentence_only_when_it_adds_a_fact(answerer) -> None:  # type: ignore[no-untyped-def]
    q = "When will the new stadium open?"
    same = _scored(q, [("a", "The new stadium will open in March 2006."),
                       ("a", "The new stadium will open in March 2006, officials said again."),
                       ("a", "Fans are looking forward to the new stadium.")], [0.9, 0.85, 0.8])
    chosen, differ = answerer._choose(same, [0, 1, 2], 0.3)
    assert chosen == [0] and not differ  # a repeat and a sentence with no date add nothing


def test_two_articles_giving_different_values_are_both_given(answerer) -> None:  # type: ignore[no-untyped-def]
    q = "When will the new stadium open?"
    s = _scored(q, [("a", "The new stadium will open in August 2006."),
                    ("b", "The new stadium will now open in March 2007 after delays.")], [0.9, 0.7])
    chosen, differ = answerer._choose(s, [0, 1], 0.3)
    assert chosen == [0, 1] and differ
    # a second value too unlikely on its own is left out
    weak = _scored(q, [("a", "The new stadium will open in August 2006."),
                       ("b", "The new stadium will now open in March 2007 after delays.")],
                   [0.9, 0.2])
    assert answerer._choose(weak, [0, 1], 0.3) == ([0], False)


def test_the_differ_answer_declares_its_opening(answerer) -> None:  # type: ignore[no-untyped-def]
    from qa.extractive import Extract
    from qa.types import Citation

    cites = tuple(Citation(number=n, article=ArticleMeta(a, a), chunk_id=f"{a}-0", start=0,
                           end=len(t), quote=t, score=1.0, support=0.9)
                  for n, (a, t) in enumerate((("a", "It opens in 2006."), ("b", "It opens in 2007.")), 1))
    ex = Extract(f"{DIFFER_TEXT} It opens in 2006. [1] It opens in 2007. [2]", cites, False, 0.9,
                 differ=True)
    assert "".join(ex.pieces()) == ex.text


def test_embedding_cache_asks_the_model_only_for_new_texts_and_stays_bounded(embedder) -> None:  # type: ignore[no-untyped-def]
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
