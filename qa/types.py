"""The typed values that flow between answering stages: passages, citations, answers.

Everything here is a frozen dataclass so a stage's output cannot be changed behind its back, and
so the three doors (CLI, UI, eval) all read the same shapes. The index layer's types (articles,
chunks, ingest reports) live in `index.types` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.types import (  # noqa: F401 - re-exported: the public API names them from qa.types
    Article,
    ArticleInfo,
    ArticleMeta,
    Chunk,
    FileResult,
    IngestReport,
)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the article it belongs to and how it was found."""

    chunk: Chunk
    article: ArticleMeta
    score: float  # fused (reciprocal-rank) score: higher is better
    dense_score: float | None = None  # cosine similarity, when the dense retriever found it
    bm25_score: float | None = None  # BM25 score, when the lexical retriever found it
    rank: int = 0  # 1-based rank after fusion


@dataclass(frozen=True)
class Citation:
    """One [n] marker of an answer: the exact quoted text and where it stands in its article.

    Invariant (tested): `quote == article_text[start:end]` for the article's stored text.
    """

    number: int  # the n of the [n] marker, numbered in order of first use
    article: ArticleMeta
    chunk_id: str
    start: int
    end: int
    quote: str
    score: float  # the retrieval score of the passage the quote came from
    support: float = 0.0  # how well the quote supports the claim it is attached to (0..1)

    @property
    def page(self) -> int | None:
        """The page the quote starts on, for a paginated source (PDF); else None."""
        return self.article.page_at(self.start)


@dataclass(frozen=True)
class SentenceCheck:
    """The support check of one answer sentence against the passages it cites."""

    text: str
    citations: tuple[int, ...]
    support: float
    supported: bool


@dataclass(frozen=True)
class Usage:
    """Token counts and estimated cost of one LLM answer (zero for extractive answers)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True)
class Answer:
    """The answer to one question.

    `text` carries inline [n] markers, each resolving to `citations[n-1]`. A refused answer
    (`refused=True`) has a fixed message as text, no citations, and the closest passages in
    `passages` so a user can look for themselves.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    mode: str  # "extractive" or "llm:<model>"
    passages: tuple[Passage, ...] = ()
    standalone_question: str = ""  # the question as retrieval saw it (follow-ups expanded)
    support: float = 0.0  # the evidence score the refusal decision was made on
    sentences: tuple[SentenceCheck, ...] = ()
    prompt_name: str = ""
    prompt_hash: str = ""
    usage: Usage = field(default_factory=Usage)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    warnings: tuple[str, ...] = ()

    @property
    def unsupported_sentences(self) -> tuple[SentenceCheck, ...]:
        return tuple(s for s in self.sentences if not s.supported)
