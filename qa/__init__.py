"""article-qa: answers about news articles, every claim cited to the exact passage.

    from qa import Assistant, Settings

Names are imported on first use, so `import qa.errors` (used by index/) stays light and
free of import cycles.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Assistant": "qa.api",
    "Settings": "qa.settings",
    "QAError": "qa.errors", "ConfigError": "qa.errors", "InputError": "qa.errors",
    "IndexEmptyError": "qa.errors", "LLMError": "qa.errors", "StoreMismatchError": "qa.errors",
    "Answer": "qa.types", "ArticleInfo": "qa.types", "ArticleMeta": "qa.types",
    "Citation": "qa.types", "IngestReport": "qa.types", "Passage": "qa.types",
}
__all__ = [
    "Answer", "ArticleInfo", "ArticleMeta", "Assistant", "Citation", "ConfigError",
    "IndexEmptyError", "IngestReport", "InputError", "LLMError", "Passage", "QAError", "Settings",
    "StoreMismatchError",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
