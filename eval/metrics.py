"""Judge-free metrics: pure functions over a gold case and the answer the assistant gave.

A per-case metric is `(case, answer, ctx) -> float | None`; None means "does not apply to this
case" (e.g. retrieval metrics of an unanswerable case) and is left out of the averages. Every
value is in [0, 1]. Definitions (also printed at the foot of every report):

- A passage *holds gold evidence* when its normalised chunk text contains the normalised quote
  of one of the case's evidence items whose `doc` names the passage's article (the basename of
  its file path, or its article id). When `doc` names no stored article (or is empty), the quote
  alone decides.
- hit@k: 1 when one of the first k retrieved passages (`answer.passages`, in rank order) holds
  gold evidence. rr: 1/rank of the first such passage, 0 when none. Answerable cases with
  evidence only.
- key_fact_recall: share of the `must_include` groups found in the answer text (the [n] markers
  taken out; case-insensitive substring, any alternative of the group). key_fact_full: 1 when all
  groups are found. Answerable cases with `must_include` only; a refused answer scores 0.
- refusal_correct: 1 when `answer.refused` equals "the case is unanswerable" (every case).
  correct_refusal: unanswerable cases only, 1 when refused. false_refusal: answerable cases
  only, 1 when refused (lower is better).
- citation_validity: share of citations whose quote equals `article_text[start:end]` of the
  stored article (a missing article counts as invalid). Answers with citations only.
- A citation is *gold* when its span [start, end) overlaps an occurrence of a gold evidence quote
  in the same stored article (occurrences found on normalised text and mapped back to
  character offsets; the doc rule as above). citation_precision: share of an answer's citations
  that are gold (answered cases with evidence). citation_recall: 1 when an answerable case's
  answer cites at least one gold span (a refusal scores 0).

Aggregates over a run: `summarise` (mean of the applicable values per metric),
`percentile`/`latency_summary` (p50/p95 seconds per timing stage) and `usage_summary` (tokens
and cost of LLM answers).

    >>> ctx = EvalContext(article_text=lambda aid: None)
    >>> key_fact_full(case, answer, ctx)                        # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from eval.gold import FOLD, Evidence, GoldCase, normalise
from qa.types import Answer, ArticleMeta, Citation, Passage

_MARKER = re.compile(r"\[\d+\]")

ArticleTextFn = Callable[[str], "str | None"]


@dataclass(frozen=True)
class EvalContext:
    """What metrics need besides the case and the answer.

    `article_text(article_id)` gives the stored text (None when not stored); `known_docs` holds
    the names every stored article answers to (see `doc_names`), so an evidence `doc` that names
    no stored article is matched on its quote alone.
    """

    article_text: ArticleTextFn
    known_docs: frozenset[str] = frozenset()


def doc_names(meta: ArticleMeta) -> set[str]:
    """The names a gold `doc` may use for an article: file basename, article id, id basename."""
    names = {meta.article_id}
    for raw in (meta.path, meta.path.split("#", 1)[0], meta.article_id):
        if raw:
            names.add(PurePath(raw).name)
    names.discard("")
    return names


def _doc_ok(ev: Evidence, meta: ArticleMeta, ctx: EvalContext) -> bool:
    if not ev.doc or ev.doc not in ctx.known_docs:
        return True
    return ev.doc in doc_names(meta)


# -- retrieval --------------------------------------------------------------------------------
def passage_holds_evidence(case: GoldCase, passage: Passage, ctx: EvalContext) -> bool:
    """Whether the passage's chunk contains one of the case's gold quotes (see module doc)."""
    text = normalise(passage.chunk.text)
    return any(
        _doc_ok(ev, passage.article, ctx) and normalise(ev.quote) in text for ev in case.evidence
    )


def first_gold_rank(case: GoldCase, answer: Answer, ctx: EvalContext) -> int | None:
    """1-based rank of the first retrieved passage holding gold evidence, None when none does."""
    for i, p in enumerate(answer.passages, start=1):
        if passage_holds_evidence(case, p, ctx):
            return i
    return None


def _retrieval_applies(case: GoldCase) -> bool:
    return case.answerable and bool(case.evidence)


def hit_at_k(case: GoldCase, answer: Answer, ctx: EvalContext, k: int = 5) -> float | None:
    """1.0 when one of the first `k` passages holds gold evidence; None for cases without it."""
    if not _retrieval_applies(case):
        return None
    rank = first_gold_rank(case, answer, ctx)
    return 1.0 if rank is not None and rank <= k else 0.0


def hit_at_1(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    return hit_at_k(case, answer, ctx, 1)


def hit_at_5(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    return hit_at_k(case, answer, ctx, 5)


def reciprocal_rank(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """1/rank of the first passage holding gold evidence (0.0 when none does)."""
    if not _retrieval_applies(case):
        return None
    rank = first_gold_rank(case, answer, ctx)
    return 0.0 if rank is None else 1.0 / rank


# -- key facts --------------------------------------------------------------------------------
def matched_groups(case: GoldCase, text: str) -> list[bool]:
    """For each `must_include` group, whether one of its alternatives appears in `text`."""
    plain = normalise(_MARKER.sub(" ", text))
    return [any(normalise(alt) in plain for alt in group) for group in case.must_include]


def key_fact_recall(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Share of the key-fact groups found in the answer (0.0 for a refusal)."""
    if not case.answerable or not case.must_include:
        return None
    if answer.refused:
        return 0.0
    found = matched_groups(case, answer.text)
    return sum(found) / len(found)


