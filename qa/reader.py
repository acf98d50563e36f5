"""The learned answer scorer: P(this sentence answers this question | its passage, the turn).

Two logistic regressions, trained by `python -m eval.train_reader` on the train split of the
gold sets (labels from the gold evidence quotes), and a third stage trained after them by
`python -m eval.train_cross`; weights and model cards in qa/models/.

1. `stage1` reads every sentence of the candidate pool by LEXICAL features, none of which needs
   the embedding model, and shortlists the `top_m` likeliest;
2. `stage2` reads the shortlist by RERANK: the same features, the sentence's meaning (cosine to
   the question, alone and with the earlier turns, and its gap to the shortlist's best) and the
   first stage's verdict;
3. `cross` (when trained) reads the second stage's `cross_top` best again with a cross-encoder
   (qa/cross.py: the question and the sentence read together) and combines its logit with the
   second stage's. The last stage's output is the probability the answer cites and refuses by.

The features, all generic (none names an article or a question's words):
- lexical: the share of the question's IDF mass the sentence covers, of its subject (the names
  asked about) in the sentence and in its passage and title, of its focus (the asked
  attribute), of the earlier turn's names (follow-ups), and what the sentence adds (novelty);
- the answer: whether the sentence holds a filler of the kind the question expects (an age for
  "how old", a description for "who is X", a cause for "why"), per kind, and whether it stands
  next to the asked name;
- the passage: rank, dense and lexical scores, whether it states the question's numbers, how its
  neighbouring sentences match the question;
- the sentence: its place in the article, its length, whether it is a quote or a question.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.question import EXPECTED, Question, bound, has_filler, terms, weak_reason
from qa.types import Passage

MODEL_PATH = Path(__file__).parent / "models" / "reader.json"
_PRONOUN_START = re.compile(r"^\W*(?:he|she|it|they|his|her|its|their|this|that|these|those|"
                            r"the (?:[a-z]+ ){0,2}[a-z]+ (?:was|is|has|had|said|will|would))\b",
                            re.IGNORECASE)

LEXICAL: tuple[str, ...] = (
    "lex", "lex_gap", "subj_s", "subj_ctx", "has_subject",
    "focus_s", "has_focus", "hist_s", "hist_ctx", "follow_up", "novelty", "filler",
    *(f"filler_{k or 'none'}" for k in EXPECTED),
    "bound", *(f"bound_{k}" for k in EXPECTED if k and k not in ("reason", "manner")),
    "pronoun_start", "reason_weak", "lex_rank_inv",
    *(f"kind_{k or 'none'}" for k in EXPECTED),
    "prev_lex", "next_lex", "psg_lex_max",
    "numbers_ok", "rank_inv", "dense", "bm25", "title_line", "lead", "log_words", "quote",
    "question_mark",
)
# the second stage sees the first's features, the sentence's meaning, and the first's verdict
RERANK: tuple[str, ...] = (*LEXICAL, "sem", "sem_ctx", "sem_gap", "sem_ctx_gap", "stage1")
FEATURES = RERANK  # what the reader as a whole reads


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, where it stands in its article."""

    passage: Passage
    start: int
    end: int
    text: str


def _coverage(wanted: Sequence[str], have: set[str], idf: Callable[[str], float]) -> float:
    total = sum(idf(t) for t in wanted)
    return sum(idf(t) for t in wanted if t in have) / total if total else 0.0


