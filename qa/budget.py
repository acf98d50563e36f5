"""Token budgets: what fits in the model's context window, and what an answer cost.

The sources sent to the model are packed best-first (retrieval order) until
`context window - answer tokens - prompt tokens` is used up. A passage that does not fit whole
is cut after its last whole sentence that fits (index.chunk.split_sentences), never mid-sentence,
or dropped when not even its first sentence fits. Tokens are counted with tiktoken's
cl100k_base (the encoding shipped offline); for other tokenizers (llama.cpp, vLLM models) the
count is an estimate: for a model outside the table below, `headroom` (ESTIMATE_HEADROOM of the
window) is left unused, since a smaller vocabulary (SmolLM2's, Llama 2's) cuts English text into
more tokens than cl100k: a prompt packed to the window by our count overflowed SmolLM2's
4,096-token window (HTTP 400) until this headroom (a chosen margin, not a measured ratio).

    >>> b = TokenBudget(context_window=8192, answer_tokens=512)
    >>> b.available(prompt_tokens=300)
    7380
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from index.chunk import split_sentences
from index.tokens import get_encoding
from qa.errors import ConfigError
from qa.types import Passage

DEFAULT_CONTEXT_WINDOW = 8192  # for models we know nothing about
ESTIMATE_HEADROOM = 0.2  # share of an unknown model's window left for our count's error
MESSAGE_OVERHEAD = 4  # tokens the chat format adds around each message (OpenAI's cookbook)
REPLY_PRIMING = 3


@dataclass(frozen=True)
class ModelInfo:
    """What we know about a model: context window and list price in US$ per 1M tokens."""

    name: str
    context_window: int
    input_usd_per_m: float | None = None
    output_usd_per_m: float | None = None


# OpenAI list prices (standard tier, US$ per 1M tokens) and context windows; dated snapshots
# ("gpt-4o-mini-2024-07-18") match by their longest known prefix.
KNOWN_MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("gpt-4o", 128_000, 2.50, 10.00),
        ModelInfo("gpt-4o-mini", 128_000, 0.15, 0.60),
        ModelInfo("gpt-4.1", 1_047_576, 2.00, 8.00),
        ModelInfo("gpt-4.1-mini", 1_047_576, 0.40, 1.60),
        ModelInfo("gpt-4.1-nano", 1_047_576, 0.10, 0.40),
        ModelInfo("gpt-4-turbo", 128_000, 10.00, 30.00),
        ModelInfo("gpt-4", 8_192, 30.00, 60.00),
        ModelInfo("gpt-3.5-turbo", 16_385, 0.50, 1.50),
    )
}


def model_info(model: str, context_window: int = 0) -> ModelInfo:
    """The known facts about `model`; `context_window` (when > 0) overrides the table's."""
    name = model.strip()
    known = KNOWN_MODELS.get(name)
    if known is None:
        prefixes = [k for k in KNOWN_MODELS if name.startswith(k + "-")]
        known = KNOWN_MODELS[max(prefixes, key=len)] if prefixes else None
    if known is None:
        return ModelInfo(name, context_window or DEFAULT_CONTEXT_WINDOW)
    if context_window:
        return dataclasses.replace(known, context_window=context_window)
    return known


def estimate_cost(info: ModelInfo, prompt_tokens: int, completion_tokens: int) -> float | None:
    """US$ at list price, or None when the model's price is unknown (local servers)."""
    if info.input_usd_per_m is None or info.output_usd_per_m is None:
        return None
    return round(
        (prompt_tokens * info.input_usd_per_m + completion_tokens * info.output_usd_per_m) / 1e6,
        8,
    )


@dataclass(frozen=True)
class Packed:
    """The passages that fit, as sent (a cut passage's chunk holds only the sent sentences)."""

    passages: tuple[Passage, ...]
    dropped: tuple[Passage, ...]  # retrieved but not sent: no room
    cut: tuple[str, ...]  # chunk ids of passages sent only in part
    tokens: int  # tokens of the rendered source blocks
    budget: int  # tokens that were available for sources


