"""Train the answer scorer (qa/reader.py) on the train split of the gold sets; write its weights
and model card (qa/models/reader.json, qa/models/READER.md).

    python -m eval.train_reader [--bbc-store DIR] [--work DIR] [--out qa/models/reader.json]

Data: every case of the train gold files (TRAIN below, never a `check` file) is asked through
the real pipeline (retrieval of the candidate pool, the reader's candidates and features); a
candidate sentence is labelled 1 when it overlaps a gold evidence quote of its article, 0
otherwise, and left out when it is not evidence but holds every key fact (another article
stating the same fact: not a negative). Unanswerable cases give negatives only.

Model: two L2-regularised logistic regressions (qa.reader: the first over lexical features of
every candidate shortlists TOP_M; the second adds the sentences' meaning), fitted by Newton's
method (qa.reader.fit: deterministic, so a re-run on the same data rebuilds the same weights up to
float rounding). The regularisation is chosen by 5-fold cross-validation, folds grouped by
article (L2_DEFAULT unless another is better by more than TOLERANCE); the refusal threshold is then chosen on the out-of-fold probabilities by the utility,
over all train questions: +1 for a correct answer (a sentence it cites is gold evidence or states
every key fact), +1 for a correct refusal, 0 for a false refusal, and -1 for a cited non-answer
(answering an unanswerable question, or citing only sentences that do not answer): a cited
non-answer is worse than a refusal. Of the thresholds within TOLERANCE of the best utility, the
lowest (the one that answers most) is taken.

Two pools per question. The scorer is *fitted* on the candidate pools of passages of FIT_CHUNKS
(192 tokens, 64 overlapping: a passage's rank and scores then say which part of an article
matched), and *calibrated* (regularisation and refusal threshold, out of fold) on the pools the
answerer reads with the default settings (whole articles up to 1,024 tokens): measured on the
train split out of fold, fitting on the small passages and reading the large ones gave utility
1,125 against 1,099 for fitting on the large ones themselves (`--fit-chunks 1024:0` measures
that), while ingestion embeds half as much. `--fit-chunks T:O` changes the fitting passages;
equal to the defaults, one pool serves both.

`--cache FILE` keeps the collected features (numbers only, no article text) to refit without
asking every question again (the fitting pools in FILE's sibling `*.fit-T-O.npz`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.gold import GoldCase, load_gold, normalise
from eval.metrics import doc_names, evidence_spans
from qa.extractive import ADD_SHARE
from qa.reader import LEXICAL, MODEL_PATH, RERANK, Linear, Reader, fit, rerank_features
from qa.settings import Settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "articles"
BBC = (ROOT.parent / "shared" / "corpora" / "bbc-news" / "news").resolve()
# (gold file pattern, corpus): the train split only; the dev set was tuned on before, it trains too
TRAIN: tuple[tuple[str, str], ...] = (
    ("eval/gold.jsonl", "sample"),
    ("eval/gold/sample_train.jsonl", "sample"),
    ("eval/gold/bbc_train.jsonl", "bbc"),
    ("eval/gold/bbc_train_extra.jsonl", "bbc"),
    ("eval/gold/bbc_train_*.jsonl", "bbc"),
    ("eval/gold/bbc_train2_*.jsonl", "bbc"),
)
# what the third stage (eval/train_cross.py) reads besides: cases written 7 Dec 2026 after the
# first two stages were fitted (bbc_train3: 1,255; bbc_train4: 763, 439 of them follow-ups;
# bbc_train5/6: 490, 313 of them near misses); read by them too, they would refit those stages
# (a re-run would not rebuild the shipped weights)
CROSS_TRAIN: tuple[tuple[str, str], ...] = (*TRAIN, ("eval/gold/bbc_train3_*.jsonl", "bbc"),
                                             ("eval/gold/bbc_train4_*.jsonl", "bbc"),
                                             ("eval/gold/bbc_train5_*.jsonl", "bbc"),
                                             ("eval/gold/bbc_train6_*.jsonl", "bbc"))


def train_files(patterns: tuple[tuple[str, str], ...] | None = None) -> list[tuple[Path, str]]:
    """(file, corpus) of every train gold file `patterns` (TRAIN) names, each once, in their
    order (the trainers read them so, and their model cards list them)."""
    out: dict[Path, str] = {}
    for pattern, corpus in TRAIN if patterns is None else patterns:
        for path in sorted(ROOT.glob(pattern)):
            out.setdefault(path, corpus)
    return list(out.items())


L2_GRID = (1.0, 10.0, 100.0)
L2_DEFAULT = 10.0
FOLDS = 5
TOP_M = 8  # the first stage's shortlist (the second embeds only these)
MAX_SENTENCES = Settings().max_answer_sentences
TOLERANCE = 0.01  # utilities this close (x the number of questions) count as equal
FIT_CHUNKS = (192, 64)  # the passages the scorer is fitted on (see the module doc)


@dataclass
class Question:
    case: GoldCase
    x: np.ndarray  # LEXICAL rows of every candidate
    sem: np.ndarray  # cosine of each candidate to the question
    sem_ctx: np.ndarray  # ... and to the question with its earlier turns
    y: np.ndarray  # 1 gold evidence, 0 not, -1 left out (states the key facts, not evidence)
    fold: int
    texts: tuple[str, ...] = ()  # the candidates, for looking at what the model gets wrong


def _fold(case: GoldCase) -> int:
    """Questions about one article fall in one fold, so a fold's articles are new to the model
    that predicts it (as the check split's are)."""
    key = case.evidence[0].doc if case.evidence else case.id
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % FOLDS


def collect(bot: object, cases: list[GoldCase]) -> list[Question]:
    """Ask each case through the pipeline; every candidate's features and label."""
    out: list[Question] = []
    texts: dict[str, str] = {}
    ex = bot.extractive  # type: ignore[attr-defined]
    for case in cases:
        s = bot.score(case.question, list(case.history))  # type: ignore[attr-defined]
        labels = np.zeros(len(s.candidates), dtype=np.float32)
        for i, c in enumerate(s.candidates):
            aid = c.passage.article.article_id
            if aid not in texts:
                texts[aid] = bot.article_text(aid)  # type: ignore[attr-defined]
            names = doc_names(c.passage.article)
            for ev in case.evidence:
                if ev.doc and ev.doc not in names:
                    continue
                if any(c.start < e and b < c.end for b, e in evidence_spans(texts[aid], ev.quote)):
                    labels[i] = 1.0
            if labels[i] == 0 and case.answerable and case.must_include:
                plain = normalise(c.text)
                if all(any(normalise(a) in plain for a in g) for g in case.must_include):
                    labels[i] = -1.0
        vecs = ex.sentences.embed([c.text for c in s.candidates] + [case.question.strip()])
        sem = np.clip(vecs[:-1] @ vecs[-1], 0.0, 1.0)
        sem_ctx = np.clip(vecs[:-1] @ np.asarray(s.query_vector, np.float32), 0.0, 1.0)
        out.append(Question(case, s.x, sem, sem_ctx, labels, _fold(case),
                            tuple(c.text for c in s.candidates)))
    return out


def _weights(y: np.ndarray) -> np.ndarray:
    """Positives and negatives weigh the same in all (there are ~30 negatives per positive)."""
    pos = max(1.0, float(y.sum()))
    neg = max(1.0, float(len(y) - y.sum()))
    return np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * neg))