def features(q: Question, cands: Sequence[Candidate], idf: Callable[[str], float],
             article_pos: Sequence[int]) -> np.ndarray:
    """One row of LEXICAL per candidate (no embedding needed); `article_pos`: each candidate's
    sentence index in its article (0-2 in the lead, 3+ after)."""
    qterms = list(dict.fromkeys(terms(q.text)))
    n = len(cands)
    x = np.zeros((n, len(LEXICAL)), dtype=np.float32)
    if not n:
        return x
    col = {name: i for i, name in enumerate(LEXICAL)}
    sent_terms = [set(terms(c.text)) for c in cands]
    ctx_terms: dict[str, set[str]] = {}
    for c in cands:
        cid = c.passage.chunk.chunk_id
        if cid not in ctx_terms:
            ctx_terms[cid] = set(terms(c.passage.chunk.text)) | set(
                terms(c.passage.article.title))
    lex = np.array([_coverage(qterms, st, idf) for st in sent_terms], dtype=np.float32)
    bm = np.array([c.passage.bm25_score or 0.0 for c in cands], dtype=np.float32)
    bm_max = float(bm.max()) or 1.0
    asked_numbers = q.numbers
    kind = q.expected
    # a question without names ("How much did the repairs cost?") is about all its terms; one
    # without other words ("Who is Tomas Wreede?") asks about its names alone
    subject = q.subject or tuple(qterms)
    focus = q.focus or subject
    for i, (c, st) in enumerate(zip(cands, sent_terms)):
        ctx = ctx_terms[c.passage.chunk.chunk_id]
        row = x[i]
        row[col["lex"]] = lex[i]
        row[col["subj_s"]] = _coverage(subject, st, idf)
        row[col["subj_ctx"]] = _coverage(subject, ctx, idf)
        row[col["has_subject"]] = float(bool(q.subject))
        row[col["focus_s"]] = _coverage(focus, st, idf)
        row[col["has_focus"]] = float(bool(q.focus))
        row[col["hist_s"]] = _coverage(q.history_subject, st, idf)
        row[col["hist_ctx"]] = _coverage(q.history_subject, ctx, idf)
        row[col["follow_up"]] = float(q.follow_up)
        own = sum(idf(t) for t in st)
        row[col["novelty"]] = (sum(idf(t) for t in st if t not in qterms) / own) if own else 0.0
        filled = float(has_filler(q, c.text))
        row[col["filler"]] = filled
        row[col[f"filler_{kind or 'none'}"]] = filled
        if kind and kind not in ("reason", "manner"):
            b = filled if kind == "define" else float(bound(q, c.text))
            row[col["bound"]] = b
            row[col[f"bound_{kind}"]] = b
        row[col["pronoun_start"]] = float(bool(_PRONOUN_START.match(c.text)))
        row[col["reason_weak"]] = float(weak_reason(c.text))
        row[col[f"kind_{kind or 'none'}"]] = 1.0
        if asked_numbers:
            have = set(re.findall(r"\d+(?:\.\d+)?", c.passage.chunk.text.replace(",", "")))
            row[col["numbers_ok"]] = len(asked_numbers & have) / len(asked_numbers)
        else:
            row[col["numbers_ok"]] = 1.0
        row[col["rank_inv"]] = 1.0 / max(1, c.passage.rank)
        row[col["dense"]] = c.passage.dense_score or 0.0
        row[col["bm25"]] = (c.passage.bm25_score or 0.0) / bm_max
        row[col["title_line"]] = float(is_headline(c.text, c.passage.article.title))
        row[col["lead"]] = float(article_pos[i] <= 2)
        row[col["log_words"]] = math.log(1 + len(c.text.split()))
        row[col["quote"]] = float(c.text.lstrip()[:1] in "\"“‘'")
        row[col["question_mark"]] = float(c.text.rstrip().endswith("?"))
    x[:, col["lex_gap"]] = lex - lex.max()
    # the neighbours in the passage: an answer often follows the sentence that restates the
    # question ("X voted for a rise." "He argued that ...")
    by_chunk: dict[str, list[int]] = {}
    for i, c in enumerate(cands):
        by_chunk.setdefault(c.passage.chunk.chunk_id, []).append(i)
    for idx in by_chunk.values():
        for k, i in enumerate(idx):
            if k > 0:
                x[i, col["prev_lex"]] = lex[idx[k - 1]]
            if k + 1 < len(idx):
                x[i, col["next_lex"]] = lex[idx[k + 1]]
        x[idx, col["psg_lex_max"]] = float(lex[idx].max())
    order = np.argsort(-lex, kind="stable")
    ranks = np.empty(n, dtype=np.float32)
    ranks[order] = np.arange(1, n + 1)
    x[:, col["lex_rank_inv"]] = 1.0 / ranks
    return x


def is_headline(sentence: str, title: str) -> bool:
    """Whether the sentence is the article's headline (a text's first line often is): the same
    words, give or take a fifth. A headline restates the story; it seldom answers."""
    a = " ".join(re.findall(r"\w+", sentence.lower()))
    b = " ".join(re.findall(r"\w+", title.lower()))
    if not a or not b:
        return False
    return (a in b or b in a) and min(len(a), len(b)) / max(len(a), len(b)) >= 0.8


def rerank_features(x_lex: np.ndarray, sem: np.ndarray, sem_ctx: np.ndarray,
                    stage1: np.ndarray) -> np.ndarray:
    """RERANK rows for the first stage's shortlist: its LEXICAL rows, the cosines of each
    sentence to the question alone (`sem`) and with its earlier turns (`sem_ctx`), their gaps to
    the shortlist's best, and the first stage's logit."""
    if not len(x_lex):
        return np.zeros((0, len(RERANK)), np.float32)
    extra = np.stack([sem, sem_ctx, sem - sem.max(), sem_ctx - sem_ctx.max(), stage1], axis=1)
    return np.hstack([x_lex, extra]).astype(np.float32)


