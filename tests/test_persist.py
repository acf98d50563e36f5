"""qa/persist.py: a typed answer turned into JSON and back is the same answer (the chat keeps its
conversation in the browser this way), and JSON of the wrong shape says what was wrong."""

from __future__ import annotations

import json

import pytest

from qa.persist import from_json, to_json
from qa.types import Answer


def test_an_answer_survives_json_both_ways(sample_bot) -> None:  # type: ignore[no-untyped-def]
    a = sample_bot.ask("Why did Lively drop the distress claim?")
    assert a.citations  # a real answer, with its citations
    back = from_json(Answer, json.loads(json.dumps(to_json(a))))
    assert back == a and type(back.citations[0]) is type(a.citations[0])


def test_json_of_the_wrong_shape_says_what_was_wrong() -> None:
    with pytest.raises(ValueError, match="Answer: expected an object"):
        from_json(Answer, [1, 2])
