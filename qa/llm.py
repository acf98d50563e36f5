"""The one door to language models: streaming chat completions through the official `openai`
client, for OpenAI itself or any OpenAI-compatible server (vLLM, llama.cpp, Ollama).

`OpenAIChat.stream(messages, max_tokens)` yields text pieces as they arrive and ends with one
`Completion` (full text, token counts, finish reason). Usage is asked for with
`stream_options={"include_usage": True}`; servers that do not send it get their tokens counted
with tiktoken (an estimate, flagged by `usage_reported=False`). Every failure, after the client's
own retries, becomes an `LLMError` whose message names the cause and what to check.

Anything with the same `model` attribute and `stream` method (the `ChatModel` protocol) can take
its place, e.g. the scripted fake models of the tests.

    >>> chat = OpenAIChat.from_settings(Settings.from_env())        # doctest: +SKIP
    >>> for item in chat.stream([{"role": "user", "content": "Hi"}]):  # doctest: +SKIP
    ...     print(item)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import openai

from qa.budget import TokenBudget
from qa.errors import LLMError
from qa.settings import Settings

log = logging.getLogger(__name__)

Messages = Sequence[dict[str, str]]


@dataclass(frozen=True)
class Completion:
    """The end of one streamed completion."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool  # False: the server sent no usage, tokens counted with tiktoken
    finish_reason: str = ""


class ChatModel(Protocol):
    """What the generative answerer needs from a model (real client or scripted fake)."""

    model: str

    def stream(self, messages: Messages, max_tokens: int | None = None
               ) -> Iterator[str | Completion]:
        """Yield text pieces as they arrive, then one `Completion`."""
        ...


