"""The typed values the index layer produces: articles, chunks, ingest reports.

Frozen dataclasses, so a stage's output cannot be changed behind its back. They live here, at
the bottom, so `index/` never imports from `qa/`; `qa.types` re-exports them.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class ArticleMeta:
    """What we know about an article besides its text."""

    article_id: str  # stable: the url when there is one, else the absolute file path
    title: str
    source: str = ""  # the publication, when known
    url: str = ""
    date: str = ""  # as given (ISO when we could tell), "" when unknown
    path: str = ""  # the file it came from
    author: str = ""  # the byline, when known
    pages: tuple[int, ...] = ()  # a paginated source (PDF): where each page starts in the text

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset` of the text; None when not paginated."""
        if not self.pages:
            return None
        return max(1, bisect_right(self.pages, offset))


def pages_to_str(pages: tuple[int, ...]) -> str:
    """Page starts as stored (Chroma metadata and the catalog hold scalars): "0,1834,3920"."""
    return ",".join(map(str, pages))


def pages_from_str(value: object) -> tuple[int, ...]:
    return tuple(int(x) for x in str(value or "").split(",") if x.strip().isdigit())


@dataclass(frozen=True)
class Article:
    """A cleaned article: `text` is the stored text every citation span points into."""

    meta: ArticleMeta
    text: str
    content_hash: str

    @property
    def article_id(self) -> str:
        return self.meta.article_id


@dataclass(frozen=True)
class Chunk:
    """A contiguous span of an article's stored text: `text == article.text[start:end]`."""

    chunk_id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    n_tokens: int
    content_hash: str = ""  # of the article text the span points into


@dataclass(frozen=True)
class ArticleInfo:
    """One row of `qa articles`."""

    meta: ArticleMeta
    n_chunks: int
    content_hash: str


@dataclass(frozen=True)
class FileResult:
    """What ingestion did with one file (or one record of a JSON file)."""

    path: str
    # "added" | "updated" | "unchanged" | "duplicate" | "conflict" | "failed" | "pruned"
    status: str
    article_id: str = ""
    title: str = ""
    reason: str = ""  # why it failed, or what it duplicates
    n_chunks: int = 0


@dataclass(frozen=True)
class IngestReport:
    """The per-file outcome of one ingest run."""

    results: tuple[FileResult, ...]
    seconds: float = 0.0
    n_embedded: int = 0  # chunks embedded in this run (0 when nothing changed)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> tuple[FileResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")

    @property
    def ok(self) -> bool:
        """No file failed and none conflicted with another (both need the user's attention)."""
        return not self.failed and not self.count("conflict")

    def summary(self) -> str:
        parts = [
            f"{self.count(s)} {s}"
            for s in ("added", "updated", "unchanged", "duplicate", "pruned", "failed")
        ]
        if self.count("conflict"):
            parts.insert(4, f"{self.count('conflict')} conflict")
        return ", ".join(parts)
