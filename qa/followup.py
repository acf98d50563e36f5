"""Follow-up questions without an LLM: retrieve with the earlier turns' context.

"What did he say about the Vanzan lawsuit?" after "Who is Baldoni's lawyer?" cannot be answered
alone: "he" points back. A question that leans on an earlier turn (a pronoun, a leading "and",
"what about ...", or very few words of its own) is retrieved together with the last earlier
turns; a self-contained question is retrieved alone, so a change of topic is not polluted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ANAPHORA = re.compile(
    r"\b(he|him|his|she|her|hers|they|them|their|theirs|it|its|this|that|these|those|"
    r"there|then|the same|the former|the latter|the other)\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(r"^\s*(and|but|also|so|or|what about|how about|why|and why)\b", re.IGNORECASE)
MAX_TURNS = 2


def leans_on_history(question: str) -> bool:
    words = re.findall(r"[A-Za-z']+", question)
    return bool(_ANAPHORA.search(question) or _ELLIPSIS.match(question) or len(words) <= 3)


def context_turns(question: str, history: Sequence[str]) -> list[str]:
    """The earlier user turns a follow-up should be retrieved with (most recent last)."""
    turns = [h for h in history if h and h.strip()]
    if not turns or not leans_on_history(question):
        return []
    return turns[-MAX_TURNS:]


def retrieval_query(question: str, history: Sequence[str]) -> str:
    """The text retrieval sees: the earlier turns it leans on, then the question itself."""
    return " ".join([*context_turns(question, history), question]).strip()