class TokenBudget:
    """Counts tokens and packs passages into what the context window leaves for them."""

    def __init__(self, context_window: int, answer_tokens: int, encoding: Any = None,
                 headroom: float = 0.0) -> None:
        if context_window <= answer_tokens:
            raise ConfigError(
                f"the context window ({context_window} tokens) must be larger than the answer "
                f"budget ({answer_tokens}); raise QA_LLM_CONTEXT_WINDOW or lower "
                "QA_LLM_ANSWER_TOKENS"
            )
        self.context_window = context_window
        self.answer_tokens = answer_tokens
        self.headroom = int(context_window * headroom)  # tokens left unused (see module doc)
        self._enc = encoding or get_encoding()

    def count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))

    def last_tokens(self, text: str, n: int) -> str:
        """The end of `text` that is its last `n` tokens."""
        return str(self._enc.decode(self._enc.encode(text, disallowed_special=())[-n:]))

    def count_messages(self, messages: Sequence[dict[str, str]]) -> int:
        """Prompt tokens of a chat request, the way OpenAI's cookbook estimates them."""
        return REPLY_PRIMING + sum(MESSAGE_OVERHEAD + self.count(m["content"]) for m in messages)

    def available(self, prompt_tokens: int) -> int:
        return self.context_window - self.headroom - self.answer_tokens - prompt_tokens

    def pack(self, passages: Sequence[Passage], prompt_tokens: int,
             render: Callable[[int, Passage], str], separator: str = "\n\n") -> Packed:
        """Best-first packing; `render(n, passage)` is the source block as the model sees it."""
        budget = self.available(prompt_tokens)
        if budget <= 0:
            raise ConfigError(
                f"the prompt ({prompt_tokens} tokens) and the answer budget "
                f"({self.answer_tokens}) fill the model's context window "
                f"({self.context_window}, {self.headroom} of it kept for the token count's "
                "error); raise QA_LLM_CONTEXT_WINDOW, lower "
                "QA_LLM_ANSWER_TOKENS or QA_HISTORY_TOKENS"
            )
        sep = self.count(separator)
        sent: list[Passage] = []
        dropped: list[Passage] = []
        cut: list[str] = []
        used = 0
        full = False
        for p in passages:
            if full:
                dropped.append(p)
                continue
            n = len(sent) + 1
            extra = sep if sent else 0
            cost = self.count(render(n, p)) + extra
            if used + cost <= budget:
                sent.append(p)
                used += cost
                continue
            part = self._cut(p, n, budget - used - extra, render)
            if part is None:
                dropped.append(p)  # a later, shorter passage may still fit
                continue
            sent.append(part)
            cut.append(p.chunk.chunk_id)
            used += self.count(render(n, part)) + extra
            full = True  # the window is as full as whole sentences can make it
        return Packed(tuple(sent), tuple(dropped), tuple(cut), used, budget)

    def _cut(self, p: Passage, n: int, room: int,
             render: Callable[[int, Passage], str]) -> Passage | None:
        """The passage cut after its last whole sentence that fits in `room`, if any does."""
        best: Passage | None = None
        for _, end in split_sentences(p.chunk.text):
            part = cut_passage(p, end)
            if self.count(render(n, part)) > room:
                break
            best = part
        if best is None or best.chunk.end == p.chunk.end:
            return None  # not even one sentence fits (a whole passage did not fit above)
        chunk = dataclasses.replace(best.chunk, n_tokens=self.count(best.chunk.text))
        return dataclasses.replace(best, chunk=chunk)


def cut_passage(p: Passage, length: int) -> Passage:
    """`p` with its chunk cut to its first `length` characters (the span stays exact)."""
    c = p.chunk
    text = c.text[:length].rstrip()
    chunk = dataclasses.replace(c, text=text, end=c.start + len(text), n_tokens=0)
    return dataclasses.replace(p, chunk=chunk)
