"""Follow-ups are retrieved with the earlier turn they lean on; new topics are not."""

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
