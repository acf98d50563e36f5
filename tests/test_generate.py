"""The generative answerer's logic around the model, with a scripted model recording its prompts.

The model is faked here because the subject is our logic (refusal gate, verification, fallback,
condensing, budgets); the real client against a real server is tested in test_llm_server.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import pytest

from qa.api import Assistant
from qa.citations import MODEL_REFUSAL
from qa.errors import LLMError
from qa.extractive import REFUSAL_TEXT
from qa.generate import FALLBACK_NOTE, GenerativeAnswerer, source_block
from qa.llm import Completion
from qa.prompts import load_prompt
from qa.settings import Settings
from qa.types import Answer

ANSWERABLE = "Why did Lively drop the emotional distress claim?"
UNANSWERABLE = "What is the capital of Peru?"

Reply = str | Callable[[Sequence[dict[str, str]]], str]


class ScriptedModel:
    """Replies from a script, word by word, and records every prompt it was sent."""

    model = "scripted"

    def __init__(self, *replies: Reply, fail_after: int | None = None,
                 error: LLMError | None = None) -> None:
        self.replies = list(replies)
        self.calls: list[list[dict[str, str]]] = []
        self.fail_after = fail_after  # raise `error` after this many pieces of the last reply
        self.error = error

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int | None = None
               ) -> Iterator[str | Completion]:
        self.calls.append([dict(m) for m in messages])
        script = self.replies.pop(0) if self.replies else ""
        reply = script(messages) if callable(script) else script
        pieces = re.findall(r"\S+\s*", reply)
        for i, piece in enumerate(pieces):
            if self.error is not None and self.fail_after == i and not self.replies:
                raise self.error
            yield piece
        if self.error is not None and self.fail_after is None and not self.replies:
            raise self.error
        yield Completion(reply, 100 * len(self.calls), len(pieces), True, "stop")


def answerer(model: ScriptedModel, embedder, **settings) -> GenerativeAnswerer:  # type: ignore[no-untyped-def]
    return GenerativeAnswerer(model, embedder, Settings(**settings))


def run(gen: GenerativeAnswerer, bot: Assistant, question: str,
        history: Sequence[str] = ()) -> tuple[str, Answer]:
    pieces: list[str] = []
    final: Answer | None = None
    for item in gen.stream(bot, question, history):
        if isinstance(item, Answer):
            final = item
        else:
            assert final is None, "text after the final Answer"
            pieces.append(item)
    assert final is not None
    return "".join(pieces), final


def sent_sources(messages: Sequence[dict[str, str]]) -> dict[int, str]:
    user = messages[-1]["content"]
    return {int(n): body for n, body in
            re.findall(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', user, re.DOTALL)}


def test_below_the_threshold_the_model_is_not_called(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedModel("Lima [1].")
    streamed, ans = run(answerer(model, embedder), sample_bot, UNANSWERABLE)
    assert model.calls == []
    assert ans.refused and ans.text == REFUSAL_TEXT == streamed
    assert ans.citations == () and ans.passages  # the closest passages, to look for yourself
    assert ans.support < sample_bot.extractive.threshold
    assert ans.mode == "llm:scripted" and ans.usage.prompt_tokens == 0


def test_a_model_refusal_marks_the_answer_refused(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedModel(MODEL_REFUSAL)
    _, ans = run(answerer(model, embedder), sample_bot, ANSWERABLE)
    assert len(model.calls) == 1
    assert ans.refused and ans.text == REFUSAL_TEXT and ans.citations == ()
    assert ans.passages and ans.prompt_name == "answer"


def test_answer_is_verified_renumbered_and_cites_what_was_sent(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    def reply(messages: Sequence[dict[str, str]]) -> str:
        srcs = sent_sources(messages)
        n = next(k for k, body in srcs.items() if "good faith" in body)
        other = max(srcs)
        return (f"She withdrew the emotional distress claims in good faith to streamline the "
                f"dispute [{n}]. Baldoni's team had demanded her medical records [{other}, {n}].")

    model = ScriptedModel(reply)
    gen = answerer(model, embedder)
    streamed, ans = run(gen, sample_bot, ANSWERABLE)
    assert not ans.refused and ans.mode == "llm:scripted"
    assert streamed.strip() == ans.text  # markers were renumbered while streaming
    assert re.findall(r"\[(\d+)\]", ans.text)[0] == "1"  # first used is [1]
    assert [c.number for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    sent = sent_sources(model.calls[0])
    assert len(sent) == len(ans.passages)
    sent_ids = {p.chunk.chunk_id for p in ans.passages}
    for c in ans.citations:
        assert c.chunk_id in sent_ids
        text = sample_bot.article_text(c.article.article_id)
        assert c.quote == text[c.start:c.end]
        p = next(p for p in ans.passages if p.chunk.chunk_id == c.chunk_id)
        assert p.chunk.start <= c.start < c.end <= p.chunk.end
    assert "good faith" in ans.citations[0].quote
    assert ans.sentences[0].supported
    assert ans.prompt_name == "answer" and ans.prompt_hash == load_prompt("answer").hash
    assert ans.usage.prompt_tokens == 100 and ans.usage.completion_tokens > 0
    assert ans.usage.cost_usd is None  # an unknown model has no price
    assert {"retrieve", "llm", "verify", "total"} <= set(ans.timings)
    # the sent blocks are what source_block renders for the answer's passages, in order
    user = model.calls[0][-1]["content"]
    for i, p in enumerate(ans.passages, start=1):
        assert source_block(i, p) in user


def test_out_of_range_marker_is_removed_and_reported(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedModel(
        "She withdrew the claims in good faith to streamline the dispute [1][42].")
    streamed, ans = run(answerer(model, embedder), sample_bot, ANSWERABLE)
    assert "[42]" not in ans.text and "[42]" not in streamed
    assert any("[42]" in w for w in ans.warnings)
    assert len(ans.citations) == 1


def test_unsupported_sentence_is_flagged(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedModel("Lively dropped the claim because she moved to Mars in 1999 [1].")
    _, ans = run(answerer(model, embedder), sample_bot, ANSWERABLE)
    assert not ans.refused
    assert [s.supported for s in ans.sentences] == [False]
    assert ans.unsupported_sentences == ans.sentences


def test_follow_up_is_condensed_with_bounded_history(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedModel("Standalone question: \"Why did Blake Lively drop her emotional "
                          "distress claim?\"", MODEL_REFUSAL)
    old = "Tell me everything about the weather in Lisbon " * 40  # too long for the budget
    gen = answerer(model, embedder, history_tokens=60)
    _, ans = run(gen, sample_bot, "Why did she drop it?",
                 history=[old, "What did Blake Lively claim against Justin Baldoni?"])
    assert ans.standalone_question == "Why did Blake Lively drop her emotional distress claim?"
    condense = model.calls[0]
    assert condense[0]["role"] == "system" and "Last question: Why did she drop it?" in (
        condense[-1]["content"])
    assert "What did Blake Lively claim against Justin Baldoni?" in condense[-1]["content"]
    assert "Lisbon" not in condense[-1]["content"]  # the older turn did not fit 60 tokens
    assert "Question: Why did Blake Lively drop her emotional distress claim?" in (
        model.calls[1][-1]["content"])
    assert ans.usage.prompt_tokens == 100 + 200  # both calls counted


def test_model_failure_falls_back_to_the_extractive_answer(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    err = LLMError("Cannot reach the model server at http://127.0.0.1:9/v1", cause="connection")
    model = ScriptedModel("ignored", error=err, fail_after=0)
    streamed, ans = run(answerer(model, embedder), sample_bot, ANSWERABLE)
    assert ans.mode == "extractive" and not ans.refused and ans.citations
    assert any(str(err) in w for w in ans.warnings)
    assert streamed == ans.text  # nothing of the model's was shown before it failed
    extractive = sample_bot.ask(ANSWERABLE)
    assert ans.text == extractive.text


def test_mid_stream_failure_says_so_then_answers_extractively(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    err = LLMError("The stream broke off", cause="stream")
    model = ScriptedModel("She withdrew the claims in good faith [1].", error=err, fail_after=3)
    streamed, ans = run(answerer(model, embedder), sample_bot, ANSWERABLE)
    assert streamed.startswith("She withdrew the\n")  # the blank waits for a marker
    assert FALLBACK_NOTE in streamed and streamed.endswith(ans.text)
    assert ans.mode == "extractive" and "The stream broke off" in ans.warnings


def test_without_fallback_the_error_is_raised(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    err = LLMError("boom", status=500, cause="server")
    gen = answerer(ScriptedModel("x", error=err), embedder, fallback_to_extractive=False)
    with pytest.raises(LLMError, match="boom") as info:
        run(gen, sample_bot, ANSWERABLE)
    assert info.value.status == 500


def test_a_small_context_window_sends_fewer_passages_cut_at_sentences(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    from index.chunk import split_sentences

    reply = "She withdrew the claims in good faith [1]."
    big = ScriptedModel(reply)
    _, wide = run(answerer(big, embedder), sample_bot, ANSWERABLE)
    small = ScriptedModel(reply)
    gen = answerer(small, embedder, llm_context_window=1100, llm_answer_tokens=64)
    prompt_tokens = gen.budget.count_messages(gen.answer_messages(ANSWERABLE, []))
    assert prompt_tokens < 1100 - 64
    _, narrow = run(gen, sample_bot, ANSWERABLE)
    assert len(sent_sources(small.calls[0])) == len(narrow.passages) < len(wide.passages)
    assert gen.budget.count_messages(small.calls[0]) <= 1100 - 64
    originals = {p.chunk.chunk_id: p.chunk for p in wide.passages}
    for p in narrow.passages:  # each sent block is its chunk, or the chunk cut after a sentence
        whole = originals[p.chunk.chunk_id]
        ends = {whole.start + e for _, e in split_sentences(whole.text)}
        assert p.chunk.start == whole.start and p.chunk.end in ends
        assert p.chunk.text == sample_bot.article_text(p.article.article_id)[
            p.chunk.start:p.chunk.end]


def test_ask_through_the_assistant_uses_the_generative_answerer(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = sample_bot.settings.replace(answer_mode="llm",
                                           openai_base_url="http://127.0.0.1:9/v1")
    model = ScriptedModel("She withdrew the claims in good faith to streamline the dispute [1].")
    bot = Assistant(settings, embedder, sample_bot.store,
                    llm=GenerativeAnswerer(model, embedder, settings))
    ans = bot.ask(ANSWERABLE)
    assert ans.mode == "llm:scripted" and len(model.calls) == 1 and ans.citations


class CountingEmbedder:
    """The real embedder, recording every text it is asked to embed."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        self.texts += list(texts)
        return self.inner.embed(texts)


