"""Terms: what the lexical index (index/lexical.py) and the answer scorer see of a text.

Lower-cased words of two or more letters or digits, NLTK's English stop words dropped, the rest
Snowball-stemmed ("fined", "fines" -> "fine"): the same for passages and questions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=1)
def stopwords() -> list[str]:
    """NLTK's English stop words (shipped by llama-index-core), which include the question
    words (who, what, which, ...): a 33-word list would let "who" match "who"."""
    from index.tokens import llama_index_static

    path = llama_index_static() / "nltk_cache" / "corpora" / "stopwords" / "english"
    words = {w.strip() for w in path.read_text(encoding="utf-8").split() if w.strip()}
    return sorted(words | {"s", "also", "would", "could", "said", "say", "says"})


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # words of two or more letters or digits


@functools.lru_cache(maxsize=1)
def _stopset() -> frozenset[str]:
    return frozenset(stopwords())


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)  # type: ignore[no-any-return]


def terms_of(text: str) -> list[str]:
    """The terms of one text, in order: lower-cased words, stop words dropped, then stemmed
    (stems are cached: the answer scorer reads hundreds of sentences per question)."""
    stop = _stopset()
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in stop]


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """`terms_of` of each text."""
    return [terms_of(t) for t in texts]
