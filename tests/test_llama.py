"""The assistant from llama-index: a BaseRetriever whose TextNodes point into the articles, a
BaseQueryEngine whose Response is the verified, cited answer, and llama-index's own
RetrieverEvaluator agreeing with `qa eval` on the dev gold set. (A llama-index LLM as the model,
OpenAILike against the real llama.cpp server, is tested in test_llm_server.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import Response
from llama_index.core.evaluation import RetrieverEvaluator
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import TextNode

from eval.gold import load_gold, normalise
from eval.harness import run_eval
from eval.metrics import doc_names
from qa import Settings
from qa.extractive import REFUSAL_TEXT
from tests.conftest import ROOT

QUESTION = "Which judge denied Baldoni's motion?"


def test_retriever_nodes_point_into_the_articles(sample_bot: Any) -> None:
    r = sample_bot.as_retriever(top_k=4)
    assert isinstance(r, BaseRetriever)
    got = r.retrieve(QUESTION)
    assert len(got) == 4
    passages = sample_bot.ask(QUESTION, top_k=4, mode="extractive").passages
    assert [n.node.node_id for n in got] == [p.chunk.chunk_id for p in passages]
    for n, p in zip(got, passages, strict=True):
        node = n.node
        assert isinstance(node, TextNode)
        text = sample_bot.store.article_text(node.metadata["article_id"])
        assert text[node.start_char_idx:node.end_char_idx] == node.text
        assert node.metadata["title"] == p.article.title and node.metadata["file"]
        assert n.score == p.score  # the fused score
    # the fused ranking alone, and the filters
    plain = sample_bot.as_retriever(top_k=4, rerank=False).retrieve(QUESTION)
    fused = [n.score for n in plain]
    assert fused == sorted(fused, reverse=True)
    one = got[0].node.metadata["article_id"]
    only = sample_bot.as_retriever(top_k=5, articles=[one]).retrieve(QUESTION)
    assert only and {n.node.metadata["article_id"] for n in only} == {one}
    assert sample_bot.as_retriever(sources=["No Such Paper"]).retrieve(QUESTION) == []


def test_query_engine_gives_the_verified_answer_and_its_cited_passages(sample_bot: Any) -> None:
    engine = sample_bot.as_query_engine()
    assert isinstance(engine, BaseQueryEngine)
    resp = engine.query(QUESTION)
    assert isinstance(resp, Response)
    ans = sample_bot.ask(QUESTION, mode="extractive")
    assert not ans.refused and resp.response == ans.text
    cited = list(dict.fromkeys(c.chunk_id for c in ans.citations))
    assert [n.node.node_id for n in resp.source_nodes] == cited
    for c in ans.citations:
        node = next(n.node for n in resp.source_nodes if n.node.node_id == c.chunk_id)
        assert {"number": c.number, "quote": c.quote, "start": c.start, "end": c.end} in (
            node.metadata["citations"])
        assert c.quote in node.text
    assert resp.metadata["refused"] is False
    assert [c["quote"] for c in resp.metadata["citations"]] == [c.quote for c in ans.citations]

    refused = engine.query("What is the boiling point of mercury on Mars?")
    assert refused.response == REFUSAL_TEXT and refused.source_nodes == []
    assert refused.metadata["refused"] is True


def test_retriever_evaluator_agrees_with_qa_eval_on_the_dev_set(sample_bot: Any, embedder: Any,
                                                                tmp_path: Path) -> None:
    """llama-index's hit_rate and MRR over our retriever equal `qa eval`'s hit@5 and MRR on the
    dev set's single-turn answerable cases (a follow-up's retrieval reads its history, which a
    retriever's query cannot carry)."""
    gold = ROOT / "eval" / "gold.jsonl"
    run = run_eval(gold, ROOT / "data" / "articles",
                   Settings(answer_mode="extractive", store_path=str(tmp_path / "store")),
                   tmp_path / "run", embedder=embedder, plots=False)
    ours = {r.case.id: r.metrics for r in run.cases
            if not r.case.history and r.metrics.get("hit_at_5") is not None}
    assert len(ours) >= 10

    bot = sample_bot
    chunks = [(c, i.meta) for i in bot.articles() for c in bot.store.catalog.chunks_of(
        i.meta.article_id)]
    known = {n for _, m in chunks for n in doc_names(m)}
    evaluator = RetrieverEvaluator.from_metric_names(["hit_rate", "mrr"],
                                                     retriever=bot.as_retriever(top_k=5))
    hits, rrs = [], []
    for case in load_gold(gold):
        if case.id not in ours:
            continue
        expected = [c.chunk_id for c, m in chunks for ev in case.evidence
                    if normalise(ev.quote) in normalise(c.text)
                    and (ev.doc not in known or ev.doc in doc_names(m))]
        assert expected, case.id
        result = evaluator.evaluate(query=case.question, expected_ids=expected)
        hits.append(result.metric_vals_dict["hit_rate"])
        rrs.append(result.metric_vals_dict["mrr"])
        assert hits[-1] == ours[case.id]["hit_at_5"], case.id
        assert abs(rrs[-1] - ours[case.id]["mrr"]) < 1e-9, case.id
    assert len(hits) == len(ours)
