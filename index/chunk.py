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
_SLACK = 16  # tokens under the limit (at most an 8th of it) where a chunk's joined text is
#              counted, not summed


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

    def _pieces(self, text: str, spans: list[Span]) -> list[tuple[Span, int]]:
        """Sentence spans with token counts; over-long sentences cut at word boundaries."""
        out: list[tuple[Span, int]] = []
        for a, b in spans:
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

    def _extend(self, text: str, pieces: list[tuple[Span, int]], i: int, exact: bool) -> int:
        """The end (exclusive piece index) of the chunk that starts at piece `i`. Far from the
        limit the joined text's count is the parts' sum (the sentences and the whitespace
        between them: joining can merge tokens, not add them); near it, or when `exact`, the
        joined text is counted, since a chunk never exceeds `chunk_tokens`."""
        start = pieces[i][0][0]
        j, total = i + 1, pieces[i][1]
        while j < len(pieces):
            gap = text[pieces[j - 1][0][1] : pieces[j][0][0]]
            joined = total + pieces[j][1] + (self._ntok(gap) if gap else 0)
            if exact or joined > self.chunk_tokens - min(_SLACK, self.chunk_tokens // 8):
                total = self._ntok(text[start : pieces[j - 1][0][1]])
                if total + pieces[j][1] > self.chunk_tokens:
                    break
                # count the joined text: the line breaks between sentences are tokens too
                joined = self._ntok(text[start : pieces[j][0][1]])
                if joined > self.chunk_tokens:
                    break
            total = joined
            j += 1
        return j

    def chunk(self, article: Article) -> list[Chunk]:
        text = article.text
        spans = split_sentences(text)
        if spans and self._ntok(text[spans[0][0] : spans[-1][1]]) <= self.chunk_tokens:
            pieces = [((spans[0][0], spans[-1][1]), 0)]  # the whole article is one chunk
        else:
            pieces = self._pieces(text, spans)
        chunks: list[Chunk] = []
        i = 0
        while i < len(pieces):
            start = pieces[i][0][0]
            j = self._extend(text, pieces, i, exact=False)
            n_tokens = self._ntok(text[start : pieces[j - 1][0][1]])
            if n_tokens > self.chunk_tokens:  # the sum undercounted: count every join
                j = self._extend(text, pieces, i, exact=True)
                n_tokens = self._ntok(text[start : pieces[j - 1][0][1]])
            end = pieces[j - 1][0][1]
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(article.article_id, article.content_hash, len(chunks)),
                    article_id=article.article_id,
                    index=len(chunks),
                    start=start,
                    end=end,
                    text=text[start:end],
                    n_tokens=n_tokens,
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
