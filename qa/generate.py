"""Generative answers: an LLM writes the answer from the retrieved passages; we verify it.

One question goes through these steps (`GenerativeAnswerer.stream`):
1. a follow-up is rewritten into a standalone question with prompts/condense.txt (earlier turns
   bounded by `history_tokens`);
2. the reader's pool of passages (`pool`, not only `top_k`) is retrieved; the answer scorer
   (qa/reader.py) decides, with the same calibrated threshold as the extractive mode, whether
   the articles answer the question at all. Below it the model is NOT called and the answer is
   the fixed refusal with the closest passages;
3. the pool's passages, the likeliest to answer first, are sent as numbered <source> blocks as
   many as the token budget allows (article text is escaped DATA, never instructions) with
   prompts/answer.txt, and the reply is streamed;
4. the reply's [n] markers are checked and renumbered while it streams (so the streamed text is
   the final text), then every sentence is scored against the passages it cites and every
   citation gets the exact quote and span of its best-supporting sentence (qa/citations.py).

When the model fails (`LLMError`) and `fallback_to_extractive` is set, the answer is the
extractive one, with the error in `Answer.warnings`.

    >>> bot = Assistant.open(Settings.from_env(answer_mode="llm"))   # doctest: +SKIP
    >>> for item in bot.stream("Why did Lively drop the distress claim?"):  # doctest: +SKIP
    ...     print(item if isinstance(item, str) else item.citations)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from index.embed import Embedder
from qa.budget import ESTIMATE_HEADROOM, KNOWN_MODELS, TokenBudget, estimate_cost, model_info
from qa.citations import MODEL_REFUSAL, CitationVerifier, MarkerRenumberer
from qa.errors import ConfigError, LLMError
from qa.extractive import REFUSAL_TEXT, Extract, ExtractiveAnswerer, IdfTable, reorder
from qa.followup import context_turns
from qa.llm import ChatModel, Completion, OpenAIChat, collect
from qa.prompts import Prompt, load_prompt
from qa.retrieve import Scope
from qa.settings import Settings
from qa.types import Answer, Passage, Usage


class Sources(Protocol):
    """What the generative answerer needs from the assistant it answers for (`qa.api.Assistant`
    is one): checked questions, retrieval, the extractive scorer and its IDF table."""

    extractive: ExtractiveAnswerer

    def check_question(self, question: str) -> str: ...

    def retrieve(self, question: str, history: Sequence[str] = (), *, top_k: int | None = None,
                 scope: Scope | None = None) -> tuple[list[Passage], Any, str]: ...

    def idf(self, passages: Sequence[Passage] = (), generation: str = "") -> IdfTable: ...

log = logging.getLogger(__name__)

CONDENSE_TOKENS = 96  # a rewritten question is one line
FALLBACK_NOTE = "\n\n[The model failed; answering from the articles instead.]\n\n"


def escape_source_text(text: str) -> str:
    """Article text made inert inside a <source> block: no tag can open or close in it."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return " ".join(escape_source_text(value).replace('"', "&quot;").split())


def source_block(n: int, p: Passage) -> str:
    """One numbered source as the model sees it: metadata attributes, then the escaped text."""
    a = p.article
    attrs = [f'id="{n}"', f'title="{_attr(a.title)}"']
    if a.source:
        attrs.append(f'publication="{_attr(a.source)}"')
    if a.date:
        attrs.append(f'date="{_attr(a.date)}"')
    return f"<source {' '.join(attrs)}>\n{escape_source_text(p.chunk.text)}\n</source>"


