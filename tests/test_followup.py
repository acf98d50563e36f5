"""Follow-ups are retrieved with the earlier turn they lean on; new topics are not."""

from typing import Any

import pytest

from qa.cross import TURN_WORDS, CrossEncoder, query_text
from qa.followup import context_turns, leans_on_history, retrieval_query


def test_pronoun_follow_up_takes_the_last_turn() -> None:
    q = "What did he say about the Vanzan lawsuit?"
    assert leans_on_history(q)
    assert retrieval_query(q, ["Who is Baldoni's lawyer?"]) == (
        "Who is Baldoni's lawyer? What did he say about the Vanzan lawsuit?"
    )


def test_leading_and_is_a_follow_up() -> None:
    assert context_turns("And the judge?", ["Why did Lively drop the claim?"]) == [
        "Why did Lively drop the claim?"
    ]


def test_self_contained_question_is_retrieved_alone() -> None:
    q = "How many lawsuits are pending in connection with the film?"
    assert not leans_on_history(q)
    assert retrieval_query(q, ["Who is Baldoni's lawyer?"]) == q


def test_at_most_two_earlier_turns() -> None:
    assert context_turns("Why?", ["a1", "a2", "a3"]) == ["a2", "a3"]
    assert context_turns("Why?", []) == []


# -- what the cross-encoder reads a follow-up after (Assistant.referent) ----------------------

EARLIER = "Why did Lively drop the distress claim?"


def test_a_follow_up_is_read_after_the_sentence_its_earlier_turn_is_answered_with(
        sample_bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lead = sample_bot.ask(EARLIER).citations[0].quote
    follow = "And when did she say so?"
    assert sample_bot.referent(context_turns(follow, [EARLIER]), [EARLIER]) == lead
    read: list[str] = []
    cross = CrossEncoder.shared()
    real = cross.logits
    monkeypatch.setattr(cross, "logits", lambda q, s: (read.append(q), real(q, s))[1])
    sample_bot.ask(follow, [EARLIER])
    # the earlier turn is answered first (its own question read alone), then the follow-up
    # after that answer's lead sentence, cut to TURN_WORDS words, not after the earlier question
    assert read[-1] == query_text(follow, [lead]) and EARLIER not in read[-1]
    assert read[-1].startswith(" ".join(lead.split()[:TURN_WORDS]))


def test_a_question_of_its_own_or_after_a_refused_turn_has_no_referent(sample_bot: Any) -> None:
    standalone = "Which judge denied Baldoni's motion?"
    assert sample_bot.referent(context_turns(standalone, [EARLIER]), [EARLIER]) == ""
    off = "What is the boiling point of mercury?"
    assert sample_bot.ask(off).refused
    follow = "And what is it at sea level?"
    assert context_turns(follow, [off]) == [off]
    assert sample_bot.referent(context_turns(follow, [off]), [off]) == ""


def test_an_earlier_turn_is_read_cut_and_the_question_whole() -> None:
    long_turn = " ".join(f"w{i}" for i in range(3 * TURN_WORDS))
    q = "How old is he?"
    text = query_text(q, ["first turn", long_turn])
    assert text == " ".join([*long_turn.split()[:TURN_WORDS], q])
    assert query_text(q) == q
