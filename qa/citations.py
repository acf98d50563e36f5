"""Citations are verified, not trusted.

A generative answer cites the numbered sources it was sent with [n] markers (also written
[1, 2], [1][2] or [Source 1]). `CitationVerifier.verify`:
- removes markers for sources that were not sent, and says so in the warnings;
- renumbers the remaining markers in order of first use ([3] ... [1] becomes [1] ... [2]), each
  as its own [n] so every door can link it;
- scores each answer sentence against the sentences of the passages it cites: the best mix of
  cosine similarity (the embedder already loaded) and lexical overlap (the share of the claim's
  stemmed content words the passage sentence holds). A sentence under `threshold`, or citing
  nothing, is flagged `supported=False`;
- gives each citation the best-supporting sentence of its passage as the quote, with its exact
  character span in the article (`quote == article_text[start:end]`).

    >>> v = CitationVerifier(embedder)                              # doctest: +SKIP
    >>> v.verify("Lively sued in 2024 [2].", passages).citations[0].quote  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.chunk import split_sentences
from index.embed import Embedder
from index.terms import tokenize
from qa.extractive import REFUSAL_TEXT
from qa.settings import DEFAULT_SUPPORT_THRESHOLD
from qa.types import Citation, Passage, SentenceCheck

# [3], [1, 2], [1,2], [Source 3], [source 1, 2]
MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*,\s*\d+)*)\s*\]", re.IGNORECASE)
_MARKER_WITH_SPACE = re.compile(r"[ \t]*" + MARKER.pattern, re.IGNORECASE)
_LEADING_MARKERS = re.compile(r"^(?:\s*" + MARKER.pattern + r")+", re.IGNORECASE)
# what may still become a marker when the next piece of a stream arrives: "  [", " [So", " [1,"
_PARTIAL_MARKER = re.compile(
    r"[ \t]*(?:\[\s*(?:s(?:o(?:u(?:r(?:c(?:e(?:s)?)?)?)?)?)?\s*)?[\d,\s]*)?\Z", re.IGNORECASE
)

# The sentence the answer prompt tells the model to say when the sources do not cover a
# question; the first sentence of qa.extractive.REFUSAL_TEXT, so both modes refuse alike.
MODEL_REFUSAL = "The articles don't say."

SUPPORT_THRESHOLD = DEFAULT_SUPPORT_THRESHOLD
W_SEMANTIC = 0.6
W_LEXICAL = 0.4
NUMBER_PENALTY = 0.5  # a claim with a number its cited passages never mention keeps half its score


@dataclass(frozen=True)
class Renumbered:
    """An answer text with its markers checked and renumbered."""

    text: str
    order: tuple[int, ...]  # the sent source numbers in order of first use: [n] is order[n-1]
    invalid: tuple[int, ...]  # cited numbers that were never sent (removed from the text)


@dataclass(frozen=True)
class Verified:
    """The outcome of verifying one answer."""

    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]
    warnings: tuple[str, ...]
    refused: bool  # the model said the refusal sentence and cited nothing


class MarkerRenumberer:
    """Checks and renumbers markers, also piece by piece as a stream arrives.

    The numbering persists across calls, so feeding a reply in pieces (`feed`, then `flush`)
    gives the same text as `renumber` on the whole reply: a piece that ends inside a possible
    marker (or in the blanks before one) is held back until the marker is complete.
    """

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.mapping: dict[int, int] = {}  # sent source number -> number in order of first use
        self.invalid: list[int] = []
        self._held = ""

    def sub(self, text: str) -> str:
        return _MARKER_WITH_SPACE.sub(self._repl, text)

    def feed(self, piece: str) -> str:
        buf = self._held + piece
        m = _PARTIAL_MARKER.search(buf)
        cut = m.start() if m else len(buf)
        self._held = buf[cut:]
        return self.sub(buf[:cut])

    def flush(self) -> str:
        rest, self._held = self._held, ""
        return self.sub(rest)

    @property
    def order(self) -> tuple[int, ...]:
        return tuple(k for k, _ in sorted(self.mapping.items(), key=lambda kv: kv[1]))

    def _repl(self, m: re.Match[str]) -> str:
        keep: list[int] = []
        for k in (int(x) for x in m.group(1).split(",")):
            if not 1 <= k <= self.n_sources:
                if k not in self.invalid:
                    self.invalid.append(k)
                continue
            n = self.mapping.setdefault(k, len(self.mapping) + 1)
            if n not in keep:
                keep.append(n)
        if not keep:
            return ""  # the blanks before the marker go with it
        whole = m.group(0)
        lead = whole[: len(whole) - len(whole.lstrip(" \t"))]
        return lead + "".join(f"[{n}]" for n in keep)


def renumber(text: str, n_sources: int) -> Renumbered:
    """Drop markers outside 1..n_sources; renumber the rest in order of first use."""
    r = MarkerRenumberer(n_sources)
    out = r.sub(text)
    return Renumbered(out.strip(), r.order, tuple(r.invalid))


def answer_sentences(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence text, its marker numbers); a marker just after a full stop joins its sentence."""
    spans = split_sentences(text)
    pieces = [text[a:b] for a, b in spans]
    for i in range(1, len(pieces)):
        m = _LEADING_MARKERS.match(pieces[i])
        if m:  # "Claim one. [1] Claim two [2]." -> the [1] belongs to claim one
            pieces[i - 1] = pieces[i - 1] + " " + m.group(0).strip()
            pieces[i] = pieces[i][m.end():].strip()
    out = []
    for p in pieces:
        if not p.strip():
            continue
        nums = tuple(dict.fromkeys(int(x) for m in MARKER.finditer(p) for x in m.group(1).split(",")))
        out.append((p.strip(), nums))
    return out


