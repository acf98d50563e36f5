"""What a question asks: the kind of answer it wants, its subject, and its focus.

The answer scorer (qa/reader.py) needs to tell a sentence that *answers* from one that only
*restates* the question. Three readings of the question make that possible, all generic (word
shapes and question words, never tied to an article):

- the expected answer: who -> a person, when -> a time, how old -> an age, how much -> an amount
  of money, how many -> a count, where -> a place, why -> a stated reason, "Who is X?" -> a
  description of X, which company -> an organisation; a sentence holds a *filler* when it has an
  answer of that kind that the question itself does not already contain;
- the subject: the names the question is about ("Malcolm Glazer", "Fiat"), and for a follow-up
  with a pronoun, the names of the earlier question;
- the focus: the other content words, which name the asked attribute ("old", "worth",
  "adviser", "reason").

    >>> q = analyse("How old is Malcolm Glazer?")
    >>> q.expected, q.subject, q.focus
    ('age', ('malcolm', 'glazer'), ('old',))
    >>> has_filler(q, "The approach by the 76-year-old owner of the Buccaneers...")
    True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_TIME = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}\b|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b|"
    rf"(?:{_MONTHS})\s+(?:19|20)\d\d\b|(?:in|since|by|until|from|during)\s+(?:{_MONTHS})\b|"
    rf"(?:{_DAYS})\b|(?:19|20)\d\d\b|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b|"
    r"yesterday|today|tomorrow|tonight|this (?:morning|afternoon|evening|week|month|year)|"
    r"(?:last|next|earlier this|later this) (?:week|month|year|spring|summer|autumn|fall|winter)|"
    r"(?:in|this|next|last) (?:the )?(?:spring|summer|autumn|fall|winter)\b|"
    r"\d+ (?:days?|weeks?|months?|years?) (?:ago|later|earlier|from now|after|before)|"
    r"(?:end|start|beginning|middle) of (?:the )?(?:year|month|week|season|\d{4}))",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "hundred|thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions|half"
)
_NUM = r"(?:\d[\d,]*(?:\.\d+)?|" + _NUMBER_WORDS + r")"
_MONEY = re.compile(
    r"[$€£¥]\s?\d[\d,.]*(?:\s?(?:bn|m|k|billion|million|thousand|trillion)\b)?|"
    r"\b\d[\d,.]*\s?(?:bn|m|k|billion|million|thousand|trillion)?\s?"
    r"(?:dollars|pounds|euros?|yen|yuan|rupees|roubles?|francs|pence|p|cents|"
    r"sterling|usd|gbp|eur)\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"\b\d[\d,.]*\s?(?:%|per ?cent|percent|percentage points?)", re.IGNORECASE)
_AGE = re.compile(
    r"\b\d{1,3}-year-old\b|\baged? \d{1,3}\b|\b(?:[A-Z][\w'-]+|he|she|who),? (?:now )?\d{1,3},|"
    r"\bat (?:the age of )?\d{1,3}\b|\b\d{1,3} years? old\b|\bin (?:his|her|their) "
    r"(?:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b",
)
_COUNT = re.compile(rf"\b{_NUM}\b", re.IGNORECASE)
_REASON = re.compile(  # a stated cause or purpose
    r"\b(?:because|due to|owing to|thanks to|as a result|in order to|so as to|so that|"
    r"reasons?|motive|motivated|in a bid to|in an effort to|designed to|aimed at|"
    r"blamed (?:on|for)|caused by|led to|leading to|prompted|driv(?:ing|en|es) (?:\w+ )?to|"
    r"(?:on|over) (?:the )?grounds|in (?:the )?light of|in protest|for fear|fears? (?:that|of)|"
    r"concerns? (?:that|over|about)|was down to|is down to|since (?:it|he|she|they|the))\b",
    re.IGNORECASE,
)
_REASON_WEAK = re.compile(r"\b(?:after|following|amid|as|so|since|over|said)\b", re.IGNORECASE)
_MANNER = re.compile(
    r"\b(?:by|through|using|via|with|without|after|when|plan(?:s|ned)? to|will|would|"
    r"(?:agreed|decided|voted|chose) to)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?:\s+(?:[A-Z]\.\s*)?(?:de |van |von |da )?"
                   r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?){1,2}\b")
_ORG = re.compile(r"\b(?:[A-Z][\w&.'-]*[A-Za-z]\s?){1,4}(?:Inc|Corp|Ltd|plc|Group|Bank|"
                  r"Airlines?|Motors|Capital|Partners|Holdings|Securities|Rothschild|"
                  r"Stanley|Sachs|Lynch)?\b|\b[A-Z]{2,6}\b")
_PLACE = re.compile(r"\b(?:in|at|from|to|near|into|across|outside|inside)\s+(?:the\s+)?"
                    r"[A-Z][\w.-]+")
_DEFINE = (  # how a news text says who or what someone is
    r"{x}(?:'s?)?(?:\s+[A-Z]{{2,4}})?,\s+(?:the|a|an|who|which|whose|now|former|chief|head|its|"
    r"his|her|one of)\b|"                                   # X, the chief executive of ...
    r"\b(?:the|a|an|its|his|her)\s+[^.,;:\"]{{3,80}},\s+(?:[A-Z][\w'-]+\s+){{0,3}}{x}\b|"
    # ^ the chairman of the Bar Council, Guy Mansfield
    r"{x}\s+(?:is|was|has been|had been|became|remains|serves as|works as)\s+"
    r"(?:the|a|an|now|also|one|chief|head|former)\b|"            # X is a ...
    r"{x}\s*\((?:[^)]{{3,60}})\)|"                                # X (the ...)
    r"\b(?:as|named|appointed|elected|made)\s+(?:[\w-]+\s+){{0,3}}(?:chief|head|chairman|"
    r"president|director|leader|spokes\w+|manager|minister|secretary|executive|editor|"
    r"coach|captain|strategist|adviser|advisor)\b"             # ... appointed X as its chief
)

_Q_DEFINE = re.compile(r"^\s*(?i:who|what)\s+(?i:is|was|are|were)\s+(?:(?i:the|a|an)\s+)?"
                       r"([A-Z][\w.'&-]*(?:\s+[A-Z][\w.'&-]*){0,4})\s*\??\s*$")
_Q_AGE = re.compile(r"\bhow old\b|\bwhat age\b|\bage of\b|\bwhat is (?:his|her|their) age\b",
                    re.IGNORECASE)
_Q_MONEY = re.compile(
    r"\bhow much\b|\bwhat (?:\w+ ){0,3}(?:price|cost|fee|salary|pay|payout|wage|bonus|budget|"
    r"fine|damages|compensation|value|worth|sum|amount|revenue|profit|loss(?:es)?|sales|"
    r"turnover|debt|bid|offer|deal|funding|investment|earnings|income|gross)\b|"
    r"\bworth\b|\bhow big\b.*\b(?:deal|bid|offer|fine|loss|profit|debt|cut)s?\b",
    re.IGNORECASE,
)
_Q_PERCENT = re.compile(r"\bwhat (?:\w+ ){0,3}(?:percentage|share|proportion|rate|stake)\b|"
                        r"\bby how much\b|\bhow big (?:a|was the) (?:stake|share|rise|fall)\b",
                        re.IGNORECASE)
_Q_COUNT = re.compile(r"\bhow many\b|\bwhat (?:\w+ ){0,2}(?:number|total|tally|score|count)\b|"
                      r"\bhow (?:long|far|large|big|tall|high|fast)\b", re.IGNORECASE)
_Q_TIME = re.compile(r"^\s*(?:and\s+|so\s+)?when\b|\bwhat (?:date|day|time|year|month)\b|"
                     r"\bon which (?:date|day)\b|\bhow long ago\b|\bin (?:what|which) year\b",
                     re.IGNORECASE)
_Q_PERSON = re.compile(r"^\s*(?:and\s+)?(?:who|whom|whose)\b|\bwho\s+(?:is|are|was|were)\b|"
                       r"\bwhich (?:\w+ ){0,2}(?:person|man|woman|player|actor|actress|minister|"
                       r"judge|lawyer|director|singer|manager|coach|boss|chief|executive|"
                       r"official|spokes\w+|member|mp|leader|candidate|winner)\b",
                       re.IGNORECASE)
_Q_ORG = re.compile(r"\b(?:which|what) (?:\w+ ){0,2}(?:company|firm|bank|group|organisation|"
                    r"organization|club|team|party|agency|studio|network|channel|carrier|"
                    r"broker|insurer|airline|retailer|newspaper|paper|publisher|label|body|"
                    r"court|country|union|investor|fund|vehicle|band|show|film|album|book|"
                    r"game|product|brand)\b",
                    re.IGNORECASE)
_Q_PLACE = re.compile(r"^\s*(?:and\s+)?where\b|\bin which (?:city|country|state|court|place|"
                      r"town|region)\b|\bwhat (?:city|country|venue|town)\b", re.IGNORECASE)
_Q_REASON = re.compile(r"^\s*(?:and\s+|so\s+|but\s+)?why\b|\bfor what reason\b|\bwhat (?:was|is) "
                       r"(?:the )?(?:reason|motive|cause)\b|\bwhat (?:was )?behind\b|\bwhat "
                       r"(?:led|caused|prompted|drove)\b|\bwhy\b", re.IGNORECASE)
_Q_MANNER = re.compile(r"^\s*(?:and\s+)?how\b(?! (?:old|much|many|long|far|large|big|tall|high))",
                       re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?:he|him|his|she|her|hers|they|them|their|it|its|this|that|these|"
                      r"those|the firm|the company|the club|the group|the star|the actor|"
                      r"the minister)\b", re.IGNORECASE)
_QWORDS = frozenset(["what", "which", "who", "whom", "whose", "when", "where", "why", "how"])
_CALENDAR = frozenset((_MONTHS + "|" + _DAYS).split("|"))
_CAP_WORD = re.compile(r"\b[A-Z][\w'&.-]*[\w]")

EXPECTED = ("define", "age", "money", "percent", "count", "time", "person", "org", "place",
            "reason", "manner", "")


@dataclass(frozen=True)
class Question:
    """A question read for answering (see the module docstring)."""

    text: str
    expected: str  # one of EXPECTED ("" when no particular kind)
    subject: tuple[str, ...]  # stemmed terms of the names the question is about
    focus: tuple[str, ...]  # stemmed other content terms: the asked attribute
    names: tuple[str, ...]  # the names themselves, as written
    numbers: frozenset[str]  # numbers the question states ("in 2004")
    history_subject: tuple[str, ...] = ()  # names of the earlier turn a follow-up points to
    follow_up: bool = False  # leans on the earlier turn (a pronoun, an ellipsis)
    defined: str = ""  # the X of "Who is X?"


@functools.lru_cache(maxsize=1)
def _stop() -> frozenset[str]:
    from index.terms import stopwords

    return frozenset(stopwords())


def terms(text: str) -> list[str]:
    """Stemmed content terms, as the lexical index sees them."""
    return list(_terms(text))


@functools.lru_cache(maxsize=100_000)
def _terms(text: str) -> tuple[str, ...]:  # the same passages come back question after question
    from index.terms import terms_of

    return tuple(terms_of(text))


def expected_kind(text: str) -> str:
    """The kind of answer a question wants (one of EXPECTED)."""
    if _Q_DEFINE.match(text):
        return "define"
    for kind, pattern in (("age", _Q_AGE), ("percent", _Q_PERCENT), ("money", _Q_MONEY),
                          ("time", _Q_TIME), ("count", _Q_COUNT), ("org", _Q_ORG),
                          ("person", _Q_PERSON), ("place", _Q_PLACE), ("reason", _Q_REASON),
                          ("manner", _Q_MANNER)):
        if pattern.search(text):
            return kind
    return ""


def names_in(text: str) -> list[str]:
    """Capitalised words that are names, not a sentence's first word or a question word."""
    out: list[str] = []
    for m in _CAP_WORD.finditer(text):
        w = m.group().strip(".'")
        low = w.lower()
        if low in _QWORDS or low in _CALENDAR or (m.start() == 0 and low in _stop()):
            continue
        out.append(w)
    return out