class GenerativeAnswerer:
    """Answers with an LLM and verifies its citations; see the module docstring."""

    def __init__(self, model: ChatModel, embedder: Embedder, settings: Settings, *,
                 answer_prompt: Prompt | None = None, condense_prompt: Prompt | None = None,
                 budget: TokenBudget | None = None,
                 verifier: CitationVerifier | None = None) -> None:
        self.model = model
        self.settings = settings
        self.info = model_info(model.model, settings.llm_context_window)
        # an OpenAI model's tokens are counted exactly enough; another's only estimated
        exact = self.info.name in KNOWN_MODELS or self.info.input_usd_per_m is not None
        self.budget = budget or TokenBudget(self.info.context_window, settings.llm_answer_tokens,
                                            headroom=0.0 if exact else ESTIMATE_HEADROOM)
        self.answer_prompt = answer_prompt or load_prompt("answer")
        self.condense_prompt = condense_prompt or load_prompt("condense")
        self.verifier = verifier or CitationVerifier(embedder, settings.support_threshold)

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder) -> GenerativeAnswerer:
        """The answerer on an `openai` client built from `settings` (key, base URL, model)."""
        return cls(OpenAIChat.from_settings(settings), embedder, settings)

    @property
    def mode(self) -> str:
        return f"llm:{self.model.model}"

    # -- prompts ------------------------------------------------------------------------------
    def answer_messages(self, question: str, sources: Sequence[Passage]) -> list[dict[str, str]]:
        """The chat messages for `question` over `sources` (numbered from 1, in order)."""
        return self._answer_messages(
            question, "\n\n".join(source_block(i, p) for i, p in enumerate(sources, start=1))
        )

    def _answer_messages(self, question: str, sources: str) -> list[dict[str, str]]:
        return self.answer_prompt.messages(
            sources=sources, question=question, refusal=MODEL_REFUSAL,
            max_sentences=self.settings.max_answer_sentences,
        )

    def bounded_history(self, history: Sequence[str]) -> list[str]:
        """The most recent earlier turns that fit in `history_tokens` (oldest first)."""
        left = self.settings.history_tokens
        out: list[str] = []
        for turn in reversed([h.strip() for h in history if h and h.strip()]):
            n = self.budget.count(turn)
            if n > left:
                if not out and left > 0:  # the last turn alone is too long: keep its end
                    out.append(self.budget.last_tokens(turn, left))
                break
            out.append(turn)
            left -= n
        return out[::-1]

    def condense(self, question: str, history: Sequence[str]) -> tuple[str, Completion | None]:
        """`question` rewritten to stand alone given the earlier turns (itself when none)."""
        turns = self.bounded_history(history)
        if not turns:
            return question, None
        msgs = self.condense_prompt.messages(
            history="\n".join(f"- {t}" for t in turns), question=question
        )
        done = collect(self.model.stream(msgs, CONDENSE_TOKENS))
        return _clean_condensed(done.text, self.settings.max_question_chars), done

    # -- the answer ---------------------------------------------------------------------------
    def stream(self, assistant: Sources, question: str, history: Sequence[str] = (), *,
               top_k: int | None = None, scope: Scope | None = None) -> Iterator[str | Answer]:
        """Yield text pieces as the model writes them, then the verified `Answer`."""
        t0 = time.perf_counter()
        scope = scope or Scope()
        q = assistant.check_question(question)
        s = self.settings
        warnings: list[str] = []
        calls: list[Completion] = []
        timings: dict[str, float] = {}

        standalone = ""
        if any(h and h.strip() for h in history):
            try:
                rewritten, done = self.condense(q, history)
                if done is not None:
                    calls.append(done)
                standalone = rewritten
                if not standalone:
                    warnings.append("The model's rewrite of the follow-up was unusable; "
                                    "retrieved it with the earlier questions instead.")
            except LLMError as e:
                if not s.fallback_to_extractive:
                    raise
                warnings.append(f"Could not rewrite the follow-up with the model: {e}")
        timings["condense"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        # the reader's pool, not only top_k: the model gets as many as its token budget allows
        k = top_k or s.top_k
        pool_k = max(k, s.pool)
        if standalone or not history:
            standalone = standalone or q
            pool, r, _ = assistant.retrieve(standalone, (), top_k=pool_k, scope=scope)
            ctx: list[str] = []
        else:  # no usable rewrite: retrieve with the earlier turns, like the extractive mode
            pool, r, standalone = assistant.retrieve(q, history, top_k=pool_k, scope=scope)
            ctx = context_turns(q, history)
        ex_question = q if ctx else standalone
        ex = assistant.extractive.answer(ex_question, ctx, pool, r.query_vector,
                                         assistant.idf(pool, r.generation).idf)
        ranked = reorder(pool, ex, len(pool))  # the likeliest to answer first
        passages = ranked[:k]
        timings.update(r.timings)
        timings["retrieve"] = time.perf_counter() - t1

        base = {"question": q, "mode": self.mode, "standalone_question": standalone,
                    "support": round(ex.support, 4)}
        if ex.refused:  # the articles do not cover it: the model is not asked
            timings["total"] = time.perf_counter() - t0
            yield REFUSAL_TEXT
            yield Answer(text=REFUSAL_TEXT, citations=(), refused=True, passages=tuple(passages),
                         usage=self._usage(calls), timings=timings, warnings=tuple(warnings),
                         **base)  # type: ignore[arg-type]
            return

        prompt_tokens = self.budget.count_messages(self._answer_messages(standalone, ""))
        packed = self.budget.pack(ranked, prompt_tokens, source_block)
        if not packed.passages:
            raise ConfigError(
                f"no retrieved passage fits the {packed.budget} tokens the context window "
                f"({self.info.context_window}) leaves: raise QA_LLM_CONTEXT_WINDOW or lower "
                "QA_LLM_ANSWER_TOKENS / QA_CHUNK_TOKENS"
            )
        if packed.dropped or packed.cut:
            log.info("token budget: %d passages sent (%d cut), %d dropped",
                     len(packed.passages), len(packed.cut), len(packed.dropped))
        sources = packed.passages
        messages = self.answer_messages(standalone, sources)

        t2 = time.perf_counter()
        marks = MarkerRenumberer(len(sources))
        raw: list[str] = []
        streamed = False
        try:
            for item in self.model.stream(messages, s.llm_answer_tokens):
                if isinstance(item, Completion):
                    calls.append(item)
                    continue
                if "first_token" not in timings:
                    timings["first_token"] = time.perf_counter() - t2
                raw.append(item)
                out = marks.feed(item)
                if out:
                    streamed = True
                    yield out
            tail = marks.flush()
            if tail:
                yield tail
        except LLMError as e:
            if not s.fallback_to_extractive:
                raise
            # said once, in Answer.warnings (the doors show it): not again in the log
            log.info("LLM failed, answering extractively: %s", e)
            yield from self._fallback(ex, passages, base, streamed, [*warnings, str(e)],
                                      timings, t0)
            return
        timings["llm"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        v = self.verifier.verify("".join(raw), sources)
        timings["verify"] = time.perf_counter() - t3
        timings["total"] = time.perf_counter() - t0
        prompt = {"prompt_name": self.answer_prompt.name, "prompt_hash": self.answer_prompt.hash}
        warnings += v.warnings
        if v.refused:
            yield Answer(text=REFUSAL_TEXT, citations=(), refused=True, passages=tuple(passages),
                         usage=self._usage(calls), timings=timings, warnings=tuple(warnings),
                         **prompt, **base)  # type: ignore[arg-type]
            return
        yield Answer(text=v.text, citations=v.citations, refused=False, passages=sources,
                     sentences=v.sentences, usage=self._usage(calls), timings=timings,
                     warnings=tuple(warnings), **prompt, **base)  # type: ignore[arg-type]

    def _fallback(self, ex: Extract, passages: Sequence[Passage], base: dict[str, object],
                  streamed: bool, warnings: list[str], timings: dict[str, float],
                  t0: float) -> Iterator[str | Answer]:
        """The extractive answer (support was above the threshold), streamed the same way."""
        if streamed:
            yield FALLBACK_NOTE
        yield from ex.pieces()
        timings["total"] = time.perf_counter() - t0
        fields = {**base, "mode": "extractive"}
        yield Answer(text=ex.text, citations=ex.citations, refused=False,
                     passages=tuple(passages), timings=timings, warnings=tuple(warnings),
                     **fields)  # type: ignore[arg-type]

    def _usage(self, calls: Sequence[Completion]) -> Usage:
        if not calls:
            return Usage()
        pt = sum(c.prompt_tokens for c in calls)
        ct = sum(c.completion_tokens for c in calls)
        return Usage(pt, ct, estimate_cost(self.info, pt, ct))


def _clean_condensed(text: str, max_chars: int) -> str:
    """The first line of the model's rewrite, without labels or quotes ("" when unusable)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[0].lstrip("-*• ").strip()
    for label in ("standalone question:", "question:", "rewritten question:"):
        if line.lower().startswith(label):
            line = line[len(label):].strip()
    line = line.strip("\"'“”‘’` ").strip()
    return line if 0 < len(line) <= max_chars else ""
