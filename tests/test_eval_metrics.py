"""Exact expectations for every eval metric on small synthetic answers (no model, no store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.gold import Evidence, GoldCase, load_gold, normalise
from eval.metrics import (
    EvalContext,
    case_metrics,
    citation_precision,
    citation_precision_passage,
    citation_recall,
    citation_recall_passage,
    citation_validity,
    correct_refusal,
    doc_names,
    evidence_spans,
    false_refusal,
    hit_at_1,
    hit_at_5,
    hit_at_k,
    key_fact_full,
    key_fact_recall,
    latency_summary,
    percentile,
    reciprocal_rank,
    refusal_correct,
    summarise,
    usage_summary,
)
from qa.errors import InputError
from qa.types import Answer, ArticleMeta, Chunk, Citation, Passage, Usage

TEXT_A = "Judge Lewis Liman denied the motion. The ‘trial’ — set for March… was delayed."
TEXT_B = "Baldoni sued Lively for $400 million. Judge Lewis Liman denied the motion."
META_A = ArticleMeta(article_id="/data/a.txt", title="A", path="/data/a.txt")
META_B = ArticleMeta(article_id="https://example.com/b", title="B", path="/data/b.jsonl#3")
TEXTS = {META_A.article_id: TEXT_A, META_B.article_id: TEXT_B}
CTX = EvalContext(article_text=TEXTS.get,
                  known_docs=frozenset(doc_names(META_A) | doc_names(META_B)))


def case(answerable: bool = True, must=(("liman",),), evidence=(("a.txt", "Liman denied the motion"),),
         history=()) -> GoldCase:
    return GoldCase(
        id="c1", kind="single", history=tuple(history), question="q?", answer="",
        answerable=answerable, must_include=tuple(tuple(g) for g in must),
        evidence=tuple(Evidence(d, q) for d, q in evidence),
    )


def passage(meta: ArticleMeta, start: int, end: int, rank: int) -> Passage:
    text = TEXTS[meta.article_id][start:end]
    chunk = Chunk(f"{meta.title}-{start}", meta.article_id, 0, start, end, text, 10)
    return Passage(chunk=chunk, article=meta, score=1.0 / rank, rank=rank)


def cite(meta: ArticleMeta, start: int, end: int, n: int = 1, quote: str | None = None) -> Citation:
    q = TEXTS[meta.article_id][start:end] if quote is None else quote
    return Citation(number=n, article=meta, chunk_id="x", start=start, end=end, quote=q, score=0.5)


def answer(text: str = "", citations=(), refused: bool = False, passages=(), **kw) -> Answer:
    return Answer(question="q?", text=text, citations=tuple(citations), refused=refused,
                  mode=kw.pop("mode", "extractive"), passages=tuple(passages), **kw)


# -- normalisation and gold files ---------------------------------------------------------------
def test_normalise_folds_quotes_dashes_ellipsis_space_and_case() -> None:
    assert normalise("It’s  “Done”\n— ‘now’… ‚x‛ „y‟ ″z′ a–b‒c―d−e") == \
        "it's \"done\" - 'now'... 'x' \"y\" \"z' a-b-c-d-e"
    assert normalise("") == ""


def _write(tmp_path: Path, rows: list[object]) -> Path:
    p = tmp_path / "gold.jsonl"
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return p


GOOD = {"id": "g1", "kind": "followup", "history": ["Who?"], "question": "And why?",
        "answer": "Because.", "answerable": True, "must_include": [["a", "b"], ["c"]],
        "evidence": [{"doc": "x.txt", "quote": "because"}]}


def test_load_gold_reads_typed_cases(tmp_path: Path) -> None:
    [c] = load_gold(_write(tmp_path, [GOOD, ""]))
    assert c == GoldCase("g1", "followup", ("Who?",), "And why?", "Because.", True,
                         (("a", "b"), ("c",)), (Evidence("x.txt", "because"),))


@pytest.mark.parametrize("row, message", [
    ({k: v for k, v in GOOD.items() if k != "question"}, "line 2: missing field 'question'"),
    ({**GOOD, "answerable": "yes"}, "line 2: field 'answerable' must be true or false"),
    ({**GOOD, "must_include": ["a"]}, "line 2: field 'must_include' must be a list of groups"),
    ({**GOOD, "evidence": [{"doc": "x"}]}, "line 2: evidence[0] needs a non-empty 'quote'"),
    ("{not json", "line 2: not valid JSON"),
    ({**GOOD}, "line 2: id 'g1' is already used on line 1"),
])
def test_load_gold_names_file_line_and_field(tmp_path: Path, row: object, message: str) -> None:
    p = _write(tmp_path, [GOOD, row])
    with pytest.raises(InputError) as e:
        load_gold(p)
    assert str(p) in str(e.value) and message in str(e.value)


def test_load_gold_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_gold(tmp_path / "nope.jsonl")


# -- retrieval ---------------------------------------------------------------------------------
def test_hit_and_rr_count_the_first_passage_holding_the_quote_of_its_doc() -> None:
    # rank 1: B holds the same words but the evidence names a.txt -> not gold; rank 2: A.
    a = answer(passages=[passage(META_B, 38, 74, 1), passage(META_A, 0, 36, 2)])
    c = case()
    assert (hit_at_1(c, a, CTX), hit_at_5(c, a, CTX), reciprocal_rank(c, a, CTX)) == (0.0, 1.0, 0.5)
    assert hit_at_k(c, a, CTX, k=2) == 1.0


def test_evidence_doc_matches_url_ids_and_jsonl_record_paths() -> None:
    a = answer(passages=[passage(META_B, 0, 37, 1)])
    for doc in ("https://example.com/b", "b", "b.jsonl"):
        assert hit_at_1(case(evidence=((doc, "$400 million"),)), a, CTX) == 1.0, doc


def test_unknown_doc_matches_on_the_quote_alone() -> None:
    a = answer(passages=[passage(META_B, 38, 74, 1)])
    assert hit_at_1(case(evidence=(("gone.txt", "liman denied"),)), a, CTX) == 1.0
    assert hit_at_1(case(evidence=(("", "liman denied"),)), a, CTX) == 1.0


def test_retrieval_matches_across_curly_quotes_dashes_and_ellipsis() -> None:
    a = answer(passages=[passage(META_A, 37, len(TEXT_A), 1)])
    c = case(evidence=(("a.txt", "The 'trial' - set for  march..."),))
    assert reciprocal_rank(c, a, CTX) == 1.0


def test_retrieval_with_no_passages_scores_zero_and_skips_unanswerable() -> None:
    assert (hit_at_5(case(), answer(), CTX), reciprocal_rank(case(), answer(), CTX)) == (0.0, 0.0)
    assert hit_at_5(case(answerable=False, must=(), evidence=()), answer(), CTX) is None
    assert reciprocal_rank(case(evidence=()), answer(), CTX) is None


# -- key facts ---------------------------------------------------------------------------------
def test_key_fact_recall_counts_groups_any_alternative_case_insensitive() -> None:
    c = case(must=(("LIMAN", "judge x"), ("granted", "approved"), ("400",)))
    a = answer("Lewis Liman denied it; the $400M suit [1].")
    assert key_fact_recall(c, a, CTX) == pytest.approx(2 / 3)
    assert key_fact_full(c, a, CTX) == 0.0
    assert key_fact_full(case(must=(("liman",), ("400",))), a, CTX) == 1.0


def test_key_facts_ignore_citation_markers_and_fold_dashes() -> None:
    assert key_fact_recall(case(must=(("2",),)), answer("Nothing here [2]."), CTX) == 0.0
    assert key_fact_recall(case(must=(("2010-2012",),)), answer("From 2010–2012."), CTX) == 1.0


def test_refused_answerable_finds_no_key_facts_and_unanswerable_has_none() -> None:
    a = answer("The articles don't say. Liman", refused=True)
    assert (key_fact_recall(case(), a, CTX), key_fact_full(case(), a, CTX)) == (0.0, 0.0)
    assert key_fact_recall(case(answerable=False, must=()), a, CTX) is None


# -- refusal -----------------------------------------------------------------------------------
def test_refusal_metrics() -> None:
    ans, unans = case(), case(answerable=False, must=(), evidence=())
    refused, answered = answer("no", refused=True), answer("yes [1]")
    assert (refusal_correct(ans, refused, CTX), false_refusal(ans, refused, CTX)) == (0.0, 1.0)
    assert (refusal_correct(ans, answered, CTX), false_refusal(ans, answered, CTX)) == (1.0, 0.0)
    assert correct_refusal(ans, refused, CTX) is None
    assert (refusal_correct(unans, answered, CTX), correct_refusal(unans, answered, CTX)) == (0.0, 0.0)
    assert (refusal_correct(unans, refused, CTX), correct_refusal(unans, refused, CTX)) == (1.0, 1.0)
    assert false_refusal(unans, refused, CTX) is None


# -- citations ---------------------------------------------------------------------------------
def test_citation_validity_needs_the_exact_stored_span() -> None:
    good = cite(META_A, 0, 36)
    shifted = cite(META_A, 1, 37, 2, quote=TEXT_A[0:36])
    gone = Citation(3, ArticleMeta("/nope", "N"), "x", 0, 3, "Jud", 0.1)
    assert citation_validity(case(), answer("x", [good, shifted]), CTX) == 0.5
    assert citation_validity(case(), answer("x", [good]), CTX) == 1.0
    assert citation_validity(case(), answer("x", [gone]), CTX) == 0.0
    assert citation_validity(case(), answer("no", refused=True), CTX) is None


def test_evidence_spans_map_normalised_matches_back_to_offsets() -> None:
    spans = evidence_spans(TEXT_A, "the 'TRIAL' - set for march...")
    assert spans == [(37, 65)] and TEXT_A[37:65] == "The ‘trial’ — set for March…"
    assert evidence_spans("a  b a b", "A B") == [(0, 4), (5, 8)]
    assert evidence_spans(TEXT_A, "absent") == []


def test_citation_precision_and_recall_use_span_overlap_in_the_gold_doc() -> None:
    c = case(evidence=(("a.txt", "Liman denied the motion"),))
    gold = cite(META_A, 0, 36, 1)  # the sentence holding the quote
    other = cite(META_A, 37, len(TEXT_A), 2)  # same article, another sentence
    twin = cite(META_B, 38, 74, 3)  # same words, but not the doc the evidence names
    a = answer("x [1] [2] [3]", [gold, other, twin])
    assert citation_precision(c, a, CTX) == pytest.approx(1 / 3)
    assert citation_recall(c, a, CTX) == 1.0
    assert citation_recall(c, answer("x [1]", [other]), CTX) == 0.0
    partial = cite(META_A, 30, 40, 1)  # overlaps the end of the quote only
    assert citation_precision(c, answer("x [1]", [partial]), CTX) == 1.0


def test_passage_level_citation_metrics_credit_any_sentence_of_a_gold_passage() -> None:
    c = case(evidence=(("a.txt", "Liman denied the motion"),))
    gold_p = passage(META_A, 0, len(TEXT_A), 1)  # holds the quote
    other_p = passage(META_B, 0, 37, 2)  # B's first sentence: no quote
    in_gold = Citation(1, META_A, gold_p.chunk.chunk_id, 37, len(TEXT_A),
                       TEXT_A[37:], 0.5)  # another sentence of the gold passage
    in_other = Citation(2, META_B, other_p.chunk.chunk_id, 0, 37, TEXT_B[:37], 0.5)
    a = answer("x [1] [2]", [in_gold, in_other], passages=[gold_p, other_p])
    assert citation_precision(c, a, CTX) == 0.0  # the sentence itself is not the evidence
    assert citation_precision_passage(c, a, CTX) == 0.5
    assert citation_recall_passage(c, a, CTX) == 1.0 and citation_recall(c, a, CTX) == 0.0
    only_other = answer("x [1]", [in_other], passages=[gold_p, other_p])
    assert citation_recall_passage(c, only_other, CTX) == 0.0
    # a citation whose passage is not among the answer's passages is not credited
    assert citation_precision_passage(c, answer("x [1]", [in_gold]), CTX) == 0.0
    assert citation_precision_passage(case(), answer("no", refused=True), CTX) is None
    unans = case(answerable=False, must=(), evidence=())
    assert citation_recall_passage(unans, a, CTX) is None


def test_citation_metrics_on_refusals_and_unanswerable_cases() -> None:
    refused = answer("no", refused=True)
    assert citation_recall(case(), refused, CTX) == 0.0
    assert citation_precision(case(), refused, CTX) is None
    unans = case(answerable=False, must=(), evidence=())
    wrong = answer("x [1]", [cite(META_A, 0, 36)])
    assert citation_precision(unans, wrong, CTX) is None and citation_recall(unans, wrong, CTX) is None


# -- aggregates --------------------------------------------------------------------------------
def test_case_metrics_and_summarise_skip_metrics_that_do_not_apply() -> None:
    rows = [
        case_metrics(case(), answer("Liman [1]", [cite(META_A, 0, 36)],
                                    passages=[passage(META_A, 0, 36, 1)]), CTX),
        case_metrics(case(), answer("no", refused=True), CTX),
        case_metrics(case(answerable=False, must=(), evidence=()), answer("no", refused=True), CTX),
    ]
    assert rows[0]["hit_at_5"] == 1.0 and rows[0]["citation_validity"] == 1.0
    s = summarise(rows)
    assert (s["hit_at_5"].mean, s["hit_at_5"].n) == (0.5, 2)
    assert (s["refusal_correct"].mean, s["refusal_correct"].n) == (pytest.approx(2 / 3), 3)
    assert (s["false_refusal"].mean, s["correct_refusal"].mean) == (0.5, 1.0)
    assert (s["citation_validity"].mean, s["citation_validity"].n) == (1.0, 1)
    assert summarise([], ["mrr"])["mrr"].mean is None


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_latency_summary_per_stage() -> None:
    answers = [answer(timings={"retrieve": r, "total": t}) for r, t in ((0.1, 0.3), (0.3, 0.5))]
    lat = latency_summary(answers)
    assert (lat["retrieve"].p50, lat["total"].p95, lat["total"].n) == (pytest.approx(0.2),
                                                                      pytest.approx(0.49), 2)
    assert (lat["answer"].p50, lat["answer"].n) == (None, 0)


def test_usage_summary_counts_llm_tokens_and_cost() -> None:
    u = usage_summary([
        answer(mode="llm:gpt-4o-mini", usage=Usage(100, 20, 0.001)),
        answer(mode="llm:gpt-4o-mini", usage=Usage(50, 10, None)),
        answer(),
    ])
    assert (u.n_llm_answers, u.prompt_tokens, u.completion_tokens) == (2, 150, 30)
    assert u.cost_usd == pytest.approx(0.001)
    assert u.modes == ("extractive", "llm:gpt-4o-mini")
    assert usage_summary([answer()]).cost_usd is None


# -- RGB scoring (the paper's rule) --------------------------------------------------------------
def test_rgb_contains_answer_follows_the_papers_rule() -> None:
    from eval.rgb import contains_answer

    assert contains_answer("It was held in TAMPA, Florida [1].", "Tampa, Florida")
    assert not contains_answer("It was held in Tampa.", "Tampa, Florida")
    assert contains_answer("Nadal beat Ruud", ["Nadal", "Ruud"])  # every item
    assert not contains_answer("Nadal won", ["Nadal", "Ruud"])
    assert contains_answer("on 7 Feb", [["February 7", "7 Feb"]])  # nested list: alternatives
    assert not contains_answer("on 8 Feb", [["February 7", "7 Feb"]])
    assert not contains_answer("Answer [2]", "2")  # citation markers are not answers
    assert not contains_answer("anything", [])


def test_rgb_disagreement_flag_reads_warnings_and_generated_text_only() -> None:
    from eval.rgb import _flags_disagreement

    def ans(text: str, mode: str, warnings: tuple[str, ...] = ()) -> Answer:
        return Answer(question="q", text=text, citations=(), refused=False, mode=mode,
                      warnings=warnings)

    assert _flags_disagreement(ans("Source [1] and source [2] disagree on the date.", "llm:m"))
    assert not _flags_disagreement(ans("Critics differ on the plan. [1]", "extractive"))
    assert _flags_disagreement(ans("x [1]", "extractive", ("The sources contradict each other",)))
    assert not _flags_disagreement(ans("It opened on Monday [1].", "llm:m"))
