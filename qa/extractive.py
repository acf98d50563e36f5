"""The offline answerer: verbatim sentences of the retrieved passages, each cited.

Every sentence of the retrieved candidate pool is a candidate; the learned reader (qa/reader.py)
shortlists them by lexical evidence and gives the shortlist the probability that each answers
the question. When the best is under the reader's
calibrated threshold, the answer is a refusal with a fixed message (and the closest passages).
Otherwise the best sentence comes first, and a further one only when it adds something the
first lacks:
- another answer of the asked kind (a second value, another name), when it is likely enough on
  its own; when two articles give different values for the asked fact (a date moved, a figure
  revised), both are given and the answer opens with DIFFER_TEXT;
- or the words of the question the first sentence leaves uncovered (a two-part question).

A question that asks two things ("How many goals has he scored, and which club wants him?":
qa/question.py `split_parts`) is answered part by part when the reader finds each part's answer
over the threshold: the best sentence for each, the second part read as a follow-up of the first.
Asked whole, a sentence that answers one half looks like half an answer and is often refused.

It writes no word that is not in an article: the only text of its own is `JOINER` between
sentences, the fixed `REFUSAL_TEXT` and `DIFFER_TEXT`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from index.chunk import split_sentences
from index.embed import Embedder, EmbeddingCache
from index.lexical import idf as bm25_idf
from qa.cross import CrossEncoder, query_text, sentence_text
from qa.followup import context_turns
from qa.question import Question, analyse, filler_values, split_parts, terms
from qa.reader import RERANK, Candidate, Reader, cross_read, features, rerank_features
from qa.retrieve import Lexical
from qa.types import Citation, Passage

JOINER = " "  # the connecting text the extractive answer declares
REFUSAL_TEXT = "The articles don't say. The closest passages are listed below."
DIFFER_TEXT = "The sources differ:"  # opens an answer that gives two values of one fact
MIN_WORDS = 4
ADD_SHARE = 0.5  # a further sentence needs at least this share of the best one's probability


class IdfTable:
    """IDF of stemmed terms over the store's chunks, from the lexical index's document counts
    (looked up on first use; a new table for each store generation)."""

    def __init__(self, lexical: Lexical, generation: str) -> None:
        self._lexical = lexical
        self.n_docs = max(1, lexical.n_docs())
        self._idf: dict[str, float] = {}
        self.generation = generation

    def prefetch(self, terms: Iterable[str]) -> None:
        """Look up these terms' counts in one go (a question's sentences hold hundreds)."""
        new = [t for t in dict.fromkeys(terms) if t not in self._idf]
        if new:
            for t, df in self._lexical.doc_freqs(new).items():
                self._idf[t] = bm25_idf(self.n_docs, df)

    def idf(self, term: str) -> float:
        v = self._idf.get(term)
        if v is None:
            self.prefetch([term])
            v = self._idf[term]
        return v


@dataclass(frozen=True)
class Scored:
    """The candidates of one question, their features and the reader's probabilities."""

    question: Question
    candidates: tuple[Candidate, ...]
    x: np.ndarray  # LEXICAL rows, one per candidate
    probs: np.ndarray  # P(answers), one per candidate (0 off the shortlist)
    x2: np.ndarray  # RERANK rows of the shortlist
    shortlist: np.ndarray  # indices of the candidates the second stage read
    query_vector: np.ndarray  # the question with its earlier turns, embedded
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # seconds per step


@dataclass(frozen=True)
class Extract:
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    support: float  # the best candidate's probability of answering
    scored: Scored | None = None
    differ: bool = False  # two values of the asked fact, from different articles

    def pieces(self) -> list[str]:
        """The answer as streamed: one piece per cited sentence (the refusal as one piece)."""
        if self.refused:
            return [self.text]
        head = [DIFFER_TEXT + JOINER] if self.differ else []
        return head + [("" if i == 0 else JOINER) + f"{c.quote} [{c.number}]"
                       for i, c in enumerate(self.citations)]


