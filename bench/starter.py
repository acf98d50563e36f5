"""`bench/ingest.py --bbc N`: qa's ingestion against the llama-index starter pipeline, same
articles, same embedding model, same run; and how often each one's top 5 holds the evidence.

The starter is what the llama-index docs start with: SimpleDirectoryReader, VectorStoreIndex with
its default transformations (SentenceSplitter, 1,024 tokens, 200 overlapping), a Chroma
collection (llama-index-vector-stores-chroma). Its embedding model is our OnnxMiniLM behind
llama-index's BaseEmbedding (its default batch of 10) reading the model's 256 word pieces of a
node (what sentence-transformers and llama-index's HuggingFaceEmbedding read), so the two differ
only in what they embed and what they do around it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.gold import GoldCase, load_gold, normalise
from eval.metrics import EvalContext, citation_is_gold, passage_holds_evidence
from index.embed import DEFAULT_EMBED_TOKENS, MAX_SEQ_TOKENS, OnnxMiniLM
from qa.api import Assistant
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BBC = (ROOT.parent / "shared" / "corpora" / "bbc-news" / "news").resolve()
GOLD = sorted((ROOT / "eval" / "gold").glob("bbc_*.jsonl"))
TOP = 5


def select_articles(n: int) -> list[Path]:
    """The first n/5 files (by name) of each of the corpus's five sections."""
    if not BBC.is_dir():
        raise SystemExit(f"The BBC corpus is not at {BBC}; it must sit beside the project "
                         "(../shared/corpora/bbc-news).")
    sections = sorted(p for p in BBC.iterdir() if p.is_dir())
    per = max(1, n // len(sections))
    return [f for sec in sections for f in sorted(sec.glob("*.txt"))[:per]]


def gold_cases(files: list[Path]) -> list[GoldCase]:
    """Answerable cases without history whose evidence articles are all among `files`."""
    names = {f.name for f in files}
    out = []
    for g in GOLD:
        for c in load_gold(g):
            if (c.answerable and not c.history and c.evidence
                    and all(ev.doc in names for ev in c.evidence)):
                out.append(c)
    return out


def holds(case: GoldCase, name: str, text: str) -> bool:
    """A starter node holds evidence (eval.metrics.passage_holds_evidence's rule: a gold quote
    of that file inside the node's text)."""
    t = normalise(text)
    return any(ev.doc == name and normalise(ev.quote) in t for ev in case.evidence)


def starter_embedding(embedder: OnnxMiniLM) -> Any:
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class MiniLM(BaseEmbedding):  # type: ignore[misc]
        _m: Any = PrivateAttr()

        def __init__(self, m: OnnxMiniLM) -> None:
            super().__init__(model_name="all-MiniLM-L6-v2 (int8 ONNX)")
            self._m = m

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(v) for v in self._m.embed([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(v) for v in row] for row in self._m.embed(texts)]

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

    return MiniLM(embedder)


def starter_ingest(files: list[Path], model: Any, path: Path) -> tuple[float, Any, int]:
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    t = time.perf_counter()
    docs = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
    client = chromadb.PersistentClient(
        path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))
    col = client.get_or_create_collection("starter")
    ctx = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
    index = VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=model)
    return time.perf_counter() - t, index, col.count()


def ours_ingest(files: list[Path], embedder: OnnxMiniLM, path: Path, tokens: int,
                overlap: int) -> tuple[float, Assistant, int]:
    bot = Assistant.open(Settings(store_path=str(path), chunk_tokens=tokens,
                                  chunk_overlap=overlap), embedder=embedder)
    t = time.perf_counter()
    report = bot.ingest(files)
    took = time.perf_counter() - t
    assert report.ok and report.count("added") == len(files), report.summary()
    return took, bot, bot.store.count_chunks()


def starter_hits(index: Any, cases: list[GoldCase]) -> float:
    retriever = index.as_retriever(similarity_top_k=TOP)
    hits = 0
    for c in cases:
        nodes = retriever.retrieve(c.question)
        hits += any(holds(c, Path(n.node.metadata.get("file_path", "")).name, n.node.get_content())
                    for n in nodes)
    return hits / len(cases)