def _fit(rows: list[np.ndarray], labels: list[np.ndarray], l2: float,
         balanced: bool = True) -> Linear:
    x = np.concatenate(rows).astype(np.float64)
    y = np.concatenate(labels).astype(np.float64)
    keep = y >= 0
    w, b, m, sc = fit(x[keep], y[keep], l2=l2,
                      sample_weight=_weights(y[keep]) if balanced else None)
    return Linear(w, b, m, sc)


def _stage2_rows(q: Question, stage1: Linear, top_m: int) -> tuple[np.ndarray, np.ndarray]:
    z = stage1.logit(q.x)
    top = np.argsort(-z, kind="stable")[:top_m]
    return top, rerank_features(q.x[top], q.sem[top], q.sem_ctx[top], z[top])


def train(qs: list[Question], l2: float, top_m: int = TOP_M) -> tuple[Linear, Linear]:
    """Both stages: the first on every candidate (positives and negatives weighed equally),
    the second on the first's shortlists."""
    qs = [q for q in qs if len(q.x)]
    stage1 = _fit([q.x for q in qs], [q.y for q in qs], l2)
    rows, labels = [], []
    for q in qs:
        top, x2 = _stage2_rows(q, stage1, top_m)
        rows.append(x2)
        labels.append(q.y[top])
    # the second stage is not re-weighted: its output is a probability, calibrated on the
    # shortlists it will see (the first only ranks, so it weighs its rare positives up)
    return stage1, _fit(rows, labels, l2, balanced=False)