def is_refusal(sentence: str) -> bool:
    """Whether a sentence is the refusal sentence itself (not one that merely starts like it).

    Regression: "The articles don't say that X, but Y [1]." is a claim and must be checked.
    """
    claim = _norm(MARKER.sub("", sentence))
    return claim in _REFUSALS


@dataclass(frozen=True)
class _SourceSentence:
    start: int  # in the article
    end: int
    text: str
    terms: frozenset[str]


class CitationVerifier:
    """`verify(raw_answer, sent_passages) -> Verified`; source n is `sent_passages[n-1]`."""

    def __init__(self, embedder: Embedder, threshold: float = SUPPORT_THRESHOLD) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def verify(self, raw: str, sources: Sequence[Passage]) -> Verified:
        r = renumber(raw, len(sources))
        warnings = [
            f"The model cited source [{k}], but only sources 1-{len(sources)} were sent: "
            "the marker was removed."
            if sources else f"The model cited source [{k}], but no sources were sent: removed."
            for k in r.invalid
        ]
        cited = [sources[k - 1] for k in r.order]  # new number n -> cited[n-1]
        sents = answer_sentences(r.text)
        claims = [(s, nums) for s, nums in sents if not is_refusal(s)]
        refusal_said = len(claims) < len(sents)
        src_sents = [self._sentences(p) for p in cited]
        claim_texts = [_claim(s) for s, _ in claims]
        flat = [ss for group in src_sents for ss in group]
        vecs = self.embedder.embed([*claim_texts, *(ss.text for ss in flat)]) if (
            claim_texts and flat) else np.zeros((0, 1), dtype=np.float32)
        claim_vecs = vecs[: len(claim_texts)]
        offsets = np.cumsum([0, *(len(g) for g in src_sents)])
        src_vecs = [vecs[len(claim_texts) + offsets[i]: len(claim_texts) + offsets[i + 1]]
                    for i in range(len(src_sents))]

        checks: list[SentenceCheck] = []
        best_for: dict[int, tuple[float, int]] = {}  # number -> (score, sentence index)
        for ci, ((sentence, nums), claim) in enumerate(zip(claims, claim_texts)):
            terms = frozenset(tokenize([claim])[0])
            cited_numbers = {x for n in nums for x in _numbers(cited[n - 1].chunk.text)}
            penalty = NUMBER_PENALTY if _numbers(claim) - cited_numbers else 1.0
            support = 0.0
            for n in nums:
                group = src_sents[n - 1]
                if not group:
                    continue
                sem = src_vecs[n - 1] @ claim_vecs[ci]
                scores = [penalty * (W_SEMANTIC * max(0.0, float(s))
                                     + W_LEXICAL * _overlap(terms, ss.terms))
                          for s, ss in zip(sem, group)]
                j = int(np.argmax(scores))
                support = max(support, scores[j])
                if n not in best_for or scores[j] > best_for[n][0]:
                    best_for[n] = (scores[j], j)
            checks.append(SentenceCheck(sentence, nums, round(support, 4),
                                        bool(nums) and support >= self.threshold))

        citations: list[Citation] = []
        for n, p in enumerate(cited, start=1):
            group = src_sents[n - 1]
            score, j = best_for.get(n, (0.0, 0))
            if not group:  # a passage with no sentence: quote it whole
                c = p.chunk
                span = (c.start, c.end, c.text)
            else:
                span = (group[j].start, group[j].end, group[j].text)
            citations.append(Citation(
                number=n, article=p.article, chunk_id=p.chunk.chunk_id, start=span[0],
                end=span[1], quote=span[2], score=p.score, support=round(score, 4),
            ))
        refused = (refusal_said and not citations) or not r.text.strip()
        return Verified(r.text, tuple(citations), tuple(checks), tuple(warnings), refused)

    def _sentences(self, p: Passage) -> list[_SourceSentence]:
        c = p.chunk
        out = []
        for a, b in split_sentences(c.text):
            text = c.text[a:b]
            out.append(_SourceSentence(c.start + a, c.start + b, text,
                                       frozenset(tokenize([text])[0])))
        return out


def _claim(sentence: str) -> str:
    return " ".join(MARKER.sub(" ", sentence).split())


def _numbers(text: str) -> set[str]:
    """The numbers a text states ("1,200" and "1200" alike; "$400M" gives 400)."""
    return {m.replace(",", "") for m in re.findall(r"\d+(?:[.,]\d+)*", text)}


def _overlap(claim: frozenset[str], source: frozenset[str]) -> float:
    return len(claim & source) / len(claim) if claim else 0.0


def _norm(s: str) -> str:
    s = s.replace("\u2019", "'").replace("\u2018", "'").lower()
    return " ".join(re.sub(r"[^\w' ]+", " ", s).split())


# the model's refusal sentence and each sentence of the extractive refusal text
_REFUSALS = frozenset(_norm(x) for x in (MODEL_REFUSAL, *re.split(r"(?<=\.)\s+", REFUSAL_TEXT)))