class ExtractiveAnswerer:
    """`answer(question, history, passages, query_vector, idf) -> Extract`; see the module doc."""

    def __init__(self, embedder: Embedder, reader: Reader, max_sentences: int = 3,
                 threshold: float | None = None, cross: CrossEncoder | None = None) -> None:
        # sentence vectors are remembered: a passage's sentences are scored again and again
        self.sentences = embedder if isinstance(embedder, EmbeddingCache) else EmbeddingCache(embedder)
        self.reader = reader
        # the reader's third stage reads with the cross-encoder (shared by every answerer),
        # loaded at the first question: `qa ingest` never pays for it; missing weights are
        # reported now, not at the first question
        self._cross = cross
        if cross is None and reader.cross is not None:
            CrossEncoder.check_weights()
        self.threshold = reader.threshold if threshold is None else threshold
        self.max_sentences = max_sentences

    def candidates(self, passages: Sequence[Passage]) -> tuple[list[Candidate], list[int]]:
        """Every sentence of the passages once (with its index in the chunk), captions and
        fragments left out."""
        seen: set[tuple[str, int, int]] = set()
        out: list[Candidate] = []
        pos: list[int] = []
        for p in passages:
            c = p.chunk
            for k, (a, b) in enumerate(_sentences(c.text)):
                key = (c.article_id, c.start + a, c.start + b)
                text = c.text[a:b]
                if key in seen or len(re.findall(r"\w+", text)) < MIN_WORDS or _is_credit(text):
                    continue
                seen.add(key)
                out.append(Candidate(p, key[1], key[2], text))
                pos.append(k if c.index == 0 else 3 + k)
        return out, pos

    def score(self, question: str, history: Sequence[str], passages: Sequence[Passage],
              query_vector: np.ndarray, idf: Callable[[str], float],
              retrieved_with: bool = True, referent: str = "") -> Scored:
        """Candidates, features and probabilities (the training script uses the same path).
        Only the first stage's shortlist is embedded; the others keep probability 0.
        `retrieved_with`: `query_vector` embeds this very question (else it is embedded here).
        `referent`: what the cross-encoder reads before a follow-up instead of its earlier
        turn (the sentence that turn was answered with, Assistant.referent)."""
        t0 = time.perf_counter()
        q = analyse(question, history)
        cands, pos = self.candidates(passages)
        x = features(q, cands, idf, pos)
        probs = np.zeros(len(cands), np.float32)
        if not cands:
            return Scored(q, (), x, probs, np.zeros((0, len(RERANK)), np.float32),
                          np.zeros(0, np.int64), query_vector)
        top, z1 = self.reader.shortlist(x)
        t1 = time.perf_counter()
        qctx = np.asarray(query_vector, dtype=np.float32)
        if history or not retrieved_with:  # the question alone differs from what was retrieved
            vecs = self.sentences.embed([cands[i].text for i in top] + [question])
            vecs, qv = vecs[:-1], vecs[-1]
        else:  # retrieval embedded this very question
            vecs, qv = self.sentences.embed([cands[i].text for i in top]), qctx
        t2 = time.perf_counter()
        sem = np.clip(vecs @ qv, 0.0, 1.0)
        sem_ctx = np.clip(vecs @ qctx, 0.0, 1.0)
        x2 = rerank_features(x[top], sem, sem_ctx, z1)
        probs[top] = self.reader.stage2.predict(x2)
        t3 = time.perf_counter()
        timings = {"score_lexical": t1 - t0, "embed_shortlist": t2 - t1, "score_rerank": t3 - t2}
        if self.reader.cross is not None:
            if self._cross is None:
                self._cross = CrossEncoder.shared()
            # the third stage: the second's best few, each read with the question
            p2 = probs[top]
            best = cross_read(p2, self.reader.cross_top)
            ce = self._cross.logits(query_text(question, [referent] if referent else history),
                                    [sentence_text(cands[top[i]].passage.article.title,
                                                   cands[top[i]].text) for i in best])
            probs[top] = self.reader.rescore(p2, ce)
            timings["score_cross"] = time.perf_counter() - t3
        return Scored(q, tuple(cands), x, probs, x2, top, query_vector, timings)

    def answer(self, question: str, history: Sequence[str], passages: Sequence[Passage],
               query_vector: np.ndarray, idf: Callable[[str], float],
               threshold: float | None = None, referent: str = "") -> Extract:
        """The answer; `threshold` overrides the refusal threshold for this question;
        `referent` as in `score`."""
        t = self.threshold if threshold is None else threshold
        parts = split_parts(question)
        if len(parts) > 1:
            both = self._answer_parts(parts, history, passages, query_vector, idf, t, referent)
            if both is not None:
                return both
        s = self.score(question, history, passages, query_vector, idf, referent=referent)
        if not len(s.probs) or float(s.probs.max()) < t:
            best = float(s.probs.max()) if len(s.probs) else 0.0
            return Extract(REFUSAL_TEXT, (), True, best, s)
        order = [int(i) for i in np.argsort(-s.probs, kind="stable")]
        chosen, differ = self._choose(s, order, t)
        return self._extract(s, chosen, differ)

    def _answer_parts(self, parts: Sequence[str], history: Sequence[str],
                      passages: Sequence[Passage], query_vector: np.ndarray,
                      idf: Callable[[str], float], threshold: float,
                      referent: str = "") -> Extract | None:
        """A question that asks two things, answered part by part: the best sentence for each
        (a part that leans on the one before, "who wrote it?", read as its follow-up, after the
        sentence that part is answered with, as Assistant.referent reads a turn; a part that
        does not, read alone), when every part has one over the threshold; None otherwise (the
        whole question is then answered as one). Same passages, so the candidates are the same
        for every part. `referent`: the first part's, as in `score`."""
        scored: list[Scored] = []
        chosen: list[int] = []
        lead = referent  # what the part is read after: for the first, the caller's
        for k, part in enumerate(parts):
            ctx = context_turns(part, [*history, *parts[:k]]) if k else list(history)
            s = self.score(part, ctx, passages, query_vector, idf, retrieved_with=False,
                           referent=lead if ctx else "")
            if not len(s.probs) or float(s.probs.max()) < threshold:
                return None
            best = int(np.argmax(s.probs))
            lead = s.candidates[best].text
            if not any(j == best or _near_repeat(s.candidates[best].text, s.candidates[j].text)
                       for j in chosen):
                chosen.append(best)
            scored.append(s)
        probs = np.max(np.stack([s.probs for s in scored]), axis=0)
        merged = dataclasses.replace(scored[0], probs=probs)
        support = min(float(s.probs.max()) for s in scored)
        return dataclasses.replace(self._extract(merged, chosen, False), support=support)

    def _extract(self, s: Scored, chosen: Sequence[int], differ: bool) -> Extract:
        """The answer citing the candidates `chosen`, in that order."""
        cites = tuple(
            Citation(number=n, article=s.candidates[i].passage.article,
                     chunk_id=s.candidates[i].passage.chunk.chunk_id, start=s.candidates[i].start,
                     end=s.candidates[i].end, quote=s.candidates[i].text,
                     score=s.candidates[i].passage.score, support=round(float(s.probs[i]), 4))
            for n, i in enumerate(chosen, 1))
        body = JOINER.join(f"{c.quote} [{c.number}]" for c in cites)
        text = f"{DIFFER_TEXT}{JOINER}{body}" if differ else body
        return Extract(text, cites, False, float(s.probs[chosen[0]]), s, differ)

    def _choose(self, s: Scored, order: list[int], threshold: float) -> tuple[list[int], bool]:
        """The best sentence, then those that add something (see the module docstring)."""
        best = order[0]
        q = s.question
        cands = s.candidates
        chosen = [best]
        values = filler_values(q, cands[best].text)
        covered = set(terms(cands[best].text))
        qterms = set(terms(q.text))
        floor = max(threshold, ADD_SHARE * float(s.probs[best]))
        differ = False
        for i in order[1:]:
            if len(chosen) >= self.max_sentences or float(s.probs[i]) < floor:
                break
            c = cands[i]
            if any(_near_repeat(c.text, cands[j].text) for j in chosen):
                continue
            new_values = filler_values(q, c.text) - values
            new_terms = (set(terms(c.text)) & qterms) - covered
            if q.expected and q.expected not in ("reason", "manner") and new_values:
                if (values and c.passage.article.article_id != cands[best].passage.article
                        .article_id and _same_topic(q, c.text, cands[best].text)):
                    differ = True
                chosen.append(i)
                values |= new_values
            elif new_terms and sum(1 for t in new_terms if t not in q.subject) >= 1:
                chosen.append(i)
            else:
                continue
            covered |= set(terms(c.text))
        return chosen, differ


