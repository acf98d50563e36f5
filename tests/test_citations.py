"""Citations are verified, not trusted: marker parsing, renumbering, support checks, spans."""

from __future__ import annotations

import pytest

from qa.citations import (
    MODEL_REFUSAL,
    CitationVerifier,
    MarkerRenumberer,
    answer_sentences,
    is_refusal,
    renumber,
)
from qa.extractive import REFUSAL_TEXT
from qa.types import ArticleMeta, Chunk, Passage

ARTICLE = (
    "Blake Lively dropped her emotional distress claim against Justin Baldoni on Friday.\n"
    "Her lawyers said she withdrew it in good faith to streamline the dispute before trial.\n"
    "Baldoni is pursuing a $400 million countersuit against Lively and her husband.\n"
    "The trial is set to begin in March in New York."
)


def _sources() -> list[Passage]:
    meta = ArticleMeta(article_id="a1", title="Lively drops claim", source="Wire")
    lines = ARTICLE.split("\n")
    out, pos = [], 0
    for i, line in enumerate(lines):
        start = ARTICLE.index(line, pos)
        pos = start + len(line)
        chunk = Chunk(f"c{i}", "a1", i, start, pos, line, 0)
        out.append(Passage(chunk=chunk, article=meta, score=1.0 / (i + 1), rank=i + 1))
    return out


@pytest.fixture(scope="module")
def verifier(embedder) -> CitationVerifier:  # type: ignore[no-untyped-def]
    return CitationVerifier(embedder)


# -- markers ---------------------------------------------------------------------------------
def test_markers_renumbered_in_order_of_first_use() -> None:
    r = renumber("A is so [3]. B too [1, 3]. C as well [1][2].", 3)
    assert r.text == "A is so [1]. B too [2][1]. C as well [2][3]."
    assert r.order == (3, 1, 2)  # new [1] is sent source 3
    assert r.invalid == ()


def test_marker_variants_are_normalised() -> None:
    assert renumber("X [Source 2]. Y [sources 2,1]. Z [ 1 ].", 2).text == "X [1]. Y [1][2]. Z [2]."


def test_out_of_range_marker_is_removed_and_reported(verifier: CitationVerifier) -> None:
    r = renumber("Lively dropped the claim [7]. Baldoni countersued [2, 9].", 2)
    assert r.text == "Lively dropped the claim. Baldoni countersued [1]."
    assert r.invalid == (7, 9) and r.order == (2,)
    v = verifier.verify("Lively dropped the claim [7]. Baldoni countersued [2].", _sources()[:2])
    assert "[7]" not in v.text and len(v.citations) == 1
    assert any("[7]" in w and "1-2" in w for w in v.warnings)
    assert v.sentences[0].citations == () and not v.sentences[0].supported  # left uncited


def test_streamed_pieces_renumber_exactly_like_the_whole_text() -> None:
    text = "First [3]. Second [Source 1, 3] and [9] more [2].\nLast [1][2]."
    whole = renumber(text, 3).text
    for size in (1, 2, 3, 5, 7):
        r = MarkerRenumberer(3)
        pieces = [r.feed(text[i:i + size]) for i in range(0, len(text), size)]
        assert ("".join(pieces) + r.flush()).strip() == whole, size


def test_a_marker_after_the_full_stop_belongs_to_its_sentence() -> None:
    sents = answer_sentences("Lively dropped the claim. [1] Baldoni countersued [2]. Trial in March.")
    assert sents == [("Lively dropped the claim. [1]", (1,)),
                     ("Baldoni countersued [2].", (2,)),
                     ("Trial in March.", ())]


def test_refusal_sentence_detection() -> None:
    assert is_refusal(MODEL_REFUSAL) and REFUSAL_TEXT.startswith(MODEL_REFUSAL)
    assert is_refusal("The articles don\u2019t say.")  # curly apostrophe
    assert is_refusal("The articles don't say [1].")  # a stray marker does not change it
    assert all(is_refusal(s) for s, _ in answer_sentences(REFUSAL_TEXT))
    assert not is_refusal("The articles say Lively dropped the claim.")


def test_a_claim_that_starts_like_the_refusal_is_still_checked(verifier: CitationVerifier) -> None:
    # regression: SmolLM2 wrote "The articles don't say that the article is a lie, but the
    # way [1]." and the sentence escaped the support check because it began like the refusal
    v = verifier.verify("The articles don't say that the article is a lie, but the way [1].",
                        _sources())
    assert not v.refused and len(v.sentences) == 1
    assert not v.sentences[0].supported


# -- support and quotes ----------------------------------------------------------------------
def test_supported_claims_get_the_best_sentence_as_an_exact_quote(verifier: CitationVerifier) -> None:
    srcs = _sources()
    v = verifier.verify(
        "Lively withdrew her emotional distress claim in good faith to streamline the dispute "
        "[2][1]. Baldoni is pursuing a $400 million countersuit [3].", srcs)
    assert v.text.endswith("[1][2]. Baldoni is pursuing a $400 million countersuit [3].")
    assert [c.number for c in v.citations] == [1, 2, 3]
    assert [c.chunk_id for c in v.citations] == ["c1", "c0", "c2"]  # renumbered [2] -> [1]
    for c in v.citations:
        assert c.quote == ARTICLE[c.start:c.end]
        assert c.article.article_id == "a1" and c.support > 0
    assert all(s.supported for s in v.sentences), v.sentences
    assert not v.refused and v.warnings == ()


def test_unsupported_and_uncited_sentences_are_flagged(verifier: CitationVerifier) -> None:
    v = verifier.verify(
        "Lively dropped her emotional distress claim against Baldoni [1]. "
        "Baldoni won an Oscar for Titanic in 1998 [1]. The weather was sunny.", _sources())
    by_text = {s.text: s for s in v.sentences}
    good = by_text["Lively dropped her emotional distress claim against Baldoni [1]."]
    oscar = by_text["Baldoni won an Oscar for Titanic in 1998 [1]."]
    sunny = by_text["The weather was sunny."]
    assert good.supported and good.support >= verifier.threshold
    assert not oscar.supported and oscar.support < verifier.threshold
    assert not sunny.supported and sunny.citations == () and sunny.support == 0.0


def test_a_number_the_sources_never_state_lowers_support(verifier: CitationVerifier) -> None:
    right = verifier.verify("Baldoni is pursuing a $400 million countersuit [3].", _sources())
    wrong = verifier.verify("Baldoni is pursuing a $900 million countersuit [3].", _sources())
    assert right.sentences[0].supported
    assert wrong.sentences[0].support < right.sentences[0].support * 0.6
    assert not wrong.sentences[0].supported


def test_the_refusal_sentence_alone_means_refused(verifier: CitationVerifier) -> None:
    v = verifier.verify("The articles don't say.", _sources())
    assert v.refused and v.citations == () and v.sentences == ()
    assert verifier.verify("", _sources()).refused  # an empty reply answers nothing
    hedged = verifier.verify("The articles don't say. Lively dropped the claim [1].",
                             _sources())
    assert not hedged.refused and len(hedged.citations) == 1
    assert [s.text for s in hedged.sentences] == ["Lively dropped the claim [1]."]