class OpenAIChat:
    """Streaming chat completions on an `openai.OpenAI` client (injected; see `from_settings`)."""

    def __init__(self, client: Any, model: str, *, temperature: float = 0.0,
                 answer_tokens: int = 512, base_url: str = "", timeout: float = 60.0,
                 max_retries: int = 2, counter: TokenBudget | None = None) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.answer_tokens = answer_tokens
        self.base_url = base_url or "https://api.openai.com/v1"
        self.timeout = timeout
        self.max_retries = max_retries
        self._counter = counter
        self._ask_usage = True  # switched off for servers that reject stream_options

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChat:
        """A client for OpenAI (OPENAI_API_KEY) or the server at OPENAI_BASE_URL."""
        client = openai.OpenAI(
            # local servers need no key, but the client insists on one
            api_key=settings.openai_api_key or "not-needed",
            base_url=settings.openai_base_url or None,
            timeout=settings.llm_timeout,
            max_retries=0,  # retried by OpenAIChat itself, within QA_LLM_TIMEOUT
        )
        return cls(client, settings.llm_model, temperature=settings.llm_temperature,
                   answer_tokens=settings.llm_answer_tokens,
                   base_url=settings.openai_base_url, timeout=settings.llm_timeout,
                   max_retries=settings.llm_max_retries)

    def stream(self, messages: Messages, max_tokens: int | None = None
               ) -> Iterator[str | Completion]:
        """Yield the reply's text pieces as they arrive, then its `Completion`.

        `timeout` bounds the whole request, retries and a slow stream included: the stream is
        read by a helper thread and waited for only until the deadline (a server that hangs
        mid-stream cannot hold the answer longer, whatever its socket does)."""
        deadline = time.monotonic() + self.timeout
        stream = self._open(list(messages), max_tokens or self.answer_tokens, deadline)
        pieces: list[str] = []
        usage: Any = None
        finish = ""
        try:
            for chunk in _until(stream, deadline):
                if getattr(chunk, "usage", None):
                    usage = chunk.usage
                for choice in chunk.choices or ():
                    if choice.index != 0:
                        continue
                    text = choice.delta.content if choice.delta else None
                    if text:
                        pieces.append(text)
                        yield text
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except _Deadline:
            raise LLMError(
                f"The model server at {self.base_url} did not finish within the "
                f"{self.timeout:g}s timeout (QA_LLM_TIMEOUT, retries included; "
                f"{len(''.join(pieces))} characters received): raise QA_LLM_TIMEOUT, or check "
                "that the server is not overloaded.", cause="timeout",
            ) from None
        except openai.OpenAIError as e:
            raise self.error(e, received=len("".join(pieces))) from e
        finally:
            stream.close()
        text = "".join(pieces)
        if not finish:
            raise LLMError(
                f"The stream from the model server at {self.base_url} ended before the model "
                f"finished (after {len(text)} characters, no finish reason): check the server's "
                "log; the partial answer was discarded.",
                cause="stream",
            )
        if usage is not None and getattr(usage, "prompt_tokens", None) is not None:
            yield Completion(text, int(usage.prompt_tokens), int(usage.completion_tokens or 0),
                             True, finish)
        else:
            counter = self._tokens()
            yield Completion(text, counter.count_messages(messages), counter.count(text), False,
                             finish)

    def complete(self, messages: Messages, max_tokens: int | None = None) -> Completion:
        """The whole reply at once (for short calls such as condensing a question)."""
        return collect(self.stream(messages, max_tokens))

    def _open(self, messages: list[dict[str, str]], max_tokens: int, deadline: float) -> Any:
        """Start the streamed request, retrying what may pass (a refused connection, a timeout,
        429, 5xx) up to `max_retries` times, all within the deadline."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                  "temperature": self.temperature, "max_tokens": max_tokens}
        if self._ask_usage:
            kwargs["stream_options"] = {"include_usage": True}
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise map_error(openai.APITimeoutError(request=None), model=self.model,  # type: ignore[arg-type]
                                base_url=self.base_url, timeout=self.timeout, retries=attempt)
            try:
                return self.client.chat.completions.create(**kwargs, timeout=remaining)
            except openai.BadRequestError as e:
                if self._ask_usage and "stream_options" in str(e):
                    log.info("%s rejects stream_options; counting tokens with tiktoken",
                             self.base_url)
                    self._ask_usage = False
                    kwargs.pop("stream_options", None)
                    continue
                raise self.error(e) from e
            except openai.OpenAIError as e:
                pause = min(RETRY_PAUSE * 2**attempt, 4.0)
                if (attempt >= self.max_retries or not _retriable(e)
                        or time.monotonic() + pause >= deadline):
                    raise map_error(e, model=self.model, base_url=self.base_url,
                                    timeout=self.timeout, retries=attempt) from e
                log.info("model request failed (%s); retry %d in %.1fs", type(e).__name__,
                         attempt + 1, pause)
                time.sleep(pause)
                attempt += 1

    def _tokens(self) -> TokenBudget:
        if self._counter is None:
            self._counter = TokenBudget(1 << 30, 1)
        return self._counter

    def error(self, e: Exception, received: int | None = None) -> LLMError:
        """`e` as an LLMError naming the cause and what to check (`received`: mid-stream)."""
        return map_error(e, model=self.model, base_url=self.base_url, timeout=self.timeout,
                         retries=self.max_retries, received=received)


def map_error(e: Exception, *, model: str, base_url: str, timeout: float, retries: int,
              received: int | None = None) -> LLMError:
    """Translate an `openai` exception into an LLMError with a message that says what to do."""
    where = f"the model server at {base_url}"
    Where = "T" + where[1:]
    tried = f" (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries else ""
    detail = _detail(e)
    if isinstance(e, openai.APITimeoutError):
        when = f" mid-stream, after {received} characters," if received else ""
        return LLMError(
            f"{Where} did not answer{when} within the {timeout:g}s timeout{tried}: raise "
            "QA_LLM_TIMEOUT, or check that the server is not overloaded.",
            cause="timeout",
        )
    if received is not None:
        return LLMError(
            f"The stream from {where} broke off after {received} characters ({detail}): check "
            "that the server is still running and its log; the partial answer was discarded.",
            status=getattr(e, "status_code", None), cause="stream",
        )
    if isinstance(e, openai.APIConnectionError):
        return LLMError(
            f"Cannot reach {where}{tried} ({detail}): check OPENAI_BASE_URL (or --base-url) and "
            "that the server is running and listening there.",
            cause="connection",
        )
    status = getattr(e, "status_code", None)
    if isinstance(e, openai.AuthenticationError) or status == 401:
        return LLMError(
            f"{Where} rejected the API key (401 {detail}): check OPENAI_API_KEY.",
            status=401, cause="auth",
        )
    if isinstance(e, openai.PermissionDeniedError) or status == 403:
        return LLMError(
            f"{Where} refused access (403 {detail}): check that OPENAI_API_KEY may use model "
            f"{model!r}.",
            status=403, cause="auth",
        )
    if isinstance(e, openai.NotFoundError) or status == 404:
        return LLMError(
            f"Model {model!r} was not found at {where} (404 {detail}): check QA_LLM_MODEL (or "
            "--model) against the server's /models list, and that OPENAI_BASE_URL ends in /v1.",
            status=404, cause="model",
        )
    if isinstance(e, openai.RateLimitError) or status == 429:
        return LLMError(
            f"{Where} says rate limit or quota exceeded{tried} (429 {detail}): wait and retry, "
            "or check your plan and billing.",
            status=429, cause="rate_limit",
        )
    if status is not None and status >= 500:
        return LLMError(
            f"{Where} failed with a server error{tried} ({status} {detail}): check the server's "
            "log, or try again later.",
            status=status, cause="server",
        )
    if status is not None:
        return LLMError(
            f"{Where} rejected the request ({status} {detail}): check QA_LLM_MODEL and the "
            "server's limits (context window, max tokens).",
            status=status, cause="request",
        )
    return LLMError(f"{Where} failed ({detail}).", cause="unknown")


RETRY_PAUSE = 0.5  # seconds before the first retry, doubled after each


class _Deadline(Exception):
    """The request's deadline passed while waiting for the stream."""


def _until(stream: Any, deadline: float) -> Iterator[Any]:
    """The stream's chunks, read by a helper thread, waited for until `deadline` at most."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue()

    def pump() -> None:
        try:
            for chunk in stream:
                q.put(("chunk", chunk))
            q.put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the reading thread
            q.put(("error", e))

    threading.Thread(target=pump, name="llm-stream", daemon=True).start()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline
        try:
            kind, value = q.get(timeout=remaining)
        except queue.Empty:
            raise _Deadline from None
        if kind == "end":
            return
        if kind == "error":
            raise value
        yield value


def _retriable(e: Exception) -> bool:
    if isinstance(e, openai.APIConnectionError | openai.RateLimitError):  # timeouts too
        return True
    status = getattr(e, "status_code", None)
    return status is not None and (status >= 500 or status == 429)


def collect(items: Iterator[str | Completion]) -> Completion:
    """Run a stream to its end and return its `Completion`."""
    done: Completion | None = None
    for item in items:
        if isinstance(item, Completion):
            done = item
    if done is None:
        raise LLMError("the model's stream ended without a completion", cause="stream")
    return done


def _detail(e: Exception) -> str:
    msg = str(getattr(e, "message", None) or str(e) or type(e).__name__)
    cause = e.__cause__ or e.__context__
    if cause is not None and str(cause) and str(cause) not in msg:
        msg = f"{msg.rstrip('.')}: {cause}"
    return " ".join(str(msg).split())[:300]
