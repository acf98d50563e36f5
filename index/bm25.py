"""The lexical half of hybrid retrieval: a bm25s index over the store's chunks.

It is persisted beside the store (or in a cache folder for a Chroma server) together with the
store's `generation` stamp; when the store has changed since, it is rebuilt from the chunks in
Chroma, so it can never drift from the vectors.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _bm25s():  # type: ignore[no-untyped-def]
    """bm25s, imported late (it is slow to import); it sets its own logger to DEBUG on import
    and logs every index build there, so quieten it after importing."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=1)
def stopwords() -> list[str]:
    """NLTK's English stop words (shipped by llama-index-core), which include the question
    words (who, what, which, ...): bm25s's own 33-word list would let "who" match "who"."""
    from index.tokens import llama_index_static

    path = llama_index_static() / "nltk_cache" / "corpora" / "stopwords" / "english"
    words = {w.strip() for w in path.read_text(encoding="utf-8").split() if w.strip()}
    return sorted(words | {"s", "also", "would", "could", "said", "say", "says"})


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-worded, Snowball-stemmed word lists (the same for docs and queries)."""
    bm25s = _bm25s()

    return bm25s.tokenize(  # type: ignore[no-any-return]
        list(texts), stopwords=stopwords(), stemmer=_stemmer(), return_ids=False,
        show_progress=False,
    )


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern


@functools.lru_cache(maxsize=1)
def _stopset() -> frozenset[str]:
    return frozenset(stopwords())


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)  # type: ignore[no-any-return]


def terms_of(text: str) -> list[str]:
    """`tokenize([text])[0]` for one text, without bm25s's per-call overhead (the answer scorer
    reads hundreds of sentences per question): lower-cased, bm25s's token pattern, stop words
    dropped, then stemmed."""
    stop = _stopset()
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in stop]


class Bm25Index:
    """BM25 scores over a fixed list of chunk ids."""

    def __init__(self, ids: list[str], retriever: Any, generation: str) -> None:
        self.ids = ids
        self.generation = generation
        self._retriever = retriever
        self._pos = {cid: i for i, cid in enumerate(ids)}

    @classmethod
    def build(cls, ids: list[str], texts: Sequence[str], generation: str) -> Bm25Index:
        bm25s = _bm25s()

        retriever = bm25s.BM25()
        if ids:
            retriever.index(tokenize(texts), show_progress=False)
        return cls(ids, retriever, generation)

    def scores(self, query: str) -> np.ndarray:
        if not self.ids:
            return np.zeros(0, dtype=np.float32)
        q = tokenize([query])[0]
        if not q:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(q), dtype=np.float32)

    def top(self, query: str, n: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """The n best (chunk id, score) with a positive score, optionally only among `allowed`."""
        s = self.scores(query)
        if allowed is not None:
            mask = np.array([cid in allowed for cid in self.ids], dtype=bool)
            s = np.where(mask, s, 0.0)
        if s.size == 0:
            return []
        n = min(n, s.size)
        best = np.argpartition(-s, n - 1)[:n]
        best = best[np.argsort(-s[best], kind="stable")]
        return [(self.ids[i], float(s[i])) for i in best if s[i] > 0]

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self._retriever.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps({"generation": self.generation, "ids": self.ids}))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)  # the old index is replaced whole, never half-written

    @classmethod
    def load(cls, folder: Path) -> Bm25Index | None:
        bm25s = _bm25s()

        try:
            meta = json.loads((folder / "ids.json").read_text())
            ids = list(meta["ids"])
            retriever = bm25s.BM25.load(str(folder), show_progress=False) if ids else bm25s.BM25()
            return cls(ids, retriever, str(meta["generation"]))
        except (OSError, ValueError, KeyError) as e:
            log.info("BM25 index at %s unusable (%s); rebuilding", folder, e)
            return None


def cache_folder(store_path: str, chroma_url: str, collection: str) -> Path:
    """Where the BM25 index of this store lives."""
    if chroma_url:
        key = hashlib.sha1(f"{chroma_url}|{collection}".encode()).hexdigest()[:16]
        return Path.home() / ".cache" / "article-qa" / "bm25" / key
    return Path(store_path) / "bm25" / collection


def load_or_build(store: Any, folder: Path, current: Bm25Index | None = None) -> Bm25Index:
    """The BM25 index for the store's current generation: in memory, on disk, or rebuilt."""
    gen = store.generation()
    if current is not None and current.generation == gen:
        return current
    cached = Bm25Index.load(folder) if folder.exists() else None
    if cached is not None and cached.generation == gen:
        return cached
    ids: list[str] = []
    texts: list[str] = []
    for cid, text, _ in store.all_chunks():
        ids.append(cid)
        texts.append(text)
    index = Bm25Index.build(ids, texts, gen)
    try:
        index.save(folder)
    except OSError as e:  # a read-only folder still gets an in-memory index
        log.warning("could not save the BM25 index to %s: %s", folder, e)
    return index