@dataclass(frozen=True)
class Linear:
    """Standardised features -> logistic regression."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def logit(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0, dtype=np.float32)
        return (((x - self.mean) / self.scale) @ self.weights + self.bias).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-self.logit(x)))).astype(np.float32)

    def to_json(self) -> dict[str, object]:
        return {"weights": [round(float(w), 6) for w in self.weights], "bias": round(self.bias, 6),
                "mean": [round(float(v), 6) for v in self.mean],
                "scale": [round(float(v), 6) for v in self.scale]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Linear:
        return cls(np.asarray(data["weights"], np.float32), float(data["bias"]),
                   np.asarray(data["mean"], np.float32), np.asarray(data["scale"], np.float32))


@dataclass(frozen=True)
class Reader:
    """Two stages: `stage1` (LEXICAL) shortlists the `top_m` likeliest sentences of the pool;
    `stage2` (RERANK, with the sentences' meaning) gives their probabilities. `threshold`: refuse
    when the best is under it."""

    stage1: Linear
    stage2: Linear
    threshold: float
    top_m: int = 8
    meta: dict[str, object] | None = None
    # the third stage (eval/train_cross.py): [the second stage's logit, the cross-encoder's
    # logit] for the second stage's `cross_top` best -> the probability; None: stages 1-2 only
    cross: Linear | None = None
    cross_top: int = 4
    cross_meta: dict[str, object] | None = None

    def rescore(self, p2: np.ndarray, ce: np.ndarray) -> np.ndarray:
        """The third stage: `p2`, the second stage's probabilities; `ce`, the cross-encoder's
        logits for the `cross_top` best of them (best first). Those get the third stage's
        probability; the others stay under the lowest of them (never cited over them)."""
        out = np.asarray(p2, np.float32).copy()
        if self.cross is None or not len(out) or not len(ce):
            return out
        top, x = cross_rows(out, ce)
        p3 = self.cross.predict(x)
        rest = np.ones(len(out), bool)
        rest[top] = False
        out[rest] = np.minimum(out[rest], float(p3.min()))
        out[top] = p3
        return out

    def shortlist(self, x_lex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the `top_m` best by the first stage, best first; their logits)."""
        z = self.stage1.logit(x_lex)
        top = np.argsort(-z, kind="stable")[: self.top_m]
        return top, z[top]

    @classmethod
    def load(cls, path: Path | None = None) -> Reader:
        path = path or MODEL_PATH
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names = (tuple(data["stage1"]["features"]), tuple(data["stage2"]["features"]))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"cannot read the answer scorer's weights at {path} ({e}); rebuild "
                             "them with `python -m eval.train_reader`") from e
        if names != (LEXICAL, RERANK):
            raise ValueError(f"{path} was trained on other features; retrain it with "
                             "`python -m eval.train_reader`")
        cross = data.get("cross")
        if cross is not None and cross.get("features") != ["stage2_logit", "cross"]:
            raise ValueError(f"{path}: its third stage reads other inputs; retrain it with "
                             "`python -m eval.train_cross`")
        if cross is None:
            return cls(Linear.from_json(data["stage1"]), Linear.from_json(data["stage2"]),
                       float(data["threshold"]), int(data["top_m"]), data.get("meta"))
        return cls(Linear.from_json(data["stage1"]), Linear.from_json(data["stage2"]),
                   float(cross["threshold"]), int(data["top_m"]), data.get("meta"),
                   Linear.from_json(cross), int(cross["top_k"]), cross.get("meta"))

    def save(self, path: Path = MODEL_PATH) -> None:
        """Stages 1-2 (eval/train_reader.py): a third stage read their output, so it is not
        kept; `python -m eval.train_cross` fits it again."""
        if self.cross is not None:
            raise ValueError("save() writes stages 1-2 only; eval/train_cross.py adds the third")
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"stage1": {"features": list(LEXICAL), **self.stage1.to_json()},
                "stage2": {"features": list(RERANK), **self.stage2.to_json()},
                "top_m": self.top_m, "threshold": round(self.threshold, 4),
                "meta": self.meta or {}}
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def cross_read(p2: np.ndarray, k: int) -> np.ndarray:
    """The sentences the cross-encoder reads: the `k` best by the second stage, best first (the
    answerer, the training script and `cross_rows` all choose them here)."""
    return np.argsort(-np.asarray(p2, np.float32), kind="stable")[:k]


def cross_rows(p2: np.ndarray, ce: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The third stage's input: (the indices `cross_read` gives for as many sentences as `ce`
    scores, their [second-stage logit, cross-encoder logit] rows), at run time and in training."""
    top = cross_read(p2, len(ce))
    p = np.clip(np.asarray(p2, np.float32)[top], 1e-6, 1 - 1e-6)
    return top, np.stack([np.log(p / (1 - p)), np.asarray(ce, np.float32)], axis=1)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50,
        sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float, np.ndarray,
                                                           np.ndarray]:
    """L2-regularised logistic regression by Newton's method (deterministic): (weights, bias,
    mean, scale) over standardised features."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    n, d = z.shape
    a = np.hstack([z, np.ones((n, 1), np.float64)])
    w = np.zeros(d + 1)
    sw = np.ones(n) if sample_weight is None else sample_weight
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        g = a.T @ (sw * (p - y)) + reg * w
        h = (a * (sw * p * (1 - p))[:, None]).T @ a + np.diag(reg)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1].astype(np.float32), float(w[-1]), mean.astype(np.float32), scale.astype(
        np.float32)
