"""article-qa: answers about news articles, every claim cited to the exact passage."""

from qa.api import Assistant
from qa.errors import ConfigError, IndexEmptyError, InputError, LLMError, QAError
from qa.settings import Settings
from qa.types import Answer, ArticleInfo, ArticleMeta, Citation, IngestReport, Passage

__all__ = [
    "Answer", "ArticleInfo", "ArticleMeta", "Assistant", "Citation", "ConfigError",
    "IndexEmptyError", "IngestReport", "InputError", "LLMError", "Passage", "QAError", "Settings",
]
