"""eval.gold_check: the checker every gold file is written against, and the committed files
themselves (the README says each passes it, and that no check question is asked in training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.gold import load_gold, normalise
from eval.gold_check import corpus_files, problems

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold"
BBC = (ROOT.parent / "shared" / "corpora" / "bbc-news" / "news").resolve()
CHECK = sorted(GOLD.glob("*check*.jsonl"))
TRAIN = sorted(set(GOLD.glob("*.jsonl")) - set(CHECK)) + [ROOT / "eval" / "gold.jsonl"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _case(i: str, **kw: object) -> dict:
    row = {"id": i, "kind": "single", "history": [], "question": f"What did Ana say {i}?",
           "answer": "a", "answerable": True, "must_include": [["harbour"]],
           "evidence": [{"doc": "a.txt", "quote": "Ana said the harbour would reopen."}]}
    row.update(kw)
    return row


def test_each_kind_of_problem_is_reported_and_a_sound_case_passes(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Ferry news\n\nAna said the harbour would "
                                               "reopen. It closed in May.", encoding="utf-8")
    rows = [
        _case("ok"),
        _case("kind", kind="trivia"),
        _case("fu", kind="followup"),
        _case("hist", history=["Who is Ana?"]),
        _case("dup", question="What did Ana say ok?"),
        _case("un", answerable=False, kind="unanswerable"),
        _case("doc", evidence=[{"doc": "b.txt", "quote": "x"}]),
        _case("quote", evidence=[{"doc": "a.txt", "quote": "Ana said the port would reopen."}]),
        _case("fact", must_include=[["May"]]),
        _case("bare", must_include=[]),  # (neither key facts nor evidence: load_gold refuses)
    ]
    cases = load_gold(_write(tmp_path / "g.jsonl", rows))
    found = problems(cases, corpus_files([tmp_path / "corpus"]))
    by_id: dict[str, list[str]] = {}
    for line in found:
        case_id, msg = line.split(": ", 1)
        by_id.setdefault(case_id, []).append(msg)
    assert "ok" not in by_id, by_id
    assert set(by_id) == {"kind", "fu", "hist", "dup", "un", "doc", "quote", "fact", "bare"}
    assert "same question and history as ok" in by_id["dup"]
    assert any("not a file of the corpus" in m for m in by_id["doc"])
    assert any("quote not found verbatim" in m for m in by_id["quote"])
    assert any("['May']" in m for m in by_id["fact"])
    assert by_id["bare"] == ["an answerable case needs at least one must_include group"]


def test_the_sample_gold_files_pass_the_checker() -> None:
    files = corpus_files([ROOT / "data" / "articles"])
    for path in sorted(GOLD.glob("sample_*.jsonl")):
        assert problems(load_gold(path), files) == [], path


def test_the_bbc_gold_files_pass_the_checker() -> None:
    if not BBC.is_dir():
        pytest.skip(f"the BBC corpus is not at {BBC} on this machine")
    files = corpus_files([BBC])
    paths = sorted(GOLD.glob("bbc_*.jsonl"))
    assert len(paths) >= 20
    for path in paths:
        assert problems(load_gold(path), files) == [], path


def test_no_check_question_is_asked_in_a_train_file() -> None:
    def keys(paths: list[Path]) -> dict[tuple[str, ...], str]:
        return {(*map(normalise, c.history), normalise(c.question)): f"{p.name}:{c.id}"
                for p in paths for c in load_gold(p)}

    assert CHECK and len(TRAIN) > len(CHECK)
    check, train = keys(CHECK), keys(TRAIN)
    shared = sorted(f"{check[k]} = {train[k]}" for k in check.keys() & train.keys())
    assert shared == []
