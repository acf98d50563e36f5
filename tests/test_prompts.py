"""The prompt loader: named variables, fails on missing/unused ones, records name + hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qa.errors import ConfigError
from qa.prompts import Prompt, load_prompt, prompt_hash, prompts_dir


def test_shipped_prompts_load_with_their_variables_and_hash() -> None:
    answer = load_prompt("answer")
    condense = load_prompt("condense")
    assert answer.name == "answer" and condense.name == "condense"
    assert answer.variables == {"sources", "question", "refusal", "max_sentences"}
    assert condense.variables == {"history", "question"}
    text = (prompts_dir() / "answer.txt").read_text(encoding="utf-8")
    assert answer.hash == hashlib.sha256(text.encode()).hexdigest()[:12] == prompt_hash(text)
    assert len(answer.hash) == 12


def test_messages_split_by_role_and_fill_every_variable() -> None:
    msgs = load_prompt("answer").messages(sources="<source id=\"1\">x</source>", question="Q?",
                                          refusal="The articles don't say.", max_sentences=3)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "Q?" in msgs[1]["content"] and "<source id=\"1\">x</source>" in msgs[1]["content"]
    assert "The articles don't say." in msgs[0]["content"]
    assert "{" not in msgs[0]["content"].replace("{{", "")  # no placeholder left unfilled


def test_missing_variable_fails_naming_it() -> None:
    with pytest.raises(ConfigError, match="needs the variable.*history"):
        load_prompt("condense").messages(question="Why?")


def test_unused_variable_fails_naming_it() -> None:
    with pytest.raises(ConfigError, match="does not use the variable.*style"):
        load_prompt("condense").render(history="- a", question="b", style="pirate")


def test_literal_braces_and_plain_text_prompt(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("Reply in JSON like {{\"a\": 1}} about {topic}.\n")
    p = load_prompt("p", tmp_path)
    assert p.render(topic="cats") == 'Reply in JSON like {"a": 1} about cats.\n'
    assert p.messages(topic="cats") == [
        {"role": "user", "content": 'Reply in JSON like {"a": 1} about cats.'}
    ]


@pytest.mark.parametrize("bad", ["Hello {}", "Hello {0}", "Hello {a.b}", "Hello {a!r}",
                                 "Hello {a:>10}", "Hello {unclosed"])
def test_placeholders_other_than_plain_names_are_rejected(bad: str) -> None:
    with pytest.raises(ConfigError):
        Prompt.from_text("bad", bad)


def test_text_before_the_first_role_line_is_rejected() -> None:
    with pytest.raises(ConfigError, match="must start with"):
        Prompt.from_text("bad", "stray words\n[system]\nx\n[user]\n{q}\n")


def test_missing_prompt_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        load_prompt("nope", tmp_path)


def test_a_wording_change_changes_the_hash() -> None:
    assert Prompt.from_text("a", "Answer {q}.").hash != Prompt.from_text("a", "Answer {q}!").hash
