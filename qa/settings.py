"""One settings object, built at the entry points and passed down explicitly.

Precedence: explicit arguments > environment variables (QA_*, plus OPENAI_API_KEY /
OPENAI_BASE_URL) > defaults. Values are validated here, where they enter, with messages that
say how to fix them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.embed import DEFAULT_EMBED_TOKENS, MAX_SEQ_TOKENS
from qa.errors import ConfigError


def default_store_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "article-qa" / "store")


# Generated sentences scoring under this against the passages they cite are flagged unsupported
# (see tests/test_citations.py for paraphrase vs. unrelated scores).
DEFAULT_SUPPORT_THRESHOLD = 0.45


CHROMA_CLOUD_URL = "https://api.trychroma.com"


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured. See README "Settings" for the environment names."""

    # store
    store_path: str = field(default_factory=default_store_path)
    chroma_url: str = ""  # e.g. http://127.0.0.1:8000 -> a `chroma run` server instead of a folder
    chroma_api_key: str = ""  # Chroma Cloud (chroma_url defaults to CHROMA_CLOUD_URL then)
    chroma_tenant: str = ""  # Chroma Cloud tenant and database (empty: the key's own)
    chroma_database: str = ""
    collection: str = "articles"
    store_wait: float = 600.0  # seconds to wait for another process that has the store open
    # embeddings
    embed_backend: str = "minilm-onnx"  # minilm-onnx | minilm-st | openai
    embed_model: str = ""  # only for embed_backend=openai, e.g. text-embedding-3-small
    embed_concurrency: int = 4  # embed_backend=openai: requests to the server at once
    embed_max_tokens: int = DEFAULT_EMBED_TOKENS  # minilm-*: word pieces of a passage embedded
    # chunking
    chunk_tokens: int = 1024
    chunk_overlap: int = 0
    # retrieval
    top_k: int = 5
    pool: int = 12  # passages whose sentences the reader scores; the best top_k are shown
    fusion: str = "rrf"  # relative (score) | rrf (reciprocal rank): how dense + lexical combine
    # answering
    answer_mode: str = "auto"  # auto | extractive | llm
    refusal_threshold: float = -1.0  # < 0: the reader's calibrated threshold (qa/models/)
    max_answer_sentences: int = 3
    max_question_chars: int = 1000
    support_threshold: float = DEFAULT_SUPPORT_THRESHOLD
    fallback_to_extractive: bool = True  # when the LLM fails, answer extractively and say so
    # LLM (OpenAI or any OpenAI-compatible server)
    openai_api_key: str = ""
    openai_base_url: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    llm_context_window: int = 0  # 0: known for OpenAI models, else 8192
    llm_answer_tokens: int = 512
    llm_temperature: float = 0.0
    history_tokens: int = 1000
    # ingestion
    max_file_bytes: int = 20_000_000
    # browser chat
    feedback_path: str = ""  # "" means <store_path>/feedback.jsonl

    def __post_init__(self) -> None:
        _check(self.chunk_tokens >= 16, f"chunk_tokens must be at least 16, got {self.chunk_tokens}")
        _check(
            0 <= self.chunk_overlap < self.chunk_tokens,
            f"chunk_overlap ({self.chunk_overlap}) must be >= 0 and smaller than chunk_tokens "
            f"({self.chunk_tokens}); lower QA_CHUNK_OVERLAP or raise QA_CHUNK_TOKENS",
        )
        _check(1 <= self.top_k <= 100, f"top_k must be between 1 and 100, got {self.top_k}")
        _check(self.fusion in ("relative", "rrf"),
               f"fusion must be relative or rrf, got {self.fusion!r} (QA_FUSION)")
        _check(
            self.answer_mode in ("auto", "extractive", "llm"),
            f"answer_mode must be auto, extractive or llm, got {self.answer_mode!r}",
        )
        _check(
            self.embed_backend in ("minilm-onnx", "minilm-st", "openai"),
            f"embed_backend must be minilm-onnx, minilm-st or openai, got {self.embed_backend!r}",
        )
        _check(
            self.refusal_threshold <= 1.0,
            f"refusal_threshold must be between 0 and 1 (or negative for the reader's "
            f"calibrated one), got {self.refusal_threshold}",
        )
        _check(1 <= self.pool <= 100, f"pool must be between 1 and 100, got {self.pool}")
        _check(1 <= self.embed_concurrency <= 64,
               f"embed_concurrency must be between 1 and 64, got {self.embed_concurrency} "
               "(QA_EMBED_CONCURRENCY)")
        _check(16 <= self.embed_max_tokens <= MAX_SEQ_TOKENS,
               f"embed_max_tokens must be between 16 and {MAX_SEQ_TOKENS} (the embedding "
               f"model's limit), got {self.embed_max_tokens} (QA_EMBED_MAX_TOKENS)")
        _check(
            0.0 <= self.support_threshold <= 1.0,
            f"support_threshold must be between 0 and 1, got {self.support_threshold}",
        )
        _check(self.max_answer_sentences >= 1, "max_answer_sentences must be at least 1")
        _check(self.store_wait >= 0, f"store_wait must be >= 0 seconds, got {self.store_wait}")
        _check(self.llm_timeout > 0, f"llm_timeout must be > 0 seconds, got {self.llm_timeout}")
        _check(self.llm_max_retries >= 0, "llm_max_retries must be >= 0")
        _check(self.llm_answer_tokens >= 16, "llm_answer_tokens must be at least 16")
        if self.chroma_url and not self.chroma_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"chroma_url must look like http://HOST:PORT, got {self.chroma_url!r} "
                "(QA_CHROMA_URL); leave it empty to use the embedded store folder"
            )
        if self.answer_mode == "llm" and not (self.openai_api_key or self.openai_base_url):
            raise ConfigError(
                "answer_mode=llm needs a model server: set OPENAI_API_KEY for OpenAI, or "
                "OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1) for vLLM, llama.cpp or Ollama"
            )

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def use_llm(self) -> bool:
        """Whether answers are generative: explicit mode, else an LLM when one is configured."""
        if self.answer_mode == "llm":
            return True
        if self.answer_mode == "extractive":
            return False
        return self.llm_configured

    @property
    def remote_url(self) -> str:
        """The Chroma server (or Chroma Cloud) this store is on; "" for an embedded folder."""
        return self.chroma_url or (CHROMA_CLOUD_URL if self.chroma_api_key else "")

    @property
    def store_label(self) -> str:
        if self.chroma_api_key:
            where = "/".join(x for x in (self.chroma_tenant, self.chroma_database) if x)
            return f"{self.remote_url} (Chroma Cloud{', ' + where if where else ''})"
        return self.chroma_url or self.store_path

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment, then explicit overrides (None means unset)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            for name in _env_names(f.name):
                if name in env and env[name] != "":
                    values[f.name] = _coerce(f, env[name], name)
                    break
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def public_dict(self) -> dict[str, Any]:
        """Settings as recorded in reports and feedback: secrets masked."""
        d = dataclasses.asdict(self)
        for secret in ("openai_api_key", "chroma_api_key"):
            if d[secret]:
                d[secret] = "***"
        return d


def _env_names(field_name: str) -> list[str]:
    names = ["QA_" + field_name.upper()]
    if field_name == "openai_api_key":
        names.append("OPENAI_API_KEY")
    if field_name == "openai_base_url":
        names.append("OPENAI_BASE_URL")
    if field_name == "llm_model":
        names.append("OPENAI_MODEL")
    if field_name in ("chroma_api_key", "chroma_tenant", "chroma_database"):
        names.append(field_name.upper())  # Chroma's own names: CHROMA_API_KEY, ...
    return names


def _coerce(f: dataclasses.Field[Any], raw: str, name: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
