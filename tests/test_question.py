"""What a question asks (qa/question.py): the kind of answer, its subject and focus, fillers."""

import pytest

from qa.question import analyse, bound, expected_kind, filler_values, has_filler


@pytest.mark.parametrize(("question", "kind"), [
    ("Who is Guy Mansfield?", "define"),
    ("How old is the chairman?", "age"),
    ("How much did the takeover cost?", "money"),
    ("By how much did sales rise?", "percent"),
    ("How many jobs will go?", "count"),
    ("When will the trial start?", "time"),
    ("Who replaced the coach?", "person"),
    ("Which company bought the brewer?", "org"),
    ("Where was the summit held?", "place"),
    ("Why did the minister resign?", "reason"),
    ("How did the club raise the money?", "manner"),
    ("Tell me about the merger.", ""),
])
def test_the_expected_kind_of_answer(question: str, kind: str) -> None:
    assert expected_kind(question) == kind


def test_subject_focus_and_a_follow_up() -> None:
    q = analyse("How old is Malcolm Glazer?")
    assert q.subject == ("malcolm", "glazer") and "old" in q.focus and not q.follow_up
    f = analyse("How old is he?", ["Who is Malcolm Glazer?"])
    assert f.follow_up and f.history_subject == ("malcolm", "glazer") and f.subject == ()
    assert not analyse("How old is he?").follow_up  # no earlier turn to lean on


def test_a_filler_is_an_answer_the_question_does_not_already_state() -> None:
    q = analyse("How much did Fiat pay in 2004?")
    assert filler_values(q, "Fiat paid £1.3bn to settle.") == {"£1.3bn"}
    assert not has_filler(analyse("How old is Malcolm Glazer?"), "Mr Glazer owns a club.")
    assert has_filler(analyse("Who is Guy Mansfield?"),
                      "The chairman of the Bar Council, Guy Mansfield, said it was unfair.")
    assert has_filler(analyse("Why did the talks fail?"), "They failed because of the price.")


def test_an_age_is_bound_to_the_asked_name_only_when_it_stands_next_to_it() -> None:
    q = analyse("How old is Bernard Ebbers?")
    assert bound(q, "Mr Ebbers, 63, denies the charges.")
    assert not bound(q, "Mr Sullivan, 42, a former colleague, spoke at the long and "
                        "winding trial of the telecoms group's founder Mr Ebbers.")



@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("How many goals has he scored, and which club wants him?",
         ["How many goals has he scored?", "Which club wants him?"]),
        ("Who leads the party and what does she plan?", ["Who leads the party?", "What does she plan?"]),
        ("What did the board decide, and did the chairman resign?",
         ["What did the board decide?", "Did the chairman resign?"]),
        # one question: "and" inside it, or a part too short to stand as a question
        ("When did the band play in Paris and in Rome?", None),
        ("Where and when was the treaty signed?", None),
        ("When did she leave the company, and why?", None),
        ("Who is the chairman?", None),
    ],
)
def test_a_question_that_asks_two_things_is_split(question: str, parts: list[str] | None) -> None:
    from qa.question import split_parts

    assert split_parts(question) == (parts or [question])