_AUX = "did|does|do|is|are|was|were|has|have|had|can|could|will|would|should"
# where a question asks a second thing: ", and" before a question word or an auxiliary verb,
# or a bare "and" before a question word
_SECOND = re.compile(rf",\s+and\s+(?=(?:{'|'.join(sorted(_QWORDS))}|{_AUX})\b)|"
                     rf"\s+and\s+(?=(?:{'|'.join(sorted(_QWORDS))})\b)", re.IGNORECASE)
MIN_PART_WORDS = 3


def split_parts(text: str) -> list[str]:
    """A question that asks two things ("How many goals has he scored, and which club wants
    him?") as its two questions, each ending in "?"; any other question as itself. Each part
    has at least MIN_PART_WORDS words (so "Where and when...?" and "..., and why?" stay whole:
    their parts do not stand as questions)."""
    m = _SECOND.search(text)
    if not m:
        return [text]
    first, second = text[: m.start()].strip(" ,:;"), text[m.end():].strip()
    if min(len(re.findall(r"\w+", first)), len(re.findall(r"\w+", second))) < MIN_PART_WORDS:
        return [text]
    first = first if first.endswith("?") else first + "?"
    second = second[:1].upper() + second[1:]
    return [first, second if second.endswith("?") else second + "?"]


def analyse(text: str, history: Sequence[str] = ()) -> Question:
    """Read `text` (after the earlier user turns `history`, oldest first)."""
    kind = expected_kind(text)
    names = [n for n in names_in(text) if n.lower() not in _stop()]
    subject = tuple(dict.fromkeys(t for n in names for t in terms(n)))
    focus = tuple(t for t in dict.fromkeys(terms(text)) if t not in subject)
    numbers = frozenset(m.replace(",", "") for m in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text))
    follow = bool(history) and (bool(_PRONOUN.search(text)) or not names or
                                bool(re.match(r"^\s*(?:and|but|so|what about|how about)\b", text,
                                              re.IGNORECASE)))
    hist_subject: tuple[str, ...] = ()
    if follow:
        for h in reversed(history):
            hn = [n for n in names_in(h) if n.lower() not in _stop()]
            if hn:
                hist_subject = tuple(dict.fromkeys(t for n in hn for t in terms(n)))
                break
        if not hist_subject:  # no name in the earlier turns: what the last one was about
            hist_subject = tuple(t for t in dict.fromkeys(terms(history[-1]))
                                 if t not in subject + focus)
    m = _Q_DEFINE.match(text)
    return Question(text=text, expected=kind, subject=subject, focus=focus,
                    names=tuple(dict.fromkeys(names)), numbers=numbers,
                    history_subject=hist_subject, follow_up=follow,
                    defined=m.group(1).strip() if m else "")


