"""Sentence-aware chunking sized in tiktoken tokens; every chunk is a verbatim span of its article.

Sentences are found per paragraph (a line of the stored text) by NLTK's Punkt model, whose data
llama-index-core ships, so it runs offline. A chunk is a run of whole sentences up to
`chunk_tokens`; the next chunk starts with the trailing sentences of the previous one, up to
`overlap` tokens. A sentence longer than a chunk is cut at word boundaries (never mid-word).
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from index.errors import ConfigError
from index.tokens import get_encoding, llama_index_static
from index.types import Article, Chunk

Span = tuple[int, int]


@functools.lru_cache(maxsize=1)
def _punkt() -> Any:
    import nltk

    path = str(llama_index_static() / "nltk_cache")
    if path not in nltk.data.path:
        nltk.data.path.insert(0, path)
    from nltk.tokenize import PunktTokenizer

    return PunktTokenizer("english")


_PARA = re.compile(r"[^\n]+")


def split_sentences(text: str) -> list[Span]:
    """Character spans of the sentences of `text`; no sentence crosses a line break."""
    tok = _punkt()
    spans: list[Span] = []
    for para in _PARA.finditer(text):
        base = para.start()
        for a, b in tok.span_tokenize(para.group()):
            seg = text[base + a : base + b]
            lead = len(seg) - len(seg.lstrip())
            trail = len(seg) - len(seg.rstrip())
            if b - a - lead - trail > 0:
                spans.append((base + a + lead, base + b - trail))
    return spans


def chunk_id(article_id: str, content_hash: str, index: int) -> str:
    """Deterministic: the same article text always gives the same chunk ids."""
    aid = hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]
    return f"{aid}-{content_hash[:10]}-{index:04d}"


class Chunker:
    """Splits an article into overlapping chunks of whole sentences."""

    def __init__(self, chunk_tokens: int = 128, overlap: int = 32, encoding: Any = None) -> None:
        if chunk_tokens < 16:
            raise ConfigError(f"chunk_tokens must be at least 16, got {chunk_tokens}")
        if not 0 <= overlap < chunk_tokens:
            raise ConfigError(
                f"Got a larger chunk overlap ({overlap}) than chunk size ({chunk_tokens}); "
                "the overlap must be smaller"
            )
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self._enc = encoding or get_encoding()

    def _ntok(self, s: str) -> int:
        return len(self._enc.encode(s, disallowed_special=()))

    def _pieces(self, text: str) -> list[tuple[Span, int]]:
        """Sentence spans with token counts; over-long sentences cut at word boundaries."""
        out: list[tuple[Span, int]] = []
        for a, b in split_sentences(text):
            n = self._ntok(text[a:b])
            if n <= self.chunk_tokens:
                out.append(((a, b), n))
                continue
            words = [(m.start() + a, m.end() + a) for m in re.finditer(r"\S+", text[a:b])]
            start = words[0][0]
            prev_end = start
            count = 0
            for ws, we in words:
                wn = self._ntok(text[ws:we]) + 1
                if count and count + wn > self.chunk_tokens:
                    out.append(((start, prev_end), self._ntok(text[start:prev_end])))
                    start, count = ws, 0
                count += wn
                prev_end = we
            out.append(((start, prev_end), self._ntok(text[start:prev_end])))
        return out

    def chunk(self, article: Article) -> list[Chunk]:
        text = article.text
        pieces = self._pieces(text)
        chunks: list[Chunk] = []
        i = 0
        while i < len(pieces):
            start = pieces[i][0][0]
            j, total = i + 1, pieces[i][1]
            while j < len(pieces) and total + pieces[j][1] <= self.chunk_tokens:
                # count the joined text: the line breaks between sentences are tokens too
                joined = self._ntok(text[start : pieces[j][0][1]])
                if joined > self.chunk_tokens:
                    break
                total = joined
                j += 1
            end = pieces[j - 1][0][1]
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(article.article_id, article.content_hash, len(chunks)),
                    article_id=article.article_id,
                    index=len(chunks),
                    start=start,
                    end=end,
                    text=text[start:end],
                    n_tokens=self._ntok(text[start:end]),
                    content_hash=article.content_hash,
                )
            )
            if j >= len(pieces):
                break
            # step back over whole trailing sentences that fit in the overlap, always advancing
            k, back = j, 0
            while k - 1 > i and back + pieces[k - 1][1] <= self.overlap:
                back += pieces[k - 1][1]
                k -= 1
            i = k
        return chunks
