"""The trust invariant, over every gold question: each citation quotes its article exactly.

For every answer to every question of eval/gold.jsonl (asked with its history) over the sample
articles: each citation's quote is `article_text[start:end]` of the stored text and lies inside
the chunk it names; each [n] marker resolves to citations[n-1]; citations are numbered 1..N in
order of first use; an answer is either refused (no citations) or has at least one citation.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from qa.extractive import REFUSAL_TEXT
from qa.types import Answer
from tests.conftest import GOLD

MARKER = re.compile(r"\[(\d+)\]")


def gold_cases() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert rows, f"{GOLD} is empty"
    return rows


CASES = gold_cases()


def check_answer(bot: Any, ans: Answer) -> None:
    """Raise AssertionError on any broken citation invariant of `ans`."""
    if ans.refused:
        assert ans.citations == ()
        assert MARKER.search(ans.text) is None
        return
    assert ans.citations, f"an answer that is not refused must cite: {ans.text!r}"
    numbers = [c.number for c in ans.citations]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    first_use: list[int] = []
    for m in MARKER.finditer(ans.text):
        n = int(m.group(1))
        assert 1 <= n <= len(ans.citations), f"[{n}] does not resolve: {ans.text!r}"
        if n not in first_use:
            first_use.append(n)
    assert first_use == numbers, f"citations not numbered in order of first use: {first_use}"
    chunks = bot.store.chunks_by_id(sorted({c.chunk_id for c in ans.citations}))
    for c in ans.citations:
        text = bot.article_text(c.article.article_id)
        assert 0 <= c.start < c.end <= len(text)
        assert c.quote == text[c.start : c.end], (c.quote, text[c.start : c.end])
        assert c.quote.strip() == c.quote and c.quote
        chunk = chunks.get(c.chunk_id)
        assert chunk is not None, f"citation {c.number} names an unknown chunk {c.chunk_id}"
        assert chunk.article_id == c.article.article_id
        assert chunk.start <= c.start and c.end <= chunk.end, "a quote outside its chunk"
        assert c.quote in chunk.text


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_every_citation_quotes_its_article_exactly(sample_bot: Any, case: dict[str, Any]) -> None:
    ans = sample_bot.ask(case["question"], case.get("history") or [])
    check_answer(sample_bot, ans)
    if ans.refused:
        assert ans.text == REFUSAL_TEXT


@pytest.mark.parametrize("case", CASES[:6], ids=[c["id"] for c in CASES[:6]])
def test_streamed_pieces_are_the_answer_text(sample_bot: Any, case: dict[str, Any]) -> None:
    pieces: list[str] = []
    final: Answer | None = None
    for item in sample_bot.stream(case["question"], case.get("history") or []):
        if isinstance(item, Answer):
            final = item
        else:
            pieces.append(item)
    assert final is not None
    assert "".join(pieces) == final.text
    check_answer(sample_bot, final)


def test_scoped_answers_cite_only_the_scope(sample_bot: Any) -> None:
    infos = sample_bot.articles()
    for info in infos:
        ans = sample_bot.ask("What did Baldoni's lawyer say?", articles=[info.meta.article_id])
        check_answer(sample_bot, ans)
        assert {c.article.article_id for c in ans.citations} <= {info.meta.article_id}
        assert {p.article.article_id for p in ans.passages} <= {info.meta.article_id}


def test_the_gold_set_has_both_kinds() -> None:
    assert any(c["answerable"] for c in CASES) and any(not c["answerable"] for c in CASES)
    assert any(c.get("history") for c in CASES), "follow-up questions are part of the set"
