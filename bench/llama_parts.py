"""Ours or llama-index's, measured in one run: chunking (our sentence packer vs SentenceSplitter)
and fusion (our reciprocal-rank fusion vs QueryFusionRetriever's reciprocal_rerank).

    .venv/bin/python bench/llama_parts.py [--sets dev,bbc_train,sample_check,bbc_check]

Every variant runs the real harness (`qa eval`, extractive, default settings) on the same gold
sets; one part is swapped at a time, the rest stays ours. Decisions read the train sets (dev,
bbc_train: the answer scorer is fitted on them, so they see it at its best for every variant);
the check sets are reported beside them, never used to choose. Figures per variant and set:
retrieval hit@5 and MRR, all key facts found, unanswerable refused, false refusals; chunks
stored, span exactness (share of chunks whose text is exactly `article_text[start:end]`, which
every citation relies on), ingest seconds; fusion ms per question (p50).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import index.chunk
import qa.retrieve
from eval.harness import run_eval
from eval.subset import subset_corpus
from index.chunk import chunk_id
from index.types import Article, Chunk
from qa.settings import Settings

BBC = (ROOT.parent / "shared" / "corpora" / "bbc-news" / "news").resolve()
SETS = {  # name: (gold, corpus; "bbc" = the subset of the BBC corpus for that gold file)
    "dev": ("eval/gold.jsonl", "data/articles"),
    "bbc_train": ("eval/gold/bbc_train.jsonl", "bbc"),
    "sample_check": ("eval/gold/sample_check.jsonl", "data/articles"),
    "bbc_check": ("eval/gold/bbc_check.jsonl", "bbc"),
}
TRAIN = ("dev", "bbc_train")
METRICS = ("hit_at_5", "mrr", "key_fact_full", "correct_refusal", "false_refusal")
SPANS: list[bool] = []  # span exactness of every chunk stored in a run
FUSION_MS: list[float] = []


# -- llama-index's parts, as drop-in replacements -----------------------------------------------
def llama_chunk(self: index.chunk.Chunker, article: Article) -> list[Chunk]:
    """SentenceSplitter at the same size and overlap, counted with the same tokenizer."""
    from llama_index.core import Document
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(chunk_size=self.chunk_tokens, chunk_overlap=self.overlap,
                                tokenizer=lambda s: self._enc.encode(s, disallowed_special=()))
    chunks = []
    text = article.text
    for node in splitter.get_nodes_from_documents([Document(text=text)]):
        start, end = node.start_char_idx, node.end_char_idx
        exact = start is not None and end is not None and text[start:end] == node.text
        SPANS.append(exact)
        if start is None or end is None:  # llama-index could not place it: not citable
            continue
        n = len(chunks)
        chunks.append(Chunk(chunk_id(article.article_id, article.content_hash, n),
                            article.article_id, n, start, end, text[start:end],
                            self._ntok(text[start:end]), article.content_hash))
    return chunks


def our_chunk_recorder(original: Callable[..., list[Chunk]]) -> Callable[..., list[Chunk]]:
    def chunk(self: index.chunk.Chunker, article: Article) -> list[Chunk]:
        out = original(self, article)
        SPANS.extend(article.text[c.start:c.end] == c.text for c in out)
        return out
    return chunk


class _Ranked:
    """A fixed ranked list as a llama-index retriever (QueryFusionRetriever's input)."""

    @staticmethod
    def make(scores: dict[str, float]) -> Any:
        from llama_index.core.retrievers import BaseRetriever
        from llama_index.core.schema import NodeWithScore, TextNode

        class Fixed(BaseRetriever):
            def _retrieve(self, query_bundle: Any) -> list[Any]:
                # the chunk id as the node's text too: the fusion merges nodes by their hash
                return [NodeWithScore(node=TextNode(id_=cid, text=cid), score=s)
                        for cid, s in scores.items()]
        return Fixed()


def llama_fuse(dense: dict[str, float], lexical: dict[str, float], how: str = "rrf"
               ) -> dict[str, float]:
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    t = time.perf_counter()
    # num_queries=1: no query rewriting, so no LLM is asked (it insists on one being set)
    fusion = QueryFusionRetriever([_Ranked.make(dense), _Ranked.make(lexical)], llm=MockLLM(),
                                  mode="reciprocal_rerank", num_queries=1, use_async=False,
                                  similarity_top_k=len(set(dense) | set(lexical)))
    nodes = fusion.retrieve("q")
    FUSION_MS.append((time.perf_counter() - t) * 1000)
    return {n.node.node_id: float(n.score or 0.0) for n in nodes}


def timed_fuse(original: Callable[..., dict[str, float]]) -> Callable[..., dict[str, float]]:
    def fuse(dense: dict[str, float], lexical: dict[str, float], how: str = "rrf"
             ) -> dict[str, float]:
        t = time.perf_counter()
        out = original(dense, lexical, how)
        FUSION_MS.append((time.perf_counter() - t) * 1000)
        return out
    return fuse


@contextmanager
def variant(name: str) -> Iterator[None]:
    chunk, fuse = index.chunk.Chunker.chunk, qa.retrieve.fuse
    index.chunk.Chunker.chunk = llama_chunk if name == "SentenceSplitter" else (  # type: ignore[method-assign]
        our_chunk_recorder(chunk))
    qa.retrieve.fuse = llama_fuse if name == "QueryFusionRetriever" else timed_fuse(fuse)
    try:
        yield
    finally:
        index.chunk.Chunker.chunk = chunk  # type: ignore[method-assign]
        qa.retrieve.fuse = fuse


def set_corpus(set_name: str, tmp: Path) -> Path | None:
    """The articles folder of a gold set (a BBC subset is written under `tmp`); None, said so,
    when the BBC corpus is not beside this checkout."""
    gold, corpus = SETS[set_name]
    if corpus != "bbc":
        return ROOT / corpus
    if not BBC.is_dir():
        print(f"skipping {set_name}: no BBC corpus at {BBC}")
        return None
    return subset_corpus(ROOT / gold, BBC, tmp / f"corpus-{set_name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    from index.embed import make_embedder

    embedder = make_embedder("minilm-onnx")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for set_name in args.sets.split(","):
            gold = SETS[set_name][0]
            corpus_dir = set_corpus(set_name, Path(tmp))
            if corpus_dir is None:
                continue
            for v in ("ours", "SentenceSplitter", "QueryFusionRetriever"):
                SPANS.clear()
                FUSION_MS.clear()
                out = Path(tmp) / f"{set_name}-{v}"
                with variant(v):
                    run = run_eval(ROOT / gold, corpus_dir, Settings(answer_mode="extractive"),
                                   out, embedder=embedder, plots=False)
                m = {k: run.summary[k].mean for k in METRICS}
                rows.append((set_name, v, m, len(SPANS), sum(SPANS) / max(1, len(SPANS)),
                             run.index_seconds, statistics.median(FUSION_MS)))
                print(set_name, v, {k: round(x, 3) for k, x in m.items() if x is not None},
                      flush=True)
    print()
    print("| set | variant | hit@5 | MRR | key facts all | unanswerable refused | false refusal "
          "| chunks | span exact | index s | fusion ms p50 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for set_name, v, m, n, exact, secs, fms in rows:
        tag = " (train)" if set_name in TRAIN else " (check)"
        cells = " | ".join("–" if m[k] is None else f"{m[k]:.3f}" for k in METRICS)
        print(f"| {set_name}{tag} | {v} | {cells} | {n} | {exact:.3f} | {secs:.1f} | "
              f"{fms:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