def test_answer_verification_does_not_embed_a_sentence_twice(sample_bot, embedder) -> None:  # type: ignore[no-untyped-def]
    """The gate scores every sentence of the passages; the verifier reuses those vectors."""
    counting = CountingEmbedder(embedder)
    settings = sample_bot.settings.replace(answer_mode="llm",
                                           openai_base_url="http://127.0.0.1:9/v1")
    bot = Assistant.open(settings, embedder=counting)
    assert bot.llm is not None
    bot.llm.model = ScriptedModel("She withdrew the claims in good faith to streamline the "
                                  "dispute [1].")
    ans = bot.ask(ANSWERABLE)
    assert ans.mode == "llm:scripted" and ans.citations and ans.sentences
    repeated = {t: n for t, n in Counter(counting.texts).items() if n > 1}
    assert not repeated, repeated
    cited = ans.citations[0].quote
    assert cited in counting.texts  # it was embedded, once


def test_a_last_turn_longer_than_the_history_budget_keeps_its_end(embedder) -> None:  # type: ignore[no-untyped-def]
    gen = answerer(ScriptedModel(), embedder, history_tokens=12)
    turn = "Tell me everything about the weather in Lisbon " * 10 + "and who is Baldoni's lawyer?"
    kept = gen.bounded_history(["an older question", turn])
    assert len(kept) == 1 and turn.endswith(kept[0]) and kept[0].endswith("lawyer?")
    assert gen.budget.count(kept[0]) <= 12
