"""How the ONNX embedder groups texts into model calls (index/embed.py `_token_batches`).

The arena of onnxruntime keeps what its largest call needed for the whole session, so the padded
size of a call (texts x the longest) is capped; a 15 MB file ingested in 656 MB with 8 passages a
call and in 589 MB with 512 tokens (bench/memory.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from index.embed import _token_batches


def test_batches_keep_the_padded_size_within_the_budget() -> None:
    lengths = [200, 30, 250, 31, 32, 190, 29, 600]
    batches = _token_batches(lengths, max_texts=32, max_tokens=512)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 512 or len(b) == 1
    # similar lengths together: the four short ones in one call, the long ones two at a time
    assert batches == [[6, 1, 3, 4], [5, 0], [2], [7]]


def test_batches_cap_the_number_of_texts() -> None:
    batches = _token_batches([10] * 70, max_texts=32, max_tokens=10_000)
    assert [len(b) for b in batches] == [32, 32, 6]


def test_grouping_does_not_change_the_vectors(embedder: Any) -> None:
    texts = ["A short one.", "The council approved the harbour budget on Tuesday. " * 12,
             "Ferry fares rise.", "Witnesses said the bridge had been closed for a week. " * 5]
    one_by_one = np.stack([embedder.embed([t])[0] for t in texts])
    together = embedder.embed(texts)
    assert np.allclose(one_by_one, together, atol=1e-3)


def test_the_embedder_reads_max_tokens_word_pieces(embedder: Any) -> None:
    """A passage's vector comes from its first `max_tokens` word pieces (default 128, the length
    all-MiniLM-L6-v2 was fine-tuned on): text after them changes nothing at 128 and does at 256;
    a text shorter than both gets the same vector from either."""
    from index.embed import DEFAULT_EMBED_TOKENS, OnnxMiniLM

    assert DEFAULT_EMBED_TOKENS == 128
    wide = OnnxMiniLM(max_tokens=256)
    lead = " ".join(["The council approved the new budget for the city's schools."] * 14)
    assert 128 < len(wide._tok.encode(lead).ids) < 200  # past 128 word pieces, within 256
    a, b = lead + " Fireworks lit the harbour at midnight.", lead + " Shares fell sharply in Tokyo."
    short = "The council approved the new budget."
    v128 = embedder.embed([a, b, short])
    assert np.allclose(v128[0], v128[1], atol=1e-6)
    v256 = wide.embed([a, b, short])
    assert float(v256[0] @ v256[1]) < 0.999
    assert np.allclose(v128[2], v256[2], atol=1e-6)


def test_max_tokens_beyond_the_model_is_a_clear_error() -> None:
    from index.embed import OnnxMiniLM
    from index.errors import ConfigError

    with pytest.raises(ConfigError, match="between 16 and 256.*QA_EMBED_MAX_TOKENS"):
        OnnxMiniLM(max_tokens=512)
