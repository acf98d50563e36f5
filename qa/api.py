"""The public Python API: open an assistant on a store, ingest, ask, get a typed answer.

    >>> from qa import Assistant, Settings
    >>> bot = Assistant.open(Settings.from_env(store_path="/tmp/qa-store"))
    >>> bot.ingest(["data/articles"]).summary()
    '3 added, 0 updated, 0 unchanged, 0 duplicate, 0 pruned, 0 failed'
    >>> ans = bot.ask("Why did Lively drop the distress claim?")
    >>> ans.citations[0].quote                                  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from index.catalog import Catalog, catalog_path
from index.chunk import Chunker
from index.connect import CloudLogin, Connection, WaitFn, cloud_place, connect
from index.embed import Embedder, make_embedder
from index.health import Health, full_check, quick_check
from index.ingest import ingest as run_ingest
from index.repair import RepairReport
from index.store import ChunkStore
from index.terms import terms_of
from qa.errors import ConfigError, IndexEmptyError, InputError, StoreDamagedError, StoreError
from qa.extractive import ExtractiveAnswerer, IdfTable, Scored, reorder
from qa.followup import context_turns, retrieval_query
from qa.reader import Reader
from qa.retrieve import HybridRetriever, Scope
from qa.settings import Settings
from qa.types import Answer, ArticleInfo, IngestReport, Passage

log = logging.getLogger(__name__)


class Assistant:
    """Question answering over the articles in one store. Build it with `Assistant.open`."""

    def __init__(self, settings: Settings, embedder: Embedder, store: ChunkStore,
                 llm: Any = None, reader: Reader | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.chunker = Chunker(settings.chunk_tokens, settings.chunk_overlap)
        self.retriever = HybridRetriever(store, embedder, fusion=settings.fusion)
        try:
            if reader is None:
                reader = Reader.load()
            self.extractive = ExtractiveAnswerer(
                embedder, reader, settings.max_answer_sentences,
                threshold=settings.refusal_threshold if settings.refusal_threshold >= 0 else None,
            )
        except ValueError as e:  # damaged, stale or missing weights: say how to rebuild them
            raise ConfigError(str(e)) from e
        self.llm = llm  # a qa.generate answerer, when answers are generative
        self.connection: Connection | None = None  # set by `open`; `close` lets go of it
        self.health: Health | None = None  # what the check at `open` found
        self._idf: IdfTable | None = None

    @classmethod
    def open(cls, settings: Settings | None = None, *, embedder: Embedder | None = None,
             client: Any = None, llm: Any = None, serve: bool = False,
             on_wait: WaitFn | None = None, check: bool = True,
             reader: Reader | None = None, repair_after_crash: bool = True) -> Assistant:
        """Open (or create) the store named by `settings`; heavy parts may be passed in.

        An embedded store is opened by one process at a time (index/owner.py): when another
        process has it open, this one shares it through that process's server (`qa serve`,
        `qa ui`), or waits up to `settings.store_wait` seconds for it (`on_wait` is told whom
        it waits for). `serve=True` shares this process's store with others. Close the
        assistant (or use it in a `with` block) to let other processes have the store.

        The store is checked on the way in (index/health.py: counts, a sample of vectors):
        a damaged store is a StoreDamagedError saying what is wrong and to run `qa repair`,
        never a traceback or a silently empty answer. `check=False` skips it (`qa check`).

        A store this process owns that a crash damaged (a write was interrupted, and Chroma
        cannot read its vector index: a kill mid-write can wedge Chroma's compaction,
        chroma-core/chroma#7678) is repaired on the way in from its catalog, losing nothing
        (`repair_after_crash=False`: raise instead); the repair's steps are in `health.notes`.
        """
        settings = settings or Settings.from_env()
        embedder = embedder or make_embedder(settings.embed_backend, **_embed_args(settings))
        conn = None
        if client is None:
            conn = connect(settings.store_path, settings.remote_url, serve=serve,
                           wait=settings.store_wait, on_wait=on_wait, cloud=cloud_login(settings))
            client = conn.client
        catalog = None
        try:
            catalog = Catalog(catalog_path(settings.store_path, settings.remote_url,
                                           settings.collection,
                                           cloud_place(cloud_login(settings))))
            store = ChunkStore(client, settings.collection, embedder.name, embedder.dim,
                               label=settings.store_label, catalog=catalog,
                               io=conn.io if conn is not None else None,
                               follows=bool(settings.remote_url))
            if store.follows:  # what others wrote to the server since this catalog looked
                with contextlib.suppress(StoreError):  # unreadable: the check says so
                    store.follow()
            health = quick_check(store) if check else None
            crashed = bool(health is not None and not health.ok and repair_after_crash
                           and conn is not None and conn.mode in ("embedded", "serving")
                           and catalog.interrupted_writes())
            if health is not None and not health.ok and not crashed:
                raise StoreDamagedError(health.message(settings.store_label))
        except BaseException:
            if catalog is not None:
                catalog.close()
            if conn is not None:
                conn.close()
            raise
        if crashed:  # let go of the store, repair it (it takes the folder alone), open again
            assert health is not None
            catalog.close()
            assert conn is not None
            conn.close()
            log.warning("the store %s was damaged by an interrupted write (%s); repairing it "
                        "from its catalog", settings.store_label, "; ".join(health.damage))
            fixed = repair(settings, embedder=embedder, on_wait=on_wait)
            bot = cls.open(settings, embedder=embedder, llm=llm, serve=serve, on_wait=on_wait,
                           check=check, reader=reader, repair_after_crash=False)
            if bot.health is not None:
                bot.health = dataclasses.replace(bot.health, notes=(
                    *bot.health.notes, "repaired after an interrupted write: "
                    + "; ".join(fixed.actions)))
            return bot
        bot = cls(settings, embedder, store, llm, reader)
        bot.connection = conn
        bot.health = health
        if conn is not None and conn.mode in ("embedded", "serving"):
            _drop_bm25_cache(Path(settings.store_path).expanduser() / "bm25")
        if llm is None and settings.use_llm:
            # the verifier embeds through the extractive answerer's sentence cache: the sentences
            # scored to decide whether to ask the model are not embedded again to check its answer
            bot.llm = _make_llm(settings, bot.extractive.sentences)
        return bot

    def close(self) -> None:
        """Let go of the store, so another process can open it (idempotent)."""
        if self.store.catalog is not None:
            self.store.catalog.close()
        if self.connection is not None:
            self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warm(self) -> None:
        """Load what the first question would otherwise wait for (sentence splitter, IDF table)."""
        from index.chunk import split_sentences

        split_sentences("Warm up. Done.")
        if self.store.count_chunks():
            self.idf()

    # -- library ----------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path], *, prune: bool = False,
               progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Add or update the articles under `paths` (files or folders); see index/ingest.py."""
        if not paths:
            raise InputError("Give at least one file or folder to ingest, e.g. data/articles/")
        return run_ingest(
            paths, self.store, self.embedder, self.chunker, prune=prune,
            max_file_bytes=self.settings.max_file_bytes, progress=progress,
        )

    def check(self) -> Health:
        """The full check of the store (every vector, chunk, span; `qa check`)."""
        return full_check(self.store)

    def articles(self) -> list[ArticleInfo]:
        return self.store.article_infos()

    def article_text(self, article_id: str) -> str:
        text = self.store.article_text(article_id)
        if text is None:
            raise InputError(f"No article with id {article_id!r} is stored; see `qa articles`.")
        return text

    def delete_article(self, article_id: str) -> bool:
        return self.store.delete_article(article_id)

    # -- questions --------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        q = (question or "").strip()
        if not q:
            raise InputError("The question is empty: type a question about the articles.")
        if len(q) > self.settings.max_question_chars:
            raise InputError(
                f"The question is {len(q)} characters long; the limit is "
                f"{self.settings.max_question_chars} (QA_MAX_QUESTION_CHARS). Ask it shorter."
            )
        if self.store.count_chunks() == 0:
            raise IndexEmptyError(self.settings.store_label)
        return q

    def retrieve(self, question: str, history: Sequence[str] = (), *, top_k: int | None = None,
                 scope: Scope | None = None) -> tuple[list[Passage], Any, str]:
        """The passages for a question (follow-ups retrieved with their earlier turns)."""
        q = self.check_question(question)
        rq = retrieval_query(q, history)
        r = self.retriever.retrieve(rq, top_k or self.settings.top_k, scope or Scope())
        return r.passages, r, rq

    def idf(self, passages: Sequence[Passage] = (), generation: str = "") -> IdfTable:
        """The IDF table of the store at `generation` (as retrieval read it; else read now),
        holding the terms of these passages."""
        gen = generation or self.store.generation()
        idf = self._idf
        if idf is None or idf.generation != gen:
            # a new table, swapped in whole: readers share it
            idf = self._idf = IdfTable(self.retriever.lexical, gen)
        idf.prefetch(t for p in passages for t in terms_of(p.chunk.text))
        return idf

    def score(self, question: str, history: Sequence[str] = (), *, top_k: int | None = None,
              scope: Scope | None = None) -> Scored:
        """The reader's candidates, features and probabilities for a question (what `ask` answers
        from; the reader's training script asks through here, so it trains on what answers)."""
        k = top_k or self.settings.top_k
        pool, r, _ = self.retrieve(question, history, top_k=max(k, self.settings.pool),
                                   scope=scope)
        ctx = context_turns(question.strip(), history)
        return self.extractive.score(question.strip(), ctx, pool, r.query_vector,
                                     self.idf(pool, r.generation).idf,
                                     referent=self.referent(ctx, history, scope))

    def referent(self, ctx: Sequence[str], history: Sequence[str],
                 scope: Scope | None = None) -> str:
        """What a follow-up's pronoun most likely points at, for the cross-encoder to read
        before it: the sentence its earlier turn is answered with ("he" after "Who is Baldoni's
        lawyer?" is the lawyer that sentence names, not Baldoni); "" when the question does not
        lean on an earlier turn (`ctx` empty), when no third stage reads it, or when that turn
        is refused (the turn itself is read then). One level: the earlier turn's own earlier
        turns are read as questions."""
        if not ctx or self.extractive.reader.cross is None:
            return ""
        turns = [h.strip() for h in history if h.strip()]
        return self.lead_sentence(turns[-1], turns[:-1], scope)

    def lead_sentence(self, question: str, history: Sequence[str] = (),
                      scope: Scope | None = None) -> str:
        """The sentence the extractive answer to `question` leads with; "" when it refuses."""
        pool, r, _ = self.retrieve(question, history, top_k=max(self.settings.top_k,
                                                                self.settings.pool), scope=scope)
        s = self.extractive.score(question, context_turns(question, history), pool,
                                  r.query_vector, self.idf(pool, r.generation).idf)
        if not len(s.probs) or float(s.probs.max()) < self.extractive.threshold:
            return ""
        return s.candidates[int(np.argmax(s.probs))].text

    # -- llama-index ------------------------------------------------------------------------
    def as_retriever(self, top_k: int | None = None, articles: Sequence[str] = (),
                     sources: Sequence[str] = (), rerank: bool = True) -> Any:
        """This assistant's retrieval as a llama-index `BaseRetriever` (qa/llama.py)."""
        from qa.llama import ArticleRetriever

        return ArticleRetriever(self, top_k, articles, sources, rerank=rerank)

    def as_query_engine(self, llm: Any = None, top_k: int | None = None,
                        articles: Sequence[str] = (), sources: Sequence[str] = ()) -> Any:
        """This assistant's cited answers as a llama-index `BaseQueryEngine` (qa/llama.py):
        extractive without `llm`; with any llama-index LLM as the model when one is given."""
        from qa.llama import ArticleQueryEngine

        return ArticleQueryEngine(self, llm, top_k, articles, sources)

    def ask(self, question: str, history: Sequence[str] = (), *, top_k: int | None = None,
            articles: Sequence[str] = (), sources: Sequence[str] = (),
            mode: str | None = None, refusal_threshold: float | None = None) -> Answer:
        """Answer `question`; `history` holds the earlier user turns of the conversation.
        `refusal_threshold` overrides the extractive answer's for this question (0: never
        refuse; the evaluation uses it to draw the answering/refusing trade-off)."""
        final: Answer | None = None
        for item in self.stream(question, history, top_k=top_k, articles=articles,
                                sources=sources, mode=mode, refusal_threshold=refusal_threshold):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(self, question: str, history: Sequence[str] = (), *, top_k: int | None = None,
               articles: Sequence[str] = (), sources: Sequence[str] = (),
               mode: str | None = None,
               refusal_threshold: float | None = None) -> Iterator[str | Answer]:
        """Yield text pieces as they come, then the full verified `Answer` last."""
        t0 = time.perf_counter()
        scope = Scope(tuple(articles), tuple(sources))
        use_llm = (mode or self.settings.answer_mode) == "llm" or (
            mode is None and self.settings.use_llm
        )
        if use_llm and self.llm is not None:
            yield from self.llm.stream(self, question, history, top_k=top_k, scope=scope)
            return
        k = top_k or self.settings.top_k
        pool, r, rq = self.retrieve(question, history, top_k=max(k, self.settings.pool),
                                    scope=scope)
        t1 = time.perf_counter()
        ctx = context_turns(question.strip(), history)
        ex = self.extractive.answer(question.strip(), ctx, pool, r.query_vector,
                                    self.idf(pool, r.generation).idf,
                                    refusal_threshold, referent=self.referent(ctx, history, scope))
        t2 = time.perf_counter()
        ans = Answer(
            question=question.strip(), text=ex.text, citations=ex.citations, refused=ex.refused,
            mode="extractive", passages=reorder(pool, ex, k), standalone_question=rq,
            support=round(ex.support, 4),
            timings={"retrieve": t1 - t0, "answer": t2 - t1, "total": t2 - t0, **r.timings,
                     **(ex.scored.timings if ex.scored is not None else {})},
        )
        yield from ex.pieces()  # one piece per cited sentence, so every door streams alike
        yield ans


def _embed_args(settings: Settings) -> dict[str, Any]:
    if settings.embed_backend != "openai":
        return {"max_tokens": settings.embed_max_tokens}
    from openai import OpenAI

    client = OpenAI(api_key=settings.openai_api_key or "not-needed",
                    base_url=settings.openai_base_url or None,
                    timeout=settings.llm_timeout, max_retries=settings.llm_max_retries)
    return {"openai_client": client, "openai_model": settings.embed_model,
            "openai_concurrency": settings.embed_concurrency}


def cloud_login(settings: Settings) -> CloudLogin | None:
    """The Chroma Cloud credentials of these settings, if the store is on Chroma Cloud."""
    if not settings.chroma_api_key:
        return None
    return CloudLogin(settings.chroma_api_key, settings.chroma_tenant, settings.chroma_database)


def _drop_bm25_cache(folder: Path) -> None:
    """The bm25s index of the versions before the lexical index moved into the catalog: a
    copy of every chunk's terms that nothing reads any more."""
    if folder.is_dir() and (folder.parent / ".qa-owner.lock").exists():
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s (the lexical index is in the catalog now)", folder)


def _make_llm(settings: Settings, embedder: Embedder) -> Any:
    from qa.generate import GenerativeAnswerer  # imports openai: only when an LLM is used

    return GenerativeAnswerer.from_settings(settings, embedder)


def repair(settings: Settings | None = None, *, embedder: Embedder | None = None,
           on_wait: WaitFn | None = None, say: Callable[[str], None] | None = None
           ) -> RepairReport:
    """Repair the store named by `settings` (index/repair.py); no other process may have it open.

        >>> report = repair(Settings(store_path="/tmp/qa-store"))      # doctest: +SKIP
        >>> report.actions, report.lost, report.health.ok               # doctest: +SKIP
    """
    from index.repair import repair as run_repair

    settings = settings or Settings.from_env()
    embedder = embedder or make_embedder(settings.embed_backend, **_embed_args(settings))
    return run_repair(settings.store_path, settings.collection, embedder,
                      Chunker(settings.chunk_tokens, settings.chunk_overlap),
                      chroma_url=settings.remote_url, wait=settings.store_wait, on_wait=on_wait,
                      say=say, cloud=cloud_login(settings))