def reorder(pool: Sequence[Passage], ex: Extract, k: int) -> tuple[Passage, ...]:
    """The `k` passages an answer shows: those it cites first, then the others by how likely
    their best sentence answers (the reader rescored the whole pool), renumbered 1..k."""
    best: dict[str, float] = {}
    if ex.scored is not None:
        for c, prob in zip(ex.scored.candidates, ex.scored.probs):
            cid = c.passage.chunk.chunk_id
            best[cid] = max(best.get(cid, 0.0), float(prob))
    cited = {c.chunk_id for c in ex.citations}
    order = sorted(pool, key=lambda p: (p.chunk.chunk_id not in cited,
                                        -best.get(p.chunk.chunk_id, 0.0), p.rank))[:k]
    return tuple(dataclasses.replace(p, rank=i) for i, p in enumerate(order, 1))


def _same_topic(q: Question, a: str, b: str) -> bool:
    """Both sentences speak of the question's focus (so two values are two versions of one fact,
    not two different facts)."""
    if not q.focus:
        return True
    ta, tb = set(terms(a)), set(terms(b))
    return any(t in ta for t in q.focus) and any(t in tb for t in q.focus)


@functools.lru_cache(maxsize=20_000)
def _sentences(passage: str) -> tuple[tuple[int, int], ...]:
    """A passage's sentence spans, remembered: the same passages come back question after
    question."""
    return tuple(split_sentences(passage))


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