def predict(q: Question, stage1: Linear, stage2: Linear, top_m: int = TOP_M) -> np.ndarray:
    """P(answers) per candidate, as the answerer computes it (0 off the shortlist)."""
    probs = np.zeros(len(q.x), np.float32)
    if len(q.x):
        top, x2 = _stage2_rows(q, stage1, top_m)
        probs[top] = stage2.predict(x2)
    return probs


def out_of_fold(qs: list[Question], l2: float,
                fit: list[Question] | None = None) -> list[np.ndarray]:
    """Each question's candidate probabilities (over its pool in `qs`) from a model fitted
    without its fold (on the pools of `fit`, the same questions in the same order; default
    `qs`)."""
    fit = qs if fit is None else fit
    probs: list[np.ndarray] = [np.zeros(len(q.x)) for q in qs]
    for f in range(FOLDS):
        s1, s2 = train([q for q in fit if q.fold != f], l2)
        for i, q in enumerate(qs):
            if q.fold == f:
                probs[i] = predict(q, s1, s2)
    return probs


def answer_rows(p: np.ndarray, t: float, max_sentences: int = MAX_SENTENCES) -> list[int]:
    """The candidates an answer at threshold `t` may cite: the best, then up to
    `max_sentences` - 1 more whose probability reaches both `t` and ADD_SHARE of the best's (as
    qa.extractive composes it; there a further one must also add a fact)."""
    order = np.argsort(-p, kind="stable")[:max_sentences]
    if not len(order) or p[order[0]] < t:
        return []
    floor = max(t, ADD_SHARE * float(p[order[0]]))
    return [int(order[0])] + [int(i) for i in order[1:] if p[i] >= floor]


def outcomes(qs: list[Question], probs: list[np.ndarray], t: float) -> dict[str, float]:
    """The answering outcomes at threshold `t` (see the module docstring): an answer is right
    when one of the sentences it cites is gold evidence or states every key fact."""
    right = wrong = refused_ok = refused_bad = 0
    n_ans = sum(q.case.answerable for q in qs)
    n_un = len(qs) - n_ans
    for q, p in zip(qs, probs):
        cited = answer_rows(p, t)
        if not cited:
            refused_ok += not q.case.answerable
            refused_bad += q.case.answerable
            continue
        if q.case.answerable and any(q.y[i] != 0 for i in cited):
            right += 1
        else:
            wrong += 1
    return {"utility": right + refused_ok - wrong, "answered_right": right / max(1, n_ans),
            "refused_right": refused_ok / max(1, n_un), "false_refusal": refused_bad / max(1, n_ans),
            "cited_non_answer": wrong / max(1, len(qs)), "threshold": t}


