"""Token budgets: the model table, costs, and best-first packing cut at sentence boundaries."""

from __future__ import annotations

import pytest

from index.chunk import split_sentences
from qa.budget import (
    DEFAULT_CONTEXT_WINDOW,
    TokenBudget,
    estimate_cost,
    model_info,
)
from qa.errors import ConfigError
from qa.types import ArticleMeta, Chunk, Passage

ARTICLE = (
    "The council met on Monday. It approved the new bridge. Work starts in May.\n"
    "The mayor praised the vote. Critics said the cost was too high. The bridge costs $40M.\n"
    "Short one."
)


def _passage(i: int, start: int, end: int, rank: int) -> Passage:
    meta = ArticleMeta(article_id="a1", title="Bridge vote")
    chunk = Chunk(f"c{i}", "a1", i, start, end, ARTICLE[start:end], 0)
    return Passage(chunk=chunk, article=meta, score=1.0 / rank, rank=rank)


def _render(n: int, p: Passage) -> str:
    return f'<source id="{n}">\n{p.chunk.text}\n</source>'


def test_known_models_snapshots_and_unknown_models() -> None:
    assert model_info("gpt-4o-mini").context_window == 128_000
    assert model_info("gpt-4o-mini-2024-07-18") == model_info("gpt-4o-mini")  # longest prefix
    assert model_info("gpt-4o-2024-08-06").input_usd_per_m == 2.50
    assert model_info("gpt-3.5-turbo").context_window == 16_385
    assert model_info("gpt-4.1-mini").output_usd_per_m == 1.60
    local = model_info("smollm2-135m")
    assert local.context_window == DEFAULT_CONTEXT_WINDOW == 8192
    assert local.input_usd_per_m is None
    assert model_info("smollm2-135m", 2048).context_window == 2048
    assert model_info("gpt-4o", 4000).context_window == 4000  # the setting wins


def test_cost_at_list_price_and_none_for_unknown_models() -> None:
    assert estimate_cost(model_info("gpt-4o-mini"), 1000, 500) == pytest.approx(0.00045)
    assert estimate_cost(model_info("gpt-4o"), 1_000_000, 0) == pytest.approx(2.50)
    assert estimate_cost(model_info("my-local-model"), 1000, 500) is None


def test_everything_fits_in_a_large_window() -> None:
    ps = [_passage(0, 0, 74, 1), _passage(1, 75, 161, 2)]
    packed = TokenBudget(8192, 512).pack(ps, prompt_tokens=100, render=_render)
    assert packed.passages == tuple(ps) and not packed.dropped and not packed.cut
    assert packed.budget == 8192 - 512 - 100
    assert packed.tokens <= packed.budget


def test_a_passage_that_does_not_fit_is_cut_after_a_whole_sentence() -> None:
    b = TokenBudget(10_000, 16)
    first, second, third = _passage(0, 0, 74, 1), _passage(1, 75, 161, 2), _passage(2, 162, 172, 3)
    t1 = b.count(_render(1, first))
    two_sentences = b.count(_render(2, _cut(second, 2)))
    sep = b.count("\n\n")
    # room for the first passage and two sentences of the second, not its third
    prompt = 10_000 - 16 - (t1 + sep + two_sentences)
    packed = b.pack([first, second, third], prompt_tokens=prompt, render=_render)
    assert [p.chunk.chunk_id for p in packed.passages] == ["c0", "c1"]
    assert packed.cut == ("c1",)
    assert [p.chunk.chunk_id for p in packed.dropped] == ["c2"]  # the window is full
    cut = packed.passages[1].chunk
    assert cut.text == "The mayor praised the vote. Critics said the cost was too high."
    assert cut.text == ARTICLE[cut.start:cut.end]  # the span stays exact
    assert cut.n_tokens == b.count(cut.text)
    ends = {second.chunk.start + e for _, e in split_sentences(second.chunk.text)}
    assert cut.end in ends  # never mid-sentence
    assert packed.tokens <= packed.budget


def test_a_passage_whose_first_sentence_does_not_fit_is_dropped_whole() -> None:
    b = TokenBudget(10_000, 16)
    big, small = _passage(1, 75, 161, 1), _passage(2, 162, 172, 2)
    room = b.count(_render(1, small))  # less than any sentence block of `big`
    packed = b.pack([big, small], prompt_tokens=10_000 - 16 - room, render=_render)
    assert [p.chunk.chunk_id for p in packed.dropped] == ["c1"]
    assert [p.chunk.chunk_id for p in packed.passages] == ["c2"]  # a later, shorter one fits
    assert packed.passages[0].chunk.text == "Short one."
    assert not packed.cut


def test_no_room_at_all_says_which_settings_to_change() -> None:
    with pytest.raises(ConfigError, match="QA_LLM_CONTEXT_WINDOW"):
        TokenBudget(1000, 512).pack([_passage(0, 0, 74, 1)], prompt_tokens=600, render=_render)
    with pytest.raises(ConfigError, match="must be larger than the answer budget"):
        TokenBudget(512, 512)


def test_message_tokens_count_content_plus_overhead() -> None:
    b = TokenBudget(8192, 512)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    assert b.count_messages(msgs) == 3 + (4 + b.count("Be brief.")) + (4 + b.count("Hi there"))


def _cut(p: Passage, n_sentences: int) -> Passage:
    from qa.budget import cut_passage

    return cut_passage(p, split_sentences(p.chunk.text)[n_sentences - 1][1])


def test_an_unknown_models_window_keeps_headroom_for_the_estimate() -> None:
    """cl100k counts only estimate another model's tokens: a fifth of its window stays unused,
    an OpenAI model's window is used whole."""
    from qa.budget import ESTIMATE_HEADROOM
    from qa.generate import GenerativeAnswerer
    from qa.settings import Settings

    class Model:
        def __init__(self, name: str) -> None:
            self.model = name

    s = Settings(store_path="unused", llm_context_window=4096, llm_answer_tokens=48)
    local = GenerativeAnswerer(Model("smollm2"), None, s)  # type: ignore[arg-type]
    openai_model = GenerativeAnswerer(Model("gpt-4o-mini"), None, s)  # type: ignore[arg-type]
    assert local.budget.available(100) == 4096 - int(4096 * ESTIMATE_HEADROOM) - 48 - 100
    assert openai_model.budget.available(100) == 4096 - 48 - 100
