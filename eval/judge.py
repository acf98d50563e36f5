"""The optional LLM-judged correctness score: the configured model grades each answer against
the gold reference answer (`prompts/judge.txt`: CORRECT = 1, PARTIAL = 0.5, INCORRECT = 0).

It is reported in its own section of the results and report, never mixed into the judge-free
metrics. Only answerable cases are judged (refusing an unanswerable one is already measured
without a judge); a refused answer to an answerable case scores 0 without asking the model. A
reply that holds none of the three grades is not counted (None), and a model failure stops the
run with the `LLMError` (a judge that silently skips cases would bias the mean).

    >>> judge = LlmJudge.from_settings(Settings.from_env())         # doctest: +SKIP
    >>> run_eval(gold, corpus, settings, out, judge=judge)           # doctest: +SKIP
"""

from __future__ import annotations

import re

from eval.gold import GoldCase
from qa.citations import MARKER
from qa.llm import ChatModel, OpenAIChat, collect
from qa.prompts import Prompt, load_prompt
from qa.settings import Settings
from qa.types import Answer

GRADES = {"CORRECT": 1.0, "PARTIAL": 0.5, "INCORRECT": 0.0}
_GRADE = re.compile(r"\b(INCORRECT|PARTIAL|CORRECT)\b", re.IGNORECASE)
JUDGE_TOKENS = 8


def parse_grade(reply: str) -> float | None:
    """The first grade word in the model's reply, or None when it gave none."""
    m = _GRADE.search(reply)
    return GRADES[m.group(1).upper()] if m else None


class LlmJudge:
    """`judge(case, answer) -> float | None`; see the module docstring."""

    def __init__(self, model: ChatModel, prompt: Prompt | None = None) -> None:
        self.model = model
        self.prompt = prompt or load_prompt("judge")
        self.replies: dict[str, str] = {}  # case id -> the model's raw reply, for the record

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmJudge:
        return cls(OpenAIChat.from_settings(settings))

    def __call__(self, case: GoldCase, answer: Answer) -> float | None:
        if not case.answerable:
            return None
        if answer.refused or not answer.text.strip():
            return 0.0
        text = " ".join(MARKER.sub(" ", answer.text).split())
        msgs = self.prompt.messages(question=case.question, reference=case.answer, answer=text)
        reply = collect(self.model.stream(msgs, JUDGE_TOKENS)).text
        self.replies[case.id] = reply
        return parse_grade(reply)