def ours_hits(bot: Assistant, cases: list[GoldCase], files: list[Path]) -> tuple[float, float]:
    """(a shown passage holds the evidence, the answer cites an evidence sentence), by the
    metrics `qa eval` reports (hit@5, a citation overlapping a gold quote)."""
    ctx = EvalContext(article_text=bot.article_text, known_docs=frozenset(f.name for f in files))
    hits = cited = 0
    for c in cases:
        ans = bot.ask(c.question)
        hits += any(passage_holds_evidence(c, p, ctx) for p in ans.passages[:TOP])
        cited += any(citation_is_gold(c, x, ctx) for x in ans.citations)
    return hits / len(cases), cited / len(cases)


def compare_with_starter(n: int, configs: str, rounds: int, keep: bool) -> int:
    files = select_articles(n)
    cases = gold_cases(files)
    # TOKENS:OVERLAP[:EMBED]: chunk size and overlap, and the word pieces of each passage
    # embedded (default: ours, 128); the starter reads the model's 256, as llama-index does
    runs = [tuple(int(v) for v in c.split(":")) for c in configs.split(",") if c]
    pairs = [(r[0], r[1], r[2] if len(r) > 2 else DEFAULT_EMBED_TOKENS) for r in runs]
    work = Path(tempfile.mkdtemp(prefix="bench-starter-"))
    try:
        embedders = {m: OnnxMiniLM(max_tokens=m)
                     for m in {MAX_SEQ_TOKENS, *(e for _, _, e in pairs)}}
        for e in embedders.values():
            e.embed(["warm up the session", "and the tokenizer"])
        model = starter_embedding(embedders[MAX_SEQ_TOKENS])
        warm = Assistant.open(Settings(store_path=str(work / "warm")),
                              embedder=embedders[DEFAULT_EMBED_TOKENS])
        warm.ingest([ROOT / "data" / "articles"])
        starter_ingest(sorted((ROOT / "data" / "articles").glob("*.txt")), model, work / "w2")
        times: dict[str, list[float]] = {}
        units: dict[str, int] = {}
        last: dict[str, Any] = {}
        for r in range(rounds):  # alternate, so a slow spell of the machine hits both
            took, index, count = starter_ingest(files, model, work / f"starter{r}")
            times.setdefault("starter", []).append(took)
            units["starter"], last["starter"] = count, index
            for tok, ov, emb in pairs:
                name = f"{tok}:{ov}:{emb}"
                took, bot, count = ours_ingest(files, embedders[emb],
                                               work / f"ours{tok}_{ov}_{emb}_{r}", tok, ov)
                times.setdefault(name, []).append(took)
                units[name], last[name] = count, bot
        base = min(times["starter"])
        rows = []
        s_hit = starter_hits(last["starter"], cases)
        rows.append({"run": "llama-index starter (SentenceSplitter 1024/200)",
                     "seconds": base, "units": units["starter"], "ratio": 1.0,
                     "hit5": s_hit, "cited": None})
        for tok, ov, emb in pairs:
            name = f"{tok}:{ov}:{emb}"
            hit, cited = ours_hits(last[name], cases, files)
            rows.append({"run": f"qa ingest, chunks of {tok} tokens, {ov} overlapping, "
                                f"{emb} word pieces embedded",
                         "seconds": min(times[name]), "units": units[name],
                         "ratio": min(times[name]) / base, "hit5": hit, "cited": cited})
        print(f"# Ingestion against the llama-index starter ({len(files)} BBC articles; "
              f"{len(cases)} gold questions with their evidence among them; "
              f"{platform.machine()}, {os.cpu_count()} CPUs, load avg "
              f"{os.getloadavg()[0]:.1f})\n")
        print(f"| run | seconds (best of {rounds}) | passages / nodes | time ÷ starter's | "
              "top 5 holds the evidence | answer cites it |")
        print("|---|---:|---:|---:|---:|---:|")
        for row in rows:
            cited = "–" if row["cited"] is None else f"{row['cited']:.3f}"
            print(f"| {row['run']} | {row['seconds']:.1f} | {row['units']:,} | "
                  f"{row['ratio']:.2f} | {row['hit5']:.3f} | {cited} |")
        print("\nAll runs, seconds: " + "; ".join(
            f"{k} {', '.join(f'{x:.1f}' for x in v)}" for k, v in times.items()))
        out = ROOT / "reports" / "bench-starter.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"articles": len(files), "questions": len(cases),
                                   "rows": rows, "times": times}, indent=1), encoding="utf-8")
        return 0
    finally:
        if keep:
            print(f"stores kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
