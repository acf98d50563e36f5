"""The RGB benchmark (Chen et al., AAAI 2024; en_fact.json) in three settings of our own.

    qa eval rgb --data /work/shared/bench/rgb/en_fact.json --out reports/rgb [--limit N]

The data file is read where it lies; only the corpora built from it are written, into the out
folder. Each setting has its own store under the out folder:

- answering: one corpus of every positive and negative snippet of the questions; each question
  is asked against the whole corpus. Accuracy uses the paper's rule (`contains_answer`).
- rejection: a corpus of the negative snippets only; the share of questions refused.
- counterfactual: the positive_wrong and negative snippets; the share of answers that contain the
  fake answer, that contain the true one, and that flag that the sources disagree (an answer
  warning that says so; the extractive answerer never does, so that share is 0 for it).

Snippets repeat across questions; the ingester stores identical text once (reported as
duplicate). The report puts the paper's published ChatGPT figures beside ours as a reference
point only: the paper gives each question its 5 documents, we retrieve from the whole corpus.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import TradeoffPoint, percentile, tradeoff
from eval.report import THRESHOLDS, plot_tradeoff, tradeoff_table
from qa.errors import InputError, QAError
from qa.settings import Settings
from qa.types import Answer

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\[\d+\]")
TITLE_WORDS = 8
DISAGREE = re.compile(r"disagree|conflict|contradict|inconsistent|differ", re.IGNORECASE)

# The paper's English figures for ChatGPT (gpt-3.5-turbo), from the data's README.
PAPER_CHATGPT = {
    "noise_robustness_accuracy_ratio_0": 96.33,
    "noise_robustness_accuracy_ratio_0.8": 76.00,
    "rejection_rej": 24.67,
    "rejection_rej_star": 45.00,
    "counterfactual_acc_without_docs": 89.0,
    "counterfactual_acc_with_docs": 9.0,
    "counterfactual_ed": 8.0,
    "counterfactual_ed_star": 7.0,
    "counterfactual_cr": 57.14,
}


@dataclass(frozen=True)
class RgbItem:
    qid: str
    query: str
    answer: Any  # str, or a list whose items are str or lists of alternatives
    fakeanswer: Any
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    positive_wrong: tuple[str, ...]


def load_rgb(path: str | Path, limit: int | None = None) -> list[RgbItem]:
    """Read RGB's JSON-lines file (e.g. en_fact.json); `limit` keeps the first N questions."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"RGB data file {p} does not exist; pass en_fact.json with --data")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    items: list[RgbItem] = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(RgbItem(
                qid=str(row["id"]), query=row["query"], answer=row["answer"],
                fakeanswer=row.get("fakeanswer", ""),
                positive=tuple(row.get("positive", [])), negative=tuple(row.get("negative", [])),
                positive_wrong=tuple(row.get("positive_wrong", [])),
            ))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{p}, line {n}: not an RGB record ({e!r}); expected JSON with "
                             "id, query, answer, positive, negative") from None
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise InputError(f"{p} holds no RGB records")
    return items


def contains_answer(text: str, answer: Any) -> bool:
    """The paper's rule: the text contains the answer, case-insensitively.

    A list answer needs every item; an item that is itself a list is a set of alternatives.
    """
    t = _MARKER.sub(" ", text).lower()
    items = answer if isinstance(answer, list) else [answer]
    if not items:
        return False
    for item in items:
        alts = item if isinstance(item, list) else [item]
        if not any(str(a).lower() in t for a in alts if str(a)):
            return False
    return True


def corpus_records(items: Sequence[RgbItem], parts: Sequence[str]) -> list[dict[str, str]]:
    """JSONL records (title = first words, text = snippet, url = rgb://qid/part/i)."""
    tags = {"positive": "pos", "negative": "neg", "positive_wrong": "pos_wrong"}
    out: list[dict[str, str]] = []
    for it in items:
        for part in parts:
            for i, snippet in enumerate(getattr(it, part)):
                text = " ".join(snippet.split())
                if not text:
                    continue
                title = " ".join(text.split()[:TITLE_WORDS])
                out.append({"title": title, "text": text, "url": f"rgb://{it.qid}/{tags[part]}/{i}"})
    return out


