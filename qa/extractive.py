"""The offline answerer: verbatim sentences of the retrieved passages, each cited.

Every sentence of the retrieved passages is scored on two kinds of evidence:
- semantic: cosine similarity of its embedding to the question's (the model already loaded);
- lexical: the share of the question's IDF mass it covers (stemmed terms; a term the corpus
  never uses has the highest IDF, so questions about things the articles never mention score low).
The best sentences (up to `max_sentences`, near the best score, no near-repeats) are returned
verbatim with [n] markers numbered in order of first use. When the best support is under the
calibrated `threshold`, the answer is a refusal with a fixed message.

It writes no word that is not in an article: the only text of its own is `JOINER` between
sentences and the fixed `REFUSAL_TEXT`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.bm25 import Bm25Index, tokenize
from index.chunk import split_sentences
from index.embed import Embedder, EmbeddingCache
from qa.answer_type import expected_type, type_match
from qa.types import Citation, Passage

JOINER = " "  # the only connecting text the extractive answer declares
REFUSAL_TEXT = "The articles don't say. The closest passages are listed below."

W_SEMANTIC = 0.5
W_LEXICAL = 0.5
HISTORY_WEIGHT = 0.5  # follow-ups: terms from earlier turns count half as much as the question's
NEAR_BEST = 0.60  # further sentences must score at least this share of the best one
MIN_WORDS = 4
W_RANK = 0.15  # passage prior: a sentence of the 1st passage keeps all, of the 4th 89% of its score
TYPE_PENALTY = 0.4  # captions like "(Getty Images)" are not answers
NUMBER_PENALTY = 0.7  # a passage that lacks a number the question states ("in 2019") is about
                      # something else


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int  # in the article
    end: int
    text: str
    semantic: float
    lexical: float
    type_ok: float = 1.0  # 1.0 when it holds an answer of the type the question asks for
    numbers_ok: float = 1.0  # share of the question's numbers that its passage states

    @property
    def score(self) -> float:
        base = W_SEMANTIC * self.semantic + W_LEXICAL * self.lexical
        prior = 1.0 - W_RANK + W_RANK / max(1, self.passage.rank)
        return (base * (1.0 - TYPE_PENALTY * (1.0 - self.type_ok))
                * (1.0 - NUMBER_PENALTY * (1.0 - self.numbers_ok)) * prior)


@dataclass(frozen=True)
class Extract:
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    support: float
    candidates: tuple[Candidate, ...]

    def pieces(self) -> list[str]:
        """The answer as streamed: one piece per cited sentence (the refusal as one piece)."""
        if self.refused:
            return [self.text]
        return [("" if i == 0 else JOINER) + f"{c.quote} [{c.number}]"
                for i, c in enumerate(self.citations)]


class IdfTable:
    """IDF of stemmed terms over the store's chunks (from the BM25 index's postings)."""

    def __init__(self, bm25: Bm25Index) -> None:
        r = bm25._retriever
        self.n_docs = max(1, len(bm25.ids))
        self._df: dict[str, int] = {}
        vocab = getattr(r, "vocab_dict", None) or {}
        scores = getattr(r, "scores", None) or {}
        indptr = scores.get("indptr") if isinstance(scores, dict) else None
        if indptr is not None:
            for term, tid in vocab.items():
                if 0 <= tid < len(indptr) - 1:
                    self._df[term] = int(indptr[tid + 1] - indptr[tid])
        self.generation = bm25.generation

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))


def weighted_terms(question: str, history: Sequence[str]) -> dict[str, float]:
    w: dict[str, float] = {}
    for h in history:
        for t in tokenize([h])[0]:
            w[t] = max(w.get(t, 0.0), HISTORY_WEIGHT)
    for t in tokenize([question])[0]:
        w[t] = 1.0
    return w


class ExtractiveAnswerer:
    """`answer(question, passages) -> Extract`; see the module docstring."""

    def __init__(self, embedder: Embedder, threshold: float, max_sentences: int = 3) -> None:
        # sentence vectors are remembered: a passage's sentences are scored again and again
        self.sentences = embedder if isinstance(embedder, EmbeddingCache) else EmbeddingCache(embedder)
        self.threshold = threshold
        self.max_sentences = max_sentences

    def candidates(self, question: str, history: Sequence[str], passages: Sequence[Passage],
                   query_vector: np.ndarray, idf: IdfTable) -> list[Candidate]:
        seen: set[tuple[str, int, int]] = set()
        rows: list[tuple[Passage, int, int, str]] = []
        for p in passages:
            c = p.chunk
            for a, b in split_sentences(c.text):
                key = (c.article_id, c.start + a, c.start + b)
                text = c.text[a:b]
                if key in seen or len(re.findall(r"\w+", text)) < MIN_WORDS or _is_credit(text):
                    continue
                seen.add(key)
                rows.append((p, key[1], key[2], text))
        if not rows:
            return []
        vecs = self.sentences.embed([r[3] for r in rows])
        sem = vecs @ np.asarray(query_vector, dtype=np.float32)
        weights = weighted_terms(question, history)
        kind = expected_type(question)
        total = sum(w * idf.idf(t) for t, w in weights.items()) or 1.0
        asked_numbers = _numbers(question)
        numbers_ok: dict[str, float] = {}
        out = []
        for (p, s, e, text), sv in zip(rows, sem):
            terms = set(tokenize([text])[0])
            covered = sum(w * idf.idf(t) for t, w in weights.items() if t in terms)
            cid = p.chunk.chunk_id
            if cid not in numbers_ok:
                have = _numbers(p.chunk.text) | _numbers(p.article.title)
                numbers_ok[cid] = (len(asked_numbers & have) / len(asked_numbers)
                                   if asked_numbers else 1.0)
            out.append(Candidate(p, s, e, text, max(0.0, float(sv)), covered / total,
                                 type_match(kind, text, question), numbers_ok[cid]))
        out.sort(key=lambda c: -c.score)
        return out

    def answer(self, question: str, history: Sequence[str], passages: Sequence[Passage],
               query_vector: np.ndarray, idf: IdfTable) -> Extract:
        cands = self.candidates(question, history, passages, query_vector, idf)
        best = cands[0].score if cands else 0.0
        if best < self.threshold:
            return Extract(REFUSAL_TEXT, (), True, best, tuple(cands))
        chosen: list[Candidate] = []
        for c in cands:
            if len(chosen) >= self.max_sentences or c.score < best * NEAR_BEST:
                break
            if any(_near_repeat(c.text, o.text) for o in chosen):
                continue
            if chosen and c.type_ok < 1.0:  # a further sentence must answer what was asked
                continue
            chosen.append(c)
        parts: list[str] = []
        cites: list[Citation] = []
        for c in chosen:
            n = len(cites) + 1
            cites.append(
                Citation(
                    number=n, article=c.passage.article, chunk_id=c.passage.chunk.chunk_id,
                    start=c.start, end=c.end, quote=c.text, score=c.passage.score,
                    support=round(c.score, 4),
                )
            )
            parts.append(f"{c.text} [{n}]")
        return Extract(JOINER.join(parts), tuple(cites), False, best, tuple(cands))


def _numbers(text: str) -> set[str]:
    """Numbers as written, thousands separators dropped: "2,000" and "2000" alike."""
    return {m.replace(",", "") for m in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text)}


def _is_credit(text: str) -> bool:
    """A photo credit like "(Jose Perez/Bauer-Griffin/GC Images)" is no answer."""
    t = text.strip()
    return t.startswith("(") and t.endswith(")")


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s.lower()).strip()


def _near_repeat(a: str, b: str) -> bool:
    ta, tb = set(_norm(a).split()), set(_norm(b).split())
    if not ta or not tb:
        return False
    return len(ta & tb) / min(len(ta), len(tb)) > 0.8
