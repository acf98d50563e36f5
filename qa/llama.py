"""The assistant as llama-index parts: a retriever and a query engine a llama-index pipeline can
use, and any llama-index LLM as the assistant's model.

    >>> retriever = bot.as_retriever(top_k=5)                       # doctest: +SKIP
    >>> nodes = retriever.retrieve("Why did Lively drop the distress claim?")  # doctest: +SKIP
    >>> engine = bot.as_query_engine(llm=OpenAILike(...))           # doctest: +SKIP
    >>> response = engine.query("Why did Lively drop the distress claim?")  # doctest: +SKIP

Nodes are `TextNode`s: the passage text, its article's metadata, `start_char_idx`/`end_char_idx`
in the article's stored text, and the fused retrieval score. The query engine's `Response` text is
the assistant's verified answer (markers renumbered to the cited passages, markers the model
invented dropped, or the refusal); its `source_nodes` are the cited passages, each with its
quotes; `metadata` holds the refusal flag, the citations and any unsupported sentences.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from qa.budget import TokenBudget
from qa.errors import LLMError
from qa.llm import Completion, Messages
from qa.retrieve import Scope
from qa.types import Answer, ArticleMeta, Passage


def article_metadata(m: ArticleMeta) -> dict[str, Any]:
    md: dict[str, Any] = {"article_id": m.article_id, "title": m.title, "source": m.source,
                          "url": m.url, "date": m.date, "file": m.path, "author": m.author}
    return {k: v for k, v in md.items() if v}


def passage_node(p: Passage, score: float | None = None) -> NodeWithScore:
    """A passage as a llama-index node (id = our chunk id) with its fused score."""
    node = TextNode(
        id_=p.chunk.chunk_id, text=p.chunk.text,
        start_char_idx=p.chunk.start, end_char_idx=p.chunk.end,
        metadata={**article_metadata(p.article), "chunk_index": p.chunk.index},
        # what the metadata adds to the text when a llama-index LLM or embedder reads the node
        excluded_embed_metadata_keys=["article_id", "file", "url", "chunk_index"],
        excluded_llm_metadata_keys=["article_id", "file", "chunk_index"],
    )
    return NodeWithScore(node=node, score=p.score if score is None else score)


class ArticleRetriever(BaseRetriever):
    """The assistant's retrieval as a llama-index retriever.

    `rerank=True` (the default): the passages an answer shows, in its order — the fused
    (dense + BM25) pool of `Settings.pool` passages ordered by the answer scorer, the likeliest
    to answer first; what `qa eval`'s hit@k and MRR measure. `rerank=False`: the fused ranking
    alone (faster: no sentence scoring). Either way a node's score is its fused score.
    """

    def __init__(self, assistant: Any, top_k: int | None = None, articles: Sequence[str] = (),
                 sources: Sequence[str] = (), rerank: bool = True,
                 callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        self.assistant = assistant
        self.top_k = top_k
        self.articles = tuple(articles)
        self.sources = tuple(sources)
        self.rerank = rerank

    def passages(self, query: str) -> list[Passage]:
        if self.rerank:
            ans = self.assistant.ask(query, top_k=self.top_k, articles=self.articles,
                                     sources=self.sources, mode="extractive")
            return list(ans.passages)
        found, _, _ = self.assistant.retrieve(query, (), top_k=self.top_k,
                                              scope=Scope(self.articles, self.sources))
        return found

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [passage_node(p) for p in self.passages(query_bundle.query_str)]


class ArticleQueryEngine(BaseQueryEngine):
    """The assistant's cited answers as a llama-index query engine."""

    def __init__(self, assistant: Any, llm: Any = None, top_k: int | None = None,
                 articles: Sequence[str] = (), sources: Sequence[str] = (),
                 callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        self.assistant = assistant
        self.top_k = top_k
        self.articles = tuple(articles)
        self.sources = tuple(sources)
        self.answerer = None
        if llm is not None:
            from qa.generate import GenerativeAnswerer

            settings = assistant.settings
            window = getattr(getattr(llm, "metadata", None), "context_window", 0) or 0
            if window and not settings.llm_context_window:
                settings = settings.replace(llm_context_window=int(window))
            self.answerer = GenerativeAnswerer(LlamaIndexChat(llm), assistant.embedder, settings)

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}

    def answer(self, question: str, history: Sequence[str] = ()) -> Answer:
        if self.answerer is None:
            return self.assistant.ask(question, history, top_k=self.top_k,
                                      articles=self.articles, sources=self.sources,
                                      mode="extractive")
        final = None
        for item in self.answerer.stream(self.assistant, question, history, top_k=self.top_k,
                                         scope=Scope(self.articles, self.sources)):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def _query(self, query_bundle: QueryBundle) -> Response:
        return answer_response(self.answer(query_bundle.query_str))

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return self._query(query_bundle)


def answer_response(ans: Answer) -> Response:
    """An `Answer` as a llama-index `Response`: the cited passages are its source nodes (in the
    order of their first citation), each listing its citations."""
    nodes: dict[str, NodeWithScore] = {}
    by_chunk = {p.chunk.chunk_id: p for p in ans.passages}
    for c in ans.citations:
        if c.chunk_id not in nodes:
            p = by_chunk.get(c.chunk_id)
            if p is None:
                continue
            nodes[c.chunk_id] = passage_node(p, score=c.score)
        node = nodes[c.chunk_id].node
        node.metadata.setdefault("citations", []).append(
            {"number": c.number, "quote": c.quote, "start": c.start, "end": c.end,
             **({"page": c.page} if c.page is not None else {})})
    return Response(
        response=ans.text, source_nodes=list(nodes.values()),
        metadata={
            "refused": ans.refused, "mode": ans.mode,
            "citations": [{"number": c.number, "article_id": c.article.article_id,
                           "title": c.article.title, "quote": c.quote, "start": c.start,
                           "end": c.end, "page": c.page} for c in ans.citations],
            "unsupported_sentences": [s.text for s in ans.unsupported_sentences],
            "warnings": list(ans.warnings),
        },
    )


class LlamaIndexChat:
    """Any llama-index LLM as the assistant's chat model (qa.llm.ChatModel): streams its reply,
    counts tokens with tiktoken (llama-index LLMs do not all report usage), and turns its
    failures into LLMError so the answer falls back to the extractive one."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        meta = getattr(llm, "metadata", None)
        self.model = str(getattr(meta, "model_name", "") or type(llm).__name__)
        self._tokens = TokenBudget(1 << 30, 1)

    def stream(self, messages: Messages, max_tokens: int | None = None
               ) -> Iterator[str | Completion]:
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        parts: list[str] = []
        t0 = time.perf_counter()
        try:
            for r in self.llm.stream_chat(chat):
                if r.delta:
                    parts.append(r.delta)
                    yield r.delta
        except Exception as e:
            raise LLMError(f"the llama-index LLM {self.model} failed after "
                           f"{time.perf_counter() - t0:.1f}s ({type(e).__name__}: {e}); check "
                           "its server and settings") from e
        text = "".join(parts)
        yield Completion(text=text, prompt_tokens=self._tokens.count_messages(messages),
                         completion_tokens=self._tokens.count(text), usage_reported=False)