def write_corpus(records: Sequence[dict[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


@dataclass(frozen=True)
class SettingResult:
    """One RGB setting: its shares (0..1), and per question what was answered."""

    name: str
    n_questions: int
    n_snippets: int
    ingest: str
    shares: dict[str, float]
    seconds: float
    rows: tuple[dict[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RgbResult:
    settings: tuple[SettingResult, ...]
    report_path: str
    report_text: str
    results_path: str


def _ask_all(items: Sequence[RgbItem], corpus: Path, settings: Settings, embedder: Any,
             force: bool = False) -> tuple[list[Answer | None], list[Answer | None], str, float,
                                           int, float]:
    """Every question's answer; with `force`, also what each refused extractive answer would
    have said with the threshold at 0 (the answering/refusing trade-off needs it)."""
    from qa.api import Assistant

    t0 = time.perf_counter()
    with Assistant.open(settings, embedder=embedder) as bot:
        report = bot.ingest([corpus])
        for r in report.failed:  # e.g. a snippet that is only a headline: clean-up leaves nothing
            log.warning("RGB snippet not indexed: %s: %s", r.path, r.reason)
        if bot.store.count_chunks() == 0:
            raise InputError(f"No snippet of the RGB corpus {corpus} could be indexed")
        answers: list[Answer | None] = []
        forced: list[Answer | None] = []
        for it in items:
            a: Answer | None = None
            f: Answer | None = None
            try:
                a = bot.ask(it.query)
                if force and a.refused and a.mode == "extractive":
                    f = bot.ask(it.query, refusal_threshold=0.0)
            except QAError as e:  # one question failing must not end the benchmark
                log.warning("RGB question %s failed: %s", it.qid, e)
            answers.append(a)
            forced.append(f)
        return (answers, forced, report.summary(), time.perf_counter() - t0,
                bot.store.count_chunks(), bot.extractive.threshold)


def _setting_store(settings: Settings, out: Path, name: str) -> Settings:
    if settings.remote_url:
        return settings.replace(collection=f"{settings.collection}-rgb-{name}")
    return settings.replace(store_path=str(out / name / "store"))


def _flags_disagreement(a: Answer) -> bool:
    """Whether the answer says its sources disagree: in a warning, or, for a generated answer,
    in its text (an extractive answer's text is quotes: their words are the articles')."""
    if any(DISAGREE.search(w) for w in a.warnings):
        return True
    return a.mode.startswith("llm") and bool(DISAGREE.search(a.text))


def run_rgb(data_path: str | Path, out_dir: str | Path, settings: Settings,
            limit: int | None = None, embedder: Any = None) -> RgbResult:
    """Run the three settings, write rgb_results.json and rgb_report.md into `out_dir`."""
    from index.embed import EmbeddingCache, make_embedder

    items = load_rgb(data_path, limit)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if embedder is None:
        from qa.api import _embed_args

        embedder = make_embedder(settings.embed_backend, **_embed_args(settings))
    memo = EmbeddingCache(embedder, size=None)  # the three stores share most snippets
    plan = (
        ("answering", ("positive", "negative")),
        ("rejection", ("negative",)),
        ("counterfactual", ("positive_wrong", "negative")),
    )
    results: list[SettingResult] = []
    used = settings.refusal_threshold
    for name, parts in plan:
        records = corpus_records(items, parts)
        corpus = write_corpus(records, out / name / "corpus.jsonl")
        answers, forced, ingest, seconds, _, used = _ask_all(
            items, corpus, _setting_store(settings, out, name), memo, force=name == "answering")
        results.append(_score(name, items, answers, len(records), ingest, seconds, forced))
        log.info("RGB %s: %s in %.0fs", name, results[-1].shares, seconds)
    curve = rgb_tradeoff(results, THRESHOLDS + (used,))
    if curve:
        plot_tradeoff(curve, used, out / "rgb_tradeoff.png", "RGB: answering vs rejection")
    text = render_rgb_report(results, settings.replace(refusal_threshold=used),
                             str(Path(data_path).resolve()), limit)
    if curve:
        text += ("\n## Answering against refusing\n\nAnswering setting (answered with the "
                 "answer) against the rejection setting (refused) as the refusal threshold "
                 "varies; refused answering questions were asked again with the threshold at 0 "
                 "(plot: rgb_tradeoff.png):\n\n" + tradeoff_table(curve, used) + "\n")
    report_path = out / "rgb_report.md"
    report_path.write_text(text, encoding="utf-8")
    results_path = out / "rgb_results.json"
    results_path.write_text(json.dumps({
        "data": str(Path(data_path).resolve()), "limit": limit,
        "settings": settings.public_dict(),
        "results": [{"name": r.name, "n_questions": r.n_questions, "n_snippets": r.n_snippets,
                     "ingest": r.ingest, "seconds": round(r.seconds, 2), "shares": r.shares,
                     "questions": list(r.rows)} for r in results],
    }, indent=2, ensure_ascii=False), encoding="utf-8")
    return RgbResult(tuple(results), str(report_path), text, str(results_path))


def rgb_tradeoff(results: Sequence[SettingResult], thresholds: Sequence[float]
                 ) -> list[TradeoffPoint]:
    """The answering setting's questions as answerable, the rejection setting's as not."""
    by = {r.name: r for r in results}
    if "answering" not in by or "rejection" not in by:
        return []
    rows = [(float(q["support"]), True, bool(q["correct_if_answered"]))
            for q in by["answering"].rows if q.get("support") is not None]
    rows += [(float(q["support"]), False, False)
             for q in by["rejection"].rows if q.get("support") is not None]
    return tradeoff(rows, sorted(set(thresholds)))


def _score(name: str, items: Sequence[RgbItem], answers: Sequence[Answer | None], n_snippets: int,
           ingest: str, seconds: float, forced: Sequence[Answer | None] = ()) -> SettingResult:
    rows: list[dict[str, Any]] = []
    forced = list(forced) or [None] * len(items)
    for it, a, f in zip(items, answers, forced):
        text = a.text if a is not None and not a.refused else ""
        would = f.text if f is not None else text
        passages = a.passages if a is not None else ()
        rows.append({
            "id": it.qid, "query": it.query, "answer": a.text if a else "(error)",
            "refused": bool(a and a.refused), "error": a is None,
            "support": a.support if a is not None else None,
            "correct": contains_answer(text, it.answer),
            "correct_if_answered": contains_answer(would, it.answer),
            "fake": bool(it.fakeanswer) and contains_answer(text, it.fakeanswer),
            "flags_disagreement": bool(a and _flags_disagreement(a)),
            "retrieved_answer": any(contains_answer(p.chunk.text, it.answer) for p in passages),
            "retrieved_fake": bool(it.fakeanswer) and any(
                contains_answer(p.chunk.text, it.fakeanswer) for p in passages),
        })
    n = max(1, len(rows))

    def share(key: str) -> float:
        return round(sum(bool(r[key]) for r in rows) / n, 4)

    keys = {
        "answering": ("correct", "refused", "retrieved_answer", "error"),
        "rejection": ("refused", "error"),
        "counterfactual": ("fake", "correct", "flags_disagreement", "refused", "retrieved_fake",
                           "error"),
    }[name]
    return SettingResult(name, len(rows), n_snippets, ingest, {k: share(k) for k in keys},
                         seconds, tuple(rows))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def render_rgb_report(results: Sequence[SettingResult], settings: Settings, data: str,
                      limit: int | None) -> str:
    by = {r.name: r for r in results}
    modes = "llm" if settings.use_llm else "extractive"
    lines = [
        "# RGB benchmark (en_fact.json) — our settings",
        "",
        f"- data: `{data}`" + (f" (first {limit} questions)" if limit else ""),
        (f"- answer mode: {modes}; top_k={settings.top_k}, "
        f"refusal_threshold={settings.refusal_threshold}, embed={settings.embed_backend}"),
        ("- scoring: the paper's rule — an answer is correct when it contains the answer string "
        "(case-insensitive; list answers need every item; a nested list is a set of "
        "alternatives). A refusal contains no answer."),
        "",
        "| setting | corpus | measure | ours % |",
        "|---|---|---|---:|",
    ]
    labels = {
        "correct": "accuracy (contains the answer)",
        "refused": "refused",
        "retrieved_answer": "a retrieved passage contains the answer",
        "fake": "answer contains the fake answer",
        "flags_disagreement": "answer flags that sources disagree",
        "retrieved_fake": "a retrieved passage contains the fake answer",
        "error": "errors",
    }
    corpora = {"answering": "positive + negative", "rejection": "negative only",
               "counterfactual": "positive_wrong + negative"}
    for r in results:
        for k, v in r.shares.items():
            lines.append(f"| {r.name} | {corpora.get(r.name, '')} | {labels.get(k, k)} | {_pct(v)} |")
    lines += ["", "| setting | questions | snippets | ingest | seconds (index + questions) |",
              "|---|---:|---:|---|---:|"]
    lines += [f"| {r.name} | {r.n_questions} | {r.n_snippets} | {r.ingest} | {r.seconds:.0f} |"
              for r in results]
    lines += ["", (f"Evidence support of the answers (what refusal is decided on; threshold "
              f"{settings.refusal_threshold}):"), "",
              "| setting | p10 | p50 | p90 |", "|---|---:|---:|---:|"]
    for r in results:
        sup = [float(q["support"]) for q in r.rows if q.get("support") is not None]
        cells = [percentile(sup, q) for q in (10, 50, 90)]
        lines.append(f"| {r.name} | " + " | ".join("–" if c is None else f"{c:.3f}" for c in cells)
                     + " |")
    lines += [
        "",
        "## Reference point: the paper's published ChatGPT (gpt-3.5-turbo) figures",
        "",
        ("NOT the same experiment: the paper hands each question its 5 documents (and its noise "
        "and rejection figures come from its main English set, en.json, not en_fact.json); "
        "here every question is asked against a whole corpus and retrieval must find them."),
        "",
        "| paper measure (ChatGPT, English) | paper % | closest of ours | ours % |",
        "|---|---:|---|---:|",
    ]

    def ours(setting: str, key: str) -> str:
        r = by.get(setting)
        return _pct(r.shares[key]) if r and key in r.shares else "–"

    lines += [
        (f"| noise robustness accuracy, noise ratio 0 | {PAPER_CHATGPT['noise_robustness_accuracy_ratio_0']:.2f} "
        f"| answering accuracy (whole corpus) | {ours('answering', 'correct')} |"),
        (f"| noise robustness accuracy, noise ratio 0.8 | "
        f"{PAPER_CHATGPT['noise_robustness_accuracy_ratio_0.8']:.2f} | | |"),
        (f"| negative rejection Rej (exact refusal sentence) | {PAPER_CHATGPT['rejection_rej']:.2f} "
        f"| rejection: refused | {ours('rejection', 'refused')} |"),
        (f"| negative rejection Rej* (any refusal, judged by ChatGPT) | "
        f"{PAPER_CHATGPT['rejection_rej_star']:.2f} | | |"),
        (f"| counterfactual accuracy with the counterfactual documents | "
        f"{PAPER_CHATGPT['counterfactual_acc_with_docs']:.2f} | counterfactual: contains the true "
        f"answer | {ours('counterfactual', 'correct')} |"),
        (f"| counterfactual accuracy without documents | "
        f"{PAPER_CHATGPT['counterfactual_acc_without_docs']:.2f} | (not measured: we only "
        "answer from documents) | – |"),
        (f"| counterfactual error detection ED / ED* | {PAPER_CHATGPT['counterfactual_ed']:.0f} / "
        f"{PAPER_CHATGPT['counterfactual_ed_star']:.0f} | counterfactual: flags disagreement | "
        f"{ours('counterfactual', 'flags_disagreement')} |"),
        f"| counterfactual error correction CR | {PAPER_CHATGPT['counterfactual_cr']:.2f} | | |",
        "",
        ("In the counterfactual setting the corpus holds only the altered snippets, so an answer "
        "that repeats them contains the fake answer: for an answerer that quotes its sources "
        "(extractive) that share measures faithfulness to the documents, not gullibility."),
        "",
    ]
    return "\n".join(lines)
