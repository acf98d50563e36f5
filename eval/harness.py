"""Run a gold set end to end: index the corpus, ask every case, score, write the run's files.

    >>> from qa import Settings
    >>> run = run_eval("eval/gold.jsonl", "data/articles",
    ...                Settings.from_env(answer_mode="extractive"), "/tmp/eval-run")  # doctest: +SKIP
    >>> run.summary["hit_at_5"].mean                                                 # doctest: +SKIP

The run writes `out_dir/results.json` (settings with secrets masked, prompts seen, corpus, gold
file, and every case under its gold id), `out_dir/report.md` and PNG plots (see eval/report.py).
The index lives in `out_dir/store` unless the settings name another store (QA_STORE_PATH,
--store, or a Chroma server); ingest is incremental, so a second run reuses it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.gold import GoldCase, load_gold
from eval.metrics import (
    METRICS,
    EvalContext,
    LatencySummary,
    MetricSummary,
    UsageSummary,
    case_metrics,
    citation_is_gold,
    citation_valid,
    doc_names,
    evidence_spans,
    first_gold_rank,
    latency_summary,
    matched_groups,
    summarise,
    usage_summary,
)
from qa.errors import InputError, QAError
from qa.settings import Settings, default_store_path
from qa.types import Answer, ArticleInfo, IngestReport

log = logging.getLogger(__name__)

RESULTS_SCHEMA = 1
# An LLM-judged correctness score in [0, 1], or None for a case it does not grade (eval/judge.py)
JudgeFn = Callable[[GoldCase, Answer], "float | None"]


@dataclass(frozen=True)
class CaseResult:
    """One gold case, the answer it got, and its metric values (None: does not apply)."""

    case: GoldCase
    answer: Answer
    metrics: Mapping[str, float | None]
    error: str = ""  # the message of a QAError raised while asking, "" when none
    judged: float | None = None  # LLM-judged correctness, only when a judge ran
    # extractive answerable cases: whether the answer has every key fact when not refused
    # (a refused case is asked again with the threshold at 0, to draw the trade-off)
    correct_if_answered: bool | None = None


@dataclass(frozen=True)
class EvalRun:
    """What `run_eval` measured and where it wrote it."""

    cases: tuple[CaseResult, ...]
    summary: Mapping[str, MetricSummary]
    latency: Mapping[str, LatencySummary]
    usage: UsageSummary
    settings: Settings
    ingest: IngestReport
    gold_path: str
    corpus_dir: str
    out_dir: str
    index_seconds: float
    ask_seconds: float
    results_path: str = ""
    report_path: str = ""
    plots: tuple[str, ...] = ()
    judged_mean: float | None = None
    judge_model: str = ""  # "<model> (prompt <name> <hash>)" when a judge ran
    gold_warnings: tuple[str, ...] = ()  # evidence the stored articles do not hold
    results: Mapping[str, Any] = field(default_factory=dict)
    threshold: float | None = None  # the extractive refusal threshold the run used

    @property
    def seconds(self) -> float:
        return self.index_seconds + self.ask_seconds


def default_corpus(gold_path: str | Path) -> Path:
    """The data/articles folder of the project the gold file belongs to (nearest ancestor)."""
    p = Path(gold_path).resolve()
    for parent in p.parents:
        cand = parent / "data" / "articles"
        if cand.is_dir():
            return cand
    raise InputError(
        f"No data/articles folder found above the gold file {gold_path}; pass the articles "
        "the gold set was written for with --corpus DIR"
    )


def eval_settings(settings: Settings, out_dir: str | Path) -> Settings:
    """The settings with the store moved into `out_dir/store`, unless they name another store."""
    if settings.remote_url or settings.store_path != default_store_path():
        return settings
    return settings.replace(store_path=str(Path(out_dir) / "store"))


def run_eval(gold_path: str | Path, corpus_dir: str | Path | None, settings: Settings,
             out_dir: str | Path, embedder: Any = None, *, judge: JudgeFn | None = None,
             plots: bool = True) -> EvalRun:
    """Index `corpus_dir`, ask every gold case (with its history), score it and write the run.

    `judge` is the optional LLM-judged correctness score (eval/judge.py, `qa eval --judge`): its
    scores are reported in their own section, never mixed into the judge-free metrics.
    """
    from eval.report import write_plots, write_report
    from qa.api import Assistant

    cases = load_gold(gold_path)
    corpus = Path(corpus_dir) if corpus_dir else default_corpus(gold_path)
    if not corpus.exists():
        raise InputError(f"Corpus {corpus} does not exist; pass the articles folder with --corpus")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = eval_settings(settings, out)

    t0 = time.perf_counter()
    with Assistant.open(settings, embedder=embedder) as bot:
        report = bot.ingest([corpus])
        for r in report.failed:
            log.warning("corpus file failed to load: %s: %s", r.path, r.reason)
        if bot.store.count_chunks() == 0:
            raise InputError(f"No article of {corpus} could be indexed ({report.summary()}); "
                             "check the corpus folder")
        bot.warm()
        index_seconds = time.perf_counter() - t0

        infos = bot.articles()
        known = frozenset(n for i in infos for n in doc_names(i.meta))
        texts: dict[str, str | None] = {}

        def article_text(article_id: str) -> str | None:
            if article_id not in texts:
                texts[article_id] = bot.store.article_text(article_id)
            return texts[article_id]

        ctx = EvalContext(article_text=article_text, known_docs=known)
        gold_warnings = check_evidence(cases, infos, ctx)
        for w in gold_warnings:
            log.warning("gold: %s", w)
        t1 = time.perf_counter()
        results: list[CaseResult] = []
        for case in cases:
            error = ""
            try:
                answer = bot.ask(case.question, list(case.history))
            except QAError as e:  # one failing case must not end the run: record it
                log.warning("case %s failed: %s", case.id, e)
                error = str(e)
                answer = Answer(question=case.question, text="", citations=(), refused=False,
                                mode="error", warnings=(f"error: {e}",))
            judged = judge(case, answer) if judge is not None and not error else None
            metrics = case_metrics(case, answer, ctx)
            if_answered = None
            if case.answerable and answer.mode == "extractive":
                if_answered = bool(metrics.get("key_fact_full"))
                if answer.refused:  # what it would have said: the trade-off needs it
                    forced = bot.ask(case.question, list(case.history), refusal_threshold=0.0)
                    if_answered = bool(case_metrics(case, forced, ctx).get("key_fact_full"))
            results.append(CaseResult(case, answer, metrics, error, judged, if_answered))
        ask_seconds = time.perf_counter() - t1

        answers = [r.answer for r in results if not r.error]
        judged_vals = [r.judged for r in results if r.judged is not None]
        run = EvalRun(
            cases=tuple(results),
            summary=summarise(r.metrics for r in results),
            latency=latency_summary(answers),
            usage=usage_summary(answers),
            settings=settings,
            ingest=report,
            gold_path=str(Path(gold_path).resolve()),
            corpus_dir=str(corpus.resolve()),
            out_dir=str(out.resolve()),
            index_seconds=index_seconds,
            ask_seconds=ask_seconds,
            judged_mean=sum(judged_vals) / len(judged_vals) if judged_vals else None,
            judge_model=_judge_label(judge),
            gold_warnings=tuple(gold_warnings),
            threshold=bot.extractive.threshold,
        )
        data = results_dict(run, ctx, n_articles=len(infos))
        results_path = out / "results.json"
        results_path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        plot_paths = write_plots(data, out) if plots else []
        report_path = write_report(data, out / "report.md", plot_paths)
        log.info("eval: %d cases in %.1fs (index %.1fs); wrote %s", len(results), run.seconds,
                 index_seconds, results_path)
    return dataclasses.replace(run, results_path=str(results_path), report_path=str(report_path),
                               plots=tuple(str(p) for p in plot_paths), results=data)


def _judge_label(judge: JudgeFn | None) -> str:
    if judge is None:
        return ""
    model = getattr(getattr(judge, "model", None), "model", "") or type(judge).__name__
    prompt = getattr(judge, "prompt", None)
    return f"{model} (prompt {prompt.name} {prompt.hash})" if prompt is not None else str(model)


def check_evidence(cases: Sequence[GoldCase], infos: Sequence[ArticleInfo],
                   ctx: EvalContext) -> list[str]:
    """Gold evidence the stored articles do not hold: a gold-set bug, or a cleaning change."""
    warnings: list[str] = []
    for case in cases:
        for ev in case.evidence:
            if ev.doc and ev.doc not in ctx.known_docs:
                warnings.append(f"{case.id}: doc {ev.doc!r} names no stored article; its quote "
                                "is matched in any article")
            where = [i.meta for i in infos if not ev.doc or ev.doc not in ctx.known_docs
                     or ev.doc in doc_names(i.meta)]
            if not any(evidence_spans(ctx.article_text(m.article_id) or "", ev.quote)
                       for m in where):
                warnings.append(f"{case.id}: evidence quote not found in "
                                f"{ev.doc or 'any stored article'}: {ev.quote[:80]!r}")
    return warnings


# -- results.json -----------------------------------------------------------------------------
def results_dict(run: EvalRun, ctx: EvalContext, n_articles: int) -> dict[str, Any]:
    """The JSON form of a run: everything a report or a later comparison needs."""
    prompts = sorted({(r.answer.prompt_name, r.answer.prompt_hash) for r in run.cases
                      if r.answer.prompt_name or r.answer.prompt_hash})
    return {
        "schema": RESULTS_SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "gold": run.gold_path,
        "corpus": run.corpus_dir,
        "store": run.settings.store_label,
        "settings": run.settings.public_dict(),
        "prompts": [{"name": n, "hash": h} for n, h in prompts],
        "modes": list(run.usage.modes),
        "ingest": {
            "summary": run.ingest.summary(),
            "n_embedded": run.ingest.n_embedded,
            "n_articles": n_articles,
            "failed": [{"path": r.path, "reason": r.reason} for r in run.ingest.failed],
        },
        "timing": {
            "index_seconds": round(run.index_seconds, 3),
            "ask_seconds": round(run.ask_seconds, 3),
            "total_seconds": round(run.seconds, 3),
        },
        "metrics": [{"name": m.name, "label": m.label, "higher_is_better": m.higher_is_better}
                    for m in METRICS],
        "summary": {k: {"mean": _r(s.mean), "n": s.n} for k, s in run.summary.items()},
        "latency": {k: {"p50": _r(s.p50), "p95": _r(s.p95), "n": s.n}
                    for k, s in run.latency.items()},
        "usage": dataclasses.asdict(run.usage),
        "judged": None if run.judged_mean is None else {
            "note": "LLM-judged correctness; not part of the judge-free metrics above",
            "judge": run.judge_model,
            "mean": _r(run.judged_mean),
            "n": sum(r.judged is not None for r in run.cases),
        },
        "errors": sum(bool(r.error) for r in run.cases),
        "refusal_threshold_used": _r(run.threshold),
        "gold_warnings": list(run.gold_warnings),
        "cases": {r.case.id: _case_dict(r, ctx) for r in run.cases},
    }


def _case_dict(r: CaseResult, ctx: EvalContext) -> dict[str, Any]:
    c, a = r.case, r.answer
    return {
        "kind": c.kind,
        "history": list(c.history),
        "question": c.question,
        "answerable": c.answerable,
        "expected": c.answer,
        "must_include": [list(g) for g in c.must_include],
        "evidence": [{"doc": e.doc, "quote": e.quote} for e in c.evidence],
        "answer": a.text,
        "refused": a.refused,
        "mode": a.mode,
        "standalone_question": a.standalone_question,
        "support": a.support,
        "correct_if_answered": r.correct_if_answered,
        "warnings": list(a.warnings),
        "error": r.error,
        "prompt": {"name": a.prompt_name, "hash": a.prompt_hash},
        "key_facts_found": matched_groups(c, a.text) if not a.refused else
        [False] * len(c.must_include),
        "first_gold_rank": first_gold_rank(c, a, ctx),
        "citations": [
            {
                "number": x.number, "article_id": x.article.article_id, "title": x.article.title,
                "path": x.article.path, "chunk_id": x.chunk_id, "start": x.start, "end": x.end,
                "quote": x.quote, "score": _r(x.score), "support": _r(x.support),
                "valid": citation_valid(x, ctx), "gold": citation_is_gold(c, x, ctx),
            }
            for x in a.citations
        ],
        "passages": [
            {
                "rank": i, "article_id": p.article.article_id, "title": p.article.title,
                "path": p.article.path, "chunk_id": p.chunk.chunk_id, "start": p.chunk.start,
                "end": p.chunk.end, "score": _r(p.score), "dense_score": _r(p.dense_score),
                "bm25_score": _r(p.bm25_score), "text": p.chunk.text,
            }
            for i, p in enumerate(a.passages, start=1)
        ],
        "metrics": {k: _r(v) for k, v in r.metrics.items()},
        "judged": _r(r.judged),
        "timings": {k: round(v, 4) for k, v in a.timings.items()},
        "usage": dataclasses.asdict(a.usage),
    }


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json written by `run_eval`, with a clear error when it is not one."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p} does not exist; pass a results.json written by `qa eval`") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{p} is not valid JSON ({e.msg}); pass a results.json of `qa eval`") from None
    if not isinstance(data, dict) or "cases" not in data or "summary" not in data:
        raise InputError(f"{p} is not a results.json of `qa eval` (no 'cases'/'summary')")
    return data


def metric_names(results: Mapping[str, Any]) -> Sequence[str]:
    return [m["name"] for m in results.get("metrics", [])] or list(results["summary"])
