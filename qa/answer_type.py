"""Expected answer types: a classic QA signal, used by the extractive answerer.

"Who ..." wants a named person, "When ..." a time expression, "How many/much ..." (or "what
amount/gross/number ...") a quantity, "Where ..." a place, "Why ..." a stated reason (because, due to, in order to, following ...). A sentence that holds no answer of
the expected type is a weaker answer, however many question words it repeats. The check is
generic (word shapes), not tied to any article.
"""

from __future__ import annotations

import re

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_TIME = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTHS})|(?:{_MONTHS})\s+\d{{4}}|"
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"(?:19|20)\d\d|\d{1,2}/\d{1,2}(?:/\d{2,4})?|"
    r"yesterday|today|tomorrow|tonight|this (?:morning|afternoon|evening|week|month|year)|"
    r"(?:last|next|earlier this|later this) (?:week|month|year|spring|summer|fall|autumn|winter)|"
    r"in (?:the )?(?:spring|summer|fall|autumn|winter)|\d+ (?:days?|weeks?|months?|years?) "
    r"(?:ago|later|earlier|from now))\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|twenty|thirty|"
    "forty|fifty|hundred|thousand|million|billion|trillion|half"
)
_QUANTITY = re.compile(
    rf"[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:%|percent|[mbk]\b|million|billion|thousand)|"
    rf"\b(?:{_NUMBER_WORDS})\b|\b(?!(?:19|20)\d\d\b)\d[\d,.]*\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+){1,2}\b")
_REASON = re.compile(
    r"\b(?:because|since|due to|owing to|thanks to|in order to|so as to|so that|as a result|"
    r"good faith|reasons?|motive|motivated|aim(?:ed|s)? to|intend(?:ed|s)? to|in a bid to|"
    r"(?:was|were|is|being) done to|in an effort to|designed to|following|amid)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(r"\b(?:in|at|from|to|near)\s+(?:the\s+)?[A-Z][\w.]+")

_Q_WHO = re.compile(r"^\s*(?:who|whom|whose)\b|\bwho(?:m|se)?\s+(?:is|are|was|were)\b", re.IGNORECASE)
_Q_WHEN = re.compile(r"^\s*when\b|\bwhat (?:date|day|time|year|month)\b|\bhow long ago\b", re.IGNORECASE)
_Q_QUANTITY = re.compile(
    r"\bhow (?:many|much|old|long|large|big)\b|"
    r"\bwhat (?:\w+ ){0,3}(?:amount|number|gross|figure|total|price|cost|sum|revenue|"
    r"percentage|share|age|salary|fine|damages)\b",
    re.IGNORECASE,
)
_Q_WHY = re.compile(r"^\s*(?:and\s+)?why\b|\bfor what reason\b|\bwhat (?:was|is) the reason\b", re.IGNORECASE)
_Q_WHERE = re.compile(r"^\s*where\b|\bin which (?:city|country|state|court|place)\b", re.IGNORECASE)


def expected_type(question: str) -> str:
    """'person', 'time', 'quantity', 'place', 'reason' or '' (no particular type)."""
    if _Q_QUANTITY.search(question):
        return "quantity"
    if _Q_WHEN.search(question):
        return "time"
    if _Q_WHO.search(question):
        return "person"
    if _Q_WHERE.search(question):
        return "place"
    if _Q_WHY.search(question):
        return "reason"
    return ""


def type_match(kind: str, sentence: str, question: str) -> float:
    """1.0 when `sentence` holds an answer of the expected kind, 0.0 when it holds none."""
    if not kind:
        return 1.0
    if kind == "time":
        return 1.0 if _TIME.search(sentence) else 0.0
    if kind == "quantity":
        return 1.0 if _QUANTITY.search(sentence) else 0.0
    if kind == "reason":
        return 1.0 if _REASON.search(sentence) else 0.0
    if kind == "place":
        return 1.0 if _PLACE.search(sentence) else 0.0
    # person: a multi-word name that is not just the question's own names
    from index.bm25 import stopwords

    stop = set(stopwords())
    asked = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    for m in _NAME.finditer(sentence):
        # "Because Lively" is a sentence start, not a name: drop capitalised common words
        words = [w for w in re.findall(r"[A-Za-z]+", m.group()) if w.lower() not in stop]
        if len(words) >= 2 and not {w.lower() for w in words} <= asked:
            return 1.0
    return 0.0