def key_fact_full(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """1.0 when every key-fact group is found in the answer."""
    recall = key_fact_recall(case, answer, ctx)
    return None if recall is None else float(recall == 1.0)


# -- refusal ----------------------------------------------------------------------------------
def refusal_correct(case: GoldCase, answer: Answer, ctx: EvalContext) -> float:
    """1.0 when the answer refuses exactly when the case is unanswerable."""
    return float(answer.refused == (not case.answerable))


def correct_refusal(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Unanswerable cases: 1.0 when refused."""
    return None if case.answerable else float(answer.refused)


def false_refusal(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Answerable cases: 1.0 when refused (lower is better)."""
    return float(answer.refused) if case.answerable else None


# -- citations --------------------------------------------------------------------------------
def citation_valid(c: Citation, ctx: EvalContext) -> bool:
    text = ctx.article_text(c.article.article_id)
    return text is not None and 0 <= c.start <= c.end <= len(text) and text[c.start:c.end] == c.quote


def citation_validity(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Share of citations whose quote is exactly the cited span of the stored article."""
    if not answer.citations:
        return None
    return sum(citation_valid(c, ctx) for c in answer.citations) / len(answer.citations)


def _normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` plus, for each of its characters, the index it came from in `text`."""
    out: list[str] = []
    where: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            where.append(i - 1)
            pending_space = False
        for piece in ch.translate(FOLD).lower():
            out.append(piece)
            where.append(i)
    return "".join(out), where


def evidence_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Every [start, end) of `text` whose normalised form equals the normalised `quote`."""
    needle = normalise(quote)
    if not needle:
        return []
    norm, where = _normalise_with_offsets(text)
    spans: list[tuple[int, int]] = []
    at = norm.find(needle)
    while at != -1:
        spans.append((where[at], where[at + len(needle) - 1] + 1))
        at = norm.find(needle, at + 1)
    return spans


def citation_is_gold(case: GoldCase, c: Citation, ctx: EvalContext) -> bool:
    """Whether the citation's span overlaps a gold evidence quote in the same article."""
    text = ctx.article_text(c.article.article_id)
    if text is None:
        return False
    for ev in case.evidence:
        if not _doc_ok(ev, c.article, ctx):
            continue
        for s, e in evidence_spans(text, ev.quote):
            if c.start < e and s < c.end:
                return True
    return False


def citation_precision(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Share of the answer's citations that are gold (cases with evidence and citations)."""
    if not case.evidence or not answer.citations:
        return None
    return sum(citation_is_gold(case, c, ctx) for c in answer.citations) / len(answer.citations)


def citation_recall(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Answerable cases with evidence: 1.0 when at least one citation is gold."""
    if not _retrieval_applies(case):
        return None
    return float(any(citation_is_gold(case, c, ctx) for c in answer.citations))


def citation_passage_is_gold(case: GoldCase, c: Citation, answer: Answer,
                             ctx: EvalContext) -> bool:
    """Whether the passage the citation quotes from (its chunk) holds a gold evidence quote."""
    return any(p.chunk.chunk_id == c.chunk_id and passage_holds_evidence(case, p, ctx)
               for p in answer.passages)


def citation_precision_passage(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Share of the answer's citations whose passage holds gold evidence (the looser,
    passage-level form of `citation_precision`)."""
    if not case.evidence or not answer.citations:
        return None
    return sum(citation_passage_is_gold(case, c, answer, ctx)
               for c in answer.citations) / len(answer.citations)


def citation_recall_passage(case: GoldCase, answer: Answer, ctx: EvalContext) -> float | None:
    """Answerable cases with evidence: 1.0 when a cited passage holds gold evidence."""
    if not _retrieval_applies(case):
        return None
    return float(any(citation_passage_is_gold(case, c, answer, ctx) for c in answer.citations))


# -- the registry -----------------------------------------------------------------------------
MetricFn = Callable[[GoldCase, Answer, EvalContext], "float | None"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    fn: MetricFn
    higher_is_better: bool = True


METRICS: tuple[Metric, ...] = (
    Metric("hit_at_1", "retrieval hit@1", hit_at_1),
    Metric("hit_at_5", "retrieval hit@5", hit_at_5),
    Metric("mrr", "retrieval MRR", reciprocal_rank),
    Metric("key_fact_recall", "key-fact recall", key_fact_recall),
    Metric("key_fact_full", "key facts all found", key_fact_full),
    Metric("refusal_correct", "refusal accuracy (all cases)", refusal_correct),
    Metric("correct_refusal", "unanswerable refused", correct_refusal),
    Metric("false_refusal", "answerable refused (false refusal)", false_refusal,
           higher_is_better=False),
    Metric("citation_validity", "citation validity", citation_validity),
    Metric("citation_precision", "citation precision (sentence)", citation_precision),
    Metric("citation_recall", "citation recall (sentence)", citation_recall),
    Metric("citation_precision_passage", "citation precision (passage)",
           citation_precision_passage),
    Metric("citation_recall_passage", "citation recall (passage)", citation_recall_passage),
)
METRIC_BY_NAME: Mapping[str, Metric] = {m.name: m for m in METRICS}


def case_metrics(case: GoldCase, answer: Answer, ctx: EvalContext) -> dict[str, float | None]:
    """Every registered metric of one case, by name."""
    return {m.name: m.fn(case, answer, ctx) for m in METRICS}


@dataclass(frozen=True)
class MetricSummary:
    """The mean of one metric over the cases it applies to."""

    name: str
    mean: float | None
    n: int


def summarise(rows: Iterable[Mapping[str, float | None]],
              names: Sequence[str] = tuple(METRIC_BY_NAME)) -> dict[str, MetricSummary]:
    """Mean of each metric over the rows where it applies (None when it applies to none)."""
    rows = list(rows)
    out: dict[str, MetricSummary] = {}
    for name in names:
        values = [r[name] for r in rows if r.get(name) is not None]
        mean = sum(values) / len(values) if values else None  # type: ignore[arg-type]
        out[name] = MetricSummary(name, mean, len(values))
    return out


# -- latency and usage ------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks; None when empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass(frozen=True)
class LatencySummary:
    stage: str
    p50: float | None
    p95: float | None
    n: int


STAGES = ("retrieve", "answer", "total")


def latency_summary(answers: Iterable[Answer],
                    stages: Sequence[str] = STAGES) -> dict[str, LatencySummary]:
    """p50/p95 seconds per timing stage over the answers that timed it."""
    answers = list(answers)
    out: dict[str, LatencySummary] = {}
    for st in stages:
        vals = [a.timings[st] for a in answers if st in a.timings]
        out[st] = LatencySummary(st, percentile(vals, 50), percentile(vals, 95), len(vals))
    return out


@dataclass(frozen=True)
class UsageSummary:
    """Tokens and cost of the LLM answers of a run (zero when every answer was extractive)."""

    n_llm_answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    modes: tuple[str, ...] = field(default_factory=tuple)


def usage_summary(answers: Iterable[Answer]) -> UsageSummary:
    answers = list(answers)
    llm = [a for a in answers if a.mode.startswith("llm")]
    costs = [a.usage.cost_usd for a in llm if a.usage.cost_usd is not None]
    return UsageSummary(
        n_llm_answers=len(llm),
        prompt_tokens=sum(a.usage.prompt_tokens for a in answers),
        completion_tokens=sum(a.usage.completion_tokens for a in answers),
        cost_usd=sum(costs) if costs else None,
        modes=tuple(sorted({a.mode for a in answers})),
    )


# -- the answering / refusing trade-off -------------------------------------------------------
@dataclass(frozen=True)
class TradeoffPoint:
    """At one refusal threshold: the share of answerable cases answered correctly and of
    unanswerable cases refused."""

    threshold: float
    answered_right: float
    refused_right: float


def tradeoff(cases: Iterable[tuple[float, bool, bool]],
             thresholds: Sequence[float]) -> list[TradeoffPoint]:
    """`cases`: (support, answerable, correct if answered) per case. An answer is given when its
    support reaches the threshold; an answerable case counts when it is answered and correct,
    an unanswerable one when it is refused."""
    rows = list(cases)
    n_ans = sum(1 for _, a, _ in rows if a) or 1
    n_un = sum(1 for _, a, _ in rows if not a) or 1
    return [TradeoffPoint(
        t,
        sum(1 for s, a, ok in rows if a and ok and s >= t) / n_ans,
        sum(1 for s, a, _ in rows if not a and s < t) / n_un,
    ) for t in thresholds]