def choose_threshold(qs: list[Question], probs: list[np.ndarray],
                     tolerance: float = TOLERANCE, min_refused: float = 0.0) -> dict[str, float]:
    """The lowest threshold whose utility is within `tolerance` x the number of questions of the
    best: the utility is flat near its top (refusing more trades right answers for avoided wrong
    ones almost one for one), and where refusing more does not measurably pay, answering serves
    the reader better. Only thresholds that refuse at least `min_refused` of the unanswerable
    questions compete (none when no threshold does)."""
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    rows = [outcomes(qs, probs, float(t)) for t in grid]
    rows = [r for r in rows if r["refused_right"] >= min_refused] or rows[-1:]
    top = max(r["utility"] for r in rows)
    near = [r for r in rows if r["utility"] >= top - tolerance * len(qs)]
    return {**min(near, key=lambda r: r["threshold"]), "best_utility": top}


def _open(corpus: str, bbc_store: str, work: Path, chunks: tuple[int, int]) -> object:
    from qa.api import Assistant
    def zero(n: int) -> Linear:
        return Linear(np.zeros(n, np.float32), 0.0, np.zeros(n, np.float32), np.ones(n, np.float32))

    blank = Reader(zero(len(LEXICAL)), zero(len(RERANK)), 0.0, TOP_M)
    tag = f"{chunks[0]}-{chunks[1]}"
    if corpus == "bbc":
        store = bbc_store or str(work / f"bbc-{tag}")
        folder = BBC
    else:
        store = str(work / f"sample-{tag}")
        folder = SAMPLE
    bot = Assistant.open(Settings.from_env(store_path=store, answer_mode="extractive",
                                           chunk_tokens=chunks[0], chunk_overlap=chunks[1]),
                         reader=blank)
    report = bot.ingest([folder])
    log.info("%s: %s", corpus, report.summary())
    return bot


def _collect_all(bbc_store: str, work: Path, t0: float,
                 chunks: tuple[int, int]) -> tuple[list[Question], list[str]]:
    qs: list[Question] = []
    used: list[str] = []
    bots: dict[str, object] = {}
    try:
        for path, corpus in train_files():
            rel = str(path.relative_to(ROOT))
            if corpus not in bots:
                bots[corpus] = _open(corpus, bbc_store, work, chunks)
            qs += collect(bots[corpus], load_gold(path))
            used.append(rel)
            log.info("%s: %d questions so far (%.0f s)", rel, len(qs), time.perf_counter() - t0)
    finally:
        for bot in bots.values():
            bot.close()  # type: ignore[attr-defined]
    return qs, used


