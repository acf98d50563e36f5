"""Thumbs up/down (and an optional comment) on an answer, appended as one JSON line per event.

Where the file lives, first match wins:
  1. `Settings.feedback_path`, when that field exists and is set;
  2. the QA_FEEDBACK_PATH environment variable;
  3. `<store_path>/feedback.jsonl`, next to the store it is about.

Rows are only ever appended. A comment sent after a thumb is a second row with the same
`feedback_id`; readers keep the last row of each id.

    >>> from qa.feedback import Feedback, append_feedback        # doctest: +SKIP
    >>> append_feedback(path, Feedback.for_answer(ans, history, "up", settings))
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.errors import ConfigError
from qa.settings import Settings
from qa.types import Answer

ENV_NAME = "QA_FEEDBACK_PATH"
RATINGS = ("up", "down")

_write_lock = threading.Lock()


@dataclass(frozen=True)
class CitedSpan:
    number: int
    article_id: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class Feedback:
    """One feedback row. `settings` is `Settings.public_dict()` (secrets masked)."""

    feedback_id: str
    timestamp: str  # ISO 8601, UTC
    rating: str  # "up" | "down"
    question: str
    history: tuple[str, ...]
    answer: str
    refused: bool
    mode: str
    citations: tuple[CitedSpan, ...]
    settings: dict[str, Any]
    comment: str = ""
    request: dict[str, Any] = field(default_factory=dict)  # per-question choices (top_k, filters)

    def __post_init__(self) -> None:
        if self.rating not in RATINGS:
            raise ConfigError(f"rating must be 'up' or 'down', got {self.rating!r}")

    @classmethod
    def for_answer(cls, ans: Answer, history: Sequence[str], rating: str, settings: Settings,
                   *, comment: str = "", request: Mapping[str, Any] | None = None,
                   feedback_id: str | None = None) -> Feedback:
        """The row for a rating of `ans`, asked after the earlier questions `history`."""
        return cls(
            feedback_id=feedback_id or uuid.uuid4().hex,
            timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
            rating=rating,
            question=ans.question,
            history=tuple(history),
            answer=ans.text,
            refused=ans.refused,
            mode=ans.mode,
            citations=tuple(
                CitedSpan(c.number, c.article.article_id, c.start, c.end, c.quote)
                for c in ans.citations
            ),
            settings=settings.public_dict(),
            comment=comment.strip(),
            request=dict(request or {}),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def feedback_path(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """Where feedback goes for these settings (see the module docstring)."""
    env = os.environ if env is None else env
    explicit = getattr(settings, "feedback_path", "") or env.get(ENV_NAME, "")
    if explicit:
        return Path(explicit).expanduser()
    return Path(settings.store_path).expanduser() / "feedback.jsonl"


def append_feedback(path: Path, row: Feedback) -> None:
    """Append one row (creating the folder); whole lines only, safe across threads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = row.to_json() + "\n"
    with _write_lock, open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """All rows, the last one of each feedback_id (for reports and tests)."""
    if not path.exists():
        return []
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["feedback_id"]] = row
    return list(rows.values())
