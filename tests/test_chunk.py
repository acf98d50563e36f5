"""Chunking: exact chunks of small synthetic texts, and the invariants on real articles.

Every test sentence below is exactly 8 cl100k tokens, with or without a leading space, so the
expected chunks follow from the arithmetic in each test.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from index.chunk import Chunker, chunk_id, split_sentences
from index.load import load_paths
from index.tokens import get_encoding
from qa.errors import ConfigError
from qa.settings import Settings
from qa.types import Article, ArticleMeta, Chunk
from tests.conftest import SAMPLE_DIR

S = [
    "The baker sold fresh bread before noon.",
    "Rain fell softly over the quiet harbour.",
    "Children laughed at the puppet show again.",
    "The mayor opened a new bridge yesterday.",
    "The farmer sold ripe apples at noon.",
    "A train left the station on time.",
]


def ntok(s: str) -> int:
    return len(get_encoding().encode(s, disallowed_special=()))


def article(text: str, aid: str = "art-1") -> Article:
    return Article(ArticleMeta(article_id=aid, title="t"), text, "c0ffee" * 10 + "abcd")


def texts(chunks: list[Chunk]) -> list[str]:
    return [c.text for c in chunks]


def test_the_test_sentences_are_eight_tokens() -> None:
    assert [ntok(s) for s in S] == [8] * 6
    assert [ntok(" " + s) for s in S] == [8] * 6
    assert split_sentences(" ".join(S)) == [
        (sum(len(x) + 1 for x in S[:i]), sum(len(x) + 1 for x in S[:i]) + len(S[i]))
        for i in range(6)
    ]


def test_two_sentences_per_chunk_one_sentence_overlap() -> None:
    chunks = Chunker(20, 8).chunk(article(" ".join(S)))
    assert texts(chunks) == [f"{S[i]} {S[i + 1]}" for i in range(5)]
    assert [c.n_tokens for c in chunks] == [16] * 5
    assert [c.index for c in chunks] == list(range(5))


def test_overlap_smaller_than_a_sentence_means_no_overlap() -> None:
    chunks = Chunker(20, 7).chunk(article(" ".join(S)))
    assert texts(chunks) == [f"{S[0]} {S[1]}", f"{S[2]} {S[3]}", f"{S[4]} {S[5]}"]


def test_zero_overlap_chunks_tile_the_text() -> None:
    text = " ".join(S)
    chunks = Chunker(16, 0).chunk(article(text))
    assert texts(chunks) == [f"{S[0]} {S[1]}", f"{S[2]} {S[3]}", f"{S[4]} {S[5]}"]
    assert all(a.end < b.start for a, b in itertools.pairwise(chunks))
    assert " ".join(texts(chunks)) == text


def test_three_sentences_per_chunk() -> None:
    chunks = Chunker(24, 8).chunk(article(" ".join(S)))
    assert texts(chunks) == [" ".join(S[0:3]), " ".join(S[2:5]), " ".join(S[4:6])]
    chunks = Chunker(24, 16).chunk(article(" ".join(S)))
    assert texts(chunks) == [" ".join(S[i : i + 3]) for i in range(4)]


def test_whole_text_fits_in_one_chunk() -> None:
    text = " ".join(S)
    [c] = Chunker(64, 16).chunk(article(text))
    assert (c.start, c.end, c.text, c.n_tokens) == (0, len(text), text, 48)


def test_line_breaks_count_and_sentences_never_cross_them() -> None:
    text = "\n".join(S[:4]) + "\n\n" + "Short line without a full stop\n" + "\n".join(S[4:])
    spans = split_sentences(text)
    assert all("\n" not in text[a:b] for a, b in spans)
    assert [text[a:b] for a, b in spans] == S[:4] + ["Short line without a full stop"] + S[4:]
    chunks = Chunker(20, 8).chunk(article(text))
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert c.n_tokens == ntok(c.text) <= 20
        assert c.text == c.text.strip()


def test_text_with_unicode_offsets_are_python_string_offsets() -> None:
    text = ("Lively’s lawyers called it a “stunt” — again. 🎬 The film earned $350 million. "
            "Baldoni, 41, denied it. Café owners in Zürich watched closely.")
    chunks = Chunker(16, 4).chunk(article(text))
    assert len(chunks) >= 2
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert c.n_tokens <= 16


def test_over_long_sentence_is_cut_at_word_boundaries() -> None:
    words = [f"word{i}" if i % 7 else "extraordinarily" for i in range(80)]
    text = "Intro sentence here. " + " ".join(words) + " and the end. Final short one."
    chunker = Chunker(16, 4)
    chunks = chunker.chunk(article(text))
    assert len(chunks) >= 5
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert c.n_tokens <= 16, c
        assert c.start == 0 or text[c.start - 1] == " ", f"cut mid-word at {c.start}: {c.text!r}"
        assert c.end == len(text) or text[c.end] in " .", f"cut mid-word at {c.end}: {c.text!r}"
    covered = " ".join(texts(chunks))
    for w in re.findall(r"\S+", text):  # every word survives whole, in some chunk
        assert re.search(rf"(^|\s){re.escape(w)}(\s|$)", covered), w


def test_chunk_ids_are_deterministic_and_depend_on_content() -> None:
    a = Chunker(20, 8).chunk(article(" ".join(S)))
    b = Chunker(20, 8).chunk(article(" ".join(S)))
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)
    assert chunk_id("x", "aaaa" * 16, 3) != chunk_id("x", "bbbb" * 16, 3)
    assert chunk_id("x", "aaaa" * 16, 3) != chunk_id("y", "aaaa" * 16, 3)


def test_empty_text_gives_no_chunks() -> None:
    assert Chunker(20, 8).chunk(article("")) == []
    assert Chunker(20, 8).chunk(article("\n\n  \n")) == []


@pytest.mark.parametrize("tokens,overlap", [(192, 64), (64, 16), (32, 0), (16, 15)])
def test_invariants_on_the_sample_articles(tokens: int, overlap: int) -> None:
    loaded, failed = load_paths([SAMPLE_DIR])
    assert len(loaded) == 3 and not failed
    chunker = Chunker(tokens, overlap)
    for la in loaded:
        text = la.article.text
        sentences = split_sentences(text)
        starts = {a for a, _ in sentences}
        ends = {b for _, b in sentences}
        word_starts = {m.start() for m in re.finditer(r"\S+", text)}
        word_ends = {m.end() for m in re.finditer(r"\S+", text)}
        chunks = chunker.chunk(la.article)
        assert chunks
        for c in chunks:
            assert c.text == text[c.start : c.end]
            assert c.n_tokens == ntok(c.text) <= tokens
            assert c.start in word_starts and c.end in word_ends  # never mid-word
            # whole sentences: a chunk may only begin or end inside a sentence longer than a chunk
            for at, edges in ((c.start, starts), (c.end, ends)):
                if at not in edges:
                    [(a, b)] = [s for s in sentences if s[0] < at < s[1]]
                    assert ntok(text[a:b]) > tokens, f"chunk {c.index} cuts a sentence at {at}"
        for prev, nxt in itertools.pairwise(chunks):
            assert nxt.start > prev.start, "chunking must always advance"
            shared = [s for s in sentences if nxt.start <= s[0] and s[1] <= prev.end]
            assert sum(ntok(text[a:b]) for a, b in shared) <= overlap
        # every sentence is in some chunk (or, when over-long, its words are)
        for a, b in sentences:
            assert any(c.start <= a and b <= c.end for c in chunks) or ntok(text[a:b]) > tokens


def test_overlap_is_used_when_the_last_sentence_fits() -> None:
    """A chunk of whole sentences whose last sentence fits in the overlap is repeated next."""
    loaded, _ = load_paths([SAMPLE_DIR])
    used = 0
    for la in loaded:
        text = la.article.text
        sentences = split_sentences(text)
        chunks = Chunker(64, 32).chunk(la.article)
        for prev, nxt in itertools.pairwise(chunks):
            inside = [s for s in sentences if prev.start <= s[0] and s[1] <= prev.end]
            if len(inside) < 2 or inside[0][0] != prev.start or inside[-1][1] != prev.end:
                continue
            last = inside[-1]
            if ntok(text[last[0] : last[1]]) <= 32:
                assert nxt.start <= last[0] < prev.end, (prev, nxt)
                used += 1
    assert used >= 5


@pytest.mark.parametrize("tokens,overlap", [(32, 32), (32, 40)])
def test_bad_overlap_is_a_config_error_that_says_so(tokens: int, overlap: int) -> None:
    with pytest.raises(ConfigError, match=rf"overlap \({overlap}\) than chunk size \({tokens}\)"):
        Chunker(tokens, overlap)
    with pytest.raises(ConfigError, match=r"chunk_overlap .*QA_CHUNK_OVERLAP"):
        Settings(store_path="unused", chunk_tokens=tokens, chunk_overlap=overlap)


def test_bad_sizes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="chunk_tokens must be at least 16, got 8"):
        Chunker(8, 0)
    with pytest.raises(ConfigError, match="overlap"):
        Chunker(32, -1)
    with pytest.raises(ConfigError, match="chunk_tokens"):
        Settings(store_path="unused", chunk_tokens=4, chunk_overlap=0)


def test_sample_files_exist() -> None:
    assert sorted(p.name for p in Path(SAMPLE_DIR).glob("*.txt")) == [
        "000_382f65cea364c986.txt", "001_aaba62a0722ea775.txt", "002_dce03cdb09bb98a3.txt"]


@pytest.mark.parametrize("tokens,overlap", [(1024, 0), (192, 64), (48, 8)])
def test_chunks_are_as_long_as_the_limit_allows(tokens: int, overlap: int) -> None:
    """The chunker sums sentence counts far from the limit and counts the joined text near it;
    every chunk still stops only where the next sentence would not fit, and an article that
    fits is one chunk."""
    loaded, _ = load_paths([SAMPLE_DIR])
    chunker = Chunker(tokens, overlap)
    for la in loaded:
        text = la.article.text
        spans = split_sentences(text)
        chunks = chunker.chunk(la.article)
        if ntok(text[spans[0][0]:spans[-1][1]]) <= tokens:
            assert len(chunks) == 1
        for c in chunks:
            assert c.n_tokens == ntok(c.text) <= tokens
        for c in chunks[:-1]:
            nxt = next((a, b) for a, b in spans if a >= c.end)
            assert (c.n_tokens + ntok(text[nxt[0]:nxt[1]]) > tokens
                    or ntok(text[c.start:nxt[1]]) > tokens), (c.start, c.end)