def _save_cache(path: Path, qs: list[Question], used: list[str]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, q in enumerate(qs):
        arrays.update({f"x{i}": q.x, f"s{i}": q.sem, f"c{i}": q.sem_ctx, f"y{i}": q.y})
    cases = [{"file": q.case.id, "answerable": q.case.answerable, "fold": q.fold} for q in qs]
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays["meta"] = np.array(json.dumps({"used": used, "cases": cases}))
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def _load_cache(path: Path) -> tuple[list[Question], list[str]]:
    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    qs = []
    for i, c in enumerate(meta["cases"]):
        case = GoldCase(id=c["file"], kind="", history=(), question="", answer="",
                        answerable=c["answerable"], must_include=(), evidence=())
        qs.append(Question(case, data[f"x{i}"], data[f"s{i}"], data[f"c{i}"], data[f"y{i}"],
                           c["fold"]))
    return qs, meta["used"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.train_reader", description=__doc__.splitlines()[0])
    p.add_argument("--bbc-store", default="", help="a store that already holds the BBC corpus")
    p.add_argument("--work", default=str(ROOT / "reports" / "train-stores"))
    p.add_argument("--out", default=str(MODEL_PATH))
    p.add_argument("--fit-bbc-store", default="",
                   help="a store that already holds the BBC corpus cut at --fit-chunks")
    p.add_argument("--fit-chunks", default=f"{FIT_CHUNKS[0]}:{FIT_CHUNKS[1]}",
                   help="chunk tokens:overlap of the passages the scorer is fitted on")
    p.add_argument("--cache", default="", help="keep the collected features in this file and "
                   "reuse them (numbers only, no article text): to refit without asking again")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    work = Path(args.work)
    default = Settings()
    read_chunks = (default.chunk_tokens, default.chunk_overlap)
    tok, _, over = args.fit_chunks.partition(":")
    fit_chunks = (int(tok), int(over or 0))
    cache = Path(args.cache) if args.cache else None
    qs, used = _collected(cache, args.bbc_store, work, t0, read_chunks)
    fit = qs
    if fit_chunks != read_chunks:
        fit_cache = (cache.with_name(f"{cache.stem}.fit-{fit_chunks[0]}-{fit_chunks[1]}.npz")
                     if cache is not None else None)
        fit, fit_used = _collected(fit_cache, args.fit_bbc_store, work, t0, fit_chunks)
        if fit_used != used or [(q.fold, q.case.answerable) for q in fit] != [
                (q.fold, q.case.answerable) for q in qs]:
            raise SystemExit("the fitting and reading collections hold different questions; "
                             "delete the caches and run again")
    t_fit = time.perf_counter()
    n_cands = sum(int((q.y >= 0).sum()) for q in fit)
    n_pos = sum(int((q.y > 0).sum()) for q in fit)
    log.info("%d questions, %d candidates, %d positives", len(fit), n_cands, n_pos)
    cv: dict[float, dict[str, float]] = {}
    for l2 in L2_GRID:
        cv[l2] = choose_threshold(qs, out_of_fold(qs, l2, fit))
        log.info("l2=%g: %s", l2, {k: round(v, 3) for k, v in cv[l2].items()})
    # L2_DEFAULT unless another does better by more than the tolerance: the grid's utilities
    # differ by a few questions, and a near tie must not flip with retrieval's ties
    best = max(L2_GRID, key=lambda v: cv[v]["best_utility"])
    gain = cv[best]["best_utility"] - cv[L2_DEFAULT]["best_utility"]
    l2 = best if gain > TOLERANCE * len(qs) else L2_DEFAULT
    chosen = cv[l2]
    s1, s2 = train(fit, l2)
    meta = {
        "trained": _dt.date.today().isoformat(), "gold_files": used, "questions": len(qs),
        "answerable": sum(q.case.answerable for q in qs), "candidates": n_cands,
        "positives": n_pos, "l2": l2, "cv": {k: round(v, 4) for k, v in chosen.items()},
        "seconds": round(time.perf_counter() - t_fit, 1),
        "fit_chunks": list(fit_chunks), "read_chunks": list(read_chunks),
    }
    reader = Reader(s1, s2, float(chosen["threshold"]), TOP_M, meta)
    out = Path(args.out)
    reader.save(out)
    write_card(reader, out.with_name("READER.md"))
    log.info("wrote %s (threshold %.2f, cv %s)", out, reader.threshold, meta["cv"])
    return 0


def _collected(cache: Path | None, bbc_store: str, work: Path, t0: float,
               chunks: tuple[int, int]) -> tuple[list[Question], list[str]]:
    """Every train question's pool at this chunking: from `cache` when it exists."""
    if cache is not None and cache.exists():
        qs, used = _load_cache(cache)
        log.info("reusing %d questions from %s", len(qs), cache)
        return qs, used
    log.info("asking every train question with passages of %d tokens, %d overlapping", *chunks)
    qs, used = _collect_all(bbc_store, work, t0, chunks)
    if cache is not None:
        _save_cache(cache, qs, used)
    return qs, used


def write_card(r: Reader, path: Path) -> None:
    meta = r.meta or {}
    cv = meta.get("cv", {})
    assert isinstance(cv, dict)
    files = meta.get("gold_files", [])
    assert isinstance(files, list)
    fit = meta.get("fit_chunks") or [0, 0]
    read = meta.get("read_chunks") or fit
    assert isinstance(fit, list) and isinstance(read, list)

    def table(names: tuple[str, ...], model: Linear) -> list[str]:
        rows = sorted(zip(names, model.weights), key=lambda fw: -abs(float(fw[1])))
        return ["| feature | weight (standardised) |", "|---|---:|",
                *[f"| {name} | {float(wt):+.3f} |" for name, wt in rows]]

    lines = [
        "# The answer scorer (qa/reader.py): model card",
        "",
        ("Rebuilt by `python -m eval.train_reader` (fixed folds, Newton's method: the same "
         "collected data gives the same weights; `--cache` keeps it). Collecting it again through "
         "retrieval differs in a few candidates of 200,000 (ties between runs): on 6 Dec 2026 a "
         "full re-run gave the same threshold and standardised weights within 0.15 of these. "
         "Loaded offline from `reader.json` beside this file (a few milliseconds)."),
        "",
        ("- **Task**: P(this sentence answers this question | its passage, the conversation), for "
         "the sentences of the retrieved candidate pool; the answer cites the best, and refuses "
         "when the best is under the threshold."),
        (f"- **Data**: {meta.get('questions')} questions ({meta.get('answerable')} answerable) of "
         f"the train gold files ({', '.join(str(g) for g in files)}); "
         f"{meta.get('candidates')} candidate sentences, {meta.get('positives')} of them gold "
         "evidence. No `check` file and nothing of RGB is used, for fitting or calibration."),
        (f"- **Model**: two logistic regressions on standardised features, L2 {meta.get('l2')} "
         "(chosen by 5-fold cross-validation, folds grouped by article): the first reads "
         f"{len(LEXICAL)} lexical features of every candidate (positives and negatives weighed "
         f"equally: it only ranks) and shortlists {r.top_m}; the second adds the sentence's "
         "meaning (MiniLM cosines) and the first's logit, unweighted, so its output is a "
         "probability calibrated on the shortlists it reads."),
        (f"- **Passages**: fitted on the candidate pools retrieved with passages of "
         f"{fit[0]} tokens ({fit[1]} overlapping); the regularisation and the threshold are chosen "
         f"out of fold on the pools the answerer reads by default (passages of {read[0]} tokens, "
         f"{read[1]} overlapping): fitted on small passages, it reads large ones better than a "
         "model fitted on them (see eval/train_reader.py)."
         if fit != read else
         f"- **Passages**: fitted and calibrated on pools of passages of {read[0]} tokens."),
        (f"- **Refusal threshold**: {r.threshold:.2f}, chosen on out-of-fold probabilities: the "
         "utility is correct answers + correct refusals - cited non-answers (an answer is correct "
         "when a sentence it cites is gold evidence or states every key fact; a false refusal "
         f"counts 0), best {cv.get('best_utility', 0):.0f}; the threshold is the lowest whose "
         f"utility is within {TOLERANCE:.0%} of the questions of the best ({cv.get('utility', 0):.0f}):"
         " where refusing more does not measurably pay, answering serves the reader better."),
        (f"- **Cross-validated on train** (out of fold, at that threshold): answered with a "
         f"sentence that answers {cv.get('answered_right', 0):.1%} of answerable questions; unanswerable "
         f"refused {cv.get('refused_right', 0):.1%}; false refusals "
         f"{cv.get('false_refusal', 0):.1%}; cited non-answers {cv.get('cited_non_answer', 0):.1%}"
         " of all questions."),
        (f"- **Trained** {meta.get('trained')}: fitting and cross-validation "
         f"{meta.get('seconds')} s on 2 cores, after asking every train question through the "
         "pipeline, once per passage size (about 12 minutes with passages of 192 tokens and 18 "
         "with passages of 1,024 on 2 cores, plus the BBC corpus's ingestion at each size when no "
         "store holds it yet)."),
        ("- **Third stage**: `python -m eval.train_cross`, run after this script, adds a "
         "cross-encoder over the second stage's best sentences to `reader.json` (CROSS.md); "
         "the answerer then refuses by that stage's threshold. This script's rewrite of "
         "`reader.json` drops it: run that one again."),
        ("- **Check split** (never used above; `qa eval`, extractive, default settings): see "
         "the README's Evaluation section."),
        "",
        "## Second stage (what the answer's probability comes from)",
        "",
        *table(RERANK, r.stage2),
        "",
        "## First stage (the shortlist)",
        "",
        *table(LEXICAL, r.stage1),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
