"""The optional LLM-judged correctness score.

Our logic around the model (which cases are judged, markers stripped, grades parsed) is checked
with a scripted fake model; `qa eval --judge` is run end to end against llama.cpp on loopback,
grammar-constrained to reply with a grade word (the protocol, not the judging quality).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli import main as qa_main
from eval.gold import load_gold
from eval.harness import load_results
from eval.judge import LlmJudge, parse_grade
from qa.types import Answer
from tests.test_eval_harness import GOLD, write_tiny
from tests.test_injection import ScriptedModel as Scripted
from tests.test_llm_server import LlamaServer


@pytest.mark.parametrize("reply, grade", [
    ("CORRECT", 1.0), ("correct.", 1.0), ("PARTIAL", 0.5), ("INCORRECT", 0.0),
    ("Grade: incorrect - it misses the point", 0.0), ("I think it is fine", None), ("", None),
])
def test_parse_grade(reply: str, grade: float | None) -> None:
    assert parse_grade(reply) == grade


def _gold(tmp_path: Path) -> list[Any]:
    return load_gold(write_tiny(tmp_path)[0])


def _answer(text: str, refused: bool = False) -> Answer:
    return Answer(question="q", text=text, citations=(), refused=refused, mode="extractive")


def test_judge_grades_answerable_cases_only_and_never_asks_about_refusals(tmp_path: Path) -> None:
    bridge, _, volcano = _gold(tmp_path)
    fake = Scripted("PARTIAL")
    judge = LlmJudge(fake)
    assert judge(volcano, _answer("Anything [1]")) is None  # refusal metrics cover these
    assert judge(bridge, _answer("The articles don't say.", refused=True)) == 0.0
    assert fake.calls == []
    assert judge(bridge, _answer("The repairs cost 42 million euros. [1][2]")) == 0.5
    user = fake.calls[0][-1]["content"]
    assert "Answer to grade: The repairs cost 42 million euros." in user  # markers stripped
    assert "Reference answer: 42 million euros." in user
    assert "How much did the harbour bridge repairs cost?" in user
    assert judge.replies["bridge-cost"] == "PARTIAL"
    assert LlmJudge(Scripted("no idea"))(bridge, _answer("42 million euros [1]")) is None


def test_judge_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps(GOLD[0]) + "\n", encoding="utf-8")
    assert qa_main(["eval", "--gold", str(gold), "--corpus", str(tmp_path), "--judge"]) == 1
    assert "--judge needs a language model" in capsys.readouterr().err


def test_qa_eval_judge_against_a_real_server(tmp_path: Path, embedder: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from qa import api

    monkeypatch.setattr(api, "make_embedder", lambda *a, **k: embedder)
    gold, corpus = write_tiny(tmp_path)
    server = LlamaServer(tmp_path, grammar='root ::= "CORRECT"')
    try:
        code = qa_main(["eval", "--gold", str(gold), "--corpus", str(corpus), "--out",
                        str(tmp_path / "run"), "--mode", "extractive", "--judge", "--base-url",
                        server.url, "--model", "smollm2", "--no-plots", "--threshold", "0.15"])
    finally:
        server.stop()
    assert code == 0
    data = load_results(tmp_path / "run")
    j = data["judged"]
    answered = [c for c in data["cases"].values() if c["answerable"] and not c["refused"]]
    assert j["n"] == 2 and j["mean"] == len(answered) / 2  # refused answerable cases score 0
    assert "smollm2 (prompt judge " in j["judge"]
    assert data["cases"]["volcano"]["judged"] is None
    # judge-free numbers unaffected: right when answerable cases are answered, volcano refused
    right = [c["refused"] != c["answerable"] for c in data["cases"].values()]
    assert data["summary"]["refusal_correct"]["mean"] == round(sum(right) / len(right), 4)
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "## LLM-judged correctness (separate; not a judge-free metric)" in report
