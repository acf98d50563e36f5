"""Expected answer types: exact expectations on small sentences."""

import pytest

from qa.answer_type import expected_type, type_match


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Who is Baldoni's lawyer?", "person"),
        ("Whom did Baldoni countersue?", "person"),
        ("When is the trial scheduled to begin?", "time"),
        ("What year was the film released?", "time"),
        ("How much is Baldoni's countersuit for?", "quantity"),
        ("How many lawsuits are pending?", "quantity"),
        ("What box office gross did It Ends With Us earn?", "quantity"),
        ("Where was the film shot?", "place"),
        ("Why did Lively drop the distress claim?", "reason"),
        ("And why did she do that?", "reason"),
        ("What did Freedman call the Vanzan lawsuit?", ""),
    ],
)
def test_expected_type(question: str, kind: str) -> None:
    assert expected_type(question) == kind


def test_person_needs_a_new_multiword_name() -> None:
    q = "Who is the judge presiding over the case?"
    assert type_match("person", "U.S. District Judge Lewis Liman issued the ruling.", q) == 1.0
    # "Because Lively" is a capitalised sentence start, not a name
    assert type_match("person", "Because Lively's case depends on it, I expect the judge to act.", q) == 0.0
    # a name the question already holds is not an answer to it
    q2 = "Who hired Bryan Freedman?"
    assert type_match("person", "Bryan Freedman spoke to reporters.", q2) == 0.0


def test_time_quantity_reason_place() -> None:
    assert type_match("time", "The hearing is set for March 3.", "") == 1.0
    assert type_match("time", "It may go all the way to trial.", "") == 0.0
    assert type_match("quantity", "He sued for $400 million.", "") == 1.0
    assert type_match("quantity", "Six lawsuits are pending.", "") == 1.0
    # a year is a date, not an amount
    assert type_match("quantity", "It is based on the 2016 bestseller and was a hit.", "") == 0.0
    assert type_match("reason", "She dropped it because it was no longer necessary.", "") == 1.0
    assert type_match("reason", "She dropped it in 'good faith to streamline the dispute'.", "") == 1.0
    assert type_match("reason", "Blake Lively has revealed why she chose to drop her claim.", "") == 0.0
    assert type_match("place", "The case is in U.S. District Court.", "") == 1.0
    assert type_match("", "anything", "") == 1.0


def test_a_time_word_alone_is_not_a_stated_reason() -> None:
    q = "Why did Lively drop the distress claim?"
    assert type_match("reason", "Baldoni could face the claims again, after the actress asked.", q) == 0.0
    assert type_match("reason", "She withdrew it following the demand for her records.", q) == 1.0