def has_filler(q: Question, sentence: str) -> bool:
    """Whether `sentence` holds an answer of the kind `q` expects that `q` does not already state.
    A question with no particular kind is filled by any sentence."""
    kind = q.expected
    if kind == "":
        return True
    if kind == "define":
        return _defines(q.defined, sentence)
    if kind == "reason":
        return bool(_REASON.search(sentence))
    if kind == "manner":
        return bool(_MANNER.search(sentence))
    return bool(filler_values(q, sentence))


def filler_values(q: Question, sentence: str) -> set[str]:
    """The answers of the expected kind in `sentence` that `q` does not state, normalised
    ("76-year-old", "£1.3bn", "lynton crosby"); empty for kinds without values (why, how)."""
    return {v for _, _, v in filler_spans(q, sentence)}


def filler_spans(q: Question, sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised value) of each answer of the expected kind in `sentence`."""
    kind = q.expected
    qtext = q.text.lower()
    found: list[tuple[int, int, str]] = []
    if kind in ("age", "money", "percent", "count", "time"):
        pattern = {"age": _AGE, "money": _MONEY, "percent": _PERCENT, "count": _COUNT,
                   "time": _TIME}[kind]
        found = [(m.start(), m.end(), m.group()) for m in pattern.finditer(sentence)]
    elif kind == "person":
        asked = {w.lower() for w in re.findall(r"[A-Za-z]+", qtext)}
        for m in _NAME.finditer(sentence):
            words = [w for w in re.findall(r"[A-Za-z]+", m.group()) if w.lower() not in _stop()]
            if len(words) >= 2 and not {w.lower() for w in words} <= asked:
                found.append((m.start(), m.end(), " ".join(words)))
    elif kind == "org":
        found = [(m.start(), m.end(), m.group().strip()) for m in _ORG.finditer(sentence)
                 if len(m.group().strip()) > 1
                 and not (m.start() == 0 and m.group().strip().lower() in _stop())]
    elif kind == "place":
        found = [(m.start(), m.end(), m.group().split()[-1]) for m in _PLACE.finditer(sentence)]
    out = []
    for a, b, v in found:
        norm = " ".join(v.lower().split())
        if norm not in qtext:
            out.append((a, b, norm))
    return out


def _defines(name: str, sentence: str) -> bool:
    """Whether `sentence` says who or what `name` is (an apposition, a title before the name,
    "X is a ..."), by the name's last word."""
    if not name:
        return False
    last = re.escape(name.split()[-1])
    return bool(re.search(_DEFINE.format(x=last), sentence))


def weak_reason(sentence: str) -> bool:
    """A word that often introduces a cause without saying it is one (after, amid, as...)."""
    return bool(_REASON_WEAK.search(sentence))


def bound(q: Question, sentence: str, near: int = 6) -> bool:
    """Whether an answer of the expected kind stands within `near` words of a name the question
    (or, for a follow-up, its earlier turn) asks about: "Mr Ebbers, 63," binds the age to
    Ebbers; "Mr Sullivan, 42, ... Mr Ebbers' trial" does not."""
    names = set(q.subject) | set(q.history_subject)
    spans = filler_spans(q, sentence)
    if not names or not spans:
        return False
    words = list(re.finditer(r"\w+", sentence))
    name_at = [i for i, m in enumerate(words) if (st := terms(m.group())) and st[0] in names]
    if not name_at:
        return False
    for a, b, _ in spans:
        inside = [i for i, m in enumerate(words) if m.start() < b and a < m.end()]
        if inside and any(min(abs(n - i) for i in inside) <= near for n in name_at):
            return True
    return False
